// End-to-end test of the web page (issue "The web chat page, tested in a real browser"):
// a real parleyd, Debian's headless Chromium driven by playwright-core, two users chatting,
// one going offline and catching up through hello.last_seq_map.
//
// Env: PARLEYD (default build/runtime/parleyd), CHROMIUM (default /usr/bin/chromium),
// UPDATE_SCREENSHOT=1 to refresh docs/screenshot.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const parleyd = process.env.PARLEYD || join(repo, 'build/runtime/parleyd');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = join(here, 'artifacts');
const WAIT = { timeout: 15000 };

let node;      // the parleyd child process
let baseUrl;   // http://127.0.0.1:PORT
let dataDir;
let browser;
const adminToken = randomBytes(16).toString('hex');

/// Starts parleyd on a free port and resolves with its URL once it prints it.
function startNode() {
  dataDir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  node = spawn(parleyd, ['--data-dir', dataDir, '--http-port', '0', '--dev-login=true'], {
    env: { ...process.env, PARLEY_JWT_SECRET: randomBytes(16).toString('hex'), PARLEY_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`parleyd did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = log.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    };
    node.stdout.on('data', onData);
    node.stderr.on('data', onData);
    node.on('exit', (code) => { clearTimeout(timer); fail(new Error(`parleyd exited (${code}):\n${log}`)); });
    node.on('error', (err) => { clearTimeout(timer); fail(err); });
  });
}

async function createChannel(name, members) {
  const res = await fetch(`${baseUrl}/v1/channels`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ workspace_id: 'W1', name, members }),
  });
  assert.equal(res.status, 201, `create channel ${name}`);
  return (await res.json()).channel_id;
}

/// A browser context signed in through the page's dev login.
async function signIn(user, setup = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 680 }, deviceScaleFactor: 1 });
  await setup(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${user}] page error: ${err.message}`));
  await page.goto(baseUrl + '/');
  await page.fill('#dev-user', user);
  await page.fill('#dev-workspace', 'W1');
  await page.click('#dev-submit');
  await waitState(page, 'connected');
  return { context, page, user };
}

const waitState = (page, state) =>
  page.waitForSelector(`#conn-badge[data-state="${state}"]`, WAIT);

/// The texts of the acked messages shown in the open channel, in display order.
const shownTexts = (page) =>
  page.$$eval('#messages .msg:not(.pending) .text', (els) => els.map((e) => e.textContent));

/// Waits until the open channel shows exactly `texts` (acked, in this order).
async function waitForTexts(page, texts) {
  try {
    await page.waitForFunction((want) => {
      const got = [...document.querySelectorAll('#messages .msg:not(.pending) .text')].map((e) => e.textContent);
      return JSON.stringify(got) === JSON.stringify(want);
    }, texts, WAIT);
  } catch (err) {
    assert.deepEqual(await shownTexts(page), texts, 'messages shown');
    throw err;
  }
}

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/// Waits until the channel list names `channel` `prefix` + `name`; checks the id tooltip.
async function waitChannelName(page, channel, prefix, name) {
  const item = `#channels li[data-channel="${channel}"]`;
  await page.waitForSelector(`${item} .name:text-is("${name}")`, WAIT);
  assert.equal(await page.$eval(`${item} .hash`, (e) => e.textContent), prefix);
  assert.equal(await page.$eval(`${item} button`, (e) => e.title), channel);
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`) });

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  baseUrl = await startNode();
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (node && node.exitCode === null) {
    node.removeAllListeners('exit');
    node.kill('SIGTERM');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the node serves the page and refuses paths outside it', async () => {
  const page = await fetch(`${baseUrl}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  const js = await fetch(`${baseUrl}/app.js`);
  assert.match(js.headers.get('content-type'), /javascript/);
  for (const path of ['/nope.js', '/%2e%2e/CMakeLists.txt', '/..%2fCMakeLists.txt', '/.gitignore']) {
    const res = await fetch(baseUrl + path);
    assert.equal(res.status, 404, path);
    assert.equal((await res.json()).code, 'not_found');
  }
});

