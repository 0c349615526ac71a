// The Parley chat page: sign-in, channel list, message view and composer. All protocol work
// lives in client.js; this file turns its state into DOM and user input into calls.

import { ParleyClient, byIdNumber } from './client.js';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'parley.session';

let client = null;
let renderQueued = false;

// ---- sign-in ---------------------------------------------------------------------------

/// The claims of a JWT, without verifying it (the node does that on connect).
function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return null;
  }
}

async function devLogin(userId, workspaceId) {
  const res = await fetch('/v1/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: userId, workspace_id: workspaceId }),
  });
  if (res.status === 404) throw new Error('Dev login is off on this node (start it with --dev-login=true).');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `dev login failed (${res.status})`);
  return body.token;
}

function sessionFromToken(token, dev) {
  const claims = tokenClaims(token);
  if (!claims || !claims.sub || !claims.wid) throw new Error('That does not look like a Parley token.');
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error('That token has expired.');
  return { token, userId: claims.sub, workspaceId: claims.wid, dev };
}

function showLoginError(err) {
  $('login-error').textContent = err.message || String(err);
}

$('dev-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const user = $('dev-user').value.trim();
    const ws = $('dev-workspace').value.trim();
    start(sessionFromToken(await devLogin(user, ws), true));
  } catch (err) {
    showLoginError(err);
  }
});

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    start(sessionFromToken($('token-input').value.trim(), false));
  } catch (err) {
    showLoginError(err);
  }
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(SESSION_KEY);
  if (client) client.stop();
  client = null;
  showLogin();
});

function showLogin() {
  $('login').hidden = false;
  $('chat').hidden = true;
  $('who').hidden = $('sign-out').hidden = true;
  setBadge('signed-out');
}

function start(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  $('login-error').textContent = '';
  $('login').hidden = true;
  $('chat').hidden = false;
  $('who').hidden = $('sign-out').hidden = false;
  $('who').textContent = `${session.userId} · ${session.workspaceId}`;
  client = new ParleyClient(session);
  client.addEventListener('change', scheduleRender);
  client.addEventListener('notice', (e) => toast(e.detail));
  client.addEventListener('expired', async () => {
    // A dev session just mints a fresh token; a pasted one has to be pasted again.
    if (!session.dev) {
      toast('Your token expired: sign in again.');
      return $('sign-out').click();
    }
    try {
      const next = sessionFromToken(await devLogin(session.userId, session.workspaceId), true);
      client.stop();
      start(next);
    } catch (err) {
      toast(err.message);
    }
  });
  client.start();
  scheduleRender();
}

// ---- rendering -------------------------------------------------------------------------

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (client) render();
  });
}

function setBadge(state, title = '') {
  const badge = $('conn-badge');
  badge.dataset.state = state;
  badge.textContent = state.replace('-', ' ');
  badge.title = title;
}

function render() {
  const rtt = client.rttMs === null ? '' : `round trip ${client.rttMs} ms`;
  setBadge(client.state, rtt);
  // Presence we hold while disconnected is stale: grey it out.
  $('chat').classList.toggle('stale', client.state !== 'connected');
  renderChannels();
  renderChannel();
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // never innerHTML: text is user input
  return node;
}

function presenceDot(userId) {
  const status = client.presence.get(userId) || 'offline';
  const dot = el('span', `dot ${status}`);
  dot.title = status;
  dot.dataset.user = userId;
  return dot;
}

function renderChannels() {
  const list = $('channels');
  list.replaceChildren();
  const ids = [...client.channels.keys()].sort(byIdNumber);
  $('no-channels').hidden = ids.length > 0;
  for (const id of ids) {
    const ch = client.channels.get(id);
    const item = el('li', id === client.activeId ? 'active' : '');
    item.dataset.channel = id;
    const button = el('button', 'channel-link');
    button.type = 'button';
    button.title = id;
    const label = client.label(id);
    button.append(el('span', 'hash', label.prefix), el('span', 'name', label.text));
    const unread = id === client.activeId ? 0 : ch.unread(client.userId);
    if (unread > 0) button.append(el('span', 'unread', String(unread)));
    button.addEventListener('click', () => {
      client.open(id);
      location.hash = id;
    });
    item.append(button);
    list.append(item);
  }
}

