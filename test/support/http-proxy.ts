// An HTTP proxy on 127.0.0.1 in front of a platform fake: it records when each request arrived
// (what the platform sees, for pacing checks), and while `down` it answers every request with a
// 503, as a platform in an outage does, without passing it on.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  /** performance.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  body: string;
}

export async function startProxy(target: string) {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const state = { down: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ at: performance.now(), method: req.method ?? 'GET', path: req.url ?? '/', body: body.toString() });
      if (state.down) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Service Unavailable', code: 0 }));
        return;
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => { res.writeHead(502); res.end(); });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    /** The proxy's address with the target's path (e.g. `http://127.0.0.1:PORT/api`). */
    url: `${base}${upstream.pathname.replace(/\/$/, '')}`,
    requests,
    state,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
