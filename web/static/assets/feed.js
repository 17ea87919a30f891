// The feed: posts of a Dataset as a chronological stream grouped by session, or in Q/A
// mode as questions with their answers and collapsible reply threads. Each post is
// one element with data-post-id, present once whatever the view.
import {el, icon, fmt, linkify, safeURL} from './util.js';
import {markOf, handleOf} from './model.js';

const SOURCES = {x: 'X', mastodon: 'Mastodon', bluesky: 'Bluesky', import: 'Archive import', sim: 'Simulator'};

export class Feed {
  /**
   * @param {HTMLElement} root scrollable container
   * @param {object} hooks sessionLabel(sid) -> string, onUnseen(n), onPerson(id), permalink(p),
   *   parentQuote(p, data) -> element quoting the post p replies to (optional)
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.view = 'stream';
    this.order = 'bottom';
    this.filter = {author: '', question: 0, text: ''};
    this.data = null;
    this.items = new Map(); // post id -> li
    this.groups = new Map(); // session id -> group
    this.pinned = true;
    this.unseen = 0;
    root.addEventListener('scroll', () => {
      this.pinned = this.atEdge();
      if (this.pinned && this.unseen) this.setUnseen(0);
    }, {passive: true});
  }

  atEdge() {
    const r = this.root;
    const q = this.qaEdge();
    if (q !== null) return Math.abs(r.scrollTop - q) < 80;
    return this.order === 'bottom' ? r.scrollHeight - r.scrollTop - r.clientHeight < 80 : r.scrollTop < 80;
  }

  scrollToEdge() {
    const r = this.root;
    const q = this.qaEdge();
    r.scrollTop = q !== null ? q : this.order === 'bottom' ? r.scrollHeight : 0;
    this.pinned = true;
    this.setUnseen(0);
  }

  /**
   * qaEdge is where the Q/A view of newest-at-bottom rests: on the latest question of
   * the newest session, its newest answers in sight, not on "Other posts" below it.
   * null in the stream view, newest on top, or when no question is shown.
   */
  qaEdge() {
    if (this.view !== 'qa' || this.order !== 'bottom') return null;
    const groups = this.root.children;
    const g = groups[groups.length - 1];
    const qs = g ? [...g.querySelectorAll(':scope > section.question')].filter((q) => !q.hidden) : [];
    if (!qs.length) return null;
    const r = this.root;
    const box = r.getBoundingClientRect();
    const bottom = qs[qs.length - 1].getBoundingClientRect().bottom - box.top + r.scrollTop;
    // The question's end, where its newest answers are, at the bottom of the view.
    return Math.max(0, Math.min(r.scrollHeight - r.clientHeight, bottom - r.clientHeight + 8));
  }

  setUnseen(n) {
    this.unseen = n;
    this.hooks.onUnseen(n);
  }

  /** show renders data from scratch. */
  show(data) {
    this.data = data;
    this.render();
  }

  setView(view) { this.view = view; this.render(); }

  setOrder(order) { this.order = order; this.render(); }

  setFilter(f) {
    Object.assign(this.filter, f);
    for (const li of this.items.values()) this.applyFilter(li);
    if (this.view === 'qa') this.filterSections();
  }

  render() {
    this.root.setAttribute('aria-busy', 'true');
    this.root.replaceChildren();
    this.items.clear();
    this.groups.clear();
    if (this.data) {
      for (const p of this.data.sorted()) this.insert(p);
    }
    if (this.view === 'qa') this.filterSections();
    this.root.setAttribute('aria-busy', 'false');
    this.scrollToEdge();
  }

  /** added inserts posts just added to the dataset, keeping the reader's place. */
  added(posts) {
    // Live posts can arrive before the page shows a dataset: show() renders them then.
    if (!posts.length || !this.data) return;
    const wasPinned = this.pinned || this.atEdge();
    let visible = 0;
    for (const p of posts) {
      const li = this.insert(p);
      if (li && !li.hidden) visible++;
    }
    if (this.view === 'qa') this.filterSections();
    if (wasPinned) this.scrollToEdge();
    else if (visible) this.setUnseen(this.unseen + visible);
  }

