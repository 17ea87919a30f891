// The host console (/host?community=ID[&session=ID]): the hosts' questions, posts
// waiting for a reply, first-timers and who welcomed them, and the conversation with
// every reply's parent quoted, kept live over the community's websocket. With
// &session= it reviews a past session. Posts a host marks seen are remembered in this
// browser only: the web tier stays read-only.
import {el, fmt, getJSON, throttle} from './util.js';
import {Dataset, markOf, handleOf} from './model.js';
import {Feed} from './feed.js';
import {Parents, shortQuote} from './parents.js';
import {LiveFeed} from './live.js';
import {refetch} from './refetch.js';
import {composeLinks, normalizeInstance, setMastodonInstance, mastodonInstance, refreshMastodonLinks} from './compose.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_SEEN = 2000;

const state = {
  community: null,
  review: params.get('session') || '',
  session: null, // the session shown
  data: new Dataset(),
  waitingAfter: 180000, // ms; the community's waiting_after, from /api/sessions/{id}/host
  at: 0, // review: the moment the API measured waiting times at
  newcomers: new Map(), // author id -> newcomer from the API
  seen: new Set(),
};

const parents = new Parents();
const feed = new Feed($('feed'), {
  sessionLabel: () => 'This session',
  onUnseen: () => {},
  onPerson: () => {},
  permalink: (p) => '/#' + new URLSearchParams({community: state.community?.id || '', session: p.session_id || '', post: p.id}),
  parentQuote: (p, data) => parents.quote(p, data),
});
feed.view = 'qa';

// --- seen marks (localStorage) ---

function seenKey() { return 'chatnight.seen.' + (state.community?.id || ''); }

function loadSeen() {
  try {
    state.seen = new Set(JSON.parse(localStorage.getItem(seenKey()) || '[]'));
  } catch {
    state.seen = new Set();
  }
}

function markSeen(id) {
  state.seen.add(id);
  const list = [...state.seen].slice(-MAX_SEEN);
  try {
    localStorage.setItem(seenKey(), JSON.stringify(list));
  } catch {
    // Storage full or disabled: the mark lasts until the page closes.
  }
  render();
}

// --- Mastodon instance, asked once ---

let instanceAnswer = null;

function askInstance() {
  const dlg = $('instance-dialog');
  $('instance-input').value = mastodonInstance();
  $('instance-error').hidden = true;
  dlg.showModal();
  return new Promise((resolve) => { instanceAnswer = resolve; });
}

$('instance-form').addEventListener('submit', (e) => {
  const host = normalizeInstance($('instance-input').value);
  if (!host) {
    e.preventDefault();
    $('instance-error').hidden = false;
    return;
  }
  setMastodonInstance(host);
  refreshMastodonLinks();
  showInstance();
  instanceAnswer?.(host);
  instanceAnswer = null;
});
$('instance-cancel').addEventListener('click', () => {
  $('instance-dialog').close();
  instanceAnswer?.('');
  instanceAnswer = null;
});
$('instance').addEventListener('click', () => askInstance());

function showInstance() {
  const i = mastodonInstance();
  $('instance').textContent = i ? `Mastodon: ${i}` : 'Mastodon instance…';
}

// --- what the console shows, from the posts ---

function hashtag() { return state.community?.hashtags?.[0] || ''; }

function ago(t) {
  const mins = Math.floor(Math.max(0, now() - t) / 60000);
  return mins < 1 ? 'just now' : mins < 60 ? `${mins} min ago` : `${Math.floor(mins / 60)} h ${mins % 60} min ago`;
}

function now() { return state.review && state.at ? state.at : Date.now(); }

/** questionNumber is the question a post belongs to: its own mark, or its parent's. */
function questionNumber(p) {
  for (let cur = p, i = 0; cur && i < 20; i++) {
    const m = markOf(cur, 'question') || markOf(cur, 'answer');
    if (m) return m.number;
    cur = cur.reply_to_id ? state.data.posts.get(cur.reply_to_id) : null;
  }
  return 0;
}

function compose(p, answer) {
  return composeLinks(p, {answer, handle: p?.author_handle || '', hashtag: hashtag()}, askInstance);
}

function questions() {
  const hostsOnly = (state.community?.hosts || []).length > 0;
  const out = [];
  for (const [key, id] of state.data.questions) {
    const q = state.data.posts.get(id);
    if (!q || (hostsOnly && !q.is_host)) continue;
    const n = Number(key.split('\u0000')[1]);
    const answers = [];
    const who = new Map();
    for (const p of state.data.posts.values()) {
      const a = markOf(p, 'answer');
      if (!a || a.number !== n || p.id === id || (p.session_id || '') !== (q.session_id || '')) continue;
      answers.push(p);
    }
    answers.sort((a, b) => a.t - b.t);
    for (const a of answers) if (!who.has(a.author_id)) who.set(a.author_id, a.author_handle || handleOf(a.author_id));
    out.push({n, post: q, answers: answers.length, answerers: [...who.values()]});
  }
  return out.sort((a, b) => b.post.t - a.post.t || b.n - a.n);
}

