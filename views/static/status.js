// Keeps the status page current without reloading it: fetches /view.json (the page's own view
// model, already masked for this viewer) every refresh period and whenever /api/stream says
// something changed, then patches the tables in place: rows are matched by data-key, cells get
// text only (textContent, never markup), so filter, sort, scroll and selection survive.
'use strict';

(() => {
  const refreshMs = (Number(document.body.dataset.refreshSeconds) || 5) * 1000;
  const admin = document.body.dataset.admin === 'true';
  const updated = document.getElementById('updated');
  const updatedTime = updated.querySelector('time');
  const filter = document.getElementById('filter');
  const serverSelect = document.getElementById('server-filter');
  const liveBadge = document.getElementById('live');

  let inFlight = false;
  let again = false;

  /** Fetches the view for the current URL; a refresh asked for meanwhile runs once afterwards. */
  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    const search = location.search;
    try {
      const res = await fetch(`/view.json${search}`, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const view = await res.json();
      // A filter or sort chosen while this was on its way wins: this answer is for the old one.
      if (search === location.search) render(view);
      else again = true;
      updated.dataset.state = 'ok';
      updated.removeAttribute('title');
    } catch (err) {
      updated.dataset.state = 'stale';
      updated.title = `Last refresh failed (${err.message}); showing older data`;
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function render(view) {
    // Signed in or out elsewhere (cookie expired, other tab): the header and masking differ, so reload.
    if (view.admin !== admin) {
      location.reload();
      return;
    }
    updatedTime.dateTime = view.generatedAt;
    setText(updatedTime, view.generatedText);
    for (const card of view.cards) {
      const el = document.querySelector(`[data-card="${CSS.escape(card.id)}"]`);
      if (!el) continue;
      setText(el.querySelector('.value'), card.value);
      setText(el.querySelector('.note'), card.note || '');
      el.classList.toggle('warn', Boolean(card.warn));
    }
    patchOptions(view.serverOptions, view.query.server);
    filter.elements.sort.value = view.query.sort;
    filter.elements.dir.value = view.query.dir;
    setText(document.getElementById('sessions-note'), view.sessionsNote);
    const chatNote = document.getElementById('chat-note');
    setText(chatNote, view.chatNote);
    chatNote.hidden = !view.chatNote;
    for (const id of ['servers', 'sessions', 'recent', 'offline']) patchTable(id, view[id]);
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function setAttr(el, name, value) {
    if (value) {
      if (el.getAttribute(name) !== value) el.setAttribute(name, value);
    } else if (el.hasAttribute(name)) el.removeAttribute(name);
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
    row.cells.forEach((text, i) => {
      const td = tr.cells[i] || tr.insertCell();
      setText(td, text);
      setAttr(td, 'class', cellClass(columns[i], row));
    });
  }

  /** Changes the filter or sort: the URL keeps it (a reload or a shared link shows the same), then refresh. */
  function navigate(url) {
    history.replaceState(null, '', url);
    refresh();
  }

  serverSelect.addEventListener('change', () => {
    const params = new URLSearchParams(location.search);
    if (serverSelect.value) params.set('server', serverSelect.value);
    else params.delete('server');
    const query = params.toString();
    navigate(query ? `/?${query}` : '/');
  });
  filter.addEventListener('submit', (e) => e.preventDefault());
  document.getElementById('sessions').tHead.addEventListener('click', (e) => {
    const link = e.target.closest('a');
    if (!link) return;
    e.preventDefault();
    navigate(link.getAttribute('href'));
  });

  setInterval(() => {
    if (!document.hidden) refresh();
  }, refreshMs);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });

  // Live updates: the server says when something was stored; the periodic refresh stays as the fallback.
  if ('EventSource' in window) {
    const stream = new EventSource('/api/stream');
    stream.addEventListener('update', () => refresh());
    stream.addEventListener('open', () => {
      liveBadge.hidden = false;
    });
    stream.addEventListener('error', () => {
      liveBadge.hidden = true;
    });
  }
})();
