// The `<picture>` element of `/srcset` in a real browser: a page built from the server's snippet,
// loaded in headless Chromium at two viewport widths and device pixel ratios, requests the
// candidate the descriptors call for, in AVIF or WebP as Chromium accepts them, and lays out
// without shift: the `<img>` box has its final size before any image byte arrives.
//
//   node tests/browser/srcset.test.js        (after `cargo build`; see ./harness.js)
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { SHOTS, TIMEOUT, startServer, useBrowser } = require('./harness');

const session = useBrowser();

// The smallest candidate that covers the slot at the screen's density: what the HTML standard
// lets a browser pick, and what Chromium picks.
const expectedWidth = (ladder, slot, dpr) => ladder.find((w) => w / slot >= dpr) || ladder[ladder.length - 1];

async function snippet(server, image, query) {
  const res = await fetch(`${server.base}/srcset/${image}?${query}&format=html`);
  assert.equal(res.status, 200);
  return res.text();
}

// Loads a page of the server's origin holding `markup`, with every image response held back
// until the box has been measured. Returns what was requested, the box before and after the
// image, and the layout shifts the page recorded.
async function load(server, markup, { width, dpr }) {
  const context = await session.browser.newContext({
    viewport: { width, height: 1400 }, deviceScaleFactor: dpr, colorScheme: 'light',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  const html = '<!doctype html><html><head><meta charset="utf-8">'
    + '<meta name="viewport" content="width=device-width">'
    + '<style>body{margin:0} img{display:block;max-width:100%;height:auto}</style></head>'
    + `<body>${markup}<p id="after">text below the image</p></body></html>`;
  await page.route(`${server.base}/page.html`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  let release;
  const held = new Promise((r) => { release = r; });
  const requested = [];
  await page.route(`${server.base}/img/**`, async (route) => {
    requested.push({ url: route.request().url(), accept: route.request().headers().accept });
    await held;
    await route.continue();
  });
  const responses = [];
  page.on('response', (r) => {
    if (r.url().includes('/img/')) responses.push({ url: r.url(), type: r.headers()['content-type'] });
  });
  await page.goto(`${server.base}/page.html`, { waitUntil: 'domcontentloaded' });
  await page.evaluate(() => {
    window.shifts = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.shifts += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  // The request is made (and held): the box below is what the page has before any image byte.
  for (let i = 0; i < TIMEOUT / 50 && !requested.length; i++) await page.waitForTimeout(50);
  await page.waitForTimeout(200);
  const box = () => page.$eval('img', (img) => {
    const r = img.getBoundingClientRect();
    const after = document.getElementById('after').getBoundingClientRect();
    return { width: r.width, height: r.height, textTop: after.top };
  });
  const before = await box();
  const loadedBefore = await page.$eval('img', (img) => img.complete && img.naturalWidth > 0);
  release();
  await page.waitForFunction(() => {
    const img = document.querySelector('img');
    return img.complete && img.naturalWidth > 0;
  });
  const afterLoad = await box();
  const img = await page.$eval('img', (i) => ({ src: i.currentSrc, natural: i.naturalWidth }));
  const shifts = await page.evaluate(() => window.shifts);
  await page.screenshot({ path: path.join(SHOTS, `srcset-${width}-dpr${dpr}.png`) });
  await context.close();
  return { requested, responses, before, loadedBefore, afterLoad, img, shifts, problems };
}

// Both test images are 3:2: storm.jpg 1920x1280, cats/kitten.png 480x320.
async function check(server, { image, ladder, markup }, viewport, format) {
  const got = await load(server, markup, viewport);
  const want = expectedWidth(ladder, viewport.width, viewport.dpr);
  const label = `${viewport.width} px at ${viewport.dpr}x`;
  assert.deepEqual(got.problems, [], label);
  assert.equal(got.requested.length, 1, `one image request at ${label}: ${JSON.stringify(got.requested)}`);
  assert.match(got.requested[0].accept, new RegExp(`image/${format}`), 'Chromium accepts the format');
  const url = new URL(got.requested[0].url);
  assert.equal(url.pathname, `/img/${image}`, label);
  assert.equal(url.searchParams.get('w'), String(want), `the ${want}w candidate at ${label}: ${url}`);
  assert.equal(url.searchParams.get('fmt'), format, label);
  assert.equal(got.responses[0].type, `image/${format}`, label);
  assert.equal(got.img.src, got.requested[0].url);
  // Density-corrected: the candidate's width over its density is the slot's.
  assert.ok(Math.abs(got.img.natural - viewport.width) <= 1, `decoded at its stated width: ${got.img.natural}`);
  // The box is the slot at the image's aspect ratio before a byte arrived, and stays so.
  assert.equal(got.loadedBefore, false, 'the image was still held when the box was measured');
  assert.equal(got.before.width, viewport.width, label);
  assert.ok(Math.abs(got.before.height - (viewport.width * 2) / 3) <= 1, `${label}: ${JSON.stringify(got.before)}`);
  // A candidate's whole-pixel height rounds its aspect ratio: under a pixel, never a shift.
  for (const key of ['width', 'height', 'textTop']) {
    assert.ok(Math.abs(got.afterLoad[key] - got.before[key]) < 0.5, `no layout shift at ${label}: ${JSON.stringify(got)}`);
  }
  assert.equal(got.shifts, 0, `no layout-shift entry at ${label}`);
}

test('with AVIF offered, Chromium picks the AVIF candidate the slot needs', async () => {
  const server = await startServer({ IMGSERVER__LIMITS__RENDER_TIMEOUT: '120s' });
  // A small source keeps the AVIF encodes of a debug build quick.
  const image = 'cats/kitten.png';
  const markup = await snippet(server, image, 'widths=160,240,320,480&sizes=100vw');
  assert.match(markup, /^<picture><source type="image\/avif" srcset="[^"]+ 480w" sizes="100vw"><source type="image\/webp"/);
  const photo = { image, ladder: [160, 240, 320, 480], markup };
  for (const viewport of [{ width: 200, dpr: 1 }, { width: 150, dpr: 2 }]) await check(server, photo, viewport, 'avif');
});

test('with the default AVIF limit the 1920 px photo is WebP, never a short AVIF set', async () => {
  const server = await startServer({});
  const image = 'storm.jpg';
  const markup = await snippet(server, image, 'sizes=100vw');
  assert.doesNotMatch(markup, /image\/avif/);
  assert.match(markup, /<img src="\/img\/storm\.jpg\?w=960" srcset="[^"]+" sizes="100vw" width="1920" height="1280" alt="" loading="lazy" decoding="async">/);
  const photo = { image, ladder: [320, 480, 640, 960, 1280, 1920], markup };
  for (const viewport of [{ width: 360, dpr: 2 }, { width: 1200, dpr: 1 }]) await check(server, photo, viewport, 'webp');
});
