// Keeps the status page current without reloading it, with as little traffic as the changes need:
//
// - The live stream (/api/stream, one for all tabs, held by static/stream-worker.js) says which
//   data version is current, every few seconds and at once when something the page shows changed.
//   A tab whose view has that version is current and fetches nothing; otherwise it fetches its view
//   (/view.json with its filter, search, sort and page) with If-None-Match, so an unchanged view
//   costs a 304. Without a stream (no SharedWorker, or the server is full), each tab checks that
//   way every refresh period.
// - Every fetch gives up after FETCH_TIMEOUT_MS. When the page has not known its data to be
//   current for two refresh periods, it says so plainly in a banner.
// - Ages and durations ("3m ago", "1h 3m") are worked out here every second from the moments the
//   server sent (the same code as the server's: /static/clock-text.js is src/web/clock-text.ts).
//
// Rows are matched by data-key and cells get text only (textContent, never markup), so filter,
// sort, scroll and selection survive a refresh.
import { clockText, formatDuration, formatStamp } from '/static/clock-text.js';

const body = document.body;
const refreshMs = (Number(body.dataset.refreshSeconds) || 5) * 1000;
/** How often the stream says the version at the latest (the server pings at most every 15 s). */
const pingMs = Math.min(refreshMs, 15000);
const FETCH_TIMEOUT_MS = Math.min(Math.max(refreshMs, 4000), 15000);
const admin = body.dataset.admin === 'true';
const updated = document.getElementById('updated');
const updatedTime = updated.querySelector('time');
const stale = document.getElementById('stale');
const filter = document.getElementById('filter');
const serverSelect = document.getElementById('server-filter');
const search = document.getElementById('search');
const liveBadge = document.getElementById('live');
const pager = document.getElementById('pager');

const state = {
  /** The data version of what is shown. */
  version: body.dataset.version,
  /** The ETag of /view.json for `etagFor` (the query it was fetched with). */
  etag: body.dataset.etag,
  etagFor: location.search,
  /** When the page last knew its data to be current (a fetch, a 304, or the stream naming this version). */
  confirmedAt: Date.now(),
  /** The version the stream last announced (a hidden tab fetches it when it is shown again). */
  latest: null,
  /** When the stream last said anything; whether it is open. */
  streamAt: 0,
  live: false,
  /** Why the last fetch failed, for the banner; when the last one started. */
  problem: null,
  triedAt: 0,
};

let inFlight = false;
let again = false;

function confirm() {
  state.confirmedAt = Date.now();
  state.problem = null;
  tick();
}

/** What the server answered is current: as current as the version the stream named, whatever that was. */
function confirmFetched() {
  state.latest = state.version;
  confirm();
}

