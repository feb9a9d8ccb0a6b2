// The studio page in a real browser: starts the real imgserver binary over a temp copy of
// tests/fixtures, drives Debian's Chromium through playwright-core (./harness.js), checks the
// gallery and the editor, and saves screenshots under target/ui-screenshots/ for review.
//
//   node tests/browser/studio.test.js        (after `cargo build`; IMGSERVER_BIN overrides the binary,
//                                             CHROMIUM the browser)
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const {
  SHOTS, TIMEOUT, FIXTURES, NOT_SERVED, servers, startServer, useBrowser,
} = require('./harness');

const ADMIN_TOKEN = 'studio-test-token-' + crypto.randomBytes(6).toString('hex');
const SIGNING_KEY = 'studio-test-signing-key';

const session = useBrowser();

// A page that records console errors and CSP violations (load failures of the deliberately broken
// fixtures are expected and ignored).
async function openPage(base, viewport = { width: 1360, height: 900 }) {
  const context = await session.browser.newContext({ viewport, colorScheme: 'light' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.problems.push('console: ' + m.text());
  });
  return { context, page };
}

const cardNames = (page) => page.$$eval('#folders .name, #grid .card .name', (els) => els.map((e) => e.textContent));

async function waitForThumbnails(page) {
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#grid .card.image:not(.broken) img')];
    return imgs.length > 0 && imgs.every((i) => i.complete);
  });
}

async function waitForPreview(page, check) {
  await page.waitForFunction(check, null, { polling: 100 });
}

const preview = (page) => page.$eval('#res-img', (img) => ({
  width: img.naturalWidth,
  height: img.naturalHeight,
  format: document.getElementById('res-meta').dataset.format,
  cache: document.getElementById('res-meta').dataset.cache,
  meta: document.getElementById('res-meta').textContent,
}));

test('the gallery lists the fixture images, folder by folder, with lazy thumbnails and /info/ facts', async () => {
  const server = await startServer({});
  // An SVG logo (with a script the server must strip): listed with a raster thumbnail.
  fs.writeFileSync(path.join(server.dir, 'images', 'logo.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150" viewBox="0 0 300 150">'
    + '<script>alert(1)</script><rect width="300" height="150" fill="#1e40af"/></svg>');
  const { context, page } = await openPage(server.base);
  const res = await page.goto(server.base + '/');
  assert.match(res.headers()['content-security-policy'], /default-src 'none'/);
  await page.waitForSelector('#grid .card');
  const names = await cardNames(page);
  for (const n of ['cats', 'formats', 'orientation', 'with space', 'storm.jpg', 'a..b.jpg', 'png-named.jpg']) {
    assert.ok(names.includes(n), `${n} is listed (got ${names})`);
  }
  for (const n of ['.hidden.jpg', '.env', '.git', 'README.md', 'escape.jpg']) {
    assert.ok(!names.includes(n), `${n} is not listed`);
  }
  const folders = fs.readdirSync(FIXTURES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .filter((e) => !NOT_SERVED.includes(path.join(FIXTURES, e.name)))
    .map((e) => e.name).sort();
  assert.ok(folders.includes('with space'));
  assert.deepEqual(names.slice(0, folders.length), folders, 'folders first, in name order');

  await waitForThumbnails(page);
  const thumb = await page.$eval('#grid .card.image[data-path="storm.jpg"] img', (img) => ({
    src: img.currentSrc, srcset: img.srcset, sizes: img.sizes, width: img.naturalWidth, lazy: img.loading,
  }));
  assert.match(thumb.src, /\/img\/storm\.jpg\?w=\d+&h=\d+&fit=cover&fmt=webp$/);
  assert.match(thumb.srcset, / 160w, .* 320w, .* 480w$/);
  assert.equal(thumb.lazy, 'lazy');
  assert.ok(thumb.width >= 160, 'the thumbnail decoded');
  await page.waitForFunction(() => /1920×1280 · JPEG/.test(
    document.querySelector('#grid .card.image[data-path="storm.jpg"] .meta').textContent));
  await page.waitForFunction(() => /not a supported image/.test(
    document.querySelector('#grid .card.image[data-path="not-an-image.jpg"] .meta').textContent));
  const logo = await page.$eval('#grid .card.image[data-path="logo.svg"] img', (img) => ({
    src: img.currentSrc, width: img.naturalWidth,
  }));
  assert.match(logo.src, /\/img\/logo\.svg\?w=\d+&h=\d+&fit=cover&fmt=webp$/, 'a raster thumbnail');
  assert.ok(logo.width >= 160, 'the SVG thumbnail decoded');
  await page.waitForFunction(() => /300×150 · SVG/.test(
    document.querySelector('#grid .card.image[data-path="logo.svg"] .meta').textContent));
  // Opened directly, the served SVG runs nothing: the script is gone (and the CSP forbids it).
  const svgPage = await context.newPage();
  let dialogs = 0;
  svgPage.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  const svgRes = await svgPage.goto(server.base + '/img/logo.svg');
  assert.equal(svgRes.headers()['content-type'], 'image/svg+xml');
  assert.match(svgRes.headers()['content-security-policy'], /sandbox/);
  assert.ok(!/script/.test(await svgRes.text()), 'no script in the served SVG');
  await svgPage.waitForTimeout(300);
  assert.equal(dialogs, 0);
  await svgPage.close();
  await page.screenshot({ path: path.join(SHOTS, 'gallery.png'), fullPage: true });

  // Keyboard only: Tab reaches the folders, Enter opens one.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.matches('#folders a'))) break;
  }
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'cats');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#grid .card.image[data-path="cats/kitten.png"]');
  assert.deepEqual(await cardNames(page), ['default.jpg', 'kitten.png']);
  assert.equal(await page.textContent('#folder-title'), 'cats');
  await page.goBack();
  await page.waitForSelector('#grid .card.image[data-path="storm.jpg"]');

  assert.deepEqual(page.problems, []);
  await context.close();
});

