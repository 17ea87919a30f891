// Compose links: open a reply on X, Bluesky or Mastodon with the chat's hashtag
// appended and, when answering question n, "A<n>" in front. Nothing is posted from
// here and no credentials are kept: the links open each network's own composer. The
// viewer's Mastodon instance is asked once and kept in localStorage.
import {el} from './util.js';

const INSTANCE_KEY = 'chatnight.mastodon-instance';

/** composeText is the text a reply starts with: "A<n> @handle #tag". */
export function composeText({answer = 0, handle = '', hashtag = ''}) {
  const parts = [];
  if (answer > 0) parts.push('A' + answer);
  if (handle) parts.push('@' + handle.replace(/^@/, ''));
  if (hashtag) parts.push('#' + hashtag.replace(/^#/, ''));
  return parts.join(' ');
}

/** xStatusID is the X post id to reply to, when p is an X post. */
export function xStatusID(p) {
  if (!p || p.source !== 'x') return '';
  const fromID = /^x:(\d+)$/.exec(p.id || '');
  if (fromID) return fromID[1];
  const fromURL = /\/status(?:es)?\/(\d+)/.exec(p.url || '');
  return fromURL ? fromURL[1] : '';
}

export function mastodonInstance() {
  try {
    return localStorage.getItem(INSTANCE_KEY) || '';
  } catch {
    return '';
  }
}

/** normalizeInstance turns "mastodon.social", "https://mastodon.social/" or "@me@host" into a host name. */
export function normalizeInstance(raw) {
  let s = (raw || '').trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
  if (s.includes('@')) s = s.split('@').pop();
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$/i.test(s) ? s.toLowerCase() : '';
}

export function setMastodonInstance(host) {
  localStorage.setItem(INSTANCE_KEY, host);
}

/** composeURLs are the three composer links for a reply to post p (p may be null). */
export function composeURLs(p, opts) {
  const text = composeText(opts);
  const x = new URLSearchParams({text});
  const id = xStatusID(p);
  if (id) x.set('in_reply_to', id);
  const instance = mastodonInstance();
  return {
    x: 'https://x.com/intent/tweet?' + x,
    bluesky: 'https://bsky.app/intent/compose?' + new URLSearchParams({text}),
    mastodon: instance ? `https://${instance}/share?` + new URLSearchParams({text}) : '',
  };
}

/**
 * composeLinks renders the links for a reply to p. askInstance() is called when the
 * Mastodon link is used before an instance is known; it resolves to the host or ''.
 */
export function composeLinks(p, opts, askInstance) {
  const urls = composeURLs(p, opts);
  const link = (net, label, href) => el('a', {class: 'compose compose-' + net, 'data-network': net, href: href || '#',
    target: '_blank', rel: 'noopener noreferrer', 'data-text': composeText(opts)}, label);
  const mastodon = link('mastodon', 'Mastodon', urls.mastodon);
  if (!urls.mastodon) {
    mastodon.removeAttribute('target');
    mastodon.addEventListener('click', async (e) => {
      if (mastodonInstance()) return;
      e.preventDefault();
      const host = await askInstance();
      if (host) {
        mastodon.href = composeURLs(p, opts).mastodon;
        mastodon.target = '_blank';
      }
    });
  }
  return el('span', {class: 'compose-links', role: 'group', 'aria-label': 'Reply on'},
    'Reply on ', link('x', 'X', urls.x), ' · ', link('bluesky', 'Bluesky', urls.bluesky), ' · ', mastodon);
}

/** refreshMastodonLinks points every Mastodon link on the page at the saved instance. */
export function refreshMastodonLinks(root = document) {
  const instance = mastodonInstance();
  if (!instance) return;
  for (const a of root.querySelectorAll('a.compose-mastodon')) {
    a.href = `https://${instance}/share?` + new URLSearchParams({text: a.dataset.text || ''});
    a.target = '_blank';
  }
}
