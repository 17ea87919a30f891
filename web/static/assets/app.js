// chatnight's page: pick a community, follow its chat live over a websocket (backfill,
// then live events with stream sequences; reconnects resume with since=<last seq>),
// browse and replay past sessions.
import {el, fmt, getJSON, throttle} from './util.js';
import {Dataset} from './model.js';
import {showCompleteness} from './completeness.js';
import {Feed} from './feed.js';
import {Leaderboard, ActivityChart, Graph} from './panels.js';
import {Parents} from './parents.js';
import {LiveFeed} from './live.js';
import {refetch} from './refetch.js';
import {PeopleBadges} from './people.js';

// PSEUDONYM starts the id of an opted-out participant (redact.PseudonymPrefix).
const PSEUDONYM = 'participant-';

const $ = (id) => document.getElementById(id);

const state = {
  communities: [],
  community: null, // the chosen community (from /api/communities)
  sessions: [], // its past sessions, newest first
  sessionMeta: new Map(), // session id -> session
  mode: 'live', // live | archive | replay
  live: new Dataset(),
  liveSession: null, // the session the server backfilled
  liveUnseen: 0,
  archive: null, // Dataset of the selected past session
  archiveSession: null,
  newcomers: new Map(), // session id -> Set of author ids
  // session id -> participants the read model counts whose posts are withheld (opted
  // out, named by a pseudonym), so the leaderboard counts them as the API does
  withheld: new Map(),
  selectedPerson: '',
  pendingFocus: '',
};

// --- feed and panels ---

const parents = new Parents();
const feed = new Feed($('feed'), {
  parentQuote: (p, data) => parents.quote(p, data),
  sessionLabel,
  onUnseen: (n) => {
    const b = $('unseen');
    b.hidden = n === 0;
    b.textContent = n === 1 ? '1 new post' : `${n} new posts`;
    b.classList.toggle('at-top', feed.order === 'top');
  },
  onPerson: (id) => selectPerson(state.selectedPerson === id ? '' : id),
  permalink: (p) => '#' + new URLSearchParams({community: state.community?.id || '', session: p.session_id || '', post: p.id}),
});
const people = new PeopleBadges();
const board = new Leaderboard($('board'), {
  onPerson: (id, accounts) => selectPerson(state.selectedPerson === id ? '' : id, accounts),
  isNewcomer,
  group: (data) => people.group(data),
  badges: (p) => people.badges(p),
  detail: (p) => people.detail(p),
  selected: () => state.selectedPerson,
  withheld,
});
const chart = new ActivityChart($('activity'));
const graph = new Graph($('graph'), {onPerson: (id) => selectPerson(id)});

function shown() {
  return state.mode === 'live' ? state.live : state.mode === 'archive' ? state.archive : replay.data;
}

const refreshPanels = throttle(() => {
  const data = shown();
  if (!data) return;
  board.render(data);
  chart.render(data);
  graph.render(data);
  refreshFilterOptions(data);
}, 250);

function sessionLabel(sid, first) {
  if (!sid) return 'Outside a scheduled session';
  const s = state.sessionMeta.get(sid);
  const start = s ? new Date(s.start) : first ? new Date(first) : null;
  const kind = s && s.kind === 'detected' ? 'Session (detected)' : 'Session';
  return start ? `${kind} · ${fmt.day(start)}, ${fmt.time(start)}` : kind;
}

function withheld() {
  if (state.mode === 'replay') return [];
  const sids = state.mode === 'archive' ? [state.archiveSession?.id] : [...state.live.sessions.keys()];
  return sids.flatMap((sid) => state.withheld.get(sid) || []);
}

function isNewcomer(id) {
  for (const set of state.newcomers.values()) if (set.has(id)) return true;
  return false;
}

const announce = throttle(() => {
  const n = pendingAnnounce;
  pendingAnnounce = 0;
  if (n) $('announce').textContent = n === 1 ? '1 new post' : `${n} new posts`;
}, 5000);
let pendingAnnounce = 0;

// --- filters ---

// selectPerson shows only the posts of id: an account, or a person of accounts.
function selectPerson(id, accounts) {
  state.selectedPerson = id;
  $('filter-person').value = id;
  feed.setFilter({author: id, authors: id && accounts && accounts.length > 1 ? new Set(accounts) : null});
  refreshPanels();
}