test('the editor renders width and format changes and hands out the URL and snippets', async () => {
  const server = servers[0] || (await startServer({}));
  const { context, page } = await openPage(server.base);
  await page.goto(server.base + '/');
  await page.click('#grid .card.image[data-path="storm.jpg"] a');
  await page.waitForSelector('#editor:not([hidden])');
  // Opening an image starts at 800 px wide in its own format.
  await waitForPreview(page, () => document.getElementById('res-img').naturalWidth === 800);
  assert.equal((await preview(page)).format, 'jpeg');
  assert.match(await page.textContent('#orig-meta'), /1920×1280 · JPEG/);

  await page.fill('#w', '320');
  // The format group works from the keyboard: source -> auto -> jpeg -> webp.
  await page.focus('#fmt-set input:checked');
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await page.$eval('#fmt-set input:checked', (i) => i.value), 'webp');
  await waitForPreview(page, () => document.getElementById('res-meta').dataset.format === 'webp'
    && document.getElementById('res-img').naturalWidth === 320);
  const p = await preview(page);
  assert.deepEqual([p.width, p.height, p.format], [320, 213, 'webp']);
  assert.equal(p.cache, 'miss');
  assert.match(p.meta, /rendered in [\d.]+ ms/, 'render time from Server-Timing');

  const url = server.base + '/img/storm.jpg?w=320&fmt=webp';
  assert.equal(await page.inputValue('#out-url'), url);
  await page.click('button[data-copy="out-url"]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
  assert.match(page.url(), /#image=storm\.jpg&w=320&fmt=webp$/, 'the editor state is in the address');

  const img = await page.inputValue('#out-img');
  // URLs in the snippets are attribute-escaped (& as &amp;), as all HTML the page writes.
  const amp = (u) => u.replace(/&/g, '&amp;');
  assert.ok(img.includes(`srcset="${amp(url)} 1x, ${server.base}/img/storm.jpg?w=320&amp;fmt=webp&amp;dpr=2 2x"`), img);
  assert.ok(img.includes('width="320" height="213"'), img);
  // Under "widths" the snippets are the server's /srcset answer, made absolute: its ladder
  // (capped at the 1920 px source), its sizes and the largest candidate's width and height.
  await page.click('#srcset-mode label:has(input[value="widths"])');
  await page.waitForFunction(() => /640w/.test(document.getElementById('out-img').value));
  const widths = await page.inputValue('#out-img');
  assert.match(widths, /w=320&amp;fmt=webp 320w, .*w=1920&amp;fmt=webp 1920w"/);
  assert.match(widths, /sizes="\(max-width: 320px\) 100vw, 320px"/);
  assert.ok(widths.includes('width="1920" height="1280"'), widths);
  const sizes = encodeURIComponent('(max-width: 320px) 100vw, 320px');
  const absoluteSet = (srcset) => srcset.split(', ').map((c) => server.base + c).join(', ');
  const served = await (await fetch(`${server.base}/srcset/storm.jpg?fmt=webp&sizes=${sizes}`)).json();
  assert.ok(widths.includes(`srcset="${amp(absoluteSet(served.srcset))}"`),
    `the <img> carries the server's srcset: ${widths} / ${served.srcset}`);
  const picture = await page.inputValue('#out-picture');
  const pictureServed = await (await fetch(`${server.base}/srcset/storm.jpg?sizes=${sizes}`)).json();
  // A 1920 px candidate is over images.max_avif_pixels: the server offers WebP alone, and so
  // does the snippet (the studio planned AVIF at every width before it asked the server).
  assert.deepEqual(pictureServed.sources.map((x) => x.type), ['image/webp']);
  assert.ok(!picture.includes('image/avif'), picture);
  assert.match(picture, /<source type="image\/webp"\s+srcset="[^"]*fmt=webp 320w/);
  assert.ok(picture.includes(`<img src="${amp(server.base + pictureServed.src)}"`), picture);
  await page.click('button[data-copy="out-picture"]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), picture);
  // The copied element is markup a page can take: a real parser finds the sources and the <img>.
  const parsed = await page.evaluate((html) => {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const img = doc.querySelector('picture > img');
    return { sources: doc.querySelectorAll('picture > source').length, width: img.getAttribute('width'),
      srcset: img.getAttribute('srcset') };
  }, picture);
  assert.deepEqual(parsed, { sources: 1, width: '1920',
    srcset: absoluteSet(pictureServed.srcset) });

  // What the page says about the result is what the server sends.
  const direct = await fetch(url);
  assert.equal(direct.headers.get('content-type'), 'image/webp');
  assert.equal(Number(direct.headers.get('content-length')), Number(await page.$eval('#res-meta', (m) => m.dataset.bytes)));

  // Fit and gravity apply once both sides are set.
  assert.equal(await page.$eval('#fit-set', (f) => f.disabled), true);
  await page.fill('#h', '320');
  await page.click('#fit-set label:has(input[value="contain"])');
  await waitForPreview(page, () => document.getElementById('res-img').naturalHeight === 320
    && document.getElementById('res-img').naturalWidth === 320);
  assert.equal(await page.inputValue('#out-url'), server.base + '/img/storm.jpg?w=320&h=320&fit=contain&fmt=webp');
  await page.click('#fit-set label:has(input[value="cover"])');
  await page.click('#g-set label[title="north"]');
  await page.click('#fmt-set label:has(input[value="png"])');
  await waitForPreview(page, () => document.getElementById('res-meta').dataset.format === 'png');
  assert.equal(await page.inputValue('#out-url'), server.base + '/img/storm.jpg?w=320&h=320&g=north&fmt=png');
  await page.click('#srcset-mode label:has(input[value="density"])');
  await page.screenshot({ path: path.join(SHOTS, 'editor.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(SHOTS, 'editor-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });

  // Escape goes back to the folder.
  await page.focus('#back');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#gallery:not([hidden])');
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('names with spaces, unicode, # and ; work end to end', async () => {
  const server = servers[0];
  const { context, page } = await openPage(server.base);
  await page.goto(server.base + '/#folder=with%20space');
  await page.waitForSelector('#grid .card.image');
  assert.deepEqual(await cardNames(page), ['ünï cødé #1;x.jpg']);
  await waitForThumbnails(page);
  await page.click('#grid .card.image a');
  await waitForPreview(page, () => document.getElementById('res-img').naturalWidth > 0);
  assert.equal(await page.inputValue('#out-url'),
    server.base + '/img/with%20space/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9%20%231%3Bx.jpg?w=' + (await preview(page)).width);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('on a phone-sized screen the gallery and the editor fit the width', async () => {
  const server = servers[0];
  const { context, page } = await openPage(server.base, { width: 390, height: 844 });
  await page.goto(server.base + '/');
  await page.waitForSelector('#grid .card');
  await waitForThumbnails(page);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, 'no horizontal scrolling in the gallery');
  await page.screenshot({ path: path.join(SHOTS, 'gallery-phone.png'), fullPage: false });
  await page.goto(server.base + '/#image=cats/kitten.png&w=300&fmt=webp');
  await waitForPreview(page, () => document.getElementById('res-img').naturalWidth === 300);
  assert.ok((await overflow()) <= 0, 'no horizontal scrolling in the editor');
  await page.screenshot({ path: path.join(SHOTS, 'editor-phone.png'), fullPage: true });
  assert.deepEqual(page.problems, []);
  await context.close();
});

// Waits for the URL the editor shows to be `expected` (it follows the controls after a short delay).
async function expectUrl(page, expected) {
  try {
    await page.waitForFunction((u) => document.getElementById('out-url').value === u, expected, { polling: 50, timeout: 5000 });
  } catch (e) {
    assert.equal(await page.inputValue('#out-url'), expected);
  }
}

// Waits for the preview of `url` to be on screen, from a blob, with no error shown.
async function rendered(page, url) {
  await expectUrl(page, url);
  try {
    await page.waitForFunction((u) => {
      const img = document.getElementById('res-img');
      return img.src.startsWith('blob:') && img.dataset.url && location.origin + img.dataset.url === u
        && !document.getElementById('res-frame').classList.contains('loading');
    }, url, { polling: 100, timeout: TIMEOUT });
  } catch (e) {
    throw new Error(`the preview of ${url} did not render: ${await page.textContent('#res-error')}`);
  }
  assert.equal(await page.isVisible('#res-error'), false, 'no error under the preview');
  return preview(page);
}

// RGBA of some pixels of the preview, as the browser decoded it.
const pixels = (page, points) => page.evaluate((pts) => {
  const img = document.getElementById('res-img');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return pts.map(([x, y]) => [...ctx.getImageData(x, y, 1, 1).data]);
}, points);

// Clicks the original at fractions of its box; the fp the URL then has, checked against them.
async function clickOriginal(page, fx, fy) {
  await page.locator('#orig-img').scrollIntoViewIfNeeded();
  const box = await page.locator('#orig-img').boundingBox();
  await page.click('#orig-img', { position: { x: box.width * fx, y: box.height * fy } });
  await page.waitForFunction(() => /[?&]fp=/.test(document.getElementById('out-url').value));
  const fp = new URL(await page.inputValue('#out-url')).searchParams.get('fp');
  assert.match(fp, /^[01](\.\d{1,3})?,[01](\.\d{1,3})?$/, 'fractions with at most 3 decimals');
  const [x, y] = fp.split(',').map(Number);
  assert.ok(Math.abs(x - fx) <= 0.003 && Math.abs(y - fy) <= 0.003, `fp=${fp} for a click at ${fx},${fy}`);
  return { fp, box };
}

async function openGroup(page, id) {
  if (!(await page.$eval('#' + id, (d) => d.open))) await page.click(`#${id} summary`);
}

// The start-of-frame marker of a JPEG: 0xc0 baseline, 0xc2 progressive.
function jpegFrame(buf) {
  for (let i = 2; i + 4 <= buf.length && buf[i] === 0xff;) {
    const m = buf[i + 1];
    if (m >= 0xc0 && m <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(m)) return m;
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return null;
}

// A screenshot in a viewport tall enough for the whole controls panel (it scrolls on its own when
// the window is shorter), then back to the size the page had.
async function tallShot(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: size.width, height: 1800 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
  await page.setViewportSize(size);
}

const isHidden = (page, selector) => page.$eval(selector, (e) => e.hidden || e.closest('[hidden]') !== null);

test('every image operation has a control, a click on the original sets the focal point, and the URL round-trips', async () => {
  const server = servers[0] || (await startServer({}));
  const { context, page } = await openPage(server.base);
  await page.goto(server.base + '/#image=storm.jpg');
  await page.waitForFunction(() => /1920×1280 · JPEG/.test(document.getElementById('orig-meta').textContent));
  const img = server.base + '/img/storm.jpg?';
  await expectUrl(page, img + 'w=800');
  assert.ok(await page.$('#crop-set legend') && await page.$('#lossless'),
    'the page has the new controls (the binary compiles ui/ in: rebuild it after changing ui/)');

  // Crop & orientation, folded away until opened.
  assert.equal(await page.$eval('#crop-group', (d) => d.open), false);
  await page.click('#crop-group summary');
  await page.click('#rot-set label:has(input[value="90"])');
  await expectUrl(page, img + 'w=800&rot=90');
  await page.click('#flip-set label:has(#flip-h)');
  await page.click('#flip-set label:has(#flip-v)');
  await expectUrl(page, img + 'w=800&rot=90&flip=hv');
  await page.click('#flip-set label:has(#flip-v)');
  await expectUrl(page, img + 'w=800&rot=90&flip=h');
  await page.fill('#crop-x', '100');
  await page.fill('#crop-y', '50');
  await page.fill('#crop-w', '1200');
  await page.fill('#crop-h', '800');
  await expectUrl(page, img + 'w=800&crop=100,50,1200,800&rot=90&flip=h');
  assert.equal(await page.isVisible('#crop-box'), true, 'the crop is drawn over the original');
  await page.fill('#crop-w', '5000');
  await expectUrl(page, img + 'w=800&crop=100,50,1820,800&rot=90&flip=h');
  await page.fill('#crop-w', '1200');
  await page.fill('#trim', '0');
  await expectUrl(page, img + 'w=800&crop=100,50,1200,800&rot=90&flip=h');
  assert.equal(await page.getAttribute('#trim', 'aria-invalid'), 'true', 'trim=0 is not a value');
  await page.fill('#trim', '12');
  await expectUrl(page, img + 'w=800&crop=100,50,1200,800&trim=12&rot=90&flip=h');
  assert.equal(await page.getAttribute('#trim', 'aria-invalid'), null);
  await page.click('#crop-group summary');
  assert.equal(await page.textContent('#crop-sum'), 'crop · trim · 90° · flip h', 'a closed group says what is set');
  await page.click('#crop-group summary');

  // Effects and padding.
  await page.click('#effects-group summary');
  await page.fill('#blur', '200');
  await page.fill('#sharpen', '0.5');
  await expectUrl(page, img + 'w=800&crop=100,50,1200,800&trim=12&rot=90&flip=h&sharpen=0.5');
  assert.equal(await page.getAttribute('#blur', 'aria-invalid'), 'true', 'blur is at most 100');
  await page.fill('#blur', '2');
  const ops = 'w=800&crop=100,50,1200,800&trim=12&rot=90&flip=h&blur=2&sharpen=0.5';
  await expectUrl(page, img + ops);
  assert.equal(await isHidden(page, '#bg-row'), true, 'no background to fill yet');
  await page.fill('#pad', '10');
  await expectUrl(page, img + ops + '&pad=10');
  assert.equal(await isHidden(page, '#bg-row'), false, 'padding is filled with the background');
  assert.equal(await isHidden(page, '#alpha-row'), true, 'no transparency in JPEG');
  await page.fill('#bg', '#000000');
  await expectUrl(page, img + ops + '&pad=10&bg=000000');

  // Transparency, interlacing and lossless follow the output format.
  assert.equal(await isHidden(page, '#interlace-row'), false, 'a JPEG source in its own format can be progressive');
  assert.equal(await isHidden(page, '#lossless-row'), true);
  await page.click('#fmt-set label:has(input[value="png"])');
  assert.equal(await isHidden(page, '#alpha-row'), false);
  await page.fill('#alpha', '0');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=png');
  assert.equal(await page.textContent('#alpha-out'), '0%');
  await page.click('#interlace-row');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=png&interlace=1');
  await page.click('#fmt-set label:has(input[value="webp"])');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=webp');
  assert.equal(await isHidden(page, '#interlace-row'), true);
  assert.equal(await isHidden(page, '#lossless-row'), false);
  await page.click('#lossless-row');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=webp&lossless=1');
  assert.equal(await isHidden(page, '#q-row'), true, 'no quality to choose for lossless WebP');
  await page.click('#fmt-set label:has(input[value="avif"])');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=avif');
  assert.equal(await isHidden(page, '#lossless-row'), true);
  await page.click('#fmt-set label:has(input[value="jpeg"])');
  await expectUrl(page, img + ops + '&pad=10&bg=000000&fmt=jpeg&interlace=1');
  await page.click('#fmt-set label:has(input[value="webp"])');
  await expectUrl(page, img + ops + '&pad=10&bg=00000000&fmt=webp&lossless=1');
  const picture = await page.inputValue('#out-picture');
  assert.match(picture, /<source type="image\/webp"\s+srcset="[^"]*fmt=webp&amp;lossless=1&amp;dpr=2 2x"/);
  assert.match(picture, /<source type="image\/avif"\s+srcset="[^"&]*&[^"]*fmt=avif 1x/);
  assert.ok(!/fmt=avif&amp;lossless|fmt=jpeg&amp;lossless/.test(picture), 'lossless only with WebP: ' + picture);
  await page.click('#pad-sides');
  assert.equal(await page.inputValue('#pad-l'), '10', 'one padding becomes four');
  await page.fill('#pad-l', '4');
  const full = img + ops + '&pad=10,10,10,4&bg=00000000&fmt=webp&lossless=1';
  assert.equal((await rendered(page, full)).format, 'webp');
  assert.match(page.url(), /#image=storm\.jpg&w=800&crop=100,50,1200,800&.*&lossless=1$/);
  await tallShot(page, 'editor-operations.png');

  // The address holds it all: a fresh page shows the same controls and URL.
  const again = await context.newPage();
  await again.goto(page.url());
  await expectUrl(again, full);
  assert.equal(await again.$eval('#rot-set input:checked', (i) => i.value), '90');
  assert.deepEqual(await again.$$eval('#flip-h, #flip-v, #pad-sides, #lossless', (c) => c.map((i) => i.checked)),
    [true, false, true, true]);
  const values = ['crop-x', 'crop-y', 'crop-w', 'crop-h', 'trim', 'blur', 'sharpen', 'pad-l', 'alpha'];
  assert.deepEqual(await again.evaluate((ids) => ids.map((id) => document.getElementById(id).value), values),
    ['100', '50', '1200', '800', '12', '2', '0.5', '4', '0']);
  assert.equal(await again.$eval('#crop-group', (d) => d.open), true, 'a group with something set opens');
  await again.close();

  // Every parameter's grammar parses back, fractions of a crop, a focal point and eight-digit bg included;
  // fp wins over g, interlace does not apply to WebP.
  await page.goto(server.base + '/#image=storm.jpg&w=400&h=300&g=north&fp=0.25,0.6&crop=0.1,0.2,0.5,0.5&trim=255'
    + '&rot=270&flip=vh&blur=0.3&sharpen=10&pad=1,2,3,4&bg=11223344&fmt=webp&interlace=1&lossless=1');
  await expectUrl(page, img + 'w=400&h=300&fp=0.25,0.6&crop=0.1,0.2,0.5,0.5&trim=255&rot=270&flip=hv&blur=0.3'
    + '&sharpen=10&pad=1,2,3,4&bg=11223344&fmt=webp&lossless=1');
  assert.equal(await page.$$eval('#g-set input:checked', (c) => c.length), 0, 'no gravity beside a focal point');
  assert.equal(await page.isVisible('#fp-marker'), true);
  await page.click('#reset');
  await expectUrl(page, img + 'w=800');
  assert.equal(await page.isVisible('#fp-marker'), false);
  assert.equal(await page.isVisible('#crop-box'), false);

  // A click on the original sets the focal point and replaces the gravity.
  await page.fill('#h', '400');
  await page.fill('#w', '400');
  await page.click('#g-set label[title="north"]');
  await expectUrl(page, img + 'w=400&h=400&g=north');
  const { fp, box } = await clickOriginal(page, 0.25, 0.6);
  const url = new URL(await page.inputValue('#out-url'));
  assert.equal(url.searchParams.has('g'), false, 'no g beside fp: ' + url);
  assert.equal(url.search, '?w=400&h=400&fp=' + fp);
  assert.equal(await page.inputValue('#fp-x'), fp.split(',')[0]);
  assert.equal(await page.inputValue('#fp-y'), fp.split(',')[1]);
  assert.equal(await page.$$eval('#g-set input:checked', (c) => c.length), 0);
  const marker = await page.locator('#fp-marker').boundingBox();
  const now = await page.locator('#orig-img').boundingBox();
  assert.equal(now.y, box.y, 'the page did not move since the click');
  assert.ok(Math.abs(marker.x + marker.width / 2 - (now.x + now.width * 0.25)) <= 2
    && Math.abs(marker.y + marker.height / 2 - (now.y + now.height * 0.6)) <= 2, 'the marker is where the click was');
  // Choosing a gravity clears it; so does the Clear button.
  await page.click('#g-set label[title="east"]');
  await expectUrl(page, img + 'w=400&h=400&g=east');
  assert.equal(await page.isVisible('#fp-marker'), false);
  assert.equal(await page.inputValue('#fp-x'), '');
  await expectUrl(page, img + 'w=400&h=400&fp=' + (await clickOriginal(page, 0.5, 0.5)).fp);
  await page.click('#fp-clear');
  await expectUrl(page, img + 'w=400&h=400');
  assert.equal(await page.$eval('#g-set input:checked', (i) => i.value), 'center', 'gravity back to its default');
  assert.equal(await page.isVisible('#fp-marker'), false);
  // Smart gravity is for cover only; a focal point replaces it too.
  await page.click('#g-set label.smart');
  await expectUrl(page, img + 'w=400&h=400&g=smart');
  await page.click('#fit-set label:has(input[value="contain"])');
  await expectUrl(page, img + 'w=400&h=400&fit=contain');
  assert.equal(await page.$eval('#g-smart', (i) => i.disabled), true);
  await page.click('#fit-set label:has(input[value="cover"])');
  await expectUrl(page, img + 'w=400&h=400&g=smart');
  const last = (await clickOriginal(page, 0.1, 0.9)).fp;
  await expectUrl(page, img + 'w=400&h=400&fp=' + last);
  // Without a box to cover the focal point is kept but left out, and the page says why.
  assert.equal(await page.isVisible('#fp-why'), false);
  await page.fill('#h', '');
  await expectUrl(page, img + 'w=400');
  assert.equal(await page.isVisible('#fp-why'), true);
  assert.equal(await page.$eval('#fp-marker', (m) => m.classList.contains('inactive')), true);
  await page.fill('#h', '400');
  await expectUrl(page, img + 'w=400&h=400&fp=' + last);

  assert.deepEqual(page.problems, []);
  await context.close();
});

test('the image operations render: rotation swaps the sides, padding can be transparent, interlacing, a focal point', async () => {
  const server = servers[0] || (await startServer({}));
  const { context, page } = await openPage(server.base);
  // A 480×320 JPEG, opaque.
  const img = server.base + '/img/orientation/orientation-1.jpg?';
  await page.goto(server.base + '/#image=orientation/orientation-1.jpg&rot=90');
  let p = await rendered(page, img + 'rot=90');
  assert.deepEqual([p.width, p.height, p.format], [320, 480, 'jpeg'], 'a quarter turn swaps width and height');

  // Crop, rotate, flip, blur, sharpen, pad on a transparent background, lossless WebP.
  await page.fill('#crop-w', '240');
  await page.fill('#crop-h', '160');
  await page.click('#flip-set label:has(#flip-h)');
  await openGroup(page, 'effects-group');
  await page.fill('#blur', '1.5');
  await page.fill('#sharpen', '0.5');
  await page.fill('#pad', '10');
  await page.click('#fmt-set label:has(input[value="webp"])');
  await page.fill('#alpha', '0');
  await page.click('#lossless-row');
  const ops = 'crop=0,0,240,160&rot=90&flip=h&blur=1.5&sharpen=0.5&pad=10';
  p = await rendered(page, img + ops + '&bg=ffffff00&fmt=webp&lossless=1');
  assert.deepEqual([p.width, p.height, p.format], [160 + 20, 240 + 20, 'webp'], 'cropped, turned, padded');
  let [corner, middle] = await pixels(page, [[0, 0], [90, 130]]);
  assert.equal(corner[3], 0, 'the padding is transparent');
  assert.equal(middle[3], 255, 'the image is not');

  // Interlaced PNG, progressive JPEG (the padding is opaque white there).
  await page.click('#fmt-set label:has(input[value="png"])');
  await page.click('#interlace-row');
  const png = img + ops + '&bg=ffffff00&fmt=png&interlace=1';
  p = await rendered(page, png);
  assert.equal(p.format, 'png');
  [corner] = await pixels(page, [[0, 0]]);
  assert.equal(corner[3], 0);
  const pngBytes = new Uint8Array(await (await fetch(png)).arrayBuffer());
  assert.equal(pngBytes[28], 1, 'the IHDR says Adam7');
  await page.click('#fmt-set label:has(input[value="jpeg"])');
  const jpeg = img + ops + '&fmt=jpeg&interlace=1';
  p = await rendered(page, jpeg);
  assert.deepEqual([p.width, p.height, p.format], [180, 260, 'jpeg']);
  [corner] = await pixels(page, [[0, 0]]);
  // (JPEG rings a little this close to the picture's edge)
  assert.ok(corner.slice(0, 3).every((c) => c > 200) && corner[3] === 255, 'white padding: ' + corner);
  const jpegBytes = Buffer.from(await (await fetch(jpeg)).arrayBuffer());
  assert.equal(jpegFrame(jpegBytes), 0xc2, 'a progressive JPEG (SOF2)');

  // Trim, then a focal point and smart gravity in a cover crop.
  await page.click('#reset');
  await openGroup(page, 'crop-group');
  await page.fill('#trim', '10');
  await rendered(page, img + 'w=480&trim=10');
  await page.fill('#trim', '');
  await page.fill('#w', '200');
  await page.fill('#h', '200');
  const { fp } = await clickOriginal(page, 0.75, 0.5);
  p = await rendered(page, img + 'w=200&h=200&fp=' + fp);
  assert.deepEqual([p.width, p.height], [200, 200]);
  await page.click('#g-set label.smart');
  p = await rendered(page, img + 'w=200&h=200&g=smart');
  assert.deepEqual([p.width, p.height], [200, 200]);
  await tallShot(page, 'editor-operations-preview.png');
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('with ui.require_token and signing, the page asks for the token once and hands out signed URLs', async () => {
  const server = await startServer({
    IMGSERVER__UI__REQUIRE_TOKEN: 'true',
    IMGSERVER__ADMIN__TOKEN: ADMIN_TOKEN,
    IMGSERVER__SECURITY__SIGNING_KEY: SIGNING_KEY,
  });
  const { context, page } = await openPage(server.base);
  await page.goto(server.base + '/');
  await page.waitForSelector('#gate:not([hidden])');
  assert.equal(await page.$$eval('#grid .card', (c) => c.length), 0, 'no file names before the token');
  await page.fill('#gate-token', 'wrong');
  await page.press('#gate-token', 'Enter');
  await page.waitForFunction(() => /not accepted/.test(document.getElementById('gate-error').textContent));
  await page.screenshot({ path: path.join(SHOTS, 'locked.png') });
  await page.fill('#gate-token', ADMIN_TOKEN);
  await page.press('#gate-token', 'Enter');
  await page.waitForSelector('#grid .card.image[data-path="storm.jpg"]');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('imgserver.token')), ADMIN_TOKEN);

  const thumb = await page.$eval('#grid .card.image[data-path="storm.jpg"] img', (img) => img.getAttribute('src'));
  assert.match(thumb, /&s=[A-Za-z0-9_-]{43}$/, 'thumbnails come signed');

  await page.reload();
  await page.waitForSelector('#grid .card.image[data-path="storm.jpg"]');
  assert.equal(await page.isVisible('#gate'), false, 'the token is asked once per tab');

  await page.click('#grid .card.image[data-path="storm.jpg"] a');
  await waitForPreview(page, () => document.getElementById('res-img').naturalWidth === 800);
  await page.fill('#w', '400');
  await waitForPreview(page, () => document.getElementById('res-img').naturalWidth === 400);
  const url = new URL(await page.inputValue('#out-url'));
  const s = url.searchParams.get('s');
  const query = [...url.searchParams].filter(([k]) => k !== 's').map(([k, v]) => `${k}=${v}`).sort().join('&');
  const expected = crypto.createHmac('sha256', SIGNING_KEY).update(`${url.pathname}?${query}`).digest('base64url');
  assert.equal(s, expected, 'the signature is the HMAC of PATH?sorted query');
  // The crops at 1:1, 4:3 and 16:9 are signed too, and render.
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#aspects .aspect img')];
    return imgs.length === 3 && imgs.every((i) => /[?&]s=[A-Za-z0-9_-]{43}$/.test(i.getAttribute('src') || '')
      && i.complete && i.naturalWidth === 160);
  }, null, { polling: 100 });

  // The server's srcset, signed: every candidate of the snippet carries its signature.
  await page.click('#srcset-mode label:has(input[value="widths"])');
  await page.waitForFunction(() => /\d+w/.test(document.getElementById('out-picture').value));
  const candidates = (await page.inputValue('#out-picture')).match(/https?:[^ "]+ \d+w/g);
  assert.ok(candidates.length >= 3 && candidates.every((c) => /&amp;s=[A-Za-z0-9_-]{43} \d+w$/.test(c)),
    'signed candidates: ' + candidates.join(' | '));
  await page.click('#srcset-mode label:has(input[value="density"])');

  // The admin panel shows what this server's admin API offers, and hides what it answers 404 to.
  await page.click('#admin-toggle');
  await page.waitForSelector('#tools:not([hidden])');
  const auth = { headers: { Authorization: 'Bearer ' + ADMIN_TOKEN } };
  const cache = await fetch(server.base + '/admin/cache/stats', auth);
  if (cache.status === 404) {
    assert.equal(await page.isVisible('#cache-tool'), false);
  } else {
    await page.click('#clear');
    await page.waitForFunction(() => /Removed \d+ cached variant/.test(document.getElementById('admin-result').textContent));
  }
  const git = await fetch(server.base + '/admin/git/status', auth);
  if (git.status === 404) {
    assert.equal(await page.isVisible('#git-tool'), false);
  } else {
    assert.equal(git.status, 409, 'a plain folder is not a git repository');
    await page.waitForSelector('#git-tool:not([hidden])');
    assert.match(await page.textContent('#git-facts'), /plain folder/);
    assert.equal(await page.isVisible('#pull'), false);
  }
  assert.equal(await page.isVisible('#no-tools'), cache.status === 404 && git.status === 404);
  await page.screenshot({ path: path.join(SHOTS, 'admin.png') });
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('the repository focal point and alt text: a marker, the alt prefilled, crops at 1:1, 4:3 and 16:9, the TOML lines to commit', async () => {
  // A server of its own: the metadata changes what cover crops of storm.jpg look like.
  const server = await startServer({});
  const images = path.join(server.dir, 'images');
  const alt = 'Storm <over> "the" & sea';
  fs.writeFileSync(path.join(images, '.imgserver.toml'),
    '["storm.jpg"]\nfocus = [0.8, 0.3]\nalt = "Storm <over> \\"the\\" & sea"\n');
  // A name that TOML must escape.
  fs.copyFileSync(path.join(images, 'storm.jpg'), path.join(images, 'cats', 'say "cheese".jpg'));
  const info = await (await fetch(server.base + '/info/storm.jpg')).json();
  assert.deepEqual([info.focus, info.alt], [[0.8, 0.3], alt], 'the server reads the metadata');

  const { context, page } = await openPage(server.base);
  await page.goto(server.base + '/#image=storm.jpg');
  await page.waitForFunction(() => /1920×1280 · JPEG/.test(document.getElementById('orig-meta').textContent));
  const img = server.base + '/img/storm.jpg?';
  await expectUrl(page, img + 'w=800');
  assert.ok(await page.$('#alt') && await page.$('#out-toml') && await page.$('#aspects'),
    'the page has the metadata controls (the binary compiles ui/ in: rebuild it after changing ui/)');

  // The repository's focus: its own marker on the original, and said in the focal point group.
  await page.waitForSelector('#repo-marker:not([hidden])');
  const center = async (selector) => {
    const b = await page.locator(selector).boundingBox();
    return [b.x + b.width / 2, b.y + b.height / 2];
  };
  const orig = await page.locator('#orig-img').boundingBox();
  const [rx, ry] = await center('#repo-marker');
  assert.ok(Math.abs(rx - (orig.x + orig.width * 0.8)) <= 2 && Math.abs(ry - (orig.y + orig.height * 0.3)) <= 2,
    `the repository marker is at 0.8, 0.3 of the original (${rx}, ${ry} in ${JSON.stringify(orig)})`);
  const shape = (id) => page.$eval(id, (m) => getComputedStyle(m).borderRadius);
  assert.notEqual(await shape('#repo-marker'), await shape('#fp-marker'), 'it does not look like the picked point');
  assert.equal(await page.isVisible('#fp-marker'), false, 'no focal point picked');
  assert.match(await page.textContent('#fp-repo'), /^repository focus 0\.8, 0\.3$/);

  // The alt text is prefilled, and written escaped into the snippets.
  assert.equal(await page.inputValue('#alt'), alt);
  assert.equal(await page.textContent('#alt-hint'), 'From the repository.');
  const escaped = 'alt="Storm &lt;over&gt; &quot;the&quot; &amp; sea"';
  await page.waitForFunction((a) => document.getElementById('out-img').value.includes(a), escaped);
  assert.ok((await page.inputValue('#out-picture')).includes(escaped));

  // The lines to commit, and where.
  const toml = (...lines) => ['["storm.jpg"]', ...lines].join('\n');
  const altLine = 'alt = "Storm <over> \\"the\\" & sea"';
  assert.equal(await page.inputValue('#out-toml'), toml('focus = [0.8, 0.3]', altLine));
  assert.equal(await page.textContent('#toml-hint'),
    'Add to .imgserver.toml in the top folder of the repository (the server never writes to the repository).');
  await page.click('button[data-copy="out-toml"]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), toml('focus = [0.8, 0.3]', altLine));

  // The crops: without a picked point, no fp (the server centres them on the repository's focus).
  const aspects = (fp) => page.waitForFunction((want) => [...document.querySelectorAll('#aspects .aspect img')].every((i) => {
    const src = i.getAttribute('src') || '';
    return (want ? src.includes('&fp=' + want + '&') : !src.includes('fp=')) && i.complete && i.naturalWidth > 0;
  }), fp, { polling: 100 });
  const sizes = () => page.$$eval('#aspects .aspect', (figs) => figs.map((f) => {
    const i = f.querySelector('img');
    return [f.querySelector('figcaption').textContent, i.getAttribute('src'), i.naturalWidth, i.naturalHeight];
  }));
  await aspects(null);
  assert.deepEqual(await sizes(), [
    ['1:1', '/img/storm.jpg?w=160&h=160&fmt=webp', 160, 160],
    ['4:3', '/img/storm.jpg?w=160&h=120&fmt=webp', 160, 120],
    ['16:9', '/img/storm.jpg?w=160&h=90&fmt=webp', 160, 90],
  ]);
  assert.match(await page.textContent('#aspects-note'), /repository focus/);
  const direct = await fetch(server.base + '/img/storm.jpg?w=160&h=160&fmt=webp');
  const centred = await fetch(server.base + '/img/storm.jpg?w=160&h=160&g=center&fmt=webp');
  assert.notDeepEqual(Buffer.from(await direct.arrayBuffer()), Buffer.from(await centred.arrayBuffer()),
    'without fp the server crops on the repository focus, not the middle');

  // In a cover box the repository's focus is in use until a point is picked.
  await page.fill('#w', '400');
  await page.fill('#h', '400');
  await expectUrl(page, img + 'w=400&h=400');
  assert.match(await page.textContent('#fp-repo'), /^repository focus 0\.8, 0\.3 · in use$/);
  assert.equal(await page.$eval('#repo-marker', (m) => m.classList.contains('inactive')), false);
  await page.click('#g-set label[title="north"]');
  await expectUrl(page, img + 'w=400&h=400&g=north');
  assert.match(await page.textContent('#fp-repo'), /^repository focus 0\.8, 0\.3 · replaced by the gravity$/);
  assert.equal(await page.$eval('#repo-marker', (m) => m.classList.contains('inactive')), true);
  const { fp } = await clickOriginal(page, 0.25, 0.6);
  const focusLine = 'focus = [' + fp.split(',').join(', ') + ']';
  assert.equal(await page.inputValue('#out-toml'), toml(focusLine, altLine), 'the picked point replaces the focus line');
  assert.match(await page.textContent('#fp-repo'), /^repository focus 0\.8, 0\.3 · replaced by the picked point$/);
  assert.equal(await page.$eval('#repo-marker', (m) => m.classList.contains('inactive')), true);
  await aspects(fp);
  assert.deepEqual(await sizes(), [
    ['1:1', `/img/storm.jpg?w=160&h=160&fp=${fp}&fmt=webp`, 160, 160],
    ['4:3', `/img/storm.jpg?w=160&h=120&fp=${fp}&fmt=webp`, 160, 120],
    ['16:9', `/img/storm.jpg?w=160&h=90&fp=${fp}&fmt=webp`, 160, 90],
  ]);
  assert.match(await page.textContent('#aspects-note'), /focal point you picked/);
  await rendered(page, img + 'w=400&h=400&fp=' + fp);
  await tallShot(page, 'editor-metadata.png');

  // What is typed is escaped: HTML in the snippets, TOML in the lines (control characters as \uXXXX).
  await page.fill('#alt', 'a"b\\c\'d <e>');
  await page.waitForFunction(() => document.getElementById('out-img').value.includes('alt="a&quot;b\\c&#39;d &lt;e&gt;"'));
  assert.equal(await page.inputValue('#out-toml'), toml(focusLine, 'alt = "a\\"b\\\\c\'d <e>"'));
  assert.equal(await page.textContent('#alt-hint'), `Edited: the repository says “${alt}”.`);
  await page.$eval('#alt', (i) => {
    i.value = 'bell\u0007tab\tdel\u007f';
    i.dispatchEvent(new Event('input', { bubbles: true }));
  });
  assert.equal(await page.inputValue('#out-toml'), toml(focusLine, 'alt = "bell\\u0007tab\\u0009del\\u007F"'));
  // No alt, no alt line (and alt="" in the snippets); no picked point, the repository's focus again.
  await page.fill('#alt', '  ');
  await page.waitForFunction(() => / alt="" /.test(document.getElementById('out-img').value));
  assert.equal(await page.inputValue('#out-toml'), toml(focusLine));
  await page.click('#fp-clear');
  await expectUrl(page, img + 'w=400&h=400');
  assert.equal(await page.inputValue('#out-toml'), toml('focus = [0.8, 0.3]'));
  await aspects(null);
  // Reset takes the repository's alt text back.
  await page.click('#reset');
  await expectUrl(page, img + 'w=800');
  assert.equal(await page.inputValue('#alt'), alt);
  assert.equal(await page.inputValue('#out-toml'), toml('focus = [0.8, 0.3]', altLine));

  // An image the metadata says nothing of, with a name TOML has to escape, in a folder.
  await page.goto(server.base + '/#image=' + encodeURIComponent('cats/say "cheese".jpg').replace('%2F', '/'));
  await page.waitForFunction(() => /JPEG/.test(document.getElementById('orig-meta').textContent));
  assert.equal(await page.inputValue('#alt'), '');
  assert.equal(await page.isVisible('#fp-repo'), false);
  assert.equal(await page.isVisible('#repo-marker'), false);
  assert.equal(await page.inputValue('#out-toml'), '["say \\"cheese\\".jpg"]');
  assert.match(await page.textContent('#toml-hint'), /^Add to cats\/\.imgserver\.toml \(the server/);
  await page.waitForFunction(() => / alt="" /.test(document.getElementById('out-img').value));
  await page.fill('#alt', 'A "cheese" sign');
  assert.equal(await page.inputValue('#out-toml'), '["say \\"cheese\\".jpg"]\nalt = "A \\"cheese\\" sign"');
  await aspects(null);
  assert.match(await page.textContent('#aspects-note'), /middle/);

  assert.deepEqual(page.problems, []);
  await context.close();
});
