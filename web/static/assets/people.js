// Badges beside the leaderboard's accounts: stakeholder segments from bios (each with
// the rule that gave it as its tooltip) and, for an account linked to others of the
// same person, which ones and why. Read from /api/sessions/{id}/people; everything
// from the server is set as text, never as HTML.
import {el, getJSON} from './util.js';

export class PeopleBadges {
  constructor() {
    this.byAccount = new Map(); // account id -> {person_id, accounts, why, segments}
  }

  // load reads a session's people and segments; the leaderboard keeps its plain
  // badges when it cannot.
  async load(sid) {
    if (!sid) return false;
    try {
      const list = await getJSON(`/api/sessions/${encodeURIComponent(sid)}/people`);
      for (const p of list) this.byAccount.set(p.account_id, p);
      return true;
    } catch {
      return false;
    }
  }

  clear() { this.byAccount.clear(); }

  badges(id) {
    const p = this.byAccount.get(id);
    if (!p) return [];
    const out = (p.segments || []).map((s) =>
      el('span', {class: 'badge seg-badge', title: s.reason}, label(s.segment)));
    const others = (p.accounts || []).filter((a) => a !== id);
    if (others.length) {
      out.push(el('span', {class: 'badge linked-badge',
        title: `Same person as ${others.join(', ')}. Why linked: ${(p.why || []).join('; ')}`},
      `+${others.length} linked`));
    }
    return out;
  }
}

function label(segment) {
  const s = segment.replace(/_/g, ' ');
  return s === 'health it' ? 'Health IT' : s.charAt(0).toUpperCase() + s.slice(1);
}