test('two users chat, one goes offline and catches up on reconnect', async () => {
  const general = await createChannel('general', ['U1', 'U2']);
  const random = await createChannel('random', ['U1', 'U2']);

  const u1 = await signIn('U1');
  const u2 = await signIn('U2');
  for (const { page } of [u1, u2]) {
    await page.waitForSelector(`#channels li[data-channel="${general}"].active`, WAIT);
    await page.waitForSelector(`#channels li[data-channel="${random}"]`, WAIT);
    // Listed by name (GET /v1/channels), with the id as the tooltip.
    await waitChannelName(page, general, '#', 'general');
    await waitChannelName(page, random, '#', 'random');
  }
  await u1.page.waitForSelector('#channel-title:text-is("# general")', WAIT);

  // Live chat both ways.
  await send(u1.page, 'Hi U2, is the deploy done?');
  await waitForTexts(u2.page, ['Hi U2, is the deploy done?']);
  await send(u2.page, 'Yes, all three nodes are green.');
  const live = ['Hi U2, is the deploy done?', 'Yes, all three nodes are green.'];
  await waitForTexts(u1.page, live);
  await waitForTexts(u2.page, live);

  // Presence: each sees the other online in the open channel.
  await u1.page.waitForSelector('#people .dot.online[data-user="U2"]', WAIT);
  await u2.page.waitForSelector('#people .dot.online[data-user="U1"]', WAIT);

  // Unread counts: a message in the other channel shows a badge until it is opened.
  await u2.page.click(`#channels li[data-channel="${random}"] button`);
  await send(u2.page, 'Lunch at noon?');
  await u1.page.waitForSelector(`#channels li[data-channel="${random}"] .unread:text-is("1")`, WAIT);
  await u2.page.click(`#channels li[data-channel="${general}"] button`);
  await shot(u1.page, '1-live-u1');

  // U2 drops off the network (U1 sees it go offline); U1 keeps talking.
  await u2.context.setOffline(true);
  await waitState(u2.page, 'offline');
  await u1.page.waitForSelector('#messages .dot.offline[data-user="U2"]', WAIT);
  const missed = ['Rolling out 1.4 to node b', 'Node b is back', 'Rolling out to node c'];
  for (const text of missed) await send(u1.page, text);
  await waitForTexts(u1.page, [...live, ...missed]);
  assert.deepEqual(await shownTexts(u2.page), live, 'nothing arrives while offline');
  // What U2 writes while offline waits in the queue.
  await send(u2.page, 'Sent while offline');
  await u2.page.waitForSelector('#messages .msg.pending.queued', WAIT);
  await shot(u2.page, '2-offline-u2');

  // Back online: the page reconnects, catches up from its last_seq_map and sends its queue.
  await u2.context.setOffline(false);
  await waitState(u2.page, 'connected');
  missed.push('Sent while offline');
  await waitForTexts(u2.page, [...live, ...missed]);
  await waitForTexts(u1.page, [...live, ...missed]);
  const seqs = await u2.page.$$eval('#messages .msg', (els) => els.map((e) => Number(e.dataset.seq)));
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'contiguous seqs, no duplicates');
  await shot(u2.page, '3-caught-up-u2');

  // And the conversation goes on after the reconnect.
  await send(u2.page, 'Caught up, thanks!');
  await waitForTexts(u1.page, [...live, ...missed, 'Caught up, thanks!']);
  await u1.page.waitForSelector('#people .dot.online[data-user="U2"]', WAIT);
  await shot(u1.page, '4-after-u1');
  // The README's picture: refreshed only on request, so test runs leave the tree clean.
  if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(join(artifacts, '4-after-u1.png'), join(repo, 'docs/screenshot.png'));

  await u1.context.close();
  await u2.context.close();
});

test('a dropped message.new is backfilled and an unavailable send is retried with its id', async () => {
  const ops = await createChannel('ops', ['U3', 'U4']);
  const sendIds = [];
  let route = null; // U3's current socket, as the proxy sees it
  // U3's WebSocket passes through a proxy that loses one message.new and fails one send.
  const u3 = await signIn('U3', (context) => context.routeWebSocket(/\/v1\/ws/, (ws) => {
    route = ws;
    const server = ws.connectToServer();
    ws.onMessage((data) => {
      const f = JSON.parse(data);
      if (f.type === 'message.send' && f.text === 'flaky') {
        sendIds.push(f.client_msg_id);
        if (sendIds.length === 1) {
          ws.send(JSON.stringify({ type: 'error', code: 'unavailable', message: 'owner node unreachable',
            ref_id: f.client_msg_id }));
          return;
        }
      }
      server.send(data);
    });
    server.onMessage((data) => {
      const f = JSON.parse(data);
      if (f.type === 'message.new' && f.text === 'dropped') return; // as a slow consumer would
      ws.send(data);
    });
  }));
  const u4 = await signIn('U4');
  await u3.page.waitForSelector(`#channels li[data-channel="${ops}"].active`, WAIT);
  await u4.page.waitForSelector(`#channels li[data-channel="${ops}"].active`, WAIT);

  // The next message.new reveals the gap; the page pulls the missing seq with backfill.
  for (const text of ['one', 'dropped', 'three']) await send(u4.page, text);
  await waitForTexts(u4.page, ['one', 'dropped', 'three']);
  await waitForTexts(u3.page, ['one', 'dropped', 'three']);

  // `unavailable`: the page resends with the same client_msg_id; it is stored once.
  await send(u3.page, 'flaky');
  await waitForTexts(u4.page, ['one', 'dropped', 'three', 'flaky']);
  await waitForTexts(u3.page, ['one', 'dropped', 'three', 'flaky']);
  assert.equal(sendIds.length, 2, 'one failed attempt, one retry');
  assert.equal(sendIds[0], sendIds[1], 'the retry keeps its client_msg_id');

  // A dropped connection: the badge says reconnecting, the backoff retry gets back in.
  await route.close({ code: 1001, reason: 'going away' });
  await waitState(u3.page, 'reconnecting');
  await waitState(u3.page, 'connected');
  await send(u4.page, 'after the reconnect');
  await waitForTexts(u3.page, ['one', 'dropped', 'three', 'flaky', 'after the reconnect']);

  // Membership changes reach an open page: channel.joined, named once it is listed.
  const later = await createChannel('incidents', ['U3', 'U4']);
  await u3.page.waitForSelector(`#channels li[data-channel="${later}"]`, WAIT);
  await waitChannelName(u3.page, later, '#', 'incidents');
  // A DM has no name: the page shows the other member.
  const tokenRes = await fetch(`${baseUrl}/v1/dev/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: 'U4', workspace_id: 'W1' }),
  });
  const { token } = await tokenRes.json();
  const dmRes = await fetch(`${baseUrl}/v1/dms`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_ids: ['U3', 'U4'] }),
  });
  assert.equal(dmRes.status, 200, 'open a DM');
  const dm = (await dmRes.json()).channel_id;
  await waitChannelName(u3.page, dm, '@', 'U4');
  await waitChannelName(u4.page, dm, '@', 'U3');
  await shot(u3.page, '5-gap-and-retry-u3');

  await u3.context.close();
  await u4.context.close();
});