  focusPost(id) {
    const li = this.items.get(id);
    if (!li) return false;
    for (let n = li.parentElement; n && n !== this.root; n = n.parentElement) {
      if (n.classList.contains('replies') && n.hidden) {
        n.hidden = false;
        n.previousElementSibling?.querySelector('.thread-toggle')?.setAttribute('aria-expanded', 'true');
      }
    }
    li.hidden = false;
    this.root.querySelectorAll('.post.target').forEach((n) => n.classList.remove('target'));
    li.classList.add('target');
    li.querySelector('article').focus({preventScroll: true});
    li.scrollIntoView({block: 'center'});
    this.pinned = false;
    return true;
  }

  // --- placement ---

  insert(p) {
    if (this.items.has(p.id)) return null;
    const li = this.postElement(p);
    this.items.set(p.id, li);
    if (this.view === 'qa') this.placeQA(p, li);
    else insertSorted(this.group(p.session_id).list, li, this.order);
    this.applyFilter(li);
    return li;
  }

  group(sid) {
    sid = sid || '';
    let g = this.groups.get(sid);
    if (g) return g;
    const first = this.data.sessions.get(sid)?.first || 0;
    const title = el('h2', {class: 'group-title'}, this.hooks.sessionLabel(sid, first));
    const list = el('ol', {class: 'posts'});
    const section = el('section', {class: 'group', 'data-session-id': sid, 'aria-label': title.textContent}, title, list);
    section._t = first;
    g = {section, list, questions: new Map(), other: null};
    this.groups.set(sid, g);
    // Groups in time order of their first post, reversed when newest is on top.
    let before = null;
    for (const other of this.root.children) {
      if (this.order === 'bottom' ? other._t > first : other._t < first) { before = other; break; }
    }
    this.root.insertBefore(section, before);
    return g;
  }

  placeQA(p, li) {
    const g = this.group(p.session_id);
    const q = markOf(p, 'question');
    const a = markOf(p, 'answer');
    if (q && this.data.questionOf(p.session_id, q.number) === p.id) {
      const sec = this.question(g, q.number);
      sec.head.replaceChildren(li);
      sec.section.classList.remove('missing');
      return;
    }
    if (a || q) {
      insertSorted(this.question(g, (a || q).number).answers, li, 'bottom');
      return;
    }
    const parent = p.reply_to_id && this.items.get(p.reply_to_id);
    if (parent && parent !== li) {
      insertSorted(this.replies(parent), li, 'bottom');
      return;
    }
    if (!g.other) {
      const list = el('ol', {class: 'posts'});
      g.other = el('section', {class: 'other', 'aria-label': 'Other posts'},
        el('h3', {class: 'q-title'}, 'Other posts'), list);
      g.other.list = list;
      g.section.append(g.other);
    }
    insertSorted(g.other.list, li, this.order);
  }

  question(g, n) {
    let sec = g.questions.get(n);
    if (sec) return sec;
    const head = el('div', {class: 'q-head'}, el('p', {class: 'q-missing'}, `Question ${n} has not been seen yet.`));
    const answers = el('ol', {class: 'posts answers', 'aria-label': `Answers to Q${n}`});
    const section = el('section', {class: 'question missing', 'data-question': String(n), 'aria-label': `Question ${n}`},
      el('h3', {class: 'q-title'}, `Q${n}`), head, answers);
    section._n = n;
    sec = {section, head, answers};
    g.questions.set(n, sec);
    // Questions by number (reversed when newest is on top); "other" stays last.
    let before = g.other;
    for (const other of g.section.children) {
      if (other._n === undefined) continue;
      if (this.order === 'bottom' ? other._n > n : other._n < n) { before = other; break; }
    }
    g.section.insertBefore(section, before);
    return sec;
  }

