// The database goes away under a running service: `vpnwatch start` (its own process) follows a
// real OpenVPN server through a real sshd (status file and management stream), on a MongoDB-wire
// server of this test's own, which the test pauses (SIGSTOP: TCP stays open, nothing answers, the
// worst case) while a client leaves. The page must answer throughout, from the last data, saying
// so; /healthz must say 503; once the database is back, the disconnect is stored with the time it
// was seen and announced exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMongoJavaServer, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { waitFor } from './support/wait.ts';
import { freePort } from './support/free-port.ts';

const lab = labAvailable();
const sshd = sshdAvailable();
const describeOutage = requirePrerequisite({ ok: lab.ok && sshd.ok, why: [lab.why, sshd.why].filter(Boolean).join('; ') }, 'OpenVPN lab and sshd');
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');


/** A GET with a deadline: resolves to the status and body, or to 0 when nothing came in time. */
async function get(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

describeOutage('the database goes away under a running service', () => {
  let vpn: Lab;
  let ssh: Sshd;
  let mongo: EmbeddedMongo;
  let child: ChildProcess;
  let output = '';
  let base = '';
  const database = `vpnwatch_outage_${process.pid}`;

  beforeAll(async () => {
    [vpn, ssh, mongo] = await Promise.all([
      startLab({ servers: [{ statusVersion: 2, statusIntervalSeconds: 1, proto: 'tcp' }], clients: [{ commonName: 'alice' }, { commonName: 'bob' }] }),
      startSshd(),
      startMongoJavaServer(),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-outage-'));
    const s = vpn.servers[0]!;
    const c = ssh.serverConfig();
    fs.writeFileSync(path.join(dir, 'servers.yml'), [
      'servers:',
      `  - { name: lab-1, host: 127.0.0.1, port: ${c.port}, username: ${c.username}, privateKeyPath: '${c.privateKeyPath}', hostKey: '${c.hostKey}',`,
      `      statusPath: '${s.statusPath}', statusRefresh: 1, management: { host: 127.0.0.1, port: ${s.managementPort} } }`,
      '',
    ].join('\n'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(bin, ['start'], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MONGODB_URI: `${mongo.uri}/${database}`, PORT: String(port), POLL_INTERVAL: '5', PAGE_ACCESS: 'public', LOG_LEVEL: 'info' },
    });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    await Promise.all([vpn.clients[0]!.connect(0), vpn.clients[1]!.connect(0)]);
    await waitFor(async () => {
      const r = await get(`${base}/api/status`);
      return r.status === 200 && (JSON.parse(r.body) as { sessions: unknown[] }).sessions.length === 2;
    }, { timeoutMs: 60_000, intervalMs: 500, what: `both clients on the page (service output:\n${output})` });
  }, 120_000);

  afterAll(async () => {
    if (mongo?.pid) { try { process.kill(mongo.pid, 'SIGCONT'); } catch { /* gone */ } }
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await vpn?.close();
    await ssh?.stop();
    await mongo?.stop();
  });

  it('the page answers throughout; the disconnect seen during the outage is stored with its time and announced once', async () => {
    expect(mongo.pid, 'the engine runs in a process of its own, which the test can pause').toBeGreaterThan(0);
    process.kill(mongo.pid!, 'SIGSTOP');
    const pausedAt = Date.now();
    await waitFor(() => /the database does not answer/.test(output), { timeoutMs: 20_000, what: `the outage noticed (output:\n${output})` });
    // Bob leaves while the database is away; the management stream and the file poll see it.
    await vpn.clients[1]!.disconnect(0);
    const leftAt = Date.now();
    const during: number[] = [];
    for (let i = 0; i < 8; i++) {
      const [page, api, health] = await Promise.all([get(`${base}/`), get(`${base}/api/status`), get(`${base}/healthz`)]);
      during.push(page.status, api.status);
      expect(page.body).toContain('id="database-note" role="alert">The database has not answered since');
      expect(JSON.parse(api.body).database.up).toBe(false);
      expect(health.status).toBe(503);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(during.every((status) => status === 200)).toBe(true);
    process.kill(mongo.pid!, 'SIGCONT');
    await waitFor(() => /the database answers again/.test(output), { timeoutMs: 30_000, what: 'the database back' });
    await waitFor(async () => {
      const r = await get(`${base}/api/status`);
      return r.status === 200 && (JSON.parse(r.body) as { sessions: unknown[]; database: { up: boolean } }).sessions.length === 1;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'bob gone from the page' });
    await waitFor(() => /bob disconnected/.test(output), { timeoutMs: 20_000, what: `bob's notice (output:\n${output.slice(-3000)})` });
    await new Promise((r) => setTimeout(r, 6000)); // more polls: nothing is announced twice
    expect(output.match(/bob disconnected/g)).toHaveLength(1);

    const store = await Store.open(mongo.uri, database);
    try {
      // Both clients may have connected before the first read (then they are the baseline, not events).
      const events = (await store.queries.eventsSince(new Date(0))).filter((e) => e.user === 'bob' && e.type === 'disconnected');
      expect(events).toHaveLength(1);
      // Stored with the time it was seen (during the outage), not when the database came back.
      const seen = Date.parse(events[0]!.at);
      expect(seen).toBeGreaterThanOrEqual(pausedAt);
      expect(seen).toBeLessThan(leftAt + 8_000);
    } finally {
      await store.close();
    }
  }, 180_000);
});
