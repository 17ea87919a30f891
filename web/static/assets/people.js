// People on the leaderboard: which person each account belongs to, as the read model
// links accounts (package people), with their stakeholder segments and why their
// accounts are linked. Stored sessions are read from /api/sessions/{id}/people; live
// posts carry their author's person (the server resolves it). The leaderboard merges
// a person's accounts into one row, as the API counts them. Everything from the server
// is set as text, never as HTML.
import {el, getJSON} from './util.js';

const NETWORKS = {x: 'X', mastodon: 'Mastodon', bluesky: 'Bluesky'};

export class PeopleBadges {
  constructor() {
    this.byAccount = new Map(); // account id -> {person_id, accounts, why, segments}
  }

  // load reads a session's people and segments; the leaderboard counts accounts it
  // knows nothing of as people of their own.
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

  // personOf is the person of account id: {id, why, segments, hidden}, or null when it
  // is a person of its own with nothing to show. A live post's word that the person
  // opted out wins over what was read before.
  personOf(id, data) {
    const live = data && data.persons ? data.persons.get(id) : null;
    if (live && live.hidden) return {id: live.id, why: [], segments: [], hidden: true};
    const api = this.byAccount.get(id);
    if (api && api.hidden) return {id: api.person_id, why: [], segments: [], hidden: true};
    if (api) return {id: api.person_id, why: api.why || [], segments: api.segments || [], hidden: false};
    if (live) return {id: live.id, why: live.why || [], segments: live.segments || [], hidden: false};
    return null;
  }

  // group merges the accounts of data (those with posts) into people, as the read
  // model does: posts and what they received summed, the handle of the account with
  // the most posts (the smallest id on a tie), host when any account hosts, the
  // segments of every account (each once, accounts in id order). Accounts of people
  // who opted out are left out: the API counts them under a pseudonym (withheld).
  group(data) {
    const out = new Map();
    const accounts = [...data.people.values()].filter((a) => a.posts > 0).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const a of accounts) {
      const info = this.personOf(a.id, data);
      if (info && info.hidden) continue;
      const id = info ? info.id : a.id;
      let p = out.get(id);
      if (!p) {
        out.set(id, p = {id, handle: a.handle, name: a.name, posts: 0, replies: 0, mentions: 0, host: false,
          members: [], networks: new Map(), why: [], segments: []});
      }
      const best = p.members.reduce((m, x) => (!m || x.posts > m.posts ? x : m), null);
      if (!best || a.posts > best.posts) { p.handle = a.handle; p.name = a.name; }
      p.members.push(a);
      p.posts += a.posts;
      p.replies += a.replies;
      p.mentions += a.mentions;
      p.host = p.host || a.host;
      const net = a.id.slice(0, Math.max(0, a.id.indexOf(':')));
      p.networks.set(net, (p.networks.get(net) || 0) + a.posts);
      if (info) {
        if (info.why.length) p.why = info.why;
        for (const s of info.segments) if (!p.segments.some((x) => x.segment === s.segment)) p.segments.push(s);
      }
    }
    return [...out.values()];
  }

  // badges are a person's segments (the rule that gave each as its tooltip) and, for a
  // person of several accounts, how many.
  badges(p) {
    const out = p.segments.map((s) => el('span', {class: 'badge seg-badge', title: s.reason}, label(s.segment)));
    if (p.members.length > 1) {
      out.push(el('span', {class: 'badge linked-badge', title: 'Accounts: ' + p.members.map((m) => m.id).join(', ')},
        `${p.members.length} accounts`));
    }
    return out;
  }

  // detail is the line under a person of several accounts: posts per network and why
  // the accounts are linked.
  detail(p) {
    if (p.members.length < 2) return null;
    const nets = [...p.networks.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([n, c]) => `${NETWORKS[n] || n} ${c}`).join(' · ');
    return el('div', {class: 'person-detail'},
      el('span', {class: 'networks'}, nets),
      p.why.length ? el('span', {class: 'why'}, ' · Linked: ' + p.why.join('; ')) : null);
  }
}

function label(segment) {
  const s = segment.replace(/_/g, ' ');
  return s === 'health it' ? 'Health IT' : s.charAt(0).toUpperCase() + s.slice(1);
}