function refreshFilterOptions(data) {
  const person = $('filter-person');
  const people = [...data.people.values()].filter((p) => p.posts > 0).sort((a, b) => a.handle.localeCompare(b.handle));
  if (person.options.length !== people.length + 1) {
    person.replaceChildren(el('option', {value: ''}, 'Everyone'),
      ...people.map((p) => el('option', {value: p.id}, '@' + p.handle)));
    person.value = state.selectedPerson;
  }
  const question = $('filter-question');
  const numbers = new Set();
  for (const key of data.questions.keys()) numbers.add(Number(key.split('\u0000')[1]));
  const sorted = [...numbers].sort((a, b) => a - b);
  if (question.options.length !== sorted.length + 1) {
    const v = question.value;
    question.replaceChildren(el('option', {value: '0'}, 'All questions'),
      ...sorted.map((n) => el('option', {value: String(n)}, 'Q' + n)));
    question.value = v;
  }
}

$('filter-person').addEventListener('change', (e) => selectPerson(e.target.value));
$('filter-question').addEventListener('change', (e) => feed.setFilter({question: Number(e.target.value)}));
$('filter-text').addEventListener('input', throttle(() => feed.setFilter({text: $('filter-text').value.trim()}), 200));
for (const r of document.querySelectorAll('input[name=view]')) {
  r.addEventListener('change', () => { if (r.checked) feed.setView(r.value); });
}
$('order').addEventListener('change', (e) => feed.setOrder(e.target.value));
$('unseen').addEventListener('click', () => feed.scrollToEdge());
document.querySelector('.toolbar').addEventListener('submit', (e) => e.preventDefault());

// --- communities and status ---

async function loadCommunities() {
  state.communities = await getJSON('/api/communities');
  const sel = $('community');
  sel.replaceChildren(...state.communities.map((c) => el('option', {value: c.id}, c.name)));
  if (state.community) {
    state.community = state.communities.find((c) => c.id === state.community.id) || state.community;
  }
}

function renderStatus() {
  const c = state.community;
  const box = $('status');
  if (!c) return;
  const now = Date.now();
  const parts = [];
  if (state.mode === 'replay') {
    parts.push(el('span', {class: 'pill replay'}, 'Replay'), ' ' + sessionLabel(state.archiveSession?.id));
  } else if (state.mode === 'archive') {
    parts.push(el('span', {class: 'pill past'}, 'Past session'), ' ' + sessionLabel(state.archiveSession?.id));
  } else if (c.current) {
    const start = new Date(c.current.start), end = new Date(c.current.end);
    parts.push(el('span', {class: 'pill live'}, 'Live now'),
      ` started ${fmt.time(start)}` + (end > now ? `, ends ${fmt.time(end)}` : ''));
  } else if (c.next_start) {
    const next = new Date(c.next_start);
    parts.push(el('span', {class: 'pill next'}, 'Next chat'), ` ${fmt.full(next)} · starts in `,
      el('strong', {class: 'countdown', id: 'countdown'}, fmt.duration(next - now)));
    if (state.liveSession) parts.push(el('span', {class: 'sub'}, ` · showing the most recent session`));
  } else {
    parts.push(el('span', {class: 'pill next'}, 'No chat scheduled'));
  }
  box.replaceChildren(...parts);
  if (c.next_start && !c.current && new Date(c.next_start) <= now) loadCommunities().then(renderStatus).catch(() => {});
}

function updateCountdown() {
  const c = state.community;
  const cd = $('countdown');
  if (cd && c?.next_start) cd.textContent = fmt.duration(new Date(c.next_start) - Date.now());
  else if (c) renderStatus();
}

async function chooseCommunity(id, opts = {}) {
  const c = state.communities.find((x) => x.id === id) || state.communities[0];
  if (!c) return;
  const changed = state.community?.id !== c.id;
  state.community = c;
  parents.setCommunity(c.id);
  $('community').value = c.id;
  document.title = `${c.name} · chatnight`;
  if (changed) {
    live.close();
    state.live = new Dataset();
    state.liveSession = null;
    state.newcomers.clear();
    state.withheld.clear();
    state.sessionMeta.clear();
    state.selectedPerson = '';
    live.lastSeq = 0;
    live.connect(c.id);
  }
  await loadSessions();
  if (opts.session && opts.session !== state.liveSession?.id) await openArchive(opts.session);
  else if (changed || state.mode !== 'live') showLive();
  renderStatus();
}