function repliedTo() {
  const out = new Set();
  for (const p of state.data.posts.values()) {
    if (!p.reply_to_id) continue;
    const parent = state.data.posts.get(p.reply_to_id);
    if (!parent || parent.author_id !== p.author_id) out.add(p.reply_to_id);
  }
  return out;
}

function firstReplies() {
  // author id -> the first reply someone else made to them, after their first post here.
  const first = new Map();
  for (const p of state.data.sorted()) if (!first.has(p.author_id)) first.set(p.author_id, p);
  const out = new Map();
  for (const p of state.data.sorted()) {
    const to = p.reply_to_author_id;
    if (!to || to === p.author_id || out.has(to)) continue;
    const f = first.get(to);
    if (f && p.t >= f.t) out.set(to, p);
  }
  return {first, out};
}

function waiting(replied) {
  const t = now();
  const list = [];
  for (const p of state.data.posts.values()) {
    if (p.is_host || p.kind === 'repost' || replied.has(p.id) || state.seen.has(p.id)) continue;
    if (t - p.t < state.waitingAfter) continue;
    list.push(p);
  }
  const isNew = (p) => state.newcomers.has(p.author_id);
  return list.sort((a, b) => (isNew(b) - isNew(a)) || a.t - b.t || (a.id < b.id ? -1 : 1));
}

// --- rendering ---

const render = throttle(() => {
  renderQuestions();
  const replied = repliedTo();
  renderWaiting(waiting(replied));
  renderNewcomers();
}, 200);

function renderQuestions() {
  const items = questions().map((q) => el('li', {class: 'hq', 'data-question-number': String(q.n), 'data-question-post-id': q.post.id},
    el('header', {class: 'hq-head'},
      el('span', {class: 'badge mark mark-question'}, 'Q' + q.n),
      el('time', {class: 'since', datetime: q.post.created_at, title: fmt.full(new Date(q.post.t))}, 'asked ' + ago(q.post.t))),
    el('p', {class: 'hq-text'}, q.post.text),
    el('p', {class: 'hq-answers'},
      el('strong', {class: 'answer-count'}, fmt.count(q.answers, 'answer', 'answers')),
      q.answerers.length ? el('span', {class: 'answerers'}, ' · ' + q.answerers.map((h) => '@' + h).join(', ')) : null),
    compose(q.post, q.n)));
  $('questions').replaceChildren(...(items.length ? items : [el('li', {class: 'empty'}, 'No questions yet.')]));
}

function renderWaiting(list) {
  $('waiting-count').textContent = list.length ? `(${list.length})` : '';
  $('waiting-note').textContent = `Posts nobody has answered for ${fmt.count(Math.round(state.waitingAfter / 60000), 'minute', 'minutes')}; first-timers first.`;
  const items = list.map((p) => {
    const isNew = state.newcomers.has(p.author_id);
    return el('li', {class: 'hw' + (isNew ? ' first-timer' : ''), 'data-waiting-post-id': p.id},
      el('header', {class: 'hw-head'},
        isNew ? el('span', {class: 'badge new-badge'}, 'First-timer') : null,
        el('strong', {class: 'handle'}, '@' + (p.author_handle || handleOf(p.author_id))),
        el('time', {class: 'since', datetime: p.created_at}, 'waiting ' + ago(p.t).replace(' ago', ''))),
      p.reply_to_id ? parents.quote(p, state.data) : null,
      el('p', {class: 'hw-text'}, p.text),
      el('footer', {class: 'hw-foot'}, compose(p, questionNumber(p)),
        el('button', {type: 'button', class: 'link-button mark-seen', onclick: () => markSeen(p.id)}, 'Mark seen')));
  });
  $('waiting').replaceChildren(...(items.length ? items : [el('li', {class: 'empty'}, 'Nobody is waiting.')]));
}

