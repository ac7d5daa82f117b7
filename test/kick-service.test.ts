// `vpnwatch kick` beside a running `vpnwatch start` (issue 11 item 7): the service holds the
// server's management interface (stream mode) and OpenVPN serves one management client at a time,
// so the CLI leaves a kick request in MongoDB; the service claims it, kicks through the stream's
// connection, and writes the verified outcome back, which the CLI prints. With no service, the CLI
// kicks by itself. Real processes (bin/vpnwatch), a real OpenVPN 2.6 server and clients
// (test/harness/openvpn-lab.ts) behind a real sshd, the MongoDB-wire server of the test setup.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { DedicatedManagementAccess } from '../src/openvpn/management-access.ts';
import { SshPool } from '../src/ssh.ts';
import { Store } from '../src/store/store.ts';
import type { KickOutcome } from '../src/domain.ts';
import { labAvailable, startLab, type Lab, type LabClient } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { freePort, sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { dropTestStore } from './support/store.ts';
import { waitFor } from './support/wait.ts';

const prerequisites = [labAvailable(), sshdAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab and sshd',
);

const run = promisify(execFile);
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');

describeLab('vpnwatch kick beside vpnwatch start', () => {
  let sshd: Sshd;
  let lab: Lab;
  let store: Store;
  let dir: string;
  let env: Record<string, string>;
  let service: ChildProcess | undefined;
  let output = '';
  let alice: LabClient, bob: LabClient, carol: LabClient;

  beforeAll(async () => {
    const database = `vpnwatch_kick_service_${process.pid}_${Date.now()}`;
    [sshd, lab, store] = await Promise.all([
      startSshd(),
      startLab({ servers: [{ proto: 'tcp', statusVersion: 3 }], clients: ['alice', 'bob', 'carol'].map((commonName) => ({ commonName })) }),
      Store.open(inject('mongoUri'), database),
    ]);
    [alice, bob, carol] = lab.clients as [LabClient, LabClient, LabClient];
    await Promise.all([alice.connect(0), bob.connect(0), carol.connect(0)]);
    const server = sshd.serverConfig({ name: 'lab-1', statusPath: lab.servers[0]!.statusPath });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-kick-service-'));
    fs.writeFileSync(path.join(dir, 'servers.yml'), [
      'servers:',
      `  - name: ${server.name}`,
      `    host: ${server.host}`,
      `    port: ${server.port}`,
      `    username: ${server.username}`,
      `    privateKeyPath: ${server.privateKeyPath}`,
      `    hostKey: ${server.hostKey}`,
      `    statusPath: ${server.statusPath}`,
      `    management: { port: ${lab.servers[0]!.managementPort}, mode: stream }`,
      '',
    ].join('\n'));
    const uri = new URL(inject('mongoUri'));
    uri.pathname = `/${database}`;
    env = { MONGODB_URI: uri.toString(), POLL_INTERVAL: '30', PORT: String(await freePort()), LOG_LEVEL: 'info' };
  }, 120_000);

  afterAll(async () => {
    if (service && service.exitCode === null) {
      service.kill('SIGKILL');
      await new Promise((resolve) => service!.once('exit', resolve));
    }
    await Promise.all([lab?.close(), sshd?.stop(), store && dropTestStore(store)]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function vpnwatch(...args: string[]) {
    try {
      const { stdout, stderr } = await run(bin, args, { cwd: dir, env: { ...process.env, ...env } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('with the service streaming the interface, vpnwatch kick NAME SERVER is carried out by the service, verified, and audited', async () => {
    service = spawn(bin, ['start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    service.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    service.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    // The stream's first read is stored: the service holds the interface now.
    await waitFor(async () => (await store.queries.servers()).find((s) => s.name === 'lab-1' && s.source === 'management' && s.onlineCount === 3), {
      timeoutMs: 60_000, intervalMs: 500, what: `the service streaming lab-1 (its output so far:\n${output})`,
    });
    // What the CLI did before: its own connection finds the interface busy.
    const pool = new SshPool({ connectTimeoutMs: 5000 });
    try {
      const busy = new DedicatedManagementAccess(pool, { greetingTimeoutMs: 1000 });
      const server = sshd.serverConfig({ name: 'lab-1', statusPath: lab.servers[0]!.statusPath, management: { host: '127.0.0.1', port: lab.servers[0]!.managementPort!, mode: 'stream' } });
      await expect(busy.acquire(server)).rejects.toThrow(/one management client at a time/);
    } finally {
      await pool.closeAll();
    }

    // What the kick does to the client (HALT: it exits) is kick.test.ts's subject; here, who does
    // the kick and what it answers. (On a loaded machine OpenVPN may close a HALTed TCP client's
    // connection before the HALT reaches it, and the client reconnects.)
    const r = await vpnwatch('kick', 'alice', 'lab-1', '--json');
    expect(r.code, `${r.stderr}\n${output}`).toBe(0);
    const outcome = JSON.parse(r.stdout) as KickOutcome;
    expect(outcome).toMatchObject({ result: 'kicked', verified: true });
    expect(outcome.sessions.map((s) => [s.server, s.session.commonName, s.killed, s.gone])).toEqual([['lab-1', 'alice', true, true]]);
    expect(output).toMatch(/carrying out a kick request from vpnwatch kick/);
    const [record] = await store.audit.kicks('alice');
    expect(record).toMatchObject({
      result: 'kicked', verified: true, server: 'lab-1', where: `terminal (${os.hostname()})`,
      by: { platform: 'cli', userId: os.userInfo().username }, clientIds: [outcome.sessions[0]!.session.clientId],
    });
    // The service's stream kept its connection (a kick borrows it): it announces the disconnect as a kick.
    await waitFor(() => /alice was kicked/.test(output), { timeoutMs: 15_000, what: `the kick notice (service output:\n${output})` });
  }, 120_000);

  it('without SERVER, the request goes to the server where the last poll lists the user; the text says who carried it out', async () => {
    const r = await vpnwatch('kick', 'bob');
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('✔ Kicked bob');
    expect(r.stdout).toMatch(/\(carried out by the running vpnwatch service \S+, which holds the management connection\)\n$/);
    expect((await store.audit.kicks('bob')).map((k) => [k.result, k.server, k.by.platform])).toEqual([['kicked', 'lab-1', 'cli']]);
    const [request] = await store.models.Request.find({ kind: 'kick' }).sort({ requestedAt: -1 }).limit(1).lean();
    expect(request).toMatchObject({ server: 'lab-1', state: 'done' });
  }, 60_000);

  it('with no service running, vpnwatch kick opens its own connection, as before', async () => {
    service!.kill('SIGTERM');
    expect(await new Promise((resolve) => service!.once('exit', resolve))).toBe(0);
    const r = await vpnwatch('kick', 'carol', 'lab-1', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'kicked', verified: true });
    expect((await store.audit.kicks('carol')).map((k) => [k.result, k.verified])).toEqual([['kicked', true]]);
    expect(await store.models.Request.countDocuments({ kind: 'kick' })).toBe(2); // none for this one
  }, 60_000);
});
