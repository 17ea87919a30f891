// Side panels computed from the shown Dataset: leaderboard, posts per minute and the
// participant graph (a small force layout of our own on a canvas).
import {el, svg, fmt, cssVar} from './util.js';
import {EDGE_KINDS} from './model.js';

// --- leaderboard ---

export class Leaderboard {
  constructor(root, hooks) {
    this.root = root;
    // onPerson(id, accounts), isNewcomer(id), selected(), withheld(), and optionally
    // group(data) (accounts merged into people), badges(person), detail(person)
    this.hooks = hooks;
    this.showAll = false;
  }

  render(data) {
    // People: a person's accounts make one row. Participants whose posts are withheld
    // (opted out) count as the API counts them, under their pseudonym.
    const grouped = this.hooks.group ? this.hooks.group(data)
      : [...data.people.values()].filter((p) => p.posts > 0).map((p) => ({...p, members: [p]}));
    const ids = new Set(grouped.map((p) => p.id));
    const people = grouped
      .concat((this.hooks.withheld ? this.hooks.withheld() : []).filter((w) => !ids.has(w.id)).map((w) => ({...w, members: []})))
      .sort((a, b) => b.posts - a.posts || b.replies + b.mentions - a.replies - a.mentions || a.handle.localeCompare(b.handle));
    // A person is new when the API says so of them, or of every account they posted from.
    const isNew = (p) => this.hooks.isNewcomer(p.id) || (p.members.length > 1 && p.members.every((m) => this.hooks.isNewcomer(m.id)));
    const shown = this.showAll ? people : people.slice(0, 15);
    const rows = shown.map((p, i) => {
      const accounts = p.members.map((m) => m.id);
      return el('tr', {class: (p.host ? 'host' : '') + (this.hooks.selected() === p.id ? ' selected' : '')},
        el('td', {class: 'rank'}, String(i + 1)),
        el('th', {scope: 'row'},
          el('button', {type: 'button', class: 'person', title: '@' + p.handle + ': show only their posts',
            'aria-pressed': String(this.hooks.selected() === p.id), onclick: () => this.hooks.onPerson(p.id, accounts)},
          '@' + p.handle),
          p.host ? el('span', {class: 'badge host-badge'}, 'Host') : null,
          isNew(p) ? el('span', {class: 'badge new-badge', title: 'First chat in this community'}, 'New') : null,
          p.withheld ? el('span', {class: 'badge', title: 'Opted out: posts hidden, counted under a pseudonym'}, 'Opted out') : null,
          ...(this.hooks.badges && !p.withheld ? this.hooks.badges(p) : []),
          this.hooks.detail && !p.withheld ? this.hooks.detail(p) : null),
        el('td', {}, String(p.posts)),
        el('td', {}, String(p.replies)),
        el('td', {}, String(p.mentions)));
    });
    const table = el('table', {class: 'board'},
      el('caption', {class: 'sr-only'}, 'Participants by posts, with replies and mentions received'),
      el('colgroup', {}, el('col', {class: 'rank'}), el('col', {}), el('col', {class: 'num'}), el('col', {class: 'num'}), el('col', {class: 'num'})),
      el('thead', {}, el('tr', {},
        el('th', {scope: 'col', class: 'rank'}, '#'), el('th', {scope: 'col'}, 'Participant'),
        el('th', {scope: 'col', title: 'Posts written'}, 'Posts'),
        el('th', {scope: 'col', title: 'Replies received'}, 'Replies'),
        el('th', {scope: 'col', title: 'Mentions received'}, 'Ment.'))),
      el('tbody', {}, ...rows));
    const newcomers = people.filter(isNew).length;
    const summary = el('p', {class: 'panel-note'},
      `${fmt.count(people.length, 'participant', 'participants')}` + (newcomers ? `, ${newcomers} new` : ''));
    const more = people.length > 15 ? el('button', {type: 'button', class: 'link-button',
      onclick: () => { this.showAll = !this.showAll; this.render(data); }},
    this.showAll ? 'Show top 15' : `Show all ${people.length}`) : null;
    this.root.replaceChildren(summary, people.length ? table : el('p', {class: 'empty'}, 'No posts yet.'), more || '');
  }
}

