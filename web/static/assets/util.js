// Small DOM and formatting helpers. Text from posts only ever reaches the page through
// textContent and createTextNode: never through innerHTML.

/** el creates an element: el('a', {class: 'x', href: u}, 'text', child). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';

/** svg creates an SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** icon returns an inline SVG that uses a symbol of the icon sprite, icons.svg. */
export function icon(name, label) {
  const s = svg('svg', {class: 'icon icon-' + name, 'aria-hidden': label ? null : 'true', role: label ? 'img' : null,
    'aria-label': label || null, focusable: 'false'});
  if (label) s.append(svg('title', {}, label));
  s.append(svg('use', {href: '/assets/icons.svg#i-' + name}));
  return s;
}

// Viewer's own time zone and locale.
const timeFmt = new Intl.DateTimeFormat(undefined, {hour: 'numeric', minute: '2-digit'});
const timeSecFmt = new Intl.DateTimeFormat(undefined, {hour: 'numeric', minute: '2-digit', second: '2-digit'});
const dayFmt = new Intl.DateTimeFormat(undefined, {weekday: 'short', month: 'short', day: 'numeric'});
const fullFmt = new Intl.DateTimeFormat(undefined, {weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
  hour: 'numeric', minute: '2-digit', timeZoneName: 'short'});

export const fmt = {
  time: (d) => timeFmt.format(d),
  timeSec: (d) => timeSecFmt.format(d),
  day: (d) => dayFmt.format(d),
  full: (d) => fullFmt.format(d),
  zone: () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time',
  /** duration formats milliseconds as "2d 03:04:05" or "04:05". */
  duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, sec = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    const hms = (h || d ? two(h) + ':' : '') + two(m) + ':' + two(sec);
    return d ? `${d}d ${hms}` : hms;
  },
  count: (n, one, many) => `${n} ${n === 1 ? one : many}`,
};

/** safeURL returns the URL when it is http(s), else null. */
export function safeURL(raw) {
  try {
    const u = new URL(raw);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

// Tokens linkified in post text: URLs, @mentions (also @user@instance), #hashtags.
const TOKEN = /(https?:\/\/[^\s<>"'`]+)|(^|[^\w@/])(@[A-Za-z0-9_][A-Za-z0-9_.-]*(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)|(^|[^\w&#/])(#[\p{L}\p{N}_]+)/gu;

/** profileURL links a handle on the post's network, when we know how. */
function profileURL(handle, post) {
  const h = handle.replace(/^@/, '');
  switch (post.source) {
    case 'x': return 'https://x.com/' + encodeURIComponent(h);
    case 'bluesky': return 'https://bsky.app/profile/' + encodeURIComponent(h);
    case 'mastodon': {
      const [user, host] = h.split('@');
      const base = host || hostOf(post.url);
      return base ? `https://${base}/@${encodeURIComponent(user)}` : null;
    }
  }
  return null;
}

function tagURL(tag, post) {
  const t = encodeURIComponent(tag.replace(/^#/, ''));
  switch (post.source) {
    case 'x': return 'https://x.com/hashtag/' + t;
    case 'bluesky': return 'https://bsky.app/hashtag/' + t;
    case 'mastodon': {
      const host = hostOf(post.url);
      return host ? `https://${host}/tags/${t}` : null;
    }
  }
  return null;
}

function hostOf(u) {
  const s = safeURL(u || '');
  return s ? new URL(s).host : null;
}

function link(text, href, cls) {
  if (!href) return el('span', {class: cls}, text);
  return el('a', {class: cls, href, target: '_blank', rel: 'noopener noreferrer nofollow ugc'}, text);
}

/** linkify renders post text as a fragment of text nodes and safe links. */
export function linkify(text, post) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    let start = m.index;
    let token, kind;
    if (m[1]) {
      token = m[1].replace(/[.,;:!?)\]}'"]+$/, '');
      kind = 'url';
    } else if (m[3]) {
      start += m[2].length;
      token = m[3].replace(/[.]+$/, '');
      kind = 'mention';
    } else {
      start += m[4].length;
      token = m[5];
      kind = 'tag';
    }
    if (start > last) frag.append(document.createTextNode(text.slice(last, start)));
    if (kind === 'url') {
      const href = safeURL(token);
      frag.append(href ? link(shortURL(token), href, 'url') : document.createTextNode(token));
    } else if (kind === 'mention') {
      frag.append(link(token, profileURL(token, post), 'mention'));
    } else {
      frag.append(link(token, tagURL(token, post), 'tag'));
    }
    last = start + token.length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

function shortURL(u) {
  const s = u.replace(/^https?:\/\/(www\.)?/, '');
  return s.length > 48 ? s.slice(0, 45) + '…' : s;
}

/** throttle runs fn at most once per ms, trailing. */
export function throttle(fn, ms) {
  let timer = null, pending = false;
  return function run() {
    if (timer) { pending = true; return; }
    fn();
    timer = setTimeout(() => {
      timer = null;
      if (pending) { pending = false; run(); }
    }, ms);
  };
}

/** getJSON fetches JSON and throws with the server's message on failure. */
export async function getJSON(url, signal) {
  const resp = await fetch(url, {signal, headers: {Accept: 'application/json'}});
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
  return body;
}

/** cssVar reads a custom property of the root element. */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
