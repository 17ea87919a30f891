// Parents: the post a reply answers, quoted inline above the reply ("@ana: short
// text…"). A parent the page holds is quoted at once; others are asked of the API in
// batches (/api/communities/{id}/posts?ids=); one not stored says so. A parent that
// arrives later (live) fills the quotes waiting for it.
import {el, getJSON} from './util.js';
import {handleOf} from './model.js';

const QUOTE_LENGTH = 90;
const BATCH = 100; // the API's limit per request

/** shortQuote cuts text to a quote of about n characters, on a word boundary. */
export function shortQuote(text, n = QUOTE_LENGTH) {
  const t = (text || '').replace(/\s+/g, ' ').trim();
  if (t.length <= n) return t;
  const cut = t.slice(0, n);
  const sp = cut.lastIndexOf(' ');
  return (sp > n / 2 ? cut.slice(0, sp) : cut) + '…';
}

export class Parents {
  constructor() {
    this.community = '';
    this.known = new Map(); // post id -> parent post, or null when not stored
    this.waiting = new Map(); // parent id -> Set of quote elements
    this.queue = new Set();
    this.timer = null;
  }

  /** setCommunity forgets what was asked of another community. */
  setCommunity(id) {
    if (id === this.community) return;
    this.community = id;
    this.known.clear();
    this.waiting.clear();
    this.queue.clear();
  }

  /** quote returns the element quoting the parent of reply p, from data or the API. */
  quote(p, data) {
    const box = el('blockquote', {class: 'parent-quote', 'data-parent-id': p.reply_to_id});
    const parent = data?.posts.get(p.reply_to_id) || this.known.get(p.reply_to_id);
    if (parent) {
      fill(box, parent);
      return box;
    }
    if (this.known.has(p.reply_to_id)) {
      missing(box);
      return box;
    }
    box.classList.add('pending');
    box.append(el('span', {class: 'quote-text'}, 'Loading the post this replies to…'));
    let set = this.waiting.get(p.reply_to_id);
    if (!set) this.waiting.set(p.reply_to_id, set = new Set());
    set.add(box);
    this.queue.add(p.reply_to_id);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), 50);
    return box;
  }

  /** arrived fills the quotes of posts (just added to the page) that others reply to. */
  arrived(posts) {
    for (const p of posts) {
      const set = this.waiting.get(p.id);
      this.known.set(p.id, p);
      for (const box of document.querySelectorAll(`blockquote.parent-quote[data-parent-id="${CSS.escape(p.id)}"]`)) fill(box, p);
      if (set) this.waiting.delete(p.id);
    }
  }

  async flush() {
    this.timer = null;
    const community = this.community;
    const ids = [...this.queue];
    this.queue.clear();
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      let found = [];
      try {
        found = await getJSON(`/api/communities/${encodeURIComponent(community)}/posts?ids=${chunk.map(encodeURIComponent).join(',')}`);
      } catch {
        for (const id of chunk) for (const box of this.waiting.get(id) || []) unavailable(box);
        continue;
      }
      if (community !== this.community) return;
      const byID = new Map(found.map((p) => [p.id, p]));
      for (const id of chunk) {
        const parent = byID.get(id) || null;
        if (!this.known.get(id)) this.known.set(id, parent);
        for (const box of this.waiting.get(id) || []) {
          if (parent) fill(box, parent);
          else missing(box);
        }
        this.waiting.delete(id);
      }
    }
  }
}

function fill(box, parent) {
  box.classList.remove('pending', 'missing');
  box.replaceChildren(
    el('span', {class: 'quote-author'}, '@' + (parent.author_handle || handleOf(parent.author_id || ''))),
    ' ', el('span', {class: 'quote-text'}, shortQuote(parent.text)));
}

function missing(box) {
  box.classList.remove('pending');
  box.classList.add('missing');
  box.replaceChildren(el('span', {class: 'quote-text'}, 'Replying to a post that is not stored here.'));
}

function unavailable(box) {
  box.classList.remove('pending');
  box.replaceChildren(el('span', {class: 'quote-text'}, 'The post this replies to could not be loaded.'));
}
