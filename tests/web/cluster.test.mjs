// The web page against a real 3-node cluster (issue "The web chat page, tested in a real
// browser": "It must work against a 3-node cluster through any node"). Three parleyd processes
// share one SQLite file; U1, U2 and U3 each use the page served by a different node, chat,
// then U3's node is killed with SIGKILL: U3's page shows reconnecting, and reloaded from a
// surviving node it signs in again and catches up on what was said meanwhile.
// The nodes run with --presence.push-max-members=1, so no channel pushes presence: whatever a
// page shows of the others' presence after its own sign-in came through its presence
// subscriptions (issue part 3: "presence subscriptions work through the web page in the
// browser test on a 3-node cluster").
//
// Env: PARLEYD (default build/runtime/parleyd), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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
const NAMES = ['n1', 'n2', 'n3'];

const adminToken = randomBytes(16).toString('hex');
const jwtSecret = randomBytes(16).toString('hex');
let dir;          // temp dir: cluster file, SQLite file, data-dir
let configFile;
const nodes = {}; // name -> { proc, url, log }
let browser;
// Last resort if the runner dies before `after` (e.g. Ctrl-C): no node outlives the test.
process.on('exit', () => {
  for (const n of Object.values(nodes))
    if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
});

/// A port that was free a moment ago (listen on 0, read it, close).
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/// Starts one node of the cluster file; its output is collected in nodes[name].log.
function startNode(name, port) {
  const args = ['--config', configFile, '--node', name, '--dev-login=true', '--presence.push-max-members=1'];
  const proc = spawn(parleyd, args, {
    env: { ...process.env, PARLEY_JWT_SECRET: jwtSecret, PARLEY_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const n = { proc, url: `http://127.0.0.1:${port}`, log: '', waiters: new Set() };
  const onData = (chunk) => {
    n.log += chunk;
    for (const w of n.waiters) w();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  proc.on('exit', () => { for (const w of n.waiters) w(); });
  nodes[name] = n;
  return n;
}

/// Resolves once a line of the node's output written after offset `from` ends with `text`.
function waitForLine(name, text, from = 0, timeout = 20000) {
  const n = nodes[name];
  return new Promise((ok, fail) => {
    const check = () => {
      const lines = n.log.slice(from).split('\n').map((l) => l.trimEnd());
      if (lines.some((l) => l.endsWith(text))) return done(ok);
      if (n.proc.exitCode !== null || n.proc.signalCode !== null)
        return done(fail, new Error(`${name} exited while waiting for '${text}':\n${n.log}`));
    };
    const timer = setTimeout(() => done(fail, new Error(`${name} did not print '${text}':\n${n.log}`)), timeout);
    const done = (fn, arg) => { clearTimeout(timer); n.waiters.delete(check); fn(arg); };
    n.waiters.add(check);
    check();
  });
}

function killNode(name, signal) {
  const { proc } = nodes[name];
  if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
}

async function createChannel(name, members) {
  const res = await fetch(`${nodes.n1.url}/v1/channels`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ workspace_id: 'W1', name, members }),
  });
  assert.equal(res.status, 201, `create channel ${name}: ${await res.clone().text()}`);
  return (await res.json()).channel_id;
}

const waitState = (page, state) =>
  page.waitForSelector(`#conn-badge[data-state="${state}"]`, WAIT);

/// Signs `user` in through the dev login of the page served at `url`.
async function signInOn(page, user, url) {
  await page.goto(url + '/');
  await page.fill('#dev-user', user);
  await page.fill('#dev-workspace', 'W1');
  await page.click('#dev-submit');
  await waitState(page, 'connected');
}

async function newUser(user, url) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 680 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${user}] page error: ${err.message}`));
  await signInOn(page, user, url);
  return { context, page, user };
}

const shownTexts = (page) =>
  page.$$eval('#messages .msg:not(.pending) .text', (els) => els.map((e) => e.textContent));

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

/// Makes the page believe its tab was hidden or shown again, as switching tabs does: the page
/// sets the user away or online itself.
async function setTabHidden(page, hidden) {
  await page.evaluate((state) => {
    Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden ? 'hidden' : 'visible');
}

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`) });

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'parley-web-cluster-'));
  configFile = join(dir, 'cluster');
  const ports = [];
  for (let i = 0; i < NAMES.length * 2; ++i) ports.push(await freePort());
  const lines = ['# written by tests/web/cluster.test.mjs'];
  NAMES.forEach((name, i) => lines.push(`node.${name} = 127.0.0.1:${ports[2 * i]}:${ports[2 * i + 1]}`));
  lines.push(`storage = sqlite3://db=${dir}/parley.db`, `data-dir = ${dir}`, '');
  writeFileSync(configFile, lines.join('\n'));
  NAMES.forEach((name, i) => startNode(name, ports[2 * i + 1]));
  await Promise.all(NAMES.map((name) => waitForLine(name, 'cluster live nodes: n1,n2,n3')));
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  // SIGKILL: nothing to flush, and a node must never outlive the test.
  const exits = NAMES.filter((name) => nodes[name]).map((name) => {
    const { proc } = nodes[name];
    if (proc.exitCode !== null || proc.signalCode !== null) return null;
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill('SIGKILL');
    return exited;
  });
  await Promise.all(exits.filter(Boolean));
  if (dir && !process.env.PARLEY_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

test('three users on three nodes chat; a node dies and its user catches up through another', async () => {
  const channel = await createChannel('cluster', ['U1', 'U2', 'U3']);

  // Each user on the page served by its own node.
  const u1 = await newUser('U1', nodes.n1.url);
  const u2 = await newUser('U2', nodes.n2.url);
  const u3 = await newUser('U3', nodes.n3.url);
  const all = [u1, u2, u3];
  for (const { page } of all)
    await page.waitForSelector(`#channels li[data-channel="${channel}"].active`, WAIT);

  // Each sends one message; the next is sent once the previous is acked, so the order is known.
  const said = [];
  for (const { page, user } of all) {
    const text = `Hello from ${user}`;
    await send(page, text);
    said.push(text);
    await waitForTexts(page, said);
  }
  for (const { page } of all) await waitForTexts(page, said);

  // Presence across nodes: every page shows the other two online. U1 signed in first, so its
  // presence.get saw neither U2 nor U3: it learnt of them from their messages and subscribed.
  for (const { page, user } of all)
    for (const other of ['U1', 'U2', 'U3'].filter((u) => u !== user))
      await page.waitForSelector(`#people .dot.online[data-user="${other}"]`, WAIT);
  for (const { page, user } of all) await shot(page, `cluster-1-${user.toLowerCase()}`);

  // U2 (on n2) hides its tab: U1 (on n1) and U3 (on n3) show U2 away, then online again.
  await setTabHidden(u2.page, true);
  for (const { page } of [u1, u3]) {
    await page.waitForSelector('#people .dot.away[data-user="U2"]', WAIT);
    await page.waitForSelector('#messages .dot.away[data-user="U2"]', WAIT);
  }
  await shot(u1.page, 'cluster-1-u2-away-u1');
  await setTabHidden(u2.page, false);
  for (const { page } of [u1, u3]) await page.waitForSelector('#people .dot.online[data-user="U2"]', WAIT);

  // n3 (U3's node) dies hard. Its page cannot fail over on its own (it talks to its origin).
  const marks = { n1: nodes.n1.log.length, n2: nodes.n2.log.length };
  killNode('n3', 'SIGKILL');
  await waitState(u3.page, 'reconnecting');
  await shot(u3.page, 'cluster-2-reconnecting-u3');

  // The survivors agree n3 is gone; U1 keeps talking. In a fresh database the channel is C1,
  // which rendezvous hashing places on n3, so this also moves the channel to a new owner (n1);
  // the page retries a send refused as unavailable with the same client_msg_id.
  await Promise.all(['n1', 'n2'].map((name) => waitForLine(name, 'cluster live nodes: n1,n2', marks[name])));
  const missed = ['n3 is down', 'U3, you will catch up from n2'];
  for (const text of missed) {
    await send(u1.page, text);
    said.push(text);
    await waitForTexts(u1.page, said);
  }
  await waitForTexts(u2.page, said);

  // U3 reloads the page from a surviving node (another origin: signs in again) and catches up.
  await signInOn(u3.page, 'U3', nodes.n2.url);
  await u3.page.waitForSelector(`#channels li[data-channel="${channel}"].active`, WAIT);
  await waitForTexts(u3.page, said);
  const seqs = await u3.page.$$eval('#messages .msg', (els) => els.map((e) => Number(e.dataset.seq)));
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'contiguous seqs, no duplicates');

  // And the conversation goes on across the two surviving nodes.
  await send(u3.page, 'Back, via n2');
  said.push('Back, via n2');
  for (const { page } of all) await waitForTexts(page, said);
  await u1.page.waitForSelector('#people .dot.online[data-user="U3"]', WAIT);
  await shot(u3.page, 'cluster-3-caught-up-u3');
  await shot(u1.page, 'cluster-4-after-u1');

  // U2 closes its page: U1 shows U2 offline (its messages' dots) and no longer in the header.
  await u2.context.close();
  await u1.page.waitForSelector('#messages .dot.offline[data-user="U2"]', WAIT);
  await u1.page.waitForSelector('#people .dot[data-user="U2"]', { ...WAIT, state: 'detached' });
  await shot(u1.page, 'cluster-5-u2-offline-u1');

  for (const { context } of [u1, u3]) await context.close();
});