$('community').addEventListener('change', (e) => {
  history.replaceState(null, '', '#' + new URLSearchParams({community: e.target.value}));
  chooseCommunity(e.target.value).catch(showError);
});

async function loadSessions() {
  const c = state.community;
  const list = await getJSON(`/api/communities/${encodeURIComponent(c.id)}/sessions?limit=100`);
  state.sessions = list;
  for (const s of list) state.sessionMeta.set(s.id, s);
  renderSessions();
}

// renderSessions fills the session list, leaving out sessions under the chosen number
// of posts (a lone post makes a detected session of its own), except the one shown.
function renderSessions() {
  const c = state.community;
  if (!c) return;
  const min = Number($('min-posts').value) || 1;
  const current = state.mode === 'live' ? '' : state.archiveSession?.id || '';
  const kept = state.sessions.filter((s) => s.posts >= min || s.id === current);
  const hidden = state.sessions.length - kept.length;
  const sel = $('session');
  const liveLabel = c.current ? 'Live: current session' : 'Live feed (most recent session)';
  sel.replaceChildren(el('option', {value: ''}, liveLabel),
    ...kept.map((s) => el('option', {value: s.id},
      `${fmt.day(new Date(s.start))} ${fmt.time(new Date(s.start))} · ${fmt.count(s.posts, 'post', 'posts')}, ` +
      fmt.count(s.participants, 'person', 'people'))),
    ...(hidden ? [el('option', {value: '', disabled: true}, `${fmt.count(hidden, 'shorter session', 'shorter sessions')} hidden`)] : []));
  sel.value = current;
}

$('min-posts').value = localStorage.getItem('chatnight.minPosts') || '1';
$('min-posts').addEventListener('change', (e) => {
  localStorage.setItem('chatnight.minPosts', e.target.value);
  renderSessions();
});

// renderDownloads links the exports of the session shown: its transcript, its graph
// and its report.
function renderDownloads() {
  const sess = state.mode === 'live' ? state.liveSession : state.archiveSession;
  const box = $('downloads');
  if (!sess?.id) {
    box.replaceChildren(el('p', {class: 'empty'}, 'No session to download yet.'));
    return;
  }
  const base = `/api/sessions/${encodeURIComponent(sess.id)}`;
  const link = (path, label, file) => el('a', {href: base + path, download: file, class: 'download'}, label);
  const row = (title, ...links) => el('li', {}, el('span', {class: 'download-kind'}, title), ...links);
  box.replaceChildren(el('ul', {class: 'downloads'},
    row('Transcript', ...['json', 'csv', 'md', 'html'].map((f) =>
      link(`/transcript?format=${f}`, f === 'md' ? 'Markdown' : f.toUpperCase(), `${sess.id}.${f}`))),
    row('Graph', link('/graph?format=gexf', 'GEXF', `${sess.id}.gexf`), link('/graph?format=graphml', 'GraphML', `${sess.id}.graphml`)),
    row('Report', link('/stats', 'JSON', `${sess.id}-report.json`))));
}

$('session').addEventListener('change', (e) => {
  const id = e.target.value;
  const params = {community: state.community.id};
  if (id) params.session = id;
  history.replaceState(null, '', '#' + new URLSearchParams(params));
  (id ? openArchive(id) : Promise.resolve(showLive())).catch(showError);
});

// --- modes ---

// removePosts drops posts deleted at their source from every dataset on the page.
function removePosts(ids) {
  let changed = false;
  for (const data of [state.live, state.archive, replay.data]) if (data && data.remove(ids)) changed = true;
  if (!changed) return;
  feed.show(shown());
  refreshPanels();
}

function showLive() {
  replay.stop();
  showCompleteness(state.liveSession?.id);
  state.mode = 'live';
  $('session').value = '';
  state.liveUnseen = 0;
  $('back-live').hidden = true;
  $('replay').hidden = true;
  $('replay-start').hidden = true;
  feed.show(state.live);
  refreshPanels();
  renderStatus();
  renderDownloads();
  focusPending();
}

