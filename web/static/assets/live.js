// LiveFeed: a community's websocket (/ws). The server sends hello, the backfill of the
// session shown, then live messages with stream sequences; reconnecting resumes with
// since=<last sequence>. `optouts` says the opt-out list changed.
export class LiveFeed {
  /**
   * @param {object} on hello(msg), backfill(posts, last, msg), posts(posts), updates(posts),
   *   deletes(ids) (posts deleted at their source), optouts(), state(kind, text)
   */
  constructor(on) {
    this.on = on;
    this.ws = null;
    this.community = '';
    this.lastSeq = 0;
    this.attempt = 0;
    this.timer = null;
  }

  connect(community) {
    this.community = community;
    clearTimeout(this.timer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({community});
    if (this.lastSeq > 0) q.set('since', String(this.lastSeq));
    const ws = new WebSocket(`${proto}//${location.host}/ws?${q}`);
    this.ws = ws;
    this.on.state('connecting', 'Connecting…');
    ws.onmessage = (e) => { if (this.ws === ws) this.message(JSON.parse(e.data)); };
    ws.onclose = (e) => { if (this.ws === ws) this.closed(e); };
  }

  // close stops the feed (and any reconnect) before connecting to another community.
  close() {
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'switching community');
    }
  }

  message(msg) {
    switch (msg.type) {
      case 'hello':
        this.attempt = 0;
        this.lastSeq = msg.seq;
        this.on.hello(msg);
        this.on.state('live', msg.resumed ? 'Live (resumed)' : 'Live');
        break;
      case 'backfill':
        this.on.backfill(msg.posts || [], msg.last, msg);
        break;
      case 'live': {
        this.lastSeq = Math.max(this.lastSeq, msg.seq);
        const of = (type) => (msg.events || []).filter((e) => e.type === type && e.post).map((e) => e.post);
        const gone = (msg.events || []).filter((e) => e.type === 'delete' && e.post_id).map((e) => e.post_id);
        if (gone.length && this.on.deletes) this.on.deletes(gone);
        this.on.posts(of('post'));
        const updates = of('update');
        if (updates.length) this.on.updates(updates);
        break;
      }
      case 'optouts':
        this.on.optouts();
        break;
    }
  }

  closed(e) {
    this.ws = null;
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    this.on.state('down', `Reconnecting in ${Math.ceil(delay / 1000)} s${e.reason ? ` (${e.reason})` : ''}`);
    this.timer = setTimeout(() => this.connect(this.community), delay);
  }
}