/** Fetches the view for the current URL; a refresh asked for meanwhile runs once afterwards. */
async function refresh() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  state.triedAt = Date.now();
  const query = location.search;
  try {
    const headers = { accept: 'application/json' };
    if (state.etag && state.etagFor === query) headers['if-none-match'] = state.etag;
    const res = await fetch(`/view.json${query}`, { headers, cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    // Signed out (PAGE_ACCESS=viewers: the sign-in ended or was revoked): the server shows the sign-in page.
    if (res.status === 401) {
      location.reload();
      return;
    }
    if (res.status !== 304) {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const view = await res.json();
      // A filter or sort chosen while this was on its way wins: this answer is for the old one.
      if (query !== location.search) {
        again = true;
        return;
      }
      if (!render(view)) return;
      state.etag = res.headers.get('etag');
      state.etagFor = query;
    }
    confirmFetched();
  } catch (err) {
    state.problem = err && err.name === 'TimeoutError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : `the last check failed: ${err.message}`;
    tick();
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

/** Shows a view; false when the page must reload instead (signed in or out elsewhere). */
function render(view) {
  if (view.admin !== admin) {
    location.reload();
    return false;
  }
  state.version = view.version;
  for (const card of view.cards) {
    const el = document.querySelector(`[data-card="${CSS.escape(card.id)}"]`);
    if (!el) continue;
    setCell(el.querySelector('.value'), card.value);
    setText(el.querySelector('.note'), card.note || '');
    el.classList.toggle('warn', Boolean(card.warn));
  }
  patchOptions(view.serverOptions, view.query.server);
  filter.elements.sort.value = view.query.sort;
  filter.elements.dir.value = view.query.dir;
  filter.elements.per.value = String(view.query.per);
  // Never overwrite what someone is typing.
  if (document.activeElement !== search) search.value = view.query.q;
  setText(document.getElementById('sessions-note'), view.sessionsNote);
  const chatNote = document.getElementById('chat-note');
  setText(chatNote, view.chatNote);
  chatNote.hidden = !view.chatNote;
  const noticesNote = document.getElementById('notices-note');
  setText(noticesNote, view.noticesNote);
  noticesNote.hidden = !view.noticesNote;
  const databaseNote = document.getElementById('database-note');
  setText(databaseNote, view.databaseNote);
  databaseNote.hidden = !view.databaseNote;
  for (const id of ['servers', 'sessions', 'recent', 'offline']) patchTable(id, view[id]);
  patchPager(view.pager);
  const empty = document.querySelector('[data-empty-for="sessions"]');
  if (empty) setText(empty, view.query.q || view.query.server ? 'No connection matches.' : 'Nobody is connected.');
  tick();
  return true;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  } else if (el.hasAttribute(name)) el.removeAttribute(name);
}

/** A cell: plain text, or { text, clock } whose text tick() works out again every second. */
function setCell(el, cell) {
  if (typeof cell === 'string') {
    setAttr(el, 'data-clock', null);
    setText(el, cell);
  } else {
    setAttr(el, 'data-clock', JSON.stringify(cell.clock));
    setText(el, cell.text);
  }
}

function patchOptions(options, selected) {
  const current = [...serverSelect.options].slice(1);
  const same = current.length === options.length && current.every((o, i) => o.value === options[i].value);
  if (!same) {
    serverSelect.replaceChildren(serverSelect.options[0], ...options.map((o) => new Option('', o.value)));
  }
  options.forEach((o, i) => setText(serverSelect.options[i + 1], o.label));
  serverSelect.value = selected || '';
}

function patchTable(id, table) {
  const el = document.getElementById(id);
  table.columns.forEach((col, i) => {
    const th = el.tHead.rows[0].cells[i];
    if (!th) return;
    setAttr(th, 'aria-sort', col.sorted);
    const link = th.querySelector('a');
    if (link && col.href) setAttr(link, 'href', col.href);
  });
  const tbody = el.tBodies[0];
  const byKey = new Map();
  for (const tr of tbody.rows) byKey.set(tr.dataset.key, tr);
  const wanted = table.rows.map((row) => {
    let tr = byKey.get(row.key);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = row.key;
    }
    setAttr(tr, 'title', row.title);
    patchCells(tr, row, table.columns);
    return tr;
  });
  const rows = tbody.rows;
  // Only move rows when the order or the set changed: untouched rows keep selection and hover.
  if (wanted.length !== rows.length || wanted.some((tr, i) => rows[i] !== tr)) tbody.replaceChildren(...wanted);
  const empty = document.querySelector(`[data-empty-for="${id}"]`);
  if (empty) empty.hidden = table.rows.length > 0;
}

/** The same rule as cellClass() in src/web/page-view.ts. */
function cellClass(column, row) {
  const dot = column && column.dot && row.dot ? `dot ${row.dot}` : '';
  return column && column.cls ? (dot ? `${column.cls} ${dot}` : column.cls) : dot;
}

function patchCells(tr, row, columns) {
  while (tr.cells.length > row.cells.length) tr.deleteCell(-1);
  row.cells.forEach((cell, i) => {
    const td = tr.cells[i] || tr.insertCell();
    setCell(td, cell);
    setAttr(td, 'class', cellClass(columns[i], row));
  });
}

function pageLink(label, href, extra) {
  const el = document.createElement(href ? 'a' : 'span');
  el.textContent = label;
  if (href) el.setAttribute('href', href);
  for (const [name, value] of Object.entries(extra || {})) el.setAttribute(name, value);
  return el;
}

function patchPager(p) {
  pager.hidden = p.pages <= 1;
  const parts = [p.prev ? pageLink('‹ Previous', p.prev, { rel: 'prev' }) : pageLink('‹ Previous', null, { class: 'off' })];
  for (const l of p.links) {
    parts.push(l.current ? pageLink(l.label, null, { 'aria-current': 'page' }) : l.href ? pageLink(l.label, l.href) : pageLink(l.label, null, { class: 'gap' }));
  }
  parts.push(p.next ? pageLink('Next ›', p.next, { rel: 'next' }) : pageLink('Next ›', null, { class: 'off' }));
  const text = (nodes) => nodes.map((n) => `${n.textContent}|${n.getAttribute('href') || ''}`).join(' ');
  if (text([...pager.children]) !== text(parts)) pager.replaceChildren(...parts);
}

/** Every second: clock cells, the "Updated" stamp, the stale banner, and a check when no stream speaks. */
const parsedClocks = new WeakMap();
function tick() {
  const now = new Date();
  for (const el of document.querySelectorAll('[data-clock]')) {
    const raw = el.getAttribute('data-clock');
    let cached = parsedClocks.get(el);
    if (!cached || cached.raw !== raw) {
      cached = { raw, clock: JSON.parse(raw) };
      parsedClocks.set(el, cached);
    }
    setText(el, clockText(cached.clock, now));
  }
  const confirmed = new Date(state.confirmedAt);
  if (updatedTime.dateTime !== confirmed.toISOString()) {
    updatedTime.dateTime = confirmed.toISOString();
    setText(updatedTime, formatStamp(confirmed));
  }
  const age = now.getTime() - state.confirmedAt;
  const isStale = age > 2 * refreshMs;
  updated.dataset.state = isStale ? 'stale' : 'ok';
  body.classList.toggle('stale', isStale);
  stale.hidden = !isStale;
  if (isStale) setText(stale, `Not updated for ${formatDuration(age / 1000)} (${state.problem || 'no answer from vpnwatch'}): what you see may be out of date.`);
  const streaming = state.live && now.getTime() - state.streamAt < pingMs + 5000;
  liveBadge.hidden = !streaming;
  // Behind the stream's version (a tab that was hidden, or a fetch that failed): fetch, at most every 2 s.
  // No stream: check every refresh period.
  const sinceTry = now.getTime() - state.triedAt;
  const behind = state.latest !== null && state.latest !== state.version && sinceTry >= 2000;
  if (!document.hidden && !inFlight && (behind || (!streaming && age >= refreshMs && sinceTry >= refreshMs))) refresh();
}

/** Changes the view: the URL keeps it (a reload or a shared link shows the same), then refresh. */
function navigate(url) {
  history.replaceState(null, '', url);
  refresh();
}

/** The current URL with some parameters changed ('' removes one); a new filter starts at page 1. */
function withParams(changes) {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value) params.set(name, value);
    else params.delete(name);
  }
  params.delete('page');
  const query = params.toString();
  return query ? `/?${query}` : '/';
}