function renderNewcomers() {
  const {first, out} = firstReplies();
  const list = [...state.newcomers.values()].map((n) => ({n, post: first.get(n.author_id) || state.data.posts.get(n.first_post_id)}))
    .filter((x) => x.post).sort((a, b) => a.post.t - b.post.t);
  $('newcomer-count').textContent = list.length ? `(${list.length})` : '';
  const items = list.map(({n, post}) => {
    const reply = out.get(n.author_id);
    const by = reply ? reply.author_handle || handleOf(reply.author_id) : n.welcomed_by;
    return el('li', {class: 'hn' + (by ? ' welcomed' : ''), 'data-newcomer': n.author_id},
      el('header', {class: 'hn-head'},
        el('strong', {class: 'handle'}, '@' + (post.author_handle || n.handle || handleOf(n.author_id))),
        el('time', {class: 'since', datetime: post.created_at}, 'first post ' + ago(post.t))),
      el('p', {class: 'hn-text'}, shortQuote(post.text)),
      el('p', {class: 'welcome-state'}, by ? el('span', {class: 'welcomed-by'}, `Welcomed by @${by}`)
        : el('span', {class: 'unwelcomed'}, 'No reply yet')),
      by ? null : compose(post, questionNumber(post)));
  });
  $('newcomers').replaceChildren(...(items.length ? items : [el('li', {class: 'empty'}, 'No first-timers yet.')]));
}

// --- data ---

async function loadHostInfo() {
  if (!state.session?.id) return;
  try {
    const v = await getJSON(`/api/sessions/${encodeURIComponent(state.session.id)}/host`);
    state.waitingAfter = (v.waiting_after_s || 180) * 1000;
    state.at = Date.parse(v.at) || 0;
    state.newcomers = new Map(v.newcomers.map((n) => [n.author_id, n]));
    render();
  } catch (err) {
    showError(err);
  }
}
const refreshHostInfo = throttle(loadHostInfo, 3000);

function added(posts) {
  if (!posts.length) return;
  feed.added(posts);
  parents.arrived(posts);
  if (posts.some((p) => !state.newcomers.has(p.author_id))) refreshHostInfo();
  render();
}

const live = new LiveFeed({
  hello(msg) {
    if (!msg.resumed) {
      state.session = msg.session;
      state.data = new Dataset();
      feed.show(state.data);
      showSession();
    }
  },
  backfill(posts, last) {
    const out = [];
    for (const p of posts) if (state.data.add(p)) out.push(state.data.posts.get(p.id));
    added(out);
    if (last) loadHostInfo();
  },
  posts(posts) {
    const out = [];
    for (const p of posts) if (state.data.add(p)) out.push(state.data.posts.get(p.id));
    added(out);
  },
  updates(posts) {
    for (const raw of posts) {
      const p = state.data.update(raw);
      if (p) feed.replace(p);
    }
    render();
  },
  deletes(ids) {
    if (!state.data.remove(ids)) return;
    feed.show(state.data);
    loadHostInfo();
    render();
  },
  optouts() { redactAgain().catch(showError); },
  state(kind, text) {
    const c = $('conn');
    c.dataset.state = kind;
    c.querySelector('.conn-text').textContent = text;
  },
});

async function redactAgain() {
  state.data = await refetch(state.data);
  feed.show(state.data);
  await loadHostInfo();
  render();
}

function showSession() {
  const s = state.session;
  const label = s ? `${state.review ? 'Review' : 'Live'} · session of ${fmt.day(new Date(s.start))}, ${fmt.time(new Date(s.start))}` : 'No session yet';
  $('status').textContent = label;
}

async function start() {
  try {
    const list = await getJSON('/api/communities');
    const id = params.get('community') || list[0]?.id;
    state.community = list.find((c) => c.id === id);
    if (!state.community) throw new Error(`unknown community "${id}"`);
    document.title = `Host · ${state.community.name} · chatnight`;
    $('title').textContent = state.community.name;
    $('viewer').href = '/#' + new URLSearchParams({community: state.community.id});
    parents.setCommunity(state.community.id);
    loadSeen();
    showInstance();
    if (state.review) {
      const t = await getJSON(`/api/sessions/${encodeURIComponent(state.review)}/posts`);
      state.session = t.session;
      for (const p of t.posts) state.data.add(p);
      feed.show(state.data);
      parents.arrived(state.data.sorted());
      showSession();
      live.on.state('review', 'Reviewing a past session');
      await loadHostInfo();
    } else {
      live.connect(state.community.id);
    }
  } catch (err) {
    showError(err);
  }
  render();
  // Times since and the waiting list follow the clock.
  setInterval(render, 15000);
  setInterval(() => { if (!state.review) refreshHostInfo(); }, 30000);
}

function showError(err) {
  const box = $('error');
  box.hidden = false;
  box.textContent = `Something went wrong: ${err.message || err}`;
}

start();

// For tests and debugging.
window.chatnightHost = {render: () => render(), seen: () => [...state.seen]};