// --- posts per minute ---

export class ActivityChart {
  constructor(root) { this.root = root; }

  render(data) {
    const minutes = [...data.minutes.entries()].sort((a, b) => a[0] - b[0]);
    if (!minutes.length) {
      this.root.replaceChildren(el('p', {class: 'empty'}, 'No activity yet.'));
      return;
    }
    // Fill the quiet minutes between the first and the last, at most 240 bars.
    const first = minutes[minutes.length > 240 ? minutes.length - 240 : 0][0];
    const last = minutes[minutes.length - 1][0];
    const counts = new Map(minutes);
    const bars = [];
    for (let m = first; m <= last && bars.length < 240; m += 60000) bars.push([m, counts.get(m) || 0]);
    const peak = bars.reduce((a, b) => (b[1] > a[1] ? b : a), bars[0]);
    const W = 320, H = 120, padL = 26, padB = 18, padT = 6;
    const bw = (W - padL) / bars.length;
    const ymax = Math.max(1, peak[1]);
    const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': `Posts per minute: ${bars.length} minutes, peak ${peak[1]} at ${fmt.time(new Date(peak[0]))}`});
    const ticks = ymax >= 4 ? [0, Math.round(ymax / 2), ymax] : [0, ymax];
    for (const v of ticks) {
      const y = padT + (H - padT - padB) * (1 - v / ymax);
      chart.append(svg('line', {x1: padL, x2: W, y1: y, y2: y, class: 'grid'}),
        svg('text', {x: padL - 4, y: y + 3, class: 'axis', 'text-anchor': 'end'}, String(v)));
    }
    bars.forEach(([m, n], i) => {
      const h = (H - padT - padB) * (n / ymax);
      chart.append(svg('rect', {x: padL + i * bw + 0.5, y: H - padB - h, width: Math.max(1, bw - 1), height: h, class: 'bar'},
        svg('title', {}, `${fmt.time(new Date(m))}: ${fmt.count(n, 'post', 'posts')}`)));
    });
    const labels = Math.min(4, bars.length);
    for (let k = 0; k < labels; k++) {
      const i = Math.round((bars.length - 1) * (labels === 1 ? 0 : k / (labels - 1)));
      const anchor = k === 0 ? 'start' : k === labels - 1 ? 'end' : 'middle';
      chart.append(svg('text', {x: padL + i * bw + bw / 2, y: H - 4, class: 'axis', 'text-anchor': anchor},
        fmt.time(new Date(bars[i][0]))));
    }
    const total = bars.reduce((s, b) => s + b[1], 0);
    this.root.replaceChildren(chart, el('p', {class: 'panel-note'},
      `${fmt.count(total, 'post', 'posts')}, peak ${peak[1]}/min at ${fmt.time(new Date(peak[0]))}`));
  }
}

// --- participant graph ---

const MAX_NODES = 120;
// LABELS is how many of the most active people are named on the graph; the others are
// named on hover, so that a busy night does not pile labels on each other.
const LABELS = 7;
const LABEL_CHARS = 18;

/** shortLabel cuts a long handle (user@instance, a DID) for the canvas. */
export function shortLabel(handle) {
  const h = '@' + handle;
  return h.length > LABEL_CHARS ? h.slice(0, LABEL_CHARS - 1) + '…' : h;
}