function formatTime(tsMicros) {
  return new Date(tsMicros / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function renderChannel() {
  const ch = client.activeId ? client.channels.get(client.activeId) : null;
  const label = ch ? client.label(ch.id) : null;
  $('channel-title').textContent = ch ? `${label.prefix} ${label.text}` : 'No channel';
  $('channel-title').title = ch ? ch.id : '';
  $('composer').hidden = !ch;

  // The header lists the channel's people who are online or away.
  const members = ch ? [...ch.members].sort(byIdNumber) : [];
  const people = $('people');
  people.replaceChildren();
  for (const user of members.filter((u) => (client.presence.get(u) || 'offline') !== 'offline')) {
    const item = el('li', 'person');
    item.append(presenceDot(user), el('span', '', user));
    people.append(item);
  }

  // Subscribe to whom this view can show: the newest authors first (the list opens at its
  // bottom, so they are the visible ones), then the channel's other people, offline ones
  // included so the header learns when they come back.
  const authors = ch ? ch.messages.map((m) => m.user_id).reverse() : [];
  client.watchPresence([...authors, ...members]);

  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  if (!ch) return;
  for (const m of ch.messages) {
    const item = el('li', m.user_id === client.userId ? 'msg mine' : 'msg');
    item.dataset.seq = m.channel_seq;
    const head = el('div', 'meta');
    head.append(presenceDot(m.user_id), el('span', 'author', m.user_id), el('time', 'ts', formatTime(m.ts)));
    item.append(head, el('div', 'text', m.text));
    list.append(item);
  }
  // Sends not yet acked: greyed out, with retry/discard once they failed.
  for (const p of client.pending.values()) {
    if (p.channelId !== ch.id) continue;
    const item = el('li', `msg mine pending ${p.status}`);
    item.dataset.clientMsgId = p.id;
    const head = el('div', 'meta');
    head.append(el('span', 'author', client.userId), el('span', 'status', p.status === 'failed' ? `failed: ${p.error}` : `${p.status}…`));
    if (p.status === 'failed') {
      const retry = el('button', 'link', 'retry');
      retry.addEventListener('click', () => client.retry(p.id));
      const discard = el('button', 'link', 'discard');
      discard.addEventListener('click', () => client.discard(p.id));
      head.append(retry, discard);
    }
    item.append(head, el('div', 'text', p.text));
    list.append(item);
  }
  if (atBottom || list.dataset.channel !== ch.id) list.scrollTop = list.scrollHeight;
  list.dataset.channel = ch.id;
}

let toastTimer = null;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---- composer and page events ----------------------------------------------------------

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !client || !client.activeId) return;
  client.send(client.activeId, text);
  $('text').value = '';
});

$('text').addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter makes a new line.
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

document.addEventListener('visibilitychange', () => {
  if (!client) return;
  const visible = document.visibilityState === 'visible';
  client.setAway(!visible);
  if (visible && client.activeId) client.open(client.activeId);
});

addEventListener('hashchange', () => {
  const id = location.hash.slice(1);
  if (client && client.channels.has(id) && id !== client.activeId) client.open(id);
});

// ---- boot ------------------------------------------------------------------------------

async function boot() {
  const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  if (!saved) return showLogin();
  const claims = tokenClaims(saved.token);
  if (claims && claims.exp * 1000 > Date.now()) {
    start(saved);
  } else if (saved.dev) {
    // The dev token ran out while the tab slept: mint another.
    try { start(sessionFromToken(await devLogin(saved.userId, saved.workspaceId), true)); }
    catch (err) { showLogin(); showLoginError(err); return; }
  } else {
    showLogin();
    return showLoginError(new Error('Your token expired: sign in again.'));
  }
  const wanted = location.hash.slice(1);
  if (wanted) client.activeId = wanted; // checked against hello_ack when it comes
}

boot();