  replies(parent) {
    let list = parent.querySelector(':scope > .replies');
    if (!list) {
      list = el('ol', {class: 'posts replies', id: 'thread-' + Math.random().toString(36).slice(2)});
      parent.append(list);
    }
    this.threadToggle(parent, list, list.children.length + 1);
    return list;
  }

  /** threadToggle labels (adding it when missing) the button that folds list, n replies. */
  threadToggle(parent, list, n) {
    let toggle = parent.querySelector(':scope > article .thread-toggle');
    if (!toggle) {
      toggle = el('button', {type: 'button', class: 'thread-toggle', 'aria-expanded': String(!list.hidden), 'aria-controls': list.id});
      toggle.addEventListener('click', () => {
        const open = toggle.getAttribute('aria-expanded') !== 'true';
        toggle.setAttribute('aria-expanded', String(open));
        list.hidden = !open;
      });
      parent.querySelector(':scope > article > footer').append(toggle);
    }
    toggle.textContent = fmt.count(n, 'reply', 'replies');
  }

  /**
   * replace shows p (the dataset's new version of a post shown before) in its new
   * place, keeping the replies under it; a post not shown yet is inserted.
   */
  replace(p) {
    const li = this.items.get(p.id);
    if (!li) return this.insert(p);
    const fresh = this.postElement(p);
    li.replaceChild(fresh.querySelector(':scope > article'), li.querySelector(':scope > article'));
    li.className = fresh.className;
    li._p = p;
    const list = li.querySelector(':scope > .replies');
    if (list) this.threadToggle(li, list, list.children.length);
    const from = li.parentElement;
    li.remove();
    if (from?.classList.contains('replies') && !from.children.length) {
      from.parentElement?.querySelector(':scope > article .thread-toggle')?.remove();
      from.remove();
    }
    if (this.view === 'qa') this.placeQA(p, li);
    else insertSorted(this.group(p.session_id).list, li, this.order);
    this.applyFilter(li);
    return li;
  }

  // --- filtering ---

  matches(p) {
    const f = this.filter;
    if (f.authors ? !f.authors.has(p.author_id) : f.author && p.author_id !== f.author) return false;
    if (f.text) {
      const t = f.text.toLowerCase();
      if (!p.text.toLowerCase().includes(t) && !(p.author_handle || '').toLowerCase().includes(t) &&
          !(p.author_name || '').toLowerCase().includes(t)) return false;
    }
    if (f.question && this.view === 'stream' && this.questionNumber(p) !== f.question) return false;
    return true;
  }

  /** questionNumber is the question a post belongs to: by its mark or its thread. */
  questionNumber(p) {
    for (let cur = p, i = 0; cur && i < 50; i++) {
      const m = markOf(cur, 'question') || markOf(cur, 'answer');
      if (m) return m.number;
      cur = cur.reply_to_id ? this.data.posts.get(cur.reply_to_id) : null;
    }
    return 0;
  }

  applyFilter(li) {
    li.hidden = !this.matches(li._p);
  }

  filterSections() {
    const n = this.filter.question;
    for (const g of this.groups.values()) {
      for (const [num, sec] of g.questions) sec.section.hidden = !!n && num !== n;
      if (g.other) g.other.hidden = !!n;
    }
  }

  // --- one post ---

  /** reposted renders the post a repost shares, or a link to it when it is not here. */
  reposted(p) {
    const orig = this.data.posts.get(p.repost_of_id);
    const who = orig ? orig.author_handle || handleOf(orig.author_id) : handleOf(p.repost_of_author_id || '');
    const link = el('a', {class: 'context', href: '#post=' + encodeURIComponent(p.repost_of_id),
      onclick: (e) => { if (this.focusPost(p.repost_of_id)) e.preventDefault(); }}, '@' + (who || 'someone'));
    const quote = el('blockquote', {class: 'reposted'}, el('p', {class: 'reposted-by'}, 'Reposted from ', link));
    const text = el('p', {class: 'text'});
    if (orig) text.append(linkify(orig.text, orig));
    else text.textContent = 'The shared post is not in this view.';
    quote.append(text);
    return quote;
  }

