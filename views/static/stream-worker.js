// One live stream for every tab of the status page in this browser: a browser allows six HTTP/1.1
// connections per host, and an EventSource per tab held one each, so the seventh tab stalled. The
// tabs connect to this shared worker; it holds the one EventSource to /api/stream and passes every
// message on. When the stream is refused (503 when the server is full, 401 when signed out) it
// tries again later, backing off; the tabs check by themselves meanwhile (static/status.js).
'use strict';

const ports = new Set();
let source = null;
let retryTimer = null;
let retryMs = 5000;
/** The last version message, for a tab that connects between two of them. */
let lastVersion = null;

function post(message) {
  for (const port of ports) port.postMessage(message);
}

function state() {
  return { type: 'state', live: source !== null && source.readyState === 1 };
}

function connect() {
  retryTimer = null;
  source = new EventSource('/api/stream');
  source.addEventListener('open', () => {
    retryMs = 5000;
    post(state());
  });
  for (const type of ['version', 'update']) {
    source.addEventListener(type, (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      const message = { type, ...data };
      lastVersion = { type: 'version', version: data.version, at: data.at };
      post(message);
    });
  }
  source.addEventListener('error', () => {
    post(state());
    // CONNECTING: the browser reconnects by itself. CLOSED: refused for good; try again later.
    if (source.readyState === 2) {
      source = null;
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 60000);
    }
  });
}

self.addEventListener('connect', (e) => {
  const port = e.ports[0];
  ports.add(port);
  port.addEventListener('message', (m) => {
    if (m.data === 'bye') ports.delete(port);
    else if (m.data === 'hello') ports.add(port);
  });
  port.start();
  if (source === null && retryTimer === null) connect();
  port.postMessage(state());
  if (lastVersion) port.postMessage(lastVersion);
});
