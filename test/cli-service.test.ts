// The service contract, as an outside check uses it: `vpnwatch start` with VPNWATCH_SERVERS_FILE,
// POLL_INTERVAL and PORT set, then `vpnwatch online --json` run beside it, reading the database
// the running instance started. Real processes, a real SSH server (ssh2's, serving SFTP).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSimulatedServer, type SimulatedServer } from '../src/demo/simulated-server.ts';
import { syntheticSessions } from '../src/demo/synthetic-sessions.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';
import { waitFor } from './support/wait.ts';
import { freePort } from './support/free-port.ts';

const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const run = promisify(execFile);


async function vpnwatch(cwd: string, env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(bin, args, { cwd, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('vpnwatch start, with vpnwatch online --json beside it', () => {
  let sim: SimulatedServer;
  let dir: string;
  let child: ChildProcess;
  let env: Record<string, string>;
  let output = '';
  const sessions = syntheticSessions(3, new Date()).map((s, i) => ({ ...s, commonName: ['alice', 'bob', '<script>x</script>'][i]! }));
  const dave = { ...syntheticSessions(4, new Date())[3]!, commonName: 'dave', clientId: 3 };

  beforeAll(async () => {
    sim = await startSimulatedServer({ name: 'sim-1', statusRefreshSeconds: 5 });
    sim.setStatus(writeStatus(2, sessions, new Date(Math.floor(Date.now() / 1000) * 1000).toISOString()));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-service-'));
    const c = sim.config;
    fs.writeFileSync(path.join(dir, 'fleet.yml'), [
      'servers:',
      `  - name: ${c.name}`,
      `    host: ${c.host}`,
      `    port: ${c.port}`,
      `    username: ${c.username}`,
      '    passwordEnv: SIM_SSH_PASSWORD',
      `    hostKey: ${c.hostKey}`,
      `    statusPath: ${c.statusPath}`,
      '    statusRefresh: 5',
      '',
    ].join('\n'));
    env = { VPNWATCH_SERVERS_FILE: 'fleet.yml', POLL_INTERVAL: '5', PORT: String(await freePort()), SIM_SSH_PASSWORD: c.password!, LOG_LEVEL: 'info', PAGE_ACCESS: 'public' };
    child = spawn(bin, ['start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await sim?.close();
  });

  it('online --json prints what the running instance polled: the contract fields plus "server"', async () => {
    const online = await waitFor(async () => {
      const r = await vpnwatch(dir, env, 'online', '--json');
      if (r.code !== 0) return null;
      const list = JSON.parse(r.stdout) as Record<string, unknown>[];
      return list.length === 3 ? list : null;
    }, { timeoutMs: 60_000, intervalMs: 1000, what: `three sessions from online --json (service output so far:\n${output})` });
    expect(online.map((s) => s.commonName).sort()).toEqual(['<script>x</script>', 'alice', 'bob']);
    const alice = online.find((s) => s.commonName === 'alice')!;
    expect(Object.keys(alice).sort()).toEqual(['bytesReceived', 'bytesSent', 'cipher', 'clientId', 'commonName', 'connectedAt', 'peerId', 'protocol', 'realAddress', 'realPort', 'server', 'username', 'virtualAddress', 'virtualIpv6'].sort());
    expect(alice).toMatchObject({ server: 'sim-1', realAddress: sessions[0]!.realAddress, virtualAddress: sessions[0]!.virtualAddress, clientId: 0, connectedAt: sessions[0]!.connectedAt });
    expect(JSON.parse(await fs.promises.readFile(path.join(dir, 'data', 'mongo.json'), 'utf8'))).toMatchObject({ pid: child.pid });
  }, 90_000);

  it('--server narrows the list; an unknown server gives an empty list', async () => {
    expect(JSON.parse((await vpnwatch(dir, env, 'online', '--server', 'sim-1', '--json')).stdout)).toHaveLength(3);
    expect(JSON.parse((await vpnwatch(dir, env, 'online', '--server', 'nope', '--json')).stdout)).toEqual([]);
  });

  it('history: the service samples its reads (GET /api/history), and top --json beside it prints a users array', async () => {
    const points = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${env.PORT}/api/history?server=sim-1`).catch(() => null);
      const body = res?.ok ? (await res.json()) as { series: { points: { online: number }[] }[] } : null;
      return body?.series[0]?.points.length ? body.series[0].points : null;
    }, { timeoutMs: 45_000, intervalMs: 1000, what: `a history point for sim-1 (service output so far:\n${output})` });
    expect(points.at(-1)!.online).toBe(3);
    const top = await vpnwatch(dir, env, 'top', '--range', '7d', '--json');
    expect(top.code, top.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(top.stdout))).toBe(true);
    expect((await vpnwatch(dir, env, 'top', '--range', '1y')).code).toBe(2);
  }, 60_000);

  it('poll beside it asks the service to poll now: the change is found, stored and announced once, by the service', async () => {
    sim.setStatus(writeStatus(2, [...sessions, dave], new Date(Math.floor(Date.now() / 1000) * 1000).toISOString()));
    const r = await vpnwatch(dir, env, 'poll', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { server: string; ok: boolean; online: number }[];
    expect(report).toEqual([expect.objectContaining({ server: 'sim-1', ok: true, online: 4 })]);
    expect(output).toMatch(/carrying out a poll request from vpnwatch poll/);
    // Whichever poll saw dave first (the request, or the service's own schedule), one notice says so.
    await waitFor(() => /dave connected/.test(output), { timeoutMs: 10_000, what: 'the notice of dave in the service log' });
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // another scheduled poll
    expect(output.match(/dave connected/g)).toHaveLength(1);
  }, 60_000);

  it('stops cleanly on SIGTERM and removes its database record', async () => {
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'data', 'mongo.json'))).toBe(false);
    const after = await vpnwatch(dir, env, 'online', '--json');
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/no database: set MONGODB_URI, or run `vpnwatch start`/);
  }, 30_000);
});

describe('vpnwatch poll with no service running, then vpnwatch start on the same database', () => {
  let sim: SimulatedServer;
  let dir: string;
  let env: Record<string, string>;
  let child: ChildProcess | undefined;
  let output = '';
  const people = syntheticSessions(3, new Date()).map((s, i) => ({ ...s, commonName: ['alice', 'bob', 'carol'][i]! }));
  const status = (list: typeof people) => writeStatus(2, list, new Date(Math.floor(Date.now() / 1000) * 1000).toISOString());

  beforeAll(async () => {
    sim = await startSimulatedServer({ name: 'sim-2', statusRefreshSeconds: 5 });
    sim.setStatus(status(people));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-poll-'));
    const c = sim.config;
    fs.writeFileSync(path.join(dir, 'servers.yml'), `servers:\n  - { name: ${c.name}, host: ${c.host}, port: ${c.port}, username: ${c.username}, passwordEnv: SIM_SSH_PASSWORD, hostKey: '${c.hostKey}', statusPath: ${c.statusPath}, statusRefresh: 5 }\n`);
    const database = `vpnwatch_cli_${process.pid}_${Date.now()}`;
    env = { MONGODB_URI: `${inject('mongoUri')}/${database}`, POLL_INTERVAL: '5', PORT: String(await freePort()), SIM_SSH_PASSWORD: c.password!, LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    await sim?.close();
  });

  it('polls by itself and stores the changes with their notices pending; the service announces them once when it starts', async () => {
    const first = await vpnwatch(dir, env, 'poll', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([expect.objectContaining({ server: 'sim-2', ok: true, online: 3, events: [] })]); // the baseline
    sim.setStatus(status([people[0]!, people[2]!]));
    const second = await vpnwatch(dir, env, 'poll', '--json');
    const report = JSON.parse(second.stdout) as { events: { type: string; session: { commonName: string } }[] }[];
    expect(report[0]!.events.map((e) => [e.type, e.session.commonName])).toEqual([['disconnected', 'bob']]);

    child = spawn(bin, ['start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    await waitFor(() => /bob disconnected/.test(output), { timeoutMs: 30_000, what: `the pending notice of bob (service output:\n${output})` });
    await new Promise((resolve) => setTimeout(resolve, 7_000)); // the service's own polls see nothing new
    expect(output.match(/bob disconnected/g)).toHaveLength(1);
    expect(output).not.toMatch(/connected from/);
  }, 90_000);
});

describe('vpnwatch start with a bad configuration', () => {
  it('exits 1 before starting anything, listing every problem with its file and key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-badconfig-'));
    fs.writeFileSync(path.join(dir, 'servers.yml'), 'servers:\n  - name: a\n    host: h\n    username: u\n    passwordEnv: UNSET_PW\n');
    const r = await vpnwatch(dir, { POLL_INTERVAL: '1', PORT: '70000' }, 'start');
    expect(r.code).toBe(1);
    const file = path.join(dir, 'servers.yml');
    expect(r.stderr).toContain('vpnwatch: invalid configuration:');
    for (const problem of [
      'environment: POLL_INTERVAL: must be at least 5',
      'environment: PORT: must be at most 65535',
      `${file}: servers[0] (a).hostKey: required`,
      `${file}: servers[0] (a).passwordEnv: environment variable UNSET_PW is not set`,
    ]) expect(r.stderr).toContain(problem);
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  }, 30_000);
});

describe('vpnwatch start stops on a signal', () => {
  let silent: net.Server;
  let dir: string;
  let env: Record<string, string>;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    // An SSH server that accepts and never says a word: a poll against it is in flight until its timeout.
    silent = net.createServer((socket) => { sockets.push(socket); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as net.AddressInfo;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-stop-'));
    fs.writeFileSync(path.join(dir, 'servers.yml'), `servers:\n  - { name: mute-1, host: 127.0.0.1, port: ${port}, username: u, passwordEnv: MUTE_PW, insecureSkipHostKeyCheck: true }\n`);
    env = { MONGODB_URI: `${inject('mongoUri')}/vpnwatch_stop_${process.pid}_${Date.now()}`, POLL_INTERVAL: '5', POLL_TIMEOUT: '120', PORT: String(await freePort()), MUTE_PW: 'x', LOG_LEVEL: 'info' };
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  async function started(): Promise<{ child: ChildProcess; output: () => string }> {
    let output = '';
    const child = spawn(bin, ['start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    await waitFor(() => /vpnwatch started/.test(output) && sockets.length > 0, { timeoutMs: 30_000, what: `a start with a poll in flight (output:\n${output})` });
    return { child, output: () => output };
  }
  const exited = (child: ChildProcess) => new Promise<{ code: number | null; afterMs: number }>((resolve) => {
    const t = Date.now();
    child.once('exit', (code) => resolve({ code, afterMs: Date.now() - t }));
  });

  it('SIGTERM with a poll in flight: the service stops cleanly within 10 s', async () => {
    const { child, output } = await started();
    const exit = exited(child);
    child.kill('SIGTERM');
    const { code, afterMs } = await exit;
    expect(code, output()).toBe(0);
    expect(afterMs).toBeLessThan(10_000); // the requirement: within 10 s (the poll's own timeout is 120 s)
    expect(output()).toMatch(/SIGTERM: stopping/);
    expect(output()).toMatch(/"msg":"stopped"/);
  }, 60_000);

  /** The pids below `pid`, depth first (Linux: /proc/PID/task/PID/children). */
  function descendants(pid: number): number[] {
    let children: number[] = [];
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch { /* gone */ }
    return children.flatMap((c) => [c, ...descendants(c)]);
  }
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

  it('npm start: a SIGTERM to npm (what a service manager or container runtime stops) stops vpnwatch too', async () => {
    // npm runs a script through sh -c and forwards the signal to sh; Debian's sh does not pass it
    // on, so a script that did not exec left vpnwatch running, orphaned, after npm exited.
    let output = '';
    const npm = spawn('npm', ['start'], {
      cwd: path.join(import.meta.dirname, '..'), env: { ...process.env, ...env, VPNWATCH_SERVERS_FILE: path.join(dir, 'servers.yml') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    npm.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    let service: number[] = [];
    try {
      const withOutput = (err: Error) => { throw new Error(`${err.message}; output:\n${output}`); };
      await waitFor(() => /vpnwatch started/.test(output), { timeoutMs: 30_000, what: 'npm start to start vpnwatch' }).catch(withOutput);
      service = descendants(npm.pid!);
      expect(service.length).toBeGreaterThan(0);
      npm.kill('SIGTERM');
      await waitFor(() => service.every((pid) => !alive(pid)), { timeoutMs: 10_000, what: 'vpnwatch to stop after npm got SIGTERM' }).catch(withOutput);
      expect(output).toMatch(/SIGTERM: stopping/);
      expect(output).toMatch(/"msg":"stopped"/);
    } finally {
      for (const pid of service) if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 60_000);

  it('a second signal stops it at once', async () => {
    const { child, output } = await started();
    const exit = exited(child);
    child.kill('SIGTERM');
    await waitFor(() => /SIGTERM: stopping/.test(output()), { timeoutMs: 5_000, what: 'the first signal seen' });
    child.kill('SIGINT');
    const { code } = await exit;
    expect(code, output()).toBe(130);
    expect(output()).toMatch(/SIGINT: stopping at once/);
  }, 60_000);
});
