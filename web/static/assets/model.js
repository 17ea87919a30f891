// The data the page shows: a set of posts (deduplicated by id) and what the side
// panels derive from them. Live posts, transcripts and replays all go through add(),
// so a replay builds the same view a live session did.

export const EDGE_KINDS = ['reply', 'mention', 'quote', 'repost'];

/** handleOf names an account id ("sim:ana" is "ana") when no handle is known. */
export function handleOf(id) {
  const i = id.indexOf(':');
  return i >= 0 ? id.slice(i + 1) : id;
}

export class Dataset {
  constructor() {
    this.posts = new Map(); // id -> post
    this.people = new Map(); // account id -> {id, handle, name, posts, replies, mentions, host}
    this.edges = new Map(); // "src\u0000dst\u0000kind" -> {src, dst, kind, weight}
    this.minutes = new Map(); // minute (ms) -> posts
    this.sessions = new Map(); // session id -> {id, first, last, count}
    this.questions = new Map(); // "session\u0000n" -> question post id
    this.persons = new Map(); // account id -> the person live posts say it is ({id, why, segments, hidden})
    this.version = 0;
  }

  has(id) { return this.posts.has(id); }

  /** add stores post unless it is known; it returns whether it was new. */
  add(raw) {
    if (!raw || !raw.id || this.posts.has(raw.id)) return false;
    const p = normalize(raw);
    this.posts.set(p.id, p);
    this.version++;
    const sid = p.session_id || '';
    let s = this.sessions.get(sid);
    if (!s) this.sessions.set(sid, s = {id: sid, first: p.t, last: p.t, count: 0});
    s.first = Math.min(s.first, p.t);
    s.last = Math.max(s.last, p.t);
    s.count++;
    for (const m of p.marks) {
      if (m.kind === 'question') {
        const key = sid + '\u0000' + m.number;
        const q = this.questions.get(key);
        if (!q || this.posts.get(q).t > p.t) this.questions.set(key, p.id);
      }
    }
    if (p.person && p.person.id) this.persons.set(p.author_id, p.person);
    const author = this.person(p.author_id, p.author_handle, p.author_name);
    author.posts++;
    if (p.is_host) author.host = true;
    const minute = Math.floor(p.t / 60000) * 60000;
    this.minutes.set(minute, (this.minutes.get(minute) || 0) + 1);
    if (p.reply_to_author_id) {
      this.person(p.reply_to_author_id).replies++;
      this.edge(p.author_id, p.reply_to_author_id, 'reply');
    }
    (p.mentions || []).forEach((id, i) => {
      this.person(id, (p.mention_handles || [])[i]).mentions++;
      this.edge(p.author_id, id, 'mention');
    });
    const quoted = p.quote_of_author_id || this.posts.get(p.quote_of_id)?.author_id;
    if (quoted) this.edge(p.author_id, quoted, 'quote');
    const reposted = p.repost_of_author_id || this.posts.get(p.repost_of_id)?.author_id;
    if (reposted) this.edge(p.author_id, reposted, 'repost');
    return true;
  }

  /** remove drops the posts ids (deleted at their source) and rebuilds what they counted in; it returns whether any was here. */
  remove(ids) {
    if (!ids.some((id) => this.posts.has(id))) return false;
    const gone = new Set(ids);
    const keep = [...this.posts.values()].filter((p) => !gone.has(p.id)).sort(byTime);
    Object.assign(this, new Dataset());
    for (const p of keep) this.add(p);
    return true;
  }

  /**
   * update replaces a post shown before by its new placement (a live `update` event: a
   * reply moved to its late parent's thread); a post not known yet is added. It returns
   * the stored post.
   */
  update(raw) {
    if (!raw || !raw.id) return null;
    const old = this.posts.get(raw.id);
    if (!old) {
      this.add(raw);
      return this.posts.get(raw.id);
    }
    const p = normalize(raw);
    if (!p.marks.length) p.marks = old.marks;
    if (!p.session_id) p.session_id = old.session_id;
    this.posts.set(p.id, p);
    this.version++;
    return p;
  }

  person(id, handle, name) {
    let a = this.people.get(id);
    if (!a) this.people.set(id, a = {id, handle: handle || handleOf(id), name: name || '', posts: 0, replies: 0, mentions: 0, host: false});
    if (handle && a.handle === handleOf(id)) a.handle = handle;
    if (name && !a.name) a.name = name;
    return a;
  }

  edge(src, dst, kind) {
    if (!src || !dst || src === dst) return;
    const key = src + '\u0000' + dst + '\u0000' + kind;
    const e = this.edges.get(key);
    if (e) e.weight++;
    else this.edges.set(key, {src, dst, kind, weight: 1});
  }

  /** questionOf returns the id of the question post n of session sid. */
  questionOf(sid, n) { return this.questions.get((sid || '') + '\u0000' + n); }

  /** sorted returns the posts in time order. */
  sorted() { return [...this.posts.values()].sort(byTime); }
}

export function byTime(a, b) {
  return a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function normalize(raw) {
  const p = {...raw};
  p.t = Date.parse(p.created_at) || 0;
  p.marks = Array.isArray(p.marks) ? p.marks : [];
  p.mentions = Array.isArray(p.mentions) ? p.mentions : [];
  p.text = typeof p.text === 'string' ? p.text : '';
  return p;
}

/** markOf returns a post's first mark of kind, or null. */
export function markOf(p, kind) {
  return p.marks.find((m) => m.kind === kind) || null;
}