serverSelect.addEventListener('change', () => navigate(withParams({ server: serverSelect.value })));
let typing;
search.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => navigate(withParams({ q: search.value.trim() })), 250);
});
filter.addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(typing);
  navigate(withParams({ q: search.value.trim(), server: serverSelect.value }));
});
for (const el of [document.getElementById('sessions').tHead, pager]) {
  el.addEventListener('click', (e) => {
    const link = e.target.closest('a');
    if (!link) return;
    e.preventDefault();
    navigate(link.getAttribute('href'));
  });
}

function onStream(message) {
  if (message.type === 'state') {
    state.live = message.live;
    if (message.live) state.streamAt = Date.now();
    tick();
    return;
  }
  state.streamAt = Date.now();
  state.live = true;
  state.latest = message.version;
  if (message.version === state.version) confirm();
  else if (!document.hidden) refresh();
}

// One stream for all tabs, through a shared worker; without one, tick() checks every refresh period.
if ('SharedWorker' in window) {
  try {
    const worker = new SharedWorker('/static/stream-worker.js', { name: 'vpnwatch-stream' });
    worker.port.addEventListener('message', (e) => onStream(e.data));
    worker.port.start();
    addEventListener('pagehide', () => worker.port.postMessage('bye'));
    addEventListener('pageshow', (e) => { if (e.persisted) worker.port.postMessage('hello'); });
  } catch {
    // A browser that refuses the worker (a policy, a private mode): checks every refresh period instead.
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) tick();
});
setInterval(tick, 1000);
tick();