async function openArchive(id) {
  replay.stop();
  const t = await getJSON(`/api/sessions/${encodeURIComponent(id)}/posts`);
  state.sessionMeta.set(t.session.id, t.session);
  const data = new Dataset();
  for (const p of t.posts) data.add(p);
  state.archive = data;
  state.archiveSession = t.session;
  state.mode = 'archive';
  showCompleteness(t.session.id);
  $('session').value = id;
  $('replay-start').hidden = false;
  $('replay').hidden = true;
  feed.show(data);
  loadNewcomers(id);
  refreshPanels();
  renderStatus();
  renderSessions();
  renderDownloads();
  focusPending();
}

$('back-live').addEventListener('click', () => {
  history.replaceState(null, '', '#' + new URLSearchParams({community: state.community.id}));
  showLive();
});

async function loadNewcomers(sid) {
  if (!sid) return;
  try {
    const list = await getJSON(`/api/sessions/${encodeURIComponent(sid)}/participants`);
    state.newcomers.set(sid, new Set(list.filter((p) => p.newcomer).map((p) => p.author_id)));
    state.withheld.set(sid, list.filter((p) => p.author_id.startsWith(PSEUDONYM)).map((p) => ({
      id: p.author_id, handle: p.handle, name: '', posts: p.posts, replies: p.replies_received,
      mentions: p.mentions_received, host: p.is_host, withheld: true})));
    await people.load(sid);
    refreshPanels();
  } catch {
    // The leaderboard shows no newcomer marks until it can.
  }
}

const refreshLiveNewcomers = throttle(() => {
  const sids = new Set();
  for (const s of state.live.sessions.keys()) if (s) sids.add(s);
  for (const s of sids) loadNewcomers(s);
}, 5000);

// --- live websocket ---

const live = new LiveFeed({
  hello(msg) {
    if (!msg.resumed) {
      state.liveSession = msg.session;
      if (msg.session?.id) state.sessionMeta.set(msg.session.id, msg.session);
      if (state.mode === 'live') showCompleteness(msg.session?.id);
    }
    renderStatus();
    renderDownloads();
  },
  backfill(posts, last, msg) {
    addLivePosts(posts);
    if (last) {
      loadNewcomers(msg.session_id);
      focusPending();
    }
  },
  // Posts deleted at their source leave the page and what they counted in.
  deletes(ids) {
    removePosts(ids);
  },
  posts(posts) {
    const added = addLivePosts(posts);
    if (added.some((p) => !state.sessionMeta.has(p.session_id))) refreshLiveSessions();
    if (added.length) refreshLiveNewcomers();
  },
  // A post shown before, placed anew (a reply moved to its late parent's thread).
  updates(posts) {
    for (const raw of posts) {
      const p = state.live.update(raw);
      if (p && state.mode === 'live') feed.replace(p);
    }
  },
  optouts() {
    applyOptOuts().catch(showError);
  },
  state: setConn,
});

function addLivePosts(posts) {
  const added = [];
  for (const p of posts) if (state.live.add(p)) added.push(state.live.posts.get(p.id));
  if (!added.length) return added;
  parents.arrived(added);
  if (state.mode === 'live') {
    feed.added(added);
    refreshPanels();
    pendingAnnounce += added.length;
    announce();
  } else {
    state.liveUnseen += added.length;
    const b = $('back-live');
    b.hidden = false;
    b.textContent = `Back to live (${state.liveUnseen} new)`;
  }
  return added;
}

// applyOptOuts reads what the page shows again, redacted, once the opt-out list changed.
async function applyOptOuts() {
  state.live = await refetch(state.live);
  if (state.archive) state.archive = await refetch(state.archive);
  if (state.mode === 'replay') return;
  feed.show(shown());
  refreshPanels();
}

const refreshLiveSessions = throttle(() => {
  Promise.all([loadCommunities(), loadSessions()]).then(renderStatus).catch(() => {});
}, 10000);

function setConn(kind, text) {
  const c = $('conn');
  c.dataset.state = kind;
  c.querySelector('.conn-text').textContent = text;
}

// --- replay ---

