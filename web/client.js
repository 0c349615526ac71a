// A Parley protocol client (docs/protocol.md "Wire protocol"): one WebSocket with reconnect,
// last_seq_map catch-up, seq-gap backfill and send retries. It knows nothing of the DOM;
// the page listens for its "change" and "notice" events.

const PING_MS = 15000;           // docs/protocol.md: client ping every 15 s
const DEAD_MS = 40000;           // nothing received for this long: treat the socket as dead
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const ACK_TIMEOUT_MS = 10000;    // resend (same client_msg_id) when no ack came
const HISTORY = 50;              // messages loaded for a channel seen for the first time
const PAGE = 100;                // backfill page size (the server clamps to 100)
const SUBSCRIBE_MAX = 500;       // docs/protocol.md: presence subscriptions per connection
const SUBSCRIBE_FRAME = 100;     // user ids per presence.subscribe / presence.unsubscribe

/// A client_msg_id: a UUID where the page is a secure context, else 32 random hex digits.
export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/// Exponential backoff with ±20 % jitter so many clients do not reconnect in lockstep.
function backoff(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/// One channel as the client sees it. Invariant: every existing message with
/// seq <= lastSeq has been received (seqs missing below it are empty gaps).
class Channel {
  constructor(id) {
    this.id = id;
    this.latest = 0;          // newest seq the server told us about
    this.lastSeq = null;      // contiguous high-water mark; null until history is requested
    this.messages = [];       // sorted by channel_seq
    this.bySeq = new Map();   // channel_seq -> message, for dedup
    this.readSeq = 0;         // newest seq the user has seen
    this.backfilling = false; // a backfill page is on its way
    // Users seen in the channel (authors, presence). The page has no member list of a named
    // channel, so this is whom it can show in the channel's header.
    this.members = new Set();
  }

  /// Adds a message unless its seq is already known; keeps `messages` sorted.
  add(m) {
    if (this.bySeq.has(m.channel_seq)) return false;
    this.bySeq.set(m.channel_seq, m);
    let i = this.messages.length;
    while (i > 0 && this.messages[i - 1].channel_seq > m.channel_seq) i--;
    this.messages.splice(i, 0, m);
    this.members.add(m.user_id);
    this.latest = Math.max(this.latest, m.channel_seq);
    return true;
  }

  /// Moves lastSeq over messages that arrived out of order.
  advance() {
    if (this.lastSeq === null) return;
    while (this.bySeq.has(this.lastSeq + 1)) this.lastSeq++;
  }

  maxSeq() {
    return this.messages.length ? this.messages[this.messages.length - 1].channel_seq : 0;
  }

  unread(me) {
    let n = 0;
    for (let i = this.messages.length - 1; i >= 0 && this.messages[i].channel_seq > this.readSeq; i--)
      if (this.messages[i].user_id !== me) n++;
    return n;
  }
}

export class ParleyClient extends EventTarget {
  /// `session`: {token, workspaceId, userId}; `baseUrl`: the node, usually location.origin.
  constructor(session, baseUrl = location.origin) {
    super();
    this.session = session;
    this.baseUrl = baseUrl;
    this.userId = session.userId;
    this.state = 'connecting';     // connecting | connected | reconnecting | offline
    this.channels = new Map();     // channel_id -> Channel
    this.channelInfo = new Map();  // channel_id -> {name, members} from GET /v1/channels
    this.infoRequest = 0;          // the newest channel list request; older answers are dropped
    this.presence = new Map();     // user_id -> online | away | offline (presence is per user)
    this.watched = [];             // user ids whose presence the page shows, most wanted first
    this.subscribed = new Set();   // user ids subscribed on the current connection
    this.pending = new Map();      // client_msg_id -> unacked send
    this.activeId = null;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.lastFrameAt = 0;
    this.rttMs = null;
    this.readKey = `parley.read.${session.workspaceId}.${session.userId}`;
    this.readMap = JSON.parse(localStorage.getItem(this.readKey) || '{}');
    this.onOnline = () => this.connectNow();
    this.onOffline = () => this.drop('offline');
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
  }

  // ---- connection lifecycle ------------------------------------------------------------

  start() {
    this.connect();
    this.heartbeat = setInterval(() => this.tick(), PING_MS);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    this.drop('offline');
  }

  connect() {
    if (this.stopped || this.ws) return;
    if (!navigator.onLine) return this.setState('offline');
    const url = new URL('/v1/ws', this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('workspace_id', this.session.workspaceId);
    url.searchParams.set('token', this.session.token);
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      // docs/protocol.md "Rules": the server answers with hello_ack, then one backfill page per
      // channel of last_seq_map that is ahead.
      this.sendFrame({ type: 'hello', last_seq_map: this.lastSeqMap() });
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return; // a socket we already gave up on
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      this.onFrame(frame);
    };
    ws.onclose = (e) => { if (ws === this.ws) this.onDisconnect(e.code); };
  }

  /// Reconnects at once (the browser came back online, or the user asked).
  connectNow() {
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  /// Abandons the current socket, e.g. when the browser goes offline: a socket may linger
  /// half-open, so never wait for its close event.
  drop(nextState) {
    const ws = this.ws;
    if (ws) {
      this.ws = null;
      ws.onmessage = ws.onclose = ws.onopen = null;
      try { ws.close(); } catch { /* already closed */ }
    }
    this.onDisconnect(0, nextState);
  }

  onDisconnect(code, forced) {
    this.ws = null;
    this.subscribed.clear(); // subscriptions end with the connection
    for (const ch of this.channels.values()) ch.backfilling = false;
    if (this.stopped) return this.setState('offline');
    if (code === 4001) { // the token expired mid-session
      this.setState('offline');
      return this.emit('expired');
    }
    if (forced === 'offline' || !navigator.onLine) return this.setState('offline');
    this.setState('reconnecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), backoff(this.attempt++));
  }

  /// Every 15 s: ping, and give up on a socket that has gone silent. Presence needs no
  /// polling: the users the page shows are subscribed to (watchPresence).
  tick() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrameAt > DEAD_MS) return this.drop('reconnecting');
    this.sendFrame({ type: 'ping', ts: Date.now() });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('change');
  }

  sendFrame(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  lastSeqMap() {
    const map = {};
    for (const ch of this.channels.values()) if (ch.lastSeq !== null) map[ch.id] = ch.lastSeq;
    return map;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- server frames -------------------------------------------------------------------

  onFrame(f) {
    switch (f.type) {
      case 'hello_ack': return this.onHelloAck(f);
      case 'message.new': return this.onMessage(f);
      case 'message.backfill': return this.onBackfill(f);
      case 'message.ack': return this.onAck(f);
      case 'channel.cursor': return this.onCursor(f);
      case 'channel.joined': return this.onJoined(f);
      case 'channel.left': return this.onLeft(f);
      case 'presence.update': return this.onPresenceUpdate(f);
      case 'presence.state': return this.onPresenceState(f);
      case 'presence.users': return this.onPresenceUsers(f);
      case 'error': return this.onError(f);
      case 'pong':
        if (typeof f.ts === 'number') this.rttMs = Date.now() - f.ts;
        return;
      default: return; // newer servers may add frames
    }
  }

  onHelloAck(f) {
    this.userId = f.user_id;
    this.attempt = 0;
    const seen = new Set(Object.keys(f.channels || {}));
    // Channels we lost while away.
    for (const id of [...this.channels.keys()]) if (!seen.has(id)) this.channels.delete(id);
    for (const [id, latest] of Object.entries(f.channels || {})) {
      const known = this.channels.has(id) && this.channels.get(id).lastSeq !== null;
      const ch = this.channel(id);
      ch.latest = Math.max(ch.latest, latest);
      if (!known) {
        if (!(id in this.readMap)) this.markRead(ch, latest);
        ch.readSeq = this.readMap[id];
        this.loadHistory(ch);
      } else if (ch.latest > ch.lastSeq) {
        ch.backfilling = true; // the server sends this page unasked
      }
    }
    this.state = 'connected';
    this.loadChannelInfo();
    if (!this.activeId || !this.channels.has(this.activeId)) this.activeId = this.firstChannelId();
    if (this.activeId) this.sendFrame({ type: 'presence.get', channel_id: this.activeId });
    this.syncSubscriptions();
    for (const p of this.pending.values()) if (p.status !== 'failed') this.trySend(p);
    this.emit('change');
  }

  onMessage(m) {
    const ch = this.channel(m.channel_id);
    ch.latest = Math.max(ch.latest, m.channel_seq);
    this.addMessage(ch, m);
  }

  /// Stores a message and, when seqs are missing before it, pulls them (gap detection).
  addMessage(ch, m) {
    if (ch.lastSeq === null) this.loadHistory(ch);
    if (!ch.add(m)) return; // dedup by channel_seq
    ch.advance();
    if (m.channel_seq > ch.lastSeq + 1) this.backfill(ch);
    if (ch.id === this.activeId && document.visibilityState === 'visible') this.markRead(ch, ch.maxSeq());
    this.emit('change');
  }

  onBackfill(f) {
    const ch = this.channels.get(f.channel_id);
    if (!ch) return;
    ch.backfilling = false;
    for (const m of f.messages) ch.add(m);
    // A page holds every existing message in (after_seq, its last seq]; seqs missing inside
    // it were never stored (docs/protocol.md "Ordering"), so the mark may jump over them.
    const last = f.messages.length ? f.messages[f.messages.length - 1].channel_seq : f.after_seq;
    if (f.after_seq <= ch.lastSeq) ch.lastSeq = Math.max(ch.lastSeq, last);
    ch.advance();
    const behind = ch.latest > ch.lastSeq || ch.maxSeq() > ch.lastSeq;
    // An empty final page means the server has nothing newer: stop, whatever we guessed.
    if (f.has_more || (behind && f.messages.length)) this.backfill(ch);
    if (ch.id === this.activeId && document.visibilityState === 'visible') this.markRead(ch, ch.maxSeq());
    this.emit('change');
  }

  onAck(f) {
    const p = this.pending.get(f.client_msg_id);
    if (!p) return; // an ack for a retry we already settled
    clearTimeout(p.timer);
    this.pending.delete(f.client_msg_id);
    // The message.new for it normally follows; storing it now keeps the view steady.
    const ch = this.channel(f.channel_id);
    ch.latest = Math.max(ch.latest, f.channel_seq);
    this.addMessage(ch, {
      channel_id: f.channel_id, channel_seq: f.channel_seq, user_id: this.userId,
      text: p.text, ts: f.ts, client_msg_id: f.client_msg_id,
    });
    this.emit('change');
  }

  onCursor(f) {
    const ch = this.channel(f.channel_id);
    ch.latest = Math.max(ch.latest, f.latest_seq);
    if (ch.lastSeq === null) this.loadHistory(ch);
    else if (ch.latest > ch.lastSeq) this.backfill(ch);
    this.emit('change');
  }

  onJoined(f) {
    const ch = this.channel(f.channel_id);
    ch.latest = Math.max(ch.latest, f.latest_seq || 0);
    if (!(ch.id in this.readMap)) this.markRead(ch, 0); // everything in a new channel is news
    ch.readSeq = this.readMap[ch.id];
    if (ch.lastSeq === null) this.loadHistory(ch);
    if (!this.activeId) this.activeId = ch.id;
    this.loadChannelInfo();
    this.emit('change');
  }

  onLeft(f) {
    this.channels.delete(f.channel_id);
    if (this.activeId === f.channel_id) this.activeId = this.firstChannelId();
    this.emit('notice', `You left ${f.channel_id}`);
    this.emit('change');
  }

  onPresenceState(f) {
    const ch = this.channels.get(f.channel_id);
    if (!ch) return;
    // The state lists online and away users; every other author we know of is offline.
    const listed = new Set(f.users.map((u) => u.user_id));
    for (const m of ch.messages) if (!listed.has(m.user_id)) this.presence.set(m.user_id, 'offline');
    for (const u of f.users) {
      this.presence.set(u.user_id, u.status);
      ch.members.add(u.user_id);
    }
    this.emit('change');
  }

  /// The answer to presence.subscribe: the subscribed users' statuses now.
  onPresenceUsers(f) {
    for (const u of f.users) this.presence.set(u.user_id, u.status);
    this.emit('change');
  }

  /// A channel's push (with channel_id) or a subscribed user's (without): presence is per
  /// user either way.
  onPresenceUpdate(f) {
    this.presence.set(f.user_id, f.status);
    const ch = f.channel_id ? this.channels.get(f.channel_id) : null;
    if (ch) ch.members.add(f.user_id);
    this.emit('change');
  }

  onError(f) {
    const p = f.ref_id ? this.pending.get(f.ref_id) : null;
    if (p) {
      clearTimeout(p.timer);
      if (f.code === 'unavailable' || f.code === 'rate_limited') {
        // Retry later with the SAME client_msg_id: the server dedups it.
        p.status = 'retrying';
        p.timer = setTimeout(() => this.trySend(p), backoff(p.tries));
      } else {
        p.status = 'failed';
        p.error = f.message || f.code;
      }
      this.emit('change');
      return;
    }
    if (f.channel_id && this.channels.has(f.channel_id)) this.channels.get(f.channel_id).backfilling = false;
    this.emit('notice', `${f.code}: ${f.message || ''}`);
  }

  // ---- requests ------------------------------------------------------------------------

  /// Fetches the channels' names (GET /v1/channels). Best effort: on failure the list keeps
  /// showing ids, and the next hello_ack or channel.joined asks again.
  async loadChannelInfo() {
    const request = ++this.infoRequest;
    try {
      const res = await fetch(new URL('/v1/channels', this.baseUrl), {
        headers: { Authorization: `Bearer ${this.session.token}` },
      });
      if (!res.ok) return;
      const body = await res.json();
      if (request !== this.infoRequest || this.stopped) return;
      this.channelInfo = new Map((body.channels || []).map((c) => [c.channel_id, c]));
      this.emit('change');
    } catch {
      // Offline or refused: ids stay.
    }
  }

  /// How the page names a channel: {prefix: '#', text: 'general'}; a DM without a name
  /// {prefix: '@', text: 'U2'} after its other member; the id while nothing better is known.
  label(id) {
    const info = this.channelInfo.get(id);
    if (info && info.name) return { prefix: '#', text: info.name };
    const other = info && info.members ? info.members.find((u) => u !== this.userId) : null;
    if (other) return { prefix: '@', text: other };
    return { prefix: '#', text: id };
  }

  channel(id) {
    if (!this.channels.has(id)) this.channels.set(id, new Channel(id));
    return this.channels.get(id);
  }

  firstChannelId() {
    return [...this.channels.keys()].sort(byIdNumber)[0] || null;
  }

  /// First sight of a channel: start HISTORY messages before its latest seq.
  loadHistory(ch) {
    ch.lastSeq = Math.max(0, ch.latest - HISTORY);
    if (ch.latest > ch.lastSeq) this.backfill(ch);
  }

  /// Asks for the messages after lastSeq, one page at a time (has_more drives the next).
  backfill(ch) {
    if (ch.backfilling || ch.lastSeq === null) return;
    if (this.sendFrame({ type: 'backfill', channel_id: ch.id, after_seq: ch.lastSeq, limit: PAGE }))
      ch.backfilling = true;
  }

  /// Queues a message; it is sent now when connected and resent until acked.
  send(channelId, text) {
    const p = { id: newClientMsgId(), channelId, text, status: 'queued', tries: 0, timer: null };
    this.pending.set(p.id, p);
    this.trySend(p);
    this.emit('change');
    return p.id;
  }

  trySend(p) {
    clearTimeout(p.timer);
    if (this.state !== 'connected') { p.status = 'queued'; return; } // resent after hello_ack
    p.tries++;
    p.status = 'sending';
    this.sendFrame({ type: 'message.send', channel_id: p.channelId, text: p.text, client_msg_id: p.id });
    p.timer = setTimeout(() => this.trySend(p), ACK_TIMEOUT_MS);
  }

  retry(id) {
    const p = this.pending.get(id);
    if (p) { p.tries = 0; this.trySend(p); this.emit('change'); }
  }

  discard(id) {
    const p = this.pending.get(id);
    if (p) { clearTimeout(p.timer); this.pending.delete(id); this.emit('change'); }
  }

  /// Opens a channel: asks who is online and marks it read.
  open(id) {
    if (!this.channels.has(id)) return;
    this.activeId = id;
    this.sendFrame({ type: 'presence.get', channel_id: id });
    this.markRead(this.channels.get(id), this.channels.get(id).maxSeq());
    this.emit('change');
  }

  markRead(ch, seq) {
    if (seq <= (this.readMap[ch.id] ?? -1)) return;
    ch.readSeq = seq;
    this.readMap[ch.id] = seq;
    localStorage.setItem(this.readKey, JSON.stringify(this.readMap));
  }

  setAway(away) {
    this.sendFrame({ type: 'presence.set', status: away ? 'away' : 'online' });
  }

  /// Keeps the presence of `userIds` (most wanted first) up to date: the server pushes only
  /// what a connection subscribed to, at most SUBSCRIBE_MAX users, so the rest go unwatched.
  watchPresence(userIds) {
    this.watched = [...new Set(userIds)].slice(0, SUBSCRIBE_MAX);
    this.syncSubscriptions();
  }

  /// Brings the connection's subscriptions to `watched`; after a reconnect, all of them.
  syncSubscriptions() {
    if (this.state !== 'connected') return; // hello_ack calls again
    const wanted = new Set(this.watched);
    const gone = [...this.subscribed].filter((u) => !wanted.has(u));
    const added = this.watched.filter((u) => !this.subscribed.has(u));
    // Unsubscribe first: a subscribe that would go over the limit is refused whole.
    for (let i = 0; i < gone.length; i += SUBSCRIBE_FRAME) {
      const ids = gone.slice(i, i + SUBSCRIBE_FRAME);
      if (!this.sendFrame({ type: 'presence.unsubscribe', user_ids: ids })) return;
      for (const u of ids) this.subscribed.delete(u);
    }
    for (let i = 0; i < added.length; i += SUBSCRIBE_FRAME) {
      const ids = added.slice(i, i + SUBSCRIBE_FRAME);
      if (!this.sendFrame({ type: 'presence.subscribe', user_ids: ids })) return;
      for (const u of ids) this.subscribed.add(u);
    }
  }
}

/// Orders ids like C2 before C10.
export function byIdNumber(a, b) {
  return Number(a.slice(1)) - Number(b.slice(1)) || a.localeCompare(b);
}