export class Graph {
  /**
   * @param {HTMLElement} root
   * @param {object} hooks onPerson(id)
   * @param {object} opts large: the expanded view (no expand button of its own)
   */
  constructor(root, hooks, opts = {}) {
    this.root = root;
    this.hooks = hooks; // onPerson(id)
    this.large = !!opts.large;
    this.labelled = new Set();
    this.kinds = new Set(EDGE_KINDS);
    this.nodes = new Map(); // id -> {id, handle, x, y, vx, vy, r, ...}
    this.links = [];
    this.alpha = 0;
    this.hover = null;
    this.canvas = el('canvas', {class: 'graph', role: 'img', 'aria-label': 'Participant graph'});
    this.tip = el('div', {class: 'graph-tip', role: 'tooltip', hidden: true});
    const filters = el('fieldset', {class: 'kinds'}, el('legend', {class: 'sr-only'}, 'Edge kinds'),
      ...EDGE_KINDS.map((k) => el('label', {class: 'kind kind-' + k},
        el('input', {type: 'checkbox', checked: true, value: k, onchange: (e) => {
          if (e.target.checked) this.kinds.add(k); else this.kinds.delete(k);
          this.rebuild();
        }}), ' ' + k)));
    this.list = el('ol', {class: 'edge-list'});
    const details = el('details', {class: 'edge-details'}, el('summary', {}, 'Strongest connections'), this.list);
    const expand = this.large ? null : el('button', {type: 'button', class: 'link-button graph-expand',
      onclick: () => this.expand()}, 'Expand graph');
    this.root.replaceChildren(el('div', {class: 'graph-bar'}, filters, expand), el('div', {class: 'graph-wrap'}, this.canvas, this.tip),
      this.large ? '' : details);
    this.canvas.addEventListener('mousemove', (e) => this.onHover(e));
    this.canvas.addEventListener('mouseleave', () => { this.hover = null; this.tip.hidden = true; this.draw(); });
    this.canvas.addEventListener('click', () => { if (this.hover) this.hooks.onPerson(this.hover.id); });
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.draw());
    this.frame = this.frame.bind(this);
  }

  render(data) {
    this.data = data;
    this.rebuild();
    this.big?.render(data);
  }

  /** expand opens a larger view of the same graph in a dialog, hosts at its centre. */
  expand() {
    if (!this.dialog) {
      const body = el('div', {class: 'graph-large'});
      const close = el('button', {type: 'button', class: 'button', onclick: () => this.dialog.close()}, 'Close');
      this.dialog = el('dialog', {class: 'graph-dialog', 'aria-label': 'Participant graph, larger'},
        el('div', {class: 'dialog-head'}, el('h2', {}, 'Who talks to whom'), close), body);
      document.body.append(this.dialog);
      this.big = new Graph(body, this.hooks, {large: true});
    }
    this.dialog.showModal();
    this.big.render(this.data);
    this.big.resize();
    this.big.heat(1);
  }

  rebuild() {
    const data = this.data;
    if (!data) return;
    const edges = [...data.edges.values()].filter((e) => this.kinds.has(e.kind));
    const activity = new Map();
    for (const p of data.people.values()) activity.set(p.id, p.posts + p.replies + p.mentions);
    const ids = [...activity.keys()].sort((a, b) => activity.get(b) - activity.get(a)).slice(0, MAX_NODES);
    const keep = new Set(ids);
    const w = this.width || 300, h = this.height || 240;
    const next = new Map();
    for (const id of ids) {
      const p = data.people.get(id);
      const old = this.nodes.get(id);
      next.set(id, Object.assign(old || {x: w / 2 + (Math.random() - 0.5) * w * 0.6, y: h / 2 + (Math.random() - 0.5) * h * 0.6, vx: 0, vy: 0},
        {id, handle: p.handle, host: p.host, posts: p.posts, replies: p.replies, mentions: p.mentions,
          r: 3 + Math.sqrt(activity.get(id)) * 1.6, out: 0, in: 0}));
    }
    this.nodes = next;
    // Name the most active people (hosts first) on the canvas; the rest on hover.
    this.labelled = new Set([...next.values()].sort((a, b) => (b.host - a.host) || (activity.get(b.id) - activity.get(a.id)))
      .slice(0, this.large ? LABELS * 2 : LABELS).map((n) => n.id));
    // Merge the kinds of a pair into one link for the layout; keep them for the tooltip.
    const pairs = new Map();
    for (const e of edges) {
      if (!keep.has(e.src) || !keep.has(e.dst)) continue;
      next.get(e.src).out += e.weight;
      next.get(e.dst).in += e.weight;
      const key = e.src < e.dst ? e.src + '\u0000' + e.dst : e.dst + '\u0000' + e.src;
      let l = pairs.get(key);
      if (!l) pairs.set(key, l = {a: next.get(e.src), b: next.get(e.dst), weight: 0, kinds: {}});
      l.weight += e.weight;
      l.kinds[e.kind] = (l.kinds[e.kind] || 0) + e.weight;
    }
    this.links = [...pairs.values()];
    this.canvas.setAttribute('aria-label',
      `Participant graph: ${fmt.count(next.size, 'participant', 'participants')}, ${fmt.count(this.links.length, 'connection', 'connections')}`);
    const top = [...edges].sort((a, b) => b.weight - a.weight).slice(0, 12);
    const name = (id) => '@' + (data.people.get(id)?.handle || id);
    const kindCount = (n, k) => (k === 'reply' ? fmt.count(n, 'reply', 'replies') : fmt.count(n, k, k + 's'));
    this.list.replaceChildren(...top.map((e) => el('li', {}, `${name(e.src)} → ${name(e.dst)}: ${kindCount(e.weight, e.kind)}`)));
    this.heat(1);
  }

  heat(a) {
    const running = this.alpha > 0.02;
    this.alpha = Math.max(this.alpha, a);
    if (!running) requestAnimationFrame(this.frame);
  }

  resize() {
    const rect = this.canvas.getBoundingClientRect();
    if (!rect.width || !rect.height) return; // hidden (a closed dialog)
    const dpr = window.devicePixelRatio || 1;
    // Stretch the layout to the new size, so that a larger view uses all of it.
    const sx = rect.width / (this.width || 300), sy = rect.height / (this.height || 240);
    for (const n of this.nodes.values()) {
      n.x *= sx;
      n.y *= sy;
    }
    this.width = rect.width;
    this.height = rect.height;
    this.canvas.width = Math.round(rect.width * dpr);
    this.canvas.height = Math.round(rect.height * dpr);
    this.canvas.getContext('2d').setTransform(dpr, 0, 0, dpr, 0, 0);
    // Keep the layout inside the new bounds.
    for (const n of this.nodes.values()) {
      n.x = Math.min(rect.width - n.r, Math.max(n.r, n.x));
      n.y = Math.min(rect.height - n.r, Math.max(n.r, n.y));
    }
    this.heat(0.5);
  }

  frame() {
    this.step();
    this.draw();
    this.alpha *= 0.97;
    if (this.alpha > 0.02) requestAnimationFrame(this.frame);
  }

  step() {
    const nodes = [...this.nodes.values()];
    const w = this.width || 300, h = this.height || 240, a = this.alpha;
    // Repulsion between every pair (n <= MAX_NODES).
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      for (let j = i + 1; j < nodes.length; j++) {
        const m = nodes[j];
        let dx = n.x - m.x, dy = n.y - m.y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 0.01) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = 0.5; }
        const f = Math.min(8, (900 / d2)) * a;
        const d = Math.sqrt(d2);
        n.vx += dx / d * f; n.vy += dy / d * f;
        m.vx -= dx / d * f; m.vy -= dy / d * f;
      }
    }
    // Springs along links, stronger for heavier links.
    for (const l of this.links) {
      const dx = l.b.x - l.a.x, dy = l.b.y - l.a.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      const want = 40 + l.a.r + l.b.r;
      const f = (d - want) * 0.02 * Math.min(3, 1 + Math.log(l.weight)) * a;
      l.a.vx += dx / d * f; l.a.vy += dy / d * f;
      l.b.vx -= dx / d * f; l.b.vy -= dy / d * f;
    }
    for (const n of nodes) {
      // Hosts are pulled to the centre, where the conversation turns around them.
      const pull = n.host ? 0.12 : 0.03;
      n.vx += (w / 2 - n.x) * pull * a;
      n.vy += (h / 2 - n.y) * pull * a;
      n.vx *= 0.6; n.vy *= 0.6;
      n.x = Math.min(w - n.r - 2, Math.max(n.r + 2, n.x + n.vx));
      n.y = Math.min(h - n.r - 2, Math.max(n.r + 2, n.y + n.vy));
    }
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const w = this.width || 300, h = this.height || 240;
    ctx.clearRect(0, 0, w, h);
    const edge = cssVar('--edge'), node = cssVar('--accent'), host = cssVar('--host'), text = cssVar('--muted');
    const hv = this.hover;
    for (const l of this.links) {
      const lit = hv && (l.a === hv || l.b === hv);
      ctx.strokeStyle = lit ? node : edge;
      ctx.globalAlpha = hv && !lit ? 0.25 : 0.8;
      ctx.lineWidth = Math.min(6, 0.6 + Math.log2(1 + l.weight));
      ctx.beginPath();
      ctx.moveTo(l.a.x, l.a.y);
      ctx.lineTo(l.b.x, l.b.y);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.font = '11px system-ui, sans-serif';
    for (const n of this.nodes.values()) {
      ctx.fillStyle = n.host ? host : node;
      ctx.globalAlpha = hv && hv !== n ? 0.6 : 1;
      ctx.beginPath();
      ctx.arc(n.x, n.y, n.r, 0, Math.PI * 2);
      ctx.fill();
    }
    // Labels after the dots, kept inside the canvas; the hovered one last, on top.
    ctx.fillStyle = text;
    ctx.globalAlpha = 1;
    const shown = [...this.nodes.values()].filter((n) => n !== hv && this.labelled.has(n.id));
    if (hv) shown.push(hv);
    this.drawnLabels = shown.map((n) => n.id);
    for (const n of shown) {
      const label = n === hv ? '@' + n.handle : shortLabel(n.handle);
      const tw = Math.min(ctx.measureText(label).width, w - 4);
      const x = Math.min(w - tw / 2 - 2, Math.max(tw / 2 + 2, n.x));
      const y = n.y - n.r - 3 < 10 ? n.y + n.r + 11 : n.y - n.r - 3;
      ctx.textAlign = 'center';
      ctx.fillText(label, x, y, w - 4);
    }
  }

  onHover(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    let best = null, bestD = Infinity;
    for (const n of this.nodes.values()) {
      const d = Math.hypot(n.x - x, n.y - y);
      if (d < n.r + 4 && d < bestD) { best = n; bestD = d; }
    }
    if (best !== this.hover) {
      this.hover = best;
      this.draw();
    }
    if (!best) { this.tip.hidden = true; return; }
    const links = this.links.filter((l) => l.a === best || l.b === best);
    const kinds = {};
    for (const l of links) for (const [k, v] of Object.entries(l.kinds)) kinds[k] = (kinds[k] || 0) + v;
    this.tip.replaceChildren(el('strong', {}, '@' + best.handle),
      el('span', {}, `${best.posts} posts · ${best.replies} replies · ${best.mentions} mentions received`),
      el('span', {}, `${links.length} connections` + (Object.keys(kinds).length ? ': ' +
        Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(', ') : '')));
    this.tip.hidden = false;
    this.tip.style.left = Math.min(x + 12, (this.width || 300) - 180) + 'px';
    this.tip.style.top = (y + 12) + 'px';
  }
}
