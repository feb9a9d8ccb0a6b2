// What every browser test shares: the real imgserver binary started over a temp copy of
// tests/fixtures on a free loopback port, and Debian's Chromium launched through playwright-core
// (no browser download). IMGSERVER_BIN overrides the binary, CHROMIUM the browser.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { before, after } = require('node:test');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const SHOTS = path.join(ROOT, 'target', 'ui-screenshots');
const TIMEOUT = 30_000;

function binary() {
  if (process.env.IMGSERVER_BIN) return process.env.IMGSERVER_BIN;
  const found = ['debug', 'release']
    .map((p) => path.join(ROOT, 'target', p, 'imgserver'))
    .filter((p) => fs.existsSync(p))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!found.length) throw new Error('no imgserver binary: run `cargo build` first');
  return found[0];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const servers = [];

// What the Rust tests do not serve either: the pipeline's reference samples and their licences.
const FIXTURES = path.join(ROOT, 'tests', 'fixtures');
const NOT_SERVED = ['samples', 'LICENSES'].map((n) => path.join(FIXTURES, n));

// A real server over a fresh copy of the fixtures (never the repository itself).
async function startServer(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgserver-ui-'));
  const images = path.join(dir, 'images');
  fs.cpSync(FIXTURES, images, { recursive: true, filter: (src) => !NOT_SERVED.includes(src) });
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IMGSERVER__')));
  Object.assign(env, { IMGSERVER__LOG__LEVEL: 'warn', IMGSERVER__LIMITS__PER_IP_PER_SECOND: '0' }, config);
  const child = spawn(binary(), [
    '--bind', '127.0.0.1', '--port', String(port),
    '--imagesdir', images, '--cachedir', path.join(dir, 'cache'),
  ], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const server = { child, dir, base: `http://127.0.0.1:${port}` };
  servers.push(server);
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    if (child.exitCode !== null) throw new Error('imgserver exited with ' + child.exitCode);
    try {
      const res = await fetch(server.base + '/healthz');
      if (res.ok) return server;
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('imgserver did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopServer(server) {
  if (server.child.exitCode === null) {
    const exited = new Promise((r) => server.child.once('exit', r));
    process.kill(server.child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.child.exitCode === null) process.kill(server.child.pid, 'SIGKILL');
  }
  fs.rmSync(server.dir, { recursive: true, force: true });
}

// Chromium as the tests run it: headless, no sandbox (CI runs as root), nothing that talks to the
// network on its own.
function launchBrowser() {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

// Stops every server started so far.
async function stopServers() {
  for (const s of servers.splice(0)) await stopServer(s);
}

// One browser for a test file: started before its first test; it and every server the file
// started are stopped after its last. Use `.browser` of what it returns inside the tests.
function useBrowser() {
  const held = { browser: null };
  before(async () => {
    held.browser = await launchBrowser();
  });
  after(async () => {
    if (held.browser) await held.browser.close();
    await stopServers();
  });
  return held;
}

module.exports = { ROOT, SHOTS, TIMEOUT, FIXTURES, NOT_SERVED, servers, startServer, useBrowser };
