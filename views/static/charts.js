// History charts, drawn as SVG from the JSON API (no library, no inline script): on the status
// page the fleet's online users and traffic and each server's online users (/api/history); on a
// user's page their time online, sessions and traffic per day (/api/users/:name/history) and their
// sessions over time. 24 h / 7 d / 30 d; hovering shows a point's time and values; the fleet's
// charts redraw when the page's live updates change it (at most every 5 s), and every minute.
// Text goes in with textContent.
'use strict';

(() => {
  const root = document.querySelector('[data-history]');
  if (!root) return;
  const SVG = 'http://www.w3.org/2000/svg';
  const H = 190;
  const PAD = { l: 52, r: 10, t: 8, b: 22 };
  const RANGE_MS = { '24h': 864e5, '7d': 7 * 864e5, '30d': 30 * 864e5 };
  const USER_RANGE = { '24h': '7d', '7d': '7d', '30d': '30d' };
  let range = '24h';

  // ---- formatting: the same rules as src/format.ts ----------------------------------------------
  function formatBytes(bytes) {
    if (!Number.isFinite(bytes) || bytes < 1000) return `${Math.max(0, Math.round(bytes || 0))} B`;
    const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
    let value = bytes;
    let unit = -1;
    while (Math.round(value) >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    const rounded = value >= 99.95 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, '');
    return `${rounded} ${units[unit]}`;
  }
  function formatDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const parts = [[Math.floor(s / 86400), 'd'], [Math.floor((s % 86400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']];
    const first = parts.findIndex(([n]) => n > 0);
    if (first === -1) return '0s';
    return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
  }
  const formatTime = (t) => { const iso = new Date(t).toISOString(); return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`; };
  const formatNumber = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(name, cls, text, parent) {
    const node = document.createElement(name);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /**
   * Draws a chart into `figure`. series: [{ name, cls, points: [{ t, v }] }]; kind 'line' or 'bar';
   * step: ms between points (a longer distance is a gap: the line breaks); rows(i): the hover text.
   */
  function draw(figure, { series, kind, step, from, to, format, rows }) {
    for (const old of figure.querySelectorAll('svg, .legend, .tip')) old.remove();
    // Drawn at the figure's own width, so text keeps its size on a wide screen and on a phone.
    const W = Math.max(280, Math.round(figure.clientWidth - 24));
    figure.dataset.width = String(W);
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
    if (series.length > 1) {
      const legend = html('div', 'legend', undefined, figure);
      for (const s of series) { const item = html('span', '', undefined, legend); html('i', s.cls, undefined, item); item.append(s.name); }
    }
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': figure.querySelector('figcaption').textContent, 'data-points': times.length }, figure);
    const max = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.v)));
    const x = (t) => PAD.l + ((t - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
    el('line', { class: 'axis', x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }, svg);
    el('line', { class: 'axis', x1: PAD.l, x2: W - PAD.r, y1: PAD.t, y2: PAD.t }, svg);
    const label = (text, attrs) => { const t = el('text', { class: 'label', ...attrs }, svg); t.textContent = text; };
    label(format(max), { x: PAD.l - 6, y: PAD.t + 4, 'text-anchor': 'end' });
    label(format(0), { x: PAD.l - 6, y: H - PAD.b + 4, 'text-anchor': 'end' });
    label(formatTime(from), { x: PAD.l, y: H - 6 });
    label(formatTime(to), { x: W - PAD.r, y: H - 6, 'text-anchor': 'end' });
    if (times.length === 0) {
      const t = el('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, svg);
      t.textContent = 'No samples in this period yet';
      return;
    }
    const barWidth = Math.max(1, ((W - PAD.l - PAD.r) * step) / Math.max(1, to - from) / series.length - 1);
    series.forEach((s, n) => {
      if (kind === 'bar') {
        for (const p of s.points) el('rect', { class: `bar ${s.cls}`, x: x(p.t) + n * (barWidth + 1), y: y(p.v), width: barWidth, height: Math.max(0, H - PAD.b - y(p.v)) }, svg);
        return;
      }
      let d = '';
      let prev = null;
      s.points.forEach((p, i) => {
        const starts = prev === null || p.t - prev > step * 1.5;
        d += `${starts ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
        // A point with gaps on both sides is no line: a dot shows it.
        const next = s.points[i + 1];
        if (starts && (!next || next.t - p.t > step * 1.5)) el('circle', { class: `dot ${s.cls}`, cx: x(p.t), cy: y(p.v), r: 2.5 }, svg);
        prev = p.t;
      });
      el('path', { class: `line ${s.cls}`, d, 'data-series': s.name }, svg);
    });
    // Hover: the nearest time, a cursor line and its values.
    const cursor = el('line', { class: 'cursor', y1: PAD.t, y2: H - PAD.b, visibility: 'hidden' }, svg);
    const hit = el('rect', { class: 'hit', x: PAD.l, y: PAD.t, width: W - PAD.l - PAD.r, height: H - PAD.t - PAD.b }, svg);
    const tip = html('div', 'tip', undefined, figure);
    tip.hidden = true;
    const show = (clientX) => {
      const box = svg.getBoundingClientRect();
      const t = from + (clientX - box.left - PAD.l) / (W - PAD.l - PAD.r) * (to - from);
      let nearest = times[0];
      for (const c of times) if (Math.abs(c - t) < Math.abs(nearest - t)) nearest = c;
      cursor.setAttribute('x1', x(nearest));
      cursor.setAttribute('x2', x(nearest));
      cursor.setAttribute('visibility', 'visible');
      tip.replaceChildren();
      html('b', '', formatTime(nearest), tip);
      for (const line of rows(nearest)) html('div', '', line, tip);
      tip.hidden = false;
      const left = x(nearest) + (box.left - figure.getBoundingClientRect().left);
      tip.style.left = `${Math.min(Math.max(0, left + 12), figure.clientWidth - tip.offsetWidth - 4)}px`;
      tip.style.top = '1.6rem';
    };
    hit.addEventListener('pointermove', (e) => show(e.clientX));
    hit.addEventListener('pointerleave', () => { tip.hidden = true; cursor.setAttribute('visibility', 'hidden'); });
  }

  const byTime = (points, f) => new Map(points.map((p) => [Date.parse(p.at ?? `${p.day}T00:00:00Z`), f(p)]));

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  async function drawFleet() {
    const to = Date.now();
    const answer = await getJson(`/api/history?from=${new Date(to - RANGE_MS[range]).toISOString()}&to=${new Date(to).toISOString()}`);
    const from = Date.parse(answer.from);
    const step = answer.stepSeconds * 1000;
    const all = answer.series.find((s) => s.server === 'all') || { points: [] };
    const at = (p) => Date.parse(p.at);
    const peak = byTime(all.points, (p) => p);
    draw(root.querySelector('[data-chart="online-total"]'), {
      kind: 'line', step, from, to, format: formatNumber,
      series: [
        { name: 'peak', cls: 's0', points: all.points.map((p) => ({ t: at(p), v: p.online })) },
        { name: 'mean', cls: 's1', points: all.points.map((p) => ({ t: at(p), v: p.avgOnline })) },
      ],
      rows: (t) => { const p = peak.get(t); return p ? [`peak ${p.online} online`, `mean ${formatNumber(p.avgOnline)}`] : []; },
    });
    draw(root.querySelector('[data-chart="traffic-total"]'), {
      kind: 'line', step, from, to, format: formatBytes,
      series: [
        { name: 'received', cls: 's1', points: all.points.map((p) => ({ t: at(p), v: p.bytesReceived })) },
        { name: 'sent', cls: 's2', points: all.points.map((p) => ({ t: at(p), v: p.bytesSent })) },
      ],
      rows: (t) => { const p = peak.get(t); return p ? [`received ${formatBytes(p.bytesReceived)}`, `sent ${formatBytes(p.bytesSent)}`] : []; },
    });
    const perServer = root.querySelector('[data-chart="online-servers"]');
    const servers = answer.series.filter((s) => s.server !== 'all');
    perServer.hidden = servers.length === 0;
    if (servers.length) {
      const maps = servers.map((s) => [s.server, byTime(s.points, (p) => p.online)]);
      draw(perServer, {
        kind: 'line', step, from, to, format: formatNumber,
        series: servers.map((s, i) => ({ name: s.server, cls: `s${i % 8}`, points: s.points.map((p) => ({ t: at(p), v: p.online })) })),
        rows: (t) => maps.filter(([, m]) => m.has(t)).map(([name, m]) => `${name}: ${m.get(t)}`),
      });
    }
  }

  async function drawUser() {
    const name = root.dataset.user;
    const answer = await getJson(`/api/users/${encodeURIComponent(name)}/history?range=${USER_RANGE[range]}`);
    const to = Date.now();
    const days = range === '30d' ? 30 : 7;
    const from = Date.parse(`${new Date(to - (days - 1) * 864e5).toISOString().slice(0, 10)}T00:00:00Z`);
    const byDay = byTime(answer.days, (d) => d);
    const t = (d) => Date.parse(`${d.day}T00:00:00Z`);
    draw(root.querySelector('[data-chart="user-online"]'), {
      kind: 'bar', step: 864e5, from, to: from + days * 864e5, format: (s) => formatDuration(s),
      series: [{ name: 'time online', cls: 's0', points: answer.days.map((d) => ({ t: t(d), v: d.onlineSeconds })) }],
      rows: (at) => { const d = byDay.get(at); return d ? [`online ${formatDuration(d.onlineSeconds)}`, `${d.sessions} session(s) started`, `servers: ${d.servers.join(', ') || '—'}`] : []; },
    });
    draw(root.querySelector('[data-chart="user-traffic"]'), {
      kind: 'bar', step: 864e5, from, to: from + days * 864e5, format: formatBytes,
      series: [
        { name: 'received', cls: 's1', points: answer.days.map((d) => ({ t: t(d), v: d.bytesReceived })) },
        { name: 'sent', cls: 's2', points: answer.days.map((d) => ({ t: t(d), v: d.bytesSent })) },
      ],
      rows: (at) => { const d = byDay.get(at); return d ? [`received ${formatBytes(d.bytesReceived)}`, `sent ${formatBytes(d.bytesSent)}`] : []; },
    });
    // Sessions over time: one bar per session from its start to its end (or now).
    const figure = root.querySelector('[data-chart="user-sessions"]');
    if (!figure) return;
    const sessions = JSON.parse(figure.dataset.sessions || '[]');
    const servers = [...new Set(sessions.map((s) => s.server))];
    draw(figure, {
      kind: 'bar', step: 864e5 / 48, from, to, format: () => '',
      series: [],
      rows: () => [],
    });
    const svg = figure.querySelector('svg');
    const W = Number(figure.dataset.width);
    svg.setAttribute('data-points', String(sessions.length));
    const rowH = Math.max(6, Math.min(18, (H - PAD.t - PAD.b) / Math.max(1, servers.length) - 4));
    const x = (ms) => PAD.l + ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * (W - PAD.l - PAD.r);
    servers.forEach((server, i) => {
      const label = el('text', { class: 'label', x: PAD.l - 6, y: PAD.t + i * (rowH + 4) + rowH - 2, 'text-anchor': 'end' }, svg);
      label.textContent = server;
    });
    for (const s of sessions) {
      const start = Date.parse(s.connectedAt);
      const end = s.disconnectedAt ? Date.parse(s.disconnectedAt) : to;
      if (end < from) continue;
      const i = servers.indexOf(s.server);
      const bar = el('rect', { class: `bar s${i % 8}`, x: x(start), y: PAD.t + i * (rowH + 4), width: Math.max(1.5, x(end) - x(start)), height: rowH }, svg);
      const title = el('title', {}, bar);
      title.textContent = `${s.server}: ${formatTime(start)} – ${s.disconnectedAt ? formatTime(end) : 'online'} (${formatDuration((end - start) / 1000)}), ${formatBytes(s.bytesReceived)} / ${formatBytes(s.bytesSent)}`;
    }
    svg.querySelector('.empty')?.remove();
  }

  let busy = false;
  let again = false;
  async function redraw() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      await (root.dataset.history === 'user' ? drawUser() : drawFleet());
      root.dataset.drawnAt = new Date().toISOString();
      root.removeAttribute('data-error');
    } catch (err) {
      root.dataset.error = err.message;
    } finally {
      busy = false;
      if (again) { again = false; redraw(); }
    }
  }

  for (const button of root.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => {
      range = button.dataset.range;
      for (const b of root.querySelectorAll('[data-range]')) b.setAttribute('aria-pressed', String(b === button));
      redraw();
    });
  }
  redraw();
  // Live: redraw when the page changed (at most every 5 s), and every minute regardless.
  let last = 0;
  let timer = null;
  const soon = () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; last = Date.now(); redraw(); }, Math.max(0, 5000 - (Date.now() - last)));
  };
  // The page's own script holds the live stream (one for all tabs) and patches the page when
  // something was stored: follow its changes rather than opening a second stream.
  if (root.dataset.history === 'fleet') {
    // Ages and the "Updated" time tick every second by themselves: those are not new data.
    const ticking = (node) => {
      const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      return !el || root.contains(el) || Boolean(el.closest('[data-clock], #updated, #stale'));
    };
    new MutationObserver((mutations) => { if (mutations.some((m) => !ticking(m.target))) soon(); })
      .observe(document.querySelector('main') || document.body, { subtree: true, childList: true, characterData: true });
  }
  setInterval(() => { if (!document.hidden) redraw(); }, 60_000);
  let resized = null;
  window.addEventListener('resize', () => { clearTimeout(resized); resized = setTimeout(redraw, 200); });
})();