const replay = {
  data: null,
  posts: [],
  index: 0,
  clock: 0, // virtual time (ms)
  start: 0,
  end: 0,
  playing: false,
  last: 0,
  timer: null,

  begin() {
    const src = state.archive;
    if (!src) return;
    this.posts = src.sorted();
    if (!this.posts.length) return;
    this.start = this.posts[0].t;
    this.end = this.posts[this.posts.length - 1].t;
    state.mode = 'replay';
    $('replay').hidden = false;
    $('replay-start').hidden = true;
    this.seek(this.start);
    this.play();
    renderStatus();
  },

  seek(t) {
    this.data = new Dataset();
    this.index = 0;
    this.clock = t;
    while (this.index < this.posts.length && this.posts[this.index].t <= t) this.data.add(this.posts[this.index++]);
    feed.show(this.data);
    refreshPanels();
    this.showClock();
  },

  play() {
    if (this.index >= this.posts.length) this.seek(this.start);
    this.playing = true;
    this.last = performance.now();
    $('replay-play').textContent = 'Pause';
    $('replay-play').setAttribute('aria-pressed', 'true');
    this.tick();
  },

  pause() {
    this.playing = false;
    clearTimeout(this.timer);
    $('replay-play').textContent = 'Play';
    $('replay-play').setAttribute('aria-pressed', 'false');
  },

  stop() {
    this.pause();
    this.data = null;
  },

  tick() {
    if (!this.playing) return;
    const now = performance.now();
    this.clock += (now - this.last) * Number($('replay-speed').value);
    this.last = now;
    const batch = [];
    while (this.index < this.posts.length && this.posts[this.index].t <= this.clock) {
      const p = this.posts[this.index++];
      if (this.data.add(p)) batch.push(this.data.posts.get(p.id));
    }
    if (batch.length) {
      feed.added(batch);
      refreshPanels();
    }
    this.showClock();
    if (this.index >= this.posts.length) {
      this.pause();
      return;
    }
    this.timer = setTimeout(() => this.tick(), 100);
  },

  showClock() {
    const span = Math.max(1, this.end - this.start);
    $('replay-pos').value = String(Math.round(((this.clock - this.start) / span) * 1000));
    $('replay-clock').textContent = `${fmt.timeSec(new Date(Math.min(this.clock, this.end)))} · ${this.index}/${this.posts.length} posts`;
  },
};

$('replay-start').addEventListener('click', () => replay.begin());
$('replay-play').addEventListener('click', () => (replay.playing ? replay.pause() : replay.play()));
$('replay-pos').addEventListener('input', (e) => {
  const wasPlaying = replay.playing;
  replay.pause();
  replay.seek(replay.start + (Number(e.target.value) / 1000) * (replay.end - replay.start));
  if (wasPlaying) replay.play();
});
$('replay-exit').addEventListener('click', () => {
  replay.stop();
  state.mode = 'archive';
  $('replay').hidden = true;
  $('replay-start').hidden = false;
  feed.show(state.archive);
  refreshPanels();
  renderStatus();
});

// --- deep links: #community=ID&session=ID&post=ID (each optional; #post=ID alone works) ---

function parseHash() {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

function focusPending() {
  if (state.pendingFocus && feed.focusPost(state.pendingFocus)) state.pendingFocus = '';
}

async function followHash() {
  const h = parseHash();
  state.pendingFocus = h.get('post') || '';
  const community = h.get('community') || state.community?.id || state.communities[0]?.id;
  const session = h.get('session') || '';
  if (community !== state.community?.id) {
    await chooseCommunity(community, {session: session && session !== state.liveSession?.id ? session : ''});
  } else if (session && state.mode === 'live' && !state.live.sessions.has(session)) {
    await openArchive(session);
  } else if (session && state.mode !== 'live' && state.archiveSession?.id !== session) {
    await openArchive(session);
  }
  focusPending();
}

window.addEventListener('hashchange', () => followHash().catch(showError));

function showError(err) {
  const box = $('error');
  box.hidden = false;
  box.textContent = `Something went wrong: ${err.message || err}`;
}

// --- start ---

async function start() {
  try {
    await loadCommunities();
    await followHash();
  } catch (err) {
    showError(err);
  }
  setInterval(updateCountdown, 1000);
  setInterval(() => loadCommunities().then(renderStatus).catch(() => {}), 60000);
}

start();

// For tests and debugging: the sequence the page would resume from.
window.chatnight = {lastSeq: () => live.lastSeq, mode: () => state.mode, graphLabels: () => graph.drawnLabels || []};