  postElement(p) {
    const cls = ['post'];
    if (p.is_host) cls.push('host');
    if (p.kind === 'repost') cls.push('repost');
    const q = markOf(p, 'question');
    if (q) cls.push('is-question');
    const li = el('li', {class: cls.join(' '), 'data-post-id': p.id});
    li._p = p;
    const when = new Date(p.t);
    const source = SOURCES[p.source] || p.source || 'unknown source';
    const head = el('header', {class: 'post-head'},
      icon('src-' + (SOURCES[p.source] ? p.source : 'other'), 'via ' + source),
      el('button', {type: 'button', class: 'author', title: 'Show only posts by @' + p.author_handle,
        onclick: () => this.hooks.onPerson(p.author_id)},
      el('span', {class: 'name'}, p.author_name || p.author_handle || handleOf(p.author_id)),
      ' ', el('span', {class: 'handle'}, '@' + (p.author_handle || handleOf(p.author_id)))),
      p.is_host ? el('span', {class: 'badge host-badge'}, 'Host') : null,
      ...p.marks.map((m) => el('span', {class: 'badge mark mark-' + m.kind},
        (m.kind === 'question' ? 'Q' : m.kind === 'answer' ? 'A' : 'T') + m.number)),
      el('a', {class: 'time', href: this.hooks.permalink(p), title: fmt.full(when)},
        el('time', {datetime: p.created_at}, fmt.time(when))));
    const body = el('p', {class: 'text'});
    body.append(linkify(p.text, p));
    // A repost has no text of its own: show the post it shares.
    const shared = p.kind === 'repost' && p.repost_of_id ? this.reposted(p) : null;
    const parent = p.reply_to_id && this.hooks.parentQuote ? this.hooks.parentQuote(p, this.data) : null;
    const foot = el('footer', {class: 'post-foot'});
    if (p.kind === 'repost') foot.append(el('span', {class: 'context'}, icon('repost'), ' repost'));
    if (p.reply_to_id) {
      const parent = this.data.posts.get(p.reply_to_id);
      const who = parent ? parent.author_handle : handleOf(p.reply_to_author_id || '');
      foot.append(el('a', {class: 'context', href: '#post=' + encodeURIComponent(p.reply_to_id),
        onclick: (e) => { if (this.focusPost(p.reply_to_id)) e.preventDefault(); }},
      icon('reply'), ' reply to @' + (who || 'someone')));
    }
    const orig = safeURL(p.url || '');
    if (orig) {
      foot.append(el('a', {class: 'orig', href: orig, target: '_blank', rel: 'noopener noreferrer'},
        'Original', el('span', {class: 'sr-only'}, ` post by @${p.author_handle} on ${source}`), ' ', icon('external')));
    }
    const article = el('article', {tabindex: '-1', 'aria-label': `@${p.author_handle}, ${fmt.time(when)}`}, head, parent,
      p.text || !shared ? body : null, shared, foot);
    li.append(article);
    return li;
  }
}

/** insertSorted puts li into list in time order (newest last for 'bottom', first for 'top'). */
function insertSorted(list, li, order) {
  const p = li._p;
  const after = (n) => n._p.t < p.t || (n._p.t === p.t && n._p.id < p.id);
  if (order === 'bottom') {
    let n = list.lastElementChild;
    while (n && !after(n)) n = n.previousElementSibling;
    list.insertBefore(li, n ? n.nextElementSibling : list.firstElementChild);
  } else {
    let n = list.firstElementChild;
    while (n && !after(n)) n = n.nextElementSibling;
    list.insertBefore(li, n);
  }
}
