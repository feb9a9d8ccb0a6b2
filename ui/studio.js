// imgserver studio: a gallery of the served images and a visual URL builder.
// Plain JS, no build step. Talks to /api/status, /api/tree, /api/sign, /info/, /srcset/ and /img/, and to
// the admin API (/admin/git/*, /admin/cache/*) when the admin token is entered; any of those a
// server does not have (404) simply hides its feature.
'use strict';

(() => {
  const TOKEN_KEY = 'imgserver.token';
  const THUMB_SIZES = '(max-width: 560px) 46vw, 220px';
  const INFO_PARALLEL = 4;
  const PREVIEW_DELAY_MS = 250;
  // What browsers send for <img>; only fmt=auto looks at it.
  const PREVIEW_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
  const FORMAT_NAMES = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', avif: 'AVIF', gif: 'GIF', svg: 'SVG' };
  const LOSSY = new Set(['jpeg', 'webp', 'avif']);
  // The crops the focal point is checked at, beside the editor: 160 px wide at 1:1, 4:3 and 16:9.
  const ASPECTS = [
    { id: 'aspect-1-1', w: 160, h: 160 },
    { id: 'aspect-4-3', w: 160, h: 120 },
    { id: 'aspect-16-9', w: 160, h: 90 },
  ];
  const ASPECT_FORMAT = 'webp';
  const METADATA_FILE = '.imgserver.toml';

  const el = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    status: null,
    folders: new Map(), // folder path -> /api/tree answer
    infos: new Map(), // /info/ URL -> promise of its answer
    signed: new Map(), // unsigned URL -> signed URL
    srcsets: new Map(), // /srcset/ URL -> promise of its answer, for the open image
    git: null, // /admin/git/status answer, when there is one
    editor: null, // { entry, info, params, alt }
    preview: { seq: 0, controller: null, objectUrl: null, timer: 0, last: null },
    started: false,
  };

  // ---------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'The server cannot be reached.');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || 'The server answered ' + res.status + '.');
    }
    return data;
  }

  // ---------------------------------------------------------------- formatting

  function formatBytes(n) {
    if (n == null || isNaN(n)) return '';
    if (n < 1024) return n + ' B';
    const units = ['KB', 'MB', 'GB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ' + units[i];
  }

  function formatName(fmt) {
    return FORMAT_NAMES[fmt] || (fmt || '').toUpperCase();
  }

  function formatFromMime(mime) {
    const m = /^image\/([a-z0-9.+-]+)/i.exec(mime || '');
    return m ? m[1].toLowerCase().replace('jpg', 'jpeg').replace('svg+xml', 'svg') : '';
  }

  function toDate(t) {
    if (t == null || t === '') return null;
    if (typeof t === 'number') return new Date(t > 1e12 ? t : t * 1000);
    const d = new Date(t);
    return isNaN(d) ? null : d;
  }

  function ago(date) {
    if (!date) return '';
    const s = Math.round((date.getTime() - Date.now()) / 1000);
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
    let v = s;
    for (const [size, unit] of steps) {
      if (Math.abs(v) < size) return rtf.format(Math.round(v), unit);
      v /= size;
    }
    return '';
  }

  const short = (commit) => (commit || '').slice(0, 7);

  // URLs keep their raw '&': valid in HTML attributes, and what people expect to paste.
  // Text for HTML (an attribute's value or an element's content): every character it gives a meaning to.
  const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

  // A TOML basic string: backslash and double quote escaped, control characters as \uXXXX (and a
  // lone surrogate, which UTF-8 cannot hold, as U+FFFD).
  function tomlString(s) {
    const str = String(s);
    const whole = str.toWellFormed ? str.toWellFormed() : str;
    return '"' + whole.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => (c === '\\' || c === '"'
      ? '\\' + c
      : '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0'))) + '"';
  }

  // A TOML float: always with a decimal point (0.0, 1.0, 0.62).
  const tomlFloat = (n) => (Number.isInteger(n) ? n.toFixed(1) : String(n));

  let toastTimer = 0;
  function toast(message) {
    const t = el('toast');
    t.textContent = message;
    t.classList.add('show');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove('show'), 1800);
  }

  function show(view) {
    for (const id of ['gate', 'gallery', 'editor', 'fatal']) el(id).hidden = id !== view;
  }

  function fatal(message) {
    el('fatal').textContent = message;
    show('fatal');
  }

  // Hash routes: #folder=cats and #image=cats/kitten.png&w=400&fmt=webp
  const encodePath = (p) => encodeURIComponent(p).replace(/%2F/g, '/');

  function currentRoute() {
    const q = new URLSearchParams(location.hash.slice(1));
    if (q.has('image')) return { view: 'editor', path: q.get('image'), query: q };
    return { view: 'gallery', path: q.get('folder') || '' };
  }

  const folderHref = (path) => (path ? '#folder=' + encodePath(path) : '#');
  const parentOf = (path) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
  const baseName = (path) => path.slice(path.lastIndexOf('/') + 1);

  // ---------------------------------------------------------------- start

  async function start() {
    let status;
    try {
      status = await api('/api/status');
    } catch (e) {
      if (e.status === 401) return lock(state.token ? 'That token was not accepted.' : '');
      if (e.status === 404) return fatal('The studio page is switched off on this server.');
      return fatal(e.message);
    }
    state.status = status;
    if (!state.started) {
      state.started = true;
      window.addEventListener('hashchange', route);
    }
    el('admin-toggle').hidden = !status.admin;
    setupLimits(status.images);
    renderSync();
    if (state.token && status.admin) {
      if (status.require_token || (await tokenWorks())) await signedIn();
      else saveToken('');
    }
    route();
  }

  // Presets and allowed sizes, as this server's configuration has them.
  function setupLimits(images) {
    const names = Object.keys(images.presets || {});
    const select = el('preset');
    select.replaceChildren(...(images.presets_only ? [] : [new Option('none', '')]),
      ...names.map((n) => {
        const o = new Option(n, n);
        o.title = images.presets[n];
        return o;
      }));
    el('preset-row').hidden = names.length === 0;
    for (const [id, list] of [['allowed-w', images.allowed_widths], ['allowed-h', images.allowed_heights]]) {
      el(id).replaceChildren(...list.map((v) => new Option(String(v))));
    }
  }

  function lock(message) {
    show('gate');
    el('gate-error').textContent = message;
    el('gate-token').value = '';
    el('gate-token').focus();
  }

  function saveToken(token) {
    state.token = token;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    state.signed.clear();
  }

  function route() {
    const r = currentRoute();
    if (r.view === 'editor') openEditor(r.path, r.query);
    else showFolder(r.path);
  }

  // ---------------------------------------------------------------- sync status

  function renderSync() {
    const box = el('sync');
    const git = state.git;
    const source = state.status && state.status.source;
    box.replaceChildren();
    const dot = document.createElement('span');
    dot.className = 'state';
    dot.setAttribute('aria-hidden', 'true');
    box.append(dot);
    const add = (text, asCode) => {
      const node = document.createElement(asCode ? 'code' : 'span');
      node.textContent = text;
      box.append(node);
    };
    if (git && git.commit) {
      add(short(git.commit), true);
      if (git.branch) add('· ' + git.branch);
      const sync = git.last_sync || {};
      const when = toDate(sync.at || sync.time);
      const failed = sync.result === 'failed';
      dot.classList.add(failed ? 'bad' : 'ok');
      if (when) add('· synced ' + ago(when));
      box.title = [
        'Served commit ' + git.commit,
        when ? 'Last sync ' + when.toLocaleString() + (sync.result ? ' (' + sync.result + ')' : '') : '',
        git.last_error ? 'Last error: ' + (git.last_error.message || git.last_error) : '',
      ].filter(Boolean).join('\n');
    } else if (source && source.kind === 'git') {
      dot.classList.add('ok');
      add(short(source.commit), true);
      if (source.branch) add('· ' + source.branch);
      const synced = toDate(source.synced_at);
      const when = toDate(source.committed_at);
      if (synced) add('· synced ' + ago(synced));
      else if (when) add('· committed ' + ago(when));
      box.title = 'Served commit ' + source.commit;
    } else if (source) {
      add('plain folder');
      box.title = 'The images are served from a folder, not a git checkout.';
    }
    box.hidden = !source && !git;
  }

  // ---------------------------------------------------------------- admin

  function toggleAdmin(open) {
    const panel = el('admin');
    const willOpen = open === undefined ? panel.hidden : open;
    panel.hidden = !willOpen;
    el('admin-toggle').setAttribute('aria-expanded', String(willOpen));
    if (!willOpen) return;
    const first = state.token
      ? [...el('tools').querySelectorAll('button')].find((b) => b.offsetParent !== null)
      : el('login-token');
    if (first) first.focus();
  }

  // An empty signing request is the cheapest call that checks the admin token.
  async function tokenWorks() {
    try {
      await api('/api/sign', { method: 'POST', body: { urls: [] } });
      return true;
    } catch (e) {
      if (e.status !== 401) el('login-error').textContent = e.message;
      return false;
    }
  }

  async function signIn(token) {
    el('login-error').textContent = '';
    saveToken(token);
    if (!(await tokenWorks())) {
      saveToken('');
      if (!el('login-error').textContent) el('login-error').textContent = 'That token was not accepted.';
      return;
    }
    el('login-token').value = '';
    el('login-error').textContent = '';
    await signedIn();
    if (state.editor) schedulePreview(0);
  }

  async function signedIn() {
    el('login').hidden = true;
    el('tools').hidden = false;
    el('admin-toggle').classList.add('signed-in');
    el('admin-toggle-label').textContent = 'Admin';
    await Promise.all([loadGit(), loadCacheStats()]);
    el('no-tools').hidden = !(el('git-tool').hidden && el('cache-tool').hidden);
  }

  function signOut() {
    saveToken('');
    state.git = null;
    el('login').hidden = false;
    el('tools').hidden = true;
    el('admin-toggle').classList.remove('signed-in');
    el('admin-result').textContent = '';
    renderSync();
    if (state.status && state.status.require_token) {
      el('admin').hidden = true;
      return lock('');
    }
    if (state.editor) schedulePreview(0);
  }

  function facts(dl, rows) {
    dl.replaceChildren();
    for (const [k, v, title] of rows) {
      if (v == null || v === '') continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (title) dd.title = title;
      dl.append(dt, dd);
    }
  }

  async function loadGit() {
    const tool = el('git-tool');
    try {
      state.git = await api('/admin/git/status');
    } catch (e) {
      state.git = null;
      if (e.status === 401) return signOut();
      if (e.code === 'not_a_git_repository') {
        tool.hidden = false;
        el('pull').hidden = true;
        facts(el('git-facts'), [['Source', 'a plain folder (no git)']]);
      } else {
        tool.hidden = true;
      }
      renderSync();
      return;
    }
    const g = state.git;
    const sync = g.last_sync || {};
    const when = toDate(sync.at || sync.time);
    tool.hidden = false;
    el('pull').hidden = false;
    facts(el('git-facts'), [
      ['Commit', short(g.commit), g.commit],
      ['Branch', g.branch],
      ['Remote', g.remote],
      ['Last sync', when ? ago(when) + (sync.result ? ' · ' + sync.result : '') : sync.result, when ? when.toLocaleString() : ''],
      ['Last error', g.last_error ? (g.last_error.message || String(g.last_error)) : ''],
    ]);
    renderSync();
  }

  async function loadCacheStats() {
    const tool = el('cache-tool');
    let stats;
    try {
      stats = await api('/admin/cache/stats');
    } catch (e) {
      if (e.status === 401) return signOut();
      tool.hidden = e.status === 404;
      if (!tool.hidden) facts(el('cache-facts'), [['Stats', e.message]]);
      return;
    }
    tool.hidden = false;
    const rows = [];
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj || {})) {
        const label = (prefix ? prefix + ' ' : '') + k.replace(/_/g, ' ');
        if (v && typeof v === 'object' && !Array.isArray(v)) { if (!prefix) walk(v, k); continue; }
        if (typeof v === 'number' && /bytes/.test(k)) rows.push([label, formatBytes(v)]);
        else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') rows.push([label, String(v)]);
      }
    };
    walk(stats, '');
    facts(el('cache-facts'), rows.slice(0, 10));
  }

  function adminResult(message, ok) {
    const r = el('admin-result');
    r.textContent = message;
    r.className = 'result ' + (ok ? 'ok' : 'bad');
  }

  async function busy(button, job) {
    button.disabled = true;
    try { await job(); } finally { button.disabled = false; }
  }

  async function pull() {
    await busy(el('pull'), async () => {
      adminResult('Pulling…', true);
      try {
        const r = await api('/admin/git/pull', { method: 'POST' });
        const changed = Array.isArray(r.changed) ? r.changed.length : r.changed;
        const took = r.duration_ms != null ? ' in ' + Math.round(r.duration_ms) + ' ms' : '';
        if (r.updated) {
          adminResult('Updated ' + short(r.from) + ' → ' + short(r.to) + ': ' + (changed ?? 0) + ' file(s) changed, '
            + (r.invalidated ?? 0) + ' cached variant(s) dropped' + took + '.', true);
        } else {
          adminResult('Already up to date' + (r.to ? ' at ' + short(r.to) : '') + took + '.', true);
        }
        state.folders.clear();
        state.infos.clear();
        await Promise.all([loadGit(), loadCacheStats()]);
        route();
      } catch (e) {
        if (e.status === 401) return signOut();
        adminResult('Pull failed: ' + e.message, false);
        loadGit();
      }
    });
  }

  async function clearCache() {
    const folder = currentFolder();
    const scoped = el('clear-scope').checked && folder;
    await busy(el('clear'), async () => {
      try {
        const r = await api('/admin/cache/clear', { method: 'POST', body: scoped ? { prefix: folder } : {} });
        adminResult('Removed ' + (r.removed_entries ?? 0) + ' cached variant(s)' + (scoped ? ' under ' + folder + '/' : '')
          + ', freed ' + formatBytes(r.freed_bytes ?? 0) + '.', true);
        loadCacheStats();
      } catch (e) {
        if (e.status === 401) return signOut();
        adminResult('Clearing failed: ' + e.message, false);
      }
    });
  }

  function currentFolder() {
    const r = currentRoute();
    return r.view === 'editor' ? parentOf(r.path) : r.path;
  }

  function updateClearScope() {
    const folder = currentFolder();
    el('clear-scope-row').hidden = !folder;
    el('clear-folder').textContent = folder + '/';
  }

  // ---------------------------------------------------------------- gallery

  async function loadFolder(path) {
    if (state.folders.has(path)) return state.folders.get(path);
    const data = await api('/api/tree?path=' + encodeURIComponent(path));
    state.folders.set(path, data);
    return data;
  }

  function loadInfo(url) {
    if (!state.infos.has(url)) {
      const p = api(url);
      p.catch(() => state.infos.delete(url));
      state.infos.set(url, p);
    }
    return state.infos.get(url);
  }

  function renderCrumbs(path) {
    const ol = el('crumbs');
    ol.replaceChildren();
    const parts = path ? path.split('/') : [];
    const items = [['All images', '']];
    parts.forEach((p, i) => items.push([p, parts.slice(0, i + 1).join('/')]));
    items.pop();
    for (const [label, target] of items) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = folderHref(target);
      a.textContent = label;
      li.append(a);
      ol.append(li);
    }
    ol.parentElement.hidden = items.length === 0;
  }

  async function showFolder(path) {
    state.editor = null;
    stopPreview();
    const wasHidden = el('gallery').hidden;
    show('gallery');
    updateClearScope();
    renderCrumbs(path);
    el('folder-title').textContent = path ? baseName(path) : 'All images';
    document.title = (path ? path + ' · ' : '') + 'imgserver studio';
    let data;
    try {
      data = await loadFolder(path);
    } catch (e) {
      if (e.status === 401) return lock('The token is no longer accepted.');
      el('grid').replaceChildren();
      el('folders').replaceChildren();
      el('count').textContent = '';
      el('empty').hidden = false;
      el('empty').textContent = e.status === 404 ? 'There is no such folder.' : e.message;
      return;
    }
    const r = currentRoute();
    if (r.view !== 'gallery' || r.path !== path) return;
    renderGrid(data);
    if (!wasHidden) el('folder-title').focus({ preventScroll: true });
  }

  const infoObserver = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      infoObserver.unobserve(e.target);
      queueInfo(e.target);
    }
  }, { rootMargin: '300px' });

  const infoQueue = [];
  let infoActive = 0;
  function queueInfo(card) {
    infoQueue.push(card);
    pumpInfo();
  }
  function pumpInfo() {
    while (infoActive < INFO_PARALLEL && infoQueue.length) {
      const card = infoQueue.shift();
      if (!card.isConnected) continue;
      infoActive++;
      const meta = card.querySelector('.meta');
      loadInfo(card.dataset.info)
        .then((info) => {
          meta.textContent = info.width + '×' + info.height + ' · ' + formatName(info.format) + ' · ' + formatBytes(info.bytes);
        })
        .catch((e) => {
          if (e.status === 422 || e.status === 404) {
            card.classList.add('broken');
            meta.textContent = e.status === 422 ? 'not a supported image' : 'missing';
          }
        })
        .finally(() => { infoActive--; pumpInfo(); });
    }
  }

  function imageCard(image) {
    const li = el('image-card').content.firstElementChild.cloneNode(true);
    const a = li.querySelector('a');
    a.href = '#image=' + encodePath(image.path);
    li.querySelector('.name').textContent = image.name;
    li.querySelector('.name').title = image.name;
    li.querySelector('.meta').textContent = formatBytes(image.bytes);
    li.dataset.info = image.info;
    li.dataset.path = image.path;
    const img = li.querySelector('img');
    if (image.thumb.srcset) {
      img.sizes = THUMB_SIZES;
      img.srcset = image.thumb.srcset;
    }
    img.src = image.thumb.src;
    // A 429 or 503 under a burst of misses deserves a few more tries, backing off (a fresh
    // element loads again; the URL itself must not change, it may be signed). A file that
    // /info/ already found unsupported is not retried.
    const watch = (node, attempt) => node.addEventListener('error', () => {
      if (attempt >= 3 || li.classList.contains('broken')) {
        li.classList.add('broken');
        return;
      }
      setTimeout(() => {
        const again = node.cloneNode();
        watch(again, attempt + 1);
        node.replaceWith(again);
      }, 1500 * 2 ** attempt);
    }, { once: true });
    watch(img, 0);
    infoObserver.observe(li);
    return li;
  }

  function folderCard(folder) {
    const li = el('folder-card').content.firstElementChild.cloneNode(true);
    li.querySelector('a').href = folderHref(folder.path);
    li.dataset.path = folder.path;
    li.querySelector('.name').textContent = folder.name;
    li.querySelector('.name').title = folder.name;
    return li;
  }

  function renderGrid(data) {
    infoObserver.disconnect();
    infoQueue.length = 0;
    el('folders').replaceChildren(...data.folders.map(folderCard));
    const frag = document.createDocumentFragment();
    for (const i of data.images) frag.append(imageCard(i));
    el('grid').replaceChildren(frag);
    const parts = [];
    if (data.images.length) parts.push(data.images.length + (data.images.length === 1 ? ' image' : ' images'));
    if (data.folders.length) parts.push(data.folders.length + (data.folders.length === 1 ? ' folder' : ' folders'));
    if (data.other_files) parts.push(data.other_files + ' other file' + (data.other_files === 1 ? '' : 's') + ' not shown');
    if (data.truncated) parts.push('list truncated');
    el('count').textContent = parts.join(' · ');
    el('empty').hidden = data.images.length + data.folders.length > 0;
    el('empty').textContent = 'No images in this folder.';
  }

  // ---------------------------------------------------------------- editor

  function defaultParams() {
    const images = state.status ? state.status.images : { presets: {} };
    const preset = images.presets_only ? Object.keys(images.presets)[0] || '' : '';
    return {
      preset, w: null, h: null, fit: 'cover', g: 'center', fp: null,
      crop: null, trim: null, rot: 0, flip: '', blur: null, sharpen: null, pad: null,
      fmt: '', q: null, interlace: false, lossless: false, dpr: 1, bg: 'ffffff', alpha: 255,
    };
  }

  // ---- the values the image operations take, as the server accepts them (null: off or invalid)

  const ROTATIONS = [0, 90, 180, 270];
  const RANGES = { trim: [1, 255], blur: [0.3, 100], sharpen: [0.3, 10], pad: [0, 1000] };
  const inRange = (n, [lo, hi]) => Number.isFinite(n) && n >= lo && n <= hi;
  const text = (v) => String(v == null ? '' : v).trim();
  // Plain numbers only: no sign, no exponent, no hex.
  const integer = (v) => (/^\d{1,6}$/.test(text(v)) ? Number(text(v)) : NaN);
  const decimal = (v) => (/^(\d+\.?\d*|\.\d+)$/.test(text(v)) ? Number(text(v)) : NaN);
  const round = (n, places) => Math.round(n * 10 ** places) / 10 ** places;

  function sigmaOf(v, range) {
    const n = round(decimal(v), 2);
    return inRange(n, range) ? n : null;
  }

  function trimOf(v) {
    const n = integer(v);
    return inRange(n, RANGES.trim) ? n : null;
  }

  // A focal point: [x, y] as fractions 0-1, at most 3 decimals.
  function fpOf(x, y) {
    const f = [decimal(x), decimal(y)].map((n) => round(n, 3));
    return f.every((n) => inRange(n, [0, 1])) ? f : null;
  }

  // Padding: [top, right, bottom, left] from one value or four; null when none (all zero).
  function padOf(values) {
    if (values.length !== 1 && values.length !== 4) return null;
    const n = values.map((v) => (text(v) === '' ? 0 : integer(v)));
    if (!n.every((v) => inRange(v, RANGES.pad))) return null;
    const four = n.length === 1 ? [n[0], n[0], n[0], n[0]] : n;
    return four.some((v) => v > 0) ? four : null;
  }
  const padText = (pad) => (pad.every((v) => v === pad[0]) ? String(pad[0]) : pad.join(','));

  // A crop "x,y,w,h" from four values: integer pixels, or fractions of the source when all four
  // are written with a decimal point. Empty values are 0 (x, y) and the rest of the image (w, h),
  // which needs the source's size; pixels are clamped to it. null: no crop; undefined: invalid.
  function cropOf(values, info) {
    const s = values.map(text);
    if (s.length !== 4 || s.every((v) => v === '')) return null;
    if (s.every((v) => v.includes('.'))) {
      const [x, y, w, h] = s.map((v) => round(decimal(v), 3));
      if (![x, y, w, h].every((n) => inRange(n, [0, 1])) || x >= 1 || y >= 1) return undefined;
      const fw = Math.min(w, round(1 - x, 3));
      const fh = Math.min(h, round(1 - y, 3));
      if (fw <= 0 || fh <= 0) return undefined;
      if (x === 0 && y === 0 && fw === 1 && fh === 1) return null;
      const f = (n) => (Number.isInteger(n) ? n + '.0' : String(n));
      return [x, y, fw, fh].map(f).join(',');
    }
    const n = s.map((v) => (v === '' ? null : integer(v)));
    if (n.some((v) => Number.isNaN(v))) return undefined;
    let [x, y, w, h] = n;
    x = x || 0;
    y = y || 0;
    if (info && info.width && info.height) {
      if (x >= info.width || y >= info.height) return undefined;
      w = Math.min(w == null ? info.width : w, info.width - x);
      h = Math.min(h == null ? info.height : h, info.height - y);
      if (x === 0 && y === 0 && w === info.width && h === info.height) return null;
    } else if (w == null || h == null) {
      return undefined;
    }
    if (!(w >= 1 && h >= 1)) return undefined;
    return [x, y, w, h].join(',');
  }

  // The crop as fractions of the source, for drawing it over the original.
  function cropFractions(crop, info) {
    const n = crop.split(',').map(Number);
    if (crop.includes('.')) return n;
    if (!info || !info.width) return null;
    return [n[0] / info.width, n[1] / info.height, n[2] / info.width, n[3] / info.height];
  }

  const hex2 = (n) => Math.round(n).toString(16).padStart(2, '0');

  function paramsFromQuery(q) {
    const p = defaultParams();
    const int = (v) => (/^\d{1,5}$/.test(v || '') && +v > 0 ? +v : null);
    if (q.has('preset')) p.preset = q.get('preset');
    p.w = int(q.get('w'));
    p.h = int(q.get('h'));
    if (q.get('fit')) p.fit = q.get('fit');
    if (q.get('g')) p.g = q.get('g');
    if (q.has('fmt')) p.fmt = q.get('fmt');
    p.q = int(q.get('q'));
    if (q.get('dpr')) p.dpr = +q.get('dpr') || 1;
    const bg = q.get('bg') || '';
    if (/^[0-9a-f]{6}([0-9a-f]{2})?$/i.test(bg)) {
      p.bg = bg.slice(0, 6).toLowerCase();
      p.alpha = bg.length === 8 ? parseInt(bg.slice(6), 16) : 255;
    }
    if (q.has('fp')) {
      const parts = q.get('fp').split(',');
      p.fp = parts.length === 2 ? fpOf(parts[0], parts[1]) : null;
      if (p.fp) p.g = 'center'; // fp and g together are refused: the focal point wins
    }
    if (q.has('crop')) p.crop = cropOf(q.get('crop').split(','), null) || null;
    p.trim = trimOf(q.get('trim'));
    if (ROTATIONS.includes(Number(q.get('rot')))) p.rot = Number(q.get('rot'));
    const flip = (q.get('flip') || '').toLowerCase();
    p.flip = (flip.includes('h') ? 'h' : '') + (flip.includes('v') ? 'v' : '');
    if (!/^[hv]{1,2}$/.test(flip)) p.flip = '';
    p.blur = sigmaOf(q.get('blur'), RANGES.blur);
    p.sharpen = sigmaOf(q.get('sharpen'), RANGES.sharpen);
    if (q.has('pad')) p.pad = padOf(q.get('pad').split(','));
    p.interlace = ['1', 'true'].includes(q.get('interlace'));
    p.lossless = ['1', 'true'].includes(q.get('lossless'));
    const given = ['preset', 'w', 'h', 'fit', 'g', 'fmt', 'q', 'dpr', 'bg', 'fp', 'crop', 'trim', 'rot', 'flip',
      'blur', 'sharpen', 'pad', 'interlace', 'lossless'].some((k) => q.has(k));
    return { params: p, given };
  }

  const sourceFormat = () => (state.editor && state.editor.info ? state.editor.info.format : '');
  // A transformed SVG is rasterised: fmt=original means PNG for it.
  const outputFormat = (p) => p.fmt || (sourceFormat() === 'svg' ? 'png' : sourceFormat());
  // The quality a URL without q gets: the output format's own default (images.quality.*).
  function defaultQuality(p) {
    if (!state.status) return 80;
    const images = state.status.images;
    const own = p && images.quality ? images.quality[outputFormat(p)] : null;
    return own || images.default_quality;
  }

  function usesQuality(p) {
    const f = outputFormat(p);
    // Lossless WebP has no quality to choose.
    return (f === 'auto' || LOSSY.has(f)) && !(usesLossless(p) && p.lossless);
  }
  const boxed = (p) => Boolean(p.w && p.h);
  const usesGravity = (p) => boxed(p) && (p.fit === 'cover' || p.fit === 'contain');
  // Smart gravity and the focal point choose what `cover` keeps.
  const usesFocus = (p) => boxed(p) && p.fit === 'cover';
  // The repository's focus (/info/'s) is what cover centres on when the URL has neither g nor fp.
  const usesRepoFocus = (p) => usesFocus(p) && !p.fp && (!p.g || p.g === 'center');
  const letterboxed = (p) => boxed(p) && p.fit === 'contain';
  // bg letterboxes `contain`, fills the padding, and flattens transparency when a source that may
  // have it becomes JPEG.
  const usesBackground = (p) => letterboxed(p) || Boolean(p.pad)
    || (outputFormat(p) === 'jpeg' && sourceFormat() !== 'jpeg');
  // A transparent bg (rrggbbaa) only for what it fills, and never in JPEG.
  const usesAlpha = (p) => (letterboxed(p) || Boolean(p.pad)) && outputFormat(p) !== 'jpeg';
  const usesInterlace = (p) => ['jpeg', 'png'].includes(outputFormat(p));
  // The server takes lossless only beside an explicit fmt=webp (not a WebP source kept as it is).
  const usesLossless = (p) => p.fmt === 'webp';

  // The query for params, in a fixed readable order, leaving out what equals the default or does
  // not apply.
  function queryOf(p) {
    const out = [];
    if (p.preset) out.push('preset=' + encodeURIComponent(p.preset));
    if (p.w) out.push('w=' + p.w);
    if (p.h) out.push('h=' + p.h);
    if (boxed(p) && p.fit && p.fit !== 'cover') out.push('fit=' + p.fit);
    if (usesGravity(p) && !p.fp && p.g && p.g !== 'center' && (p.g !== 'smart' || usesFocus(p))) out.push('g=' + p.g);
    if (usesFocus(p) && p.fp) out.push('fp=' + p.fp.join(','));
    if (p.crop) out.push('crop=' + p.crop);
    if (p.trim) out.push('trim=' + p.trim);
    if (p.rot) out.push('rot=' + p.rot);
    if (p.flip) out.push('flip=' + p.flip);
    if (p.blur) out.push('blur=' + p.blur);
    if (p.sharpen) out.push('sharpen=' + p.sharpen);
    if (p.pad) out.push('pad=' + padText(p.pad));
    if (usesBackground(p)) {
      const alpha = usesAlpha(p) && p.alpha < 255 ? hex2(p.alpha) : '';
      if (alpha || (p.bg && p.bg !== 'ffffff')) out.push('bg=' + (p.bg || 'ffffff') + alpha);
    }
    if (p.fmt) out.push('fmt=' + p.fmt);
    if (usesQuality(p) && p.q && p.q !== defaultQuality(p)) out.push('q=' + p.q);
    if (usesInterlace(p) && p.interlace) out.push('interlace=1');
    if (usesLossless(p) && p.lossless) out.push('lossless=1');
    if (p.dpr && p.dpr !== 1) out.push('dpr=' + p.dpr);
    return out.join('&');
  }

  function urlOf(entry, p) {
    const q = queryOf(p);
    return q ? entry.url + '?' + q : entry.original;
  }

  async function openEditor(path, query) {
    stopPreview();
    show('editor');
    updateClearScope();
    const parent = parentOf(path);
    el('back').href = folderHref(parent);
    el('back').textContent = parent ? baseName(parent) : 'All images';
    el('editor-title').textContent = baseName(path);
    document.title = baseName(path) + ' · imgserver studio';
    const { params, given } = paramsFromQuery(query);
    const same = state.editor && state.editor.entry.path === path;
    if (!same) {
      el('source-meta').textContent = '';
      el('orig-meta').textContent = '';
      el('res-meta').textContent = '';
      el('orig-img').removeAttribute('src');
      el('res-img').removeAttribute('src');
      el('res-error').hidden = true;
      el('aspects').hidden = true;
      for (const a of ASPECTS) el(a.id).removeAttribute('src');
      setCode(el('out-toml'), '');
    }
    let entry;
    try {
      const folder = await loadFolder(parent);
      entry = folder.images.find((i) => i.path === path);
    } catch (e) {
      if (e.status === 401) return lock('The token is no longer accepted.');
    }
    if (!entry) {
      state.editor = null;
      el('source-meta').textContent = 'There is no such image.';
      setControlsEnabled(false);
      return;
    }
    if (!same) state.srcsets.clear();
    state.editor = { entry, info: same ? state.editor.info : null, params, alt: same ? state.editor.alt : '' };
    setControlsEnabled(true);
    writeControls();
    el('editor-title').focus({ preventScroll: true });
    if (!state.editor.info) {
      el('orig-img').src = entry.original;
      try {
        state.editor.info = await loadInfo(entry.info);
      } catch (e) {
        el('source-meta').textContent = e.message;
        el('res-error').textContent = e.message;
        el('res-error').hidden = false;
        setControlsEnabled(false);
        return;
      }
      if (!state.editor || state.editor.entry !== entry) return;
      const info = state.editor.info;
      const desc = info.width + '×' + info.height + ' · ' + formatName(info.format) + ' · ' + formatBytes(info.bytes);
      el('source-meta').textContent = desc;
      el('orig-meta').textContent = desc;
      if (!given && !state.editor.params.preset) state.editor.params.w = Math.min(800, info.width);
      state.editor.alt = info.alt || '';
      writeControls();
      updateHash();
    }
    schedulePreview(0);
  }

  function setControlsEnabled(on) {
    for (const c of el('controls').elements) c.disabled = !on;
    if (on) updateControlStates();
  }

  function radio(name) {
    const c = document.querySelector('input[name="' + name + '"]:checked');
    return c ? c.value : '';
  }

  function setRadio(form, name, value) {
    for (const r of form.querySelectorAll('input[name="' + name + '"]')) r.checked = r.value === String(value);
  }

  const CROP_INPUTS = ['crop-x', 'crop-y', 'crop-w', 'crop-h'];
  const PAD_INPUTS = ['pad-t', 'pad-r', 'pad-b', 'pad-l'];

  function writeControls() {
    const p = state.editor.params;
    const f = el('controls');
    const limits = state.status.images;
    const info = state.editor.info;
    el('w').max = limits.max_width;
    el('h').max = limits.max_height;
    el('preset').value = p.preset || '';
    el('w').value = p.w || '';
    el('h').value = p.h || '';
    setRadio(f, 'fit', p.fit || 'cover');
    setRadio(f, 'g', p.fp ? '' : p.g || 'center');
    el('fp-x').value = p.fp ? p.fp[0] : '';
    el('fp-y').value = p.fp ? p.fp[1] : '';
    el('alt').value = state.editor.alt;
    const crop = p.crop ? p.crop.split(',') : ['', '', '', ''];
    CROP_INPUTS.forEach((id, i) => { el(id).value = crop[i]; });
    if (info) {
      el('crop-x').max = el('crop-w').max = info.width;
      el('crop-y').max = el('crop-h').max = info.height;
    }
    el('trim').value = p.trim || '';
    setRadio(f, 'rot', p.rot || 0);
    el('flip-h').checked = p.flip.includes('h');
    el('flip-v').checked = p.flip.includes('v');
    el('blur').value = p.blur == null ? '' : p.blur;
    el('sharpen').value = p.sharpen == null ? '' : p.sharpen;
    const sides = Boolean(p.pad) && !p.pad.every((v) => v === p.pad[0]);
    el('pad-sides').checked = sides;
    el('pad').value = p.pad && !sides ? p.pad[0] : '';
    PAD_INPUTS.forEach((id, i) => { el(id).value = sides ? p.pad[i] : ''; });
    setRadio(f, 'fmt', p.fmt || '');
    setRadio(f, 'dpr', p.dpr || 1);
    el('bg').value = '#' + (p.bg || 'ffffff');
    el('alpha').value = p.alpha == null ? 255 : p.alpha;
    el('q').value = p.q || defaultQuality(p);
    el('interlace').checked = Boolean(p.interlace);
    el('lossless').checked = Boolean(p.lossless);
    // A group with something set in it opens.
    if (p.crop || p.trim || p.rot || p.flip) el('crop-group').open = true;
    if (p.blur || p.sharpen || p.pad) el('effects-group').open = true;
    for (const input of f.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    updateControlStates();
  }

  // Marks a field whose text is there but is not a value the server takes.
  function flag(input, bad) {
    if (bad) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function readControls() {
    const p = state.editor.params;
    const info = state.editor.info;
    const int = (v) => {
      const n = Math.round(Number(v));
      return v !== '' && n > 0 ? n : null;
    };
    const filled = (id) => el(id).value.trim() !== '' || (el(id).validity && el(id).validity.badInput);
    p.preset = el('preset').value;
    p.w = int(el('w').value);
    p.h = int(el('h').value);
    p.fit = radio('fit') || 'cover';
    p.g = radio('g') || 'center';

    p.fp = fpOf(el('fp-x').value, el('fp-y').value);
    const fpTouched = filled('fp-x') || filled('fp-y');
    for (const id of ['fp-x', 'fp-y']) flag(el(id), fpTouched && !p.fp && !inRange(decimal(el(id).value), [0, 1]));

    const crop = cropOf(CROP_INPUTS.map((id) => el(id).value), info);
    p.crop = crop || null;
    for (const id of CROP_INPUTS) flag(el(id), crop === undefined && filled(id));

    p.trim = trimOf(el('trim').value);
    flag(el('trim'), filled('trim') && !p.trim);
    p.rot = Number(radio('rot')) || 0;
    p.flip = (el('flip-h').checked ? 'h' : '') + (el('flip-v').checked ? 'v' : '');
    for (const k of ['blur', 'sharpen']) {
      p[k] = sigmaOf(el(k).value, RANGES[k]);
      flag(el(k), filled(k) && !p[k]);
    }
    const padIds = el('pad-sides').checked ? PAD_INPUTS : ['pad'];
    p.pad = padOf(padIds.map((id) => el(id).value));
    for (const id of ['pad', ...PAD_INPUTS]) {
      flag(el(id), padIds.includes(id) && filled(id) && !inRange(integer(el(id).value), RANGES.pad));
    }

    p.fmt = radio('fmt');
    p.dpr = Number(radio('dpr')) || 1;
    p.bg = el('bg').value.replace('#', '').toLowerCase();
    p.alpha = Math.max(0, Math.min(255, Math.round(Number(el('alpha').value))));
    if (!Number.isFinite(p.alpha)) p.alpha = 255;
    const q = Number(el('q').value);
    p.q = q === defaultQuality(p) ? null : q;
    p.interlace = el('interlace').checked;
    p.lossless = el('lossless').checked;
  }

  function updateControlStates() {
    const p = state.editor ? state.editor.params : defaultParams();
    el('fit-set').disabled = !boxed(p);
    el('g-set').disabled = !usesGravity(p);
    el('g-smart').disabled = !usesFocus(p);
    el('fp-why').hidden = usesFocus(p);
    el('bg-row').hidden = !usesBackground(p);
    el('alpha-row').hidden = !usesAlpha(p);
    el('alpha-out').textContent = Math.round((Number(el('alpha').value) / 255) * 100) + '%';
    el('q-row').hidden = !usesQuality(p);
    el('q-out').textContent = el('q').value;
    el('interlace-row').hidden = !usesInterlace(p);
    el('interlace-label').textContent = outputFormat(p) === 'png' ? 'interlaced' : 'progressive';
    el('lossless-row').hidden = !usesLossless(p);
    el('out-opts').hidden = el('interlace-row').hidden && el('lossless-row').hidden;
    const sides = el('pad-sides').checked;
    el('pad-all-row').hidden = sides;
    el('pad-four').hidden = !sides;
    el('crop-sum').textContent = [
      p.crop && 'crop', p.trim && 'trim', p.rot && p.rot + '°', p.flip && 'flip ' + p.flip,
    ].filter(Boolean).join(' · ');
    el('effects-sum').textContent = [
      p.blur && 'blur', p.sharpen && 'sharpen', p.pad && 'pad',
    ].filter(Boolean).join(' · ');
    writeMetadata();
    updateOverlays();
  }

  const altText = () => (state.editor ? state.editor.alt.trim() : '');

  // What the repository's .imgserver.toml says of this image, and the lines to commit there: the
  // picked focal point, else the repository's, and the alt text, each only when it has a value.
  function writeMetadata() {
    const ed = state.editor;
    if (!ed) return;
    const p = ed.params;
    const info = ed.info || {};
    const repo = info.focus;
    el('fp-repo').hidden = !repo;
    if (repo) {
      const why = usesRepoFocus(p) ? ' · in use'
        : p.fp ? ' · replaced by the picked point'
          : usesFocus(p) ? ' · replaced by the gravity' : '';
      el('fp-repo-text').textContent = 'repository focus ' + repo.join(', ') + why;
    }
    el('alt-hint').textContent = info.alt
      ? (ed.alt === info.alt ? 'From the repository.' : 'Edited: the repository says “' + info.alt + '”.')
      : 'Say what the image shows; leave it empty for a decorative image.';

    const focus = p.fp || repo;
    const lines = ['[' + tomlString(baseName(ed.entry.path)) + ']'];
    if (focus) lines.push('focus = [' + focus.map(tomlFloat).join(', ') + ']');
    if (altText()) lines.push('alt = ' + tomlString(altText()));
    setCode(el('out-toml'), lines.join('\n'));
    const folder = parentOf(ed.entry.path);
    el('toml-file').textContent = (folder ? folder + '/' : '') + METADATA_FILE;
    el('toml-where').textContent = folder ? '' : ' in the top folder of the repository';
  }

  // The focal point's marker and the crop's frame over the original, placed on the image's box.
  function updateOverlays() {
    const img = el('orig-img');
    const marker = el('fp-marker');
    const repo = el('repo-marker');
    const box = el('crop-box');
    const ed = state.editor;
    const ready = Boolean(ed && img.getAttribute('src') && img.complete && img.naturalWidth && img.offsetWidth);
    const p = ed ? ed.params : null;
    const at = (fx, fy) => [img.offsetLeft + fx * img.offsetWidth, img.offsetTop + fy * img.offsetHeight];
    marker.hidden = !(ready && p.fp);
    if (!marker.hidden) {
      const [x, y] = at(p.fp[0], p.fp[1]);
      marker.style.left = x + 'px';
      marker.style.top = y + 'px';
      marker.classList.toggle('inactive', !usesFocus(p));
    }
    const focus = ready && ed.info ? ed.info.focus : null;
    repo.hidden = !focus;
    if (focus) {
      const [x, y] = at(focus[0], focus[1]);
      repo.style.left = x + 'px';
      repo.style.top = y + 'px';
      repo.classList.toggle('inactive', !usesRepoFocus(p));
    }
    const c = ready && p.crop ? cropFractions(p.crop, ed.info) : null;
    box.hidden = !c;
    if (c) {
      const [x, y] = at(c[0], c[1]);
      box.style.left = x + 'px';
      box.style.top = y + 'px';
      box.style.width = Math.min(c[2], 1 - c[0]) * img.offsetWidth + 'px';
      box.style.height = Math.min(c[3], 1 - c[1]) * img.offsetHeight + 'px';
    }
  }

  function updateHash() {
    const ed = state.editor;
    if (!ed) return;
    const q = queryOf(ed.params);
    history.replaceState(null, '', '#image=' + encodePath(ed.entry.path) + (q ? '&' + q : ''));
  }

  function onControlsInput(e) {
    if (!state.editor) return;
    const target = e && e.target;
    // The alt text is not in the URL: only the snippets and the TOML lines change.
    if (target && target.id === 'alt') {
      state.editor.alt = target.value;
      writeMetadata();
      refreshSnippets();
      return;
    }
    // Choosing a gravity replaces the focal point.
    if (target && target.name === 'g') {
      el('fp-x').value = '';
      el('fp-y').value = '';
    }
    // Switching between one padding and four carries the value over.
    if (target && target.id === 'pad-sides') {
      if (target.checked) {
        for (const id of PAD_INPUTS) el(id).value = el('pad').value;
      } else {
        el('pad').value = el('pad-t').value;
      }
    }
    readControls();
    // While there is a focal point no gravity is chosen (the server refuses both).
    if (state.editor.params.fp) setRadio(el('controls'), 'g', '');
    else if (!radio('g')) setRadio(el('controls'), 'g', state.editor.params.g);
    updateControlStates();
    updateHash();
    schedulePreview(PREVIEW_DELAY_MS);
  }

  // A click on the original sets the focal point there, as fractions of the image's box.
  function pickFocalPoint(e) {
    if (!state.editor || !state.editor.info || el('fp-x').disabled) return;
    const r = el('orig-img').getBoundingClientRect();
    if (!r.width || !r.height) return;
    const frac = (v) => round(Math.min(1, Math.max(0, v)), 3);
    el('fp-x').value = frac((e.clientX - r.left) / r.width);
    el('fp-y').value = frac((e.clientY - r.top) / r.height);
    onControlsInput({ target: el('fp-x') });
  }

  function clearFocalPoint() {
    el('fp-x').value = '';
    el('fp-y').value = '';
    onControlsInput({ target: el('fp-clear') });
  }

  function resetControls() {
    if (!state.editor) return;
    const info = state.editor.info;
    state.editor.params = defaultParams();
    if (info && !state.editor.params.preset) state.editor.params.w = Math.min(800, info.width);
    state.editor.alt = (info && info.alt) || '';
    writeControls();
    updateHash();
    schedulePreview(0);
  }

  // The sizes a snippet offers: 1x/2x of the chosen size, or a ladder of widths. The ladder is
  // the server's own (/srcset plans it from the source's header, within the limits, and signs
  // it), so the studio shows what a build tool or `imgserver srcset` gets.
  function srcsetPlan(p, fmt) {
    const base = Object.assign({}, p, { fmt: fmt === undefined ? p.fmt : fmt, dpr: 1 });
    if ((radio('mode') || 'density') === 'widths') {
      const q = queryOf(base);
      return { mode: 'server', url: state.editor.entry.srcset + '?' + (q ? q + '&' : '')
        + 'sizes=' + encodeURIComponent(sizesAttr(p)) + '&format=json' };
    }
    if (!p.w && !p.h && !p.preset) return { mode: 'single', items: [[base, '']] };
    return {
      mode: 'density',
      items: [[base, '1x'], [Object.assign({}, base, { dpr: 2 }), '2x']],
    };
  }

  // The answer of a /srcset/ URL, asked once per image; a refusal is kept as its message.
  function serverSrcset(url) {
    if (!state.srcsets.has(url)) {
      state.srcsets.set(url, api(url).then((reply) => ({ reply }), (e) => {
        if (e.status === 0 || e.status === 429 || e.status >= 500) state.srcsets.delete(url);
        return { error: e };
      }));
    }
    return state.srcsets.get(url);
  }

  function fallbackFormat(p) {
    if (['jpeg', 'png', 'gif'].includes(p.fmt)) return p.fmt;
    const src = sourceFormat();
    if (src === 'svg') return 'png';
    return src === 'png' || src === 'gif' ? src : 'jpeg';
  }

  // Every URL the editor shows, unsigned, keyed so the snippets can be written after signing.
  function plan() {
    const ed = state.editor;
    const p = ed.params;
    const main = urlOf(ed.entry, p);
    const img = srcsetPlan(p);
    // The server's <picture> leaves the format to it: its <source>s, then the source's family.
    const picture = img.mode === 'server' ? { server: srcsetPlan(p, '') } : {
      avif: srcsetPlan(p, 'avif'),
      webp: srcsetPlan(p, 'webp'),
      fallback: srcsetPlan(p, fallbackFormat(p)),
    };
    const aspects = ASPECTS.filter(aspectAllowed).map((a) => ({ id: a.id, url: urlOf(ed.entry, aspectParams(a, p)) }));
    const all = new Set([main, ...aspects.map((a) => a.url)]);
    for (const s of [img, ...Object.values(picture)]) {
      for (const item of s.items || []) all.add(urlOf(ed.entry, item[0]));
    }
    return { main, img, picture, aspects, all: [...all] };
  }

  // A crop preview: cover at its size, on the picked focal point, else without one (the server
  // then centres on the repository's focus, or the middle).
  function aspectParams(a, p) {
    return Object.assign(defaultParams(), { preset: '', w: a.w, h: a.h, fp: p.fp, fmt: ASPECT_FORMAT });
  }

  // The server takes the previews' sizes unless it renders presets only, or a list of sizes without them.
  function aspectAllowed(a) {
    const images = state.status.images;
    const takes = (list, n) => !list || !list.length || list.includes(n);
    return !images.presets_only && a.w <= images.max_width && a.h <= images.max_height
      && takes(images.allowed_widths, a.w) && takes(images.allowed_heights, a.h);
  }

  async function sign(urls) {
    if (!state.status.signing) return;
    const missing = urls.filter((u) => !state.signed.has(u) && u.includes('?'));
    if (!missing.length) return;
    if (!state.token) throw new ApiError(401, 'unauthorized', 'This server only renders signed URLs: sign in with the admin token to get them.');
    const r = await api('/api/sign', { method: 'POST', body: { urls: missing } });
    missing.forEach((u, i) => state.signed.set(u, r.urls[i]));
  }

  const signedOf = (url) => state.signed.get(url) || url;
  const absolute = (url) => location.origin + signedOf(url);

  // Signs what needs it and writes the URL and snippets; `current` says whether they still apply.
  async function refreshOutputs(current) {
    const urls = plan();
    const note = el('sign-note');
    let signed = true;
    try {
      await sign(urls.all);
      note.hidden = true;
    } catch (e) {
      signed = false;
      if (!current()) return null;
      note.textContent = e.status === 404
        ? 'This server only renders signed URLs, and signing needs an admin token configured on the server.'
        : e.message;
      note.hidden = false;
    }
    for (const s of [urls.img, urls.picture.server].filter((x) => x && x.mode === 'server')) {
      Object.assign(s, await serverSrcset(s.url));
    }
    if (!current() || !state.editor) return null;
    el('out-url').value = absolute(urls.main);
    writeSnippets(urls);
    writeAspects(urls.aspects, signed);
    return urls;
  }

  // Writes the snippets again (their srcset style or the alt text changed), signing what is new.
  function refreshSnippets() {
    const seq = state.preview.seq;
    refreshOutputs(() => seq === state.preview.seq);
  }

  // The crop previews load from their (signed) URLs; without a signature they cannot render, so
  // they are hidden then.
  function writeAspects(aspects, signed) {
    const ed = state.editor;
    const panel = el('aspects');
    panel.hidden = !aspects.length || !signed;
    if (panel.hidden) return;
    for (const a of ASPECTS) el(a.id).closest('.aspect').hidden = !aspects.some((x) => x.id === a.id);
    for (const a of aspects) {
      const img = el(a.id);
      const src = signedOf(a.url);
      if (img.getAttribute('src') === src) continue;
      img.closest('.aspect').classList.add('loading');
      img.src = src;
    }
    el('aspects-note').textContent = ed.params.fp ? 'Cover on the focal point you picked.'
      : ed.info && ed.info.focus ? 'Cover on the repository focus (no focal point picked).'
        : 'Cover on the middle: no focal point picked, none in the repository.';
  }

  function schedulePreview(delay) {
    clearTimeout(state.preview.timer);
    state.preview.timer = setTimeout(renderPreview, delay);
  }

  function stopPreview() {
    clearTimeout(state.preview.timer);
    state.preview.seq++;
    if (state.preview.controller) state.preview.controller.abort();
    state.preview.controller = null;
    el('res-frame').classList.remove('loading');
  }

  async function renderPreview() {
    const ed = state.editor;
    if (!ed) return;
    const seq = ++state.preview.seq;
    const urls = await refreshOutputs(() => seq === state.preview.seq);
    if (!urls) return;

    if (state.preview.controller) state.preview.controller.abort();
    const controller = new AbortController();
    state.preview.controller = controller;
    el('res-frame').classList.add('loading');
    el('res-error').hidden = true;
    const started = performance.now();
    let res, blob;
    try {
      res = await fetch(signedOf(urls.main), { headers: { Accept: PREVIEW_ACCEPT }, cache: 'no-store', signal: controller.signal });
      if (!res.ok) {
        let message = 'The server answered ' + res.status + '.';
        try { message = (await res.json()).error.message || message; } catch (e) { /* not JSON */ }
        throw new ApiError(res.status, 'preview', message);
      }
      blob = await res.blob();
    } catch (e) {
      if (seq !== state.preview.seq || e.name === 'AbortError') return;
      el('res-frame').classList.remove('loading');
      el('res-error').textContent = e.message;
      el('res-error').hidden = false;
      el('res-meta').textContent = '';
      return;
    }
    if (seq !== state.preview.seq) return;
    const total = performance.now() - started;
    const objectUrl = URL.createObjectURL(blob);
    const img = el('res-img');
    const old = state.preview.objectUrl;
    state.preview.objectUrl = objectUrl;
    img.onload = () => {
      if (old) URL.revokeObjectURL(old);
      if (seq !== state.preview.seq) return;
      el('res-frame').classList.remove('loading');
      state.preview.last = { width: img.naturalWidth, height: img.naturalHeight };
      img.dataset.url = signedOf(urls.main);
      describeResult(res, blob, total);
      writeSnippets(urls);
    };
    img.onerror = () => {
      if (seq !== state.preview.seq) return;
      el('res-frame').classList.remove('loading');
      el('res-error').textContent = 'This browser cannot display ' + formatName(formatFromMime(res.headers.get('Content-Type'))) + ', but the URL works.';
      el('res-error').hidden = false;
      describeResult(res, blob, total);
    };
    img.src = objectUrl;
  }

  function describeResult(res, blob, total) {
    const meta = el('res-meta');
    meta.replaceChildren();
    const fmt = formatFromMime(res.headers.get('Content-Type'));
    const img = el('res-img');
    const parts = [formatName(fmt)];
    if (img.naturalWidth) parts.push(img.naturalWidth + '×' + img.naturalHeight);
    const bytes = Number(res.headers.get('Content-Length')) || blob.size;
    parts.push(formatBytes(bytes));
    meta.append(parts.join(' · '));
    const info = state.editor && state.editor.info;
    if (info && info.bytes && bytes < info.bytes) {
      const saved = document.createElement('span');
      saved.className = 'good';
      saved.textContent = ' −' + Math.round((1 - bytes / info.bytes) * 100) + '%';
      meta.append(saved);
    }
    const timing = /render;dur=([\d.]+)/.exec(res.headers.get('Server-Timing') || '');
    const cache = res.headers.get('X-Cache') || '';
    const when = timing ? ' · rendered in ' + Number(timing[1]).toFixed(1) + ' ms' : '';
    meta.append(when + (cache ? ' · ' + cache : '') + ' · ' + Math.round(total) + ' ms total');
    meta.dataset.cache = cache;
    meta.dataset.bytes = String(bytes);
    meta.dataset.format = fmt;
  }

  // Width and height attributes for the snippets: the rendered size at 1x.
  function displaySize() {
    const last = state.preview.last;
    const ed = state.editor;
    if (!last || !ed) return null;
    const dpr = ed.params.dpr || 1;
    return { width: Math.round(last.width / dpr), height: Math.round(last.height / dpr) };
  }

  function srcsetText(entry, s) {
    return s.items.map(([p, d]) => absolute(urlOf(entry, p)) + (d ? ' ' + d : '')).join(', ');
  }

  // The server's URLs are relative; the snippets are pasted into other sites' pages. Candidates
  // are `URL descriptor` pairs joined by ", " (a URL holds no space, though it may hold commas).
  const absoluteSet = (srcset) => srcset.split(', ').map((c) => location.origin + c).join(', ');

  function sizesAttr(p) {
    const w = p.w || (state.editor.info && state.editor.info.width);
    return w ? '(max-width: ' + w + 'px) 100vw, ' + w + 'px' : '100vw';
  }

  // One element, a line per group of [name, value] attributes (values escaped, as all HTML the
  // page writes; a null value leaves its attribute out).
  function tag(name, groups, indent) {
    const lines = groups.map((g) => g.filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => k + '="' + escapeHtml(v) + '"').join(' ')).filter(Boolean);
    return indent + '<' + name + ' ' + lines.join('\n' + indent + ' '.repeat(name.length + 2)) + '>';
  }

  function writeSnippets(urls) {
    const ed = state.editor;
    if (!ed) return;
    const size = displaySize();
    const tail = (width, height) => [['width', width], ['height', height], ['alt', altText()],
      ['loading', 'lazy'], ['decoding', 'async']];
    const one = (k, v) => [[k, v]];
    const refusals = [];
    const imgTag = (s, indent) => {
      if (s.mode === 'server') {
        if (s.error) { refusals.push(s.error.message); return null; }
        const r = s.reply;
        return tag('img', [one('src', location.origin + r.src), one('srcset', absoluteSet(r.srcset)),
          one('sizes', r.sizes), tail(r.width, r.height)], indent);
      }
      const dims = size ? tail(size.width, size.height) : tail(null, null);
      const src = one('src', absolute(urlOf(ed.entry, s.items[0][0])));
      if (s.mode === 'single') return tag('img', [[...src, ...dims]], indent);
      return tag('img', [src, one('srcset', srcsetText(ed.entry, s)), dims], indent);
    };
    const sourceTag = (type, s) => tag('source', [one('type', type),
      one('srcset', s.mode === 'single' ? absolute(urlOf(ed.entry, s.items[0][0])) : srcsetText(ed.entry, s))], '  ');
    const pictureOf = (p) => {
      if (p.server) {
        const img = imgTag(p.server, '  ');
        if (img === null) return null;
        const r = p.server.reply;
        const sources = r.sources.map((x) => tag('source', [one('type', x.type),
          one('srcset', absoluteSet(x.srcset)), one('sizes', r.sizes)], '  '));
        return ['<picture>', ...sources, img, '</picture>'].join('\n');
      }
      return ['<picture>', sourceTag('image/avif', p.avif), sourceTag('image/webp', p.webp),
        imgTag(p.fallback, '  '), '</picture>'].join('\n');
    };
    const img = imgTag(urls.img, '');
    const picture = pictureOf(urls.picture);
    setCode(el('out-img'), img === null ? '' : img);
    setCode(el('out-picture'), picture === null ? '' : picture);
    const note = el('srcset-note');
    note.textContent = [...new Set(refusals)].join(' ');
    note.hidden = !refusals.length;
  }

  function setCode(textarea, text) {
    textarea.value = text;
    textarea.rows = Math.min(14, text.split('\n').length + 1);
  }

  // ---------------------------------------------------------------- copy

  async function copy(id) {
    const field = el(id);
    const text = field.value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      field.select();
      document.execCommand('copy');
    }
    toast('Copied ' + ({ 'out-url': 'the URL', 'out-toml': 'the TOML lines' }[id] || 'the snippet'));
  }

  // ---------------------------------------------------------------- wiring

  function bind() {
    el('gate-form').addEventListener('submit', (e) => {
      e.preventDefault();
      saveToken(el('gate-token').value.trim());
      start();
    });
    el('login').addEventListener('submit', (e) => {
      e.preventDefault();
      signIn(el('login-token').value.trim());
    });
    el('admin-toggle').addEventListener('click', () => toggleAdmin());
    el('logout').addEventListener('click', signOut);
    el('pull').addEventListener('click', pull);
    el('clear').addEventListener('click', clearCache);
    el('controls').addEventListener('input', onControlsInput);
    el('controls').addEventListener('submit', (e) => e.preventDefault());
    el('reset').addEventListener('click', resetControls);
    el('fp-clear').addEventListener('click', clearFocalPoint);
    el('orig-img').addEventListener('click', pickFocalPoint);
    el('orig-img').addEventListener('load', updateOverlays);
    new ResizeObserver(updateOverlays).observe(el('orig-img'));
    el('srcset-mode').addEventListener('change', () => {
      if (state.editor) refreshSnippets();
    });
    for (const a of ASPECTS) {
      const img = el(a.id);
      const done = (broken) => {
        const fig = img.closest('.aspect');
        fig.classList.remove('loading');
        fig.classList.toggle('broken', broken);
      };
      img.addEventListener('load', () => done(false));
      img.addEventListener('error', () => { if (img.getAttribute('src')) done(true); });
    }
    for (const b of document.querySelectorAll('[data-copy]')) b.addEventListener('click', () => copy(b.dataset.copy));
    for (const id of ['out-url', 'out-img', 'out-picture', 'out-toml']) el(id).addEventListener('focus', (e) => e.target.select());
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      if (!el('admin').hidden) { toggleAdmin(false); el('admin-toggle').focus(); return; }
      if (state.editor && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) location.hash = el('back').getAttribute('href');
    });
  }

  bind();
  start();
})();
