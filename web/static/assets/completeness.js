// The completeness banner: what the collection of the session on screen may have
// missed, per source, from /api/sessions/{id}/completeness, such as
// "Bluesky: no data 20:41–20:44 (reconnect)". Hidden when nothing is missing.
import {el, fmt, getJSON} from './util.js';

const NAMES = {x: 'X', mastodon: 'Mastodon', bluesky: 'Bluesky', import: 'Archive import', sim: 'Simulator'};
const REFRESH_MS = 60000;

let current = '';
let timer = 0;

/** gaps turns a completeness report into one entry per missing window: its text and a detail. */
export function gaps(report) {
  const out = [];
  for (const s of report.sources || []) {
    for (const m of s.missing || []) {
      const why = m.kind.split(',').map((k) => k.replaceAll('_', ' ')).join(', ');
      const text = `${NAMES[s.source] || s.source}: no data ${fmt.time(new Date(m.from))}–${fmt.time(new Date(m.to))} (${why})`;
      let detail = m.detail || '';
      if (s.estimated_missing_share > 0) {
        detail += `${detail ? '. ' : ''}About ${Math.round(s.estimated_missing_share * 1000) / 10}% of this source's posts of the session missed (estimated).`;
      }
      out.push({text, detail});
    }
  }
  return out;
}

async function load(id) {
  const box = document.getElementById('completeness');
  if (!box) return;
  let report;
  try {
    report = await getJSON(`/api/sessions/${encodeURIComponent(id)}/completeness`);
  } catch {
    return; // keep what is shown; the next refresh tries again
  }
  if (id !== current) return;
  const list = gaps(report);
  box.replaceChildren(...list.map((g) => el('span', {class: 'gap', title: g.detail || null}, g.text)));
  box.hidden = list.length === 0;
}

/** showCompleteness shows the banner of session id ('' hides it) and keeps it fresh. */
export function showCompleteness(id) {
  clearInterval(timer);
  current = id || '';
  const box = document.getElementById('completeness');
  if (!current) {
    if (box) box.hidden = true;
    return;
  }
  load(current);
  timer = setInterval(() => load(current), REFRESH_MS);
}
