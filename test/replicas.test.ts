// Several replicas, one voice (issue 14), all real: three `vpnwatch start` processes sharing one
// database, polling real OpenVPN 2.6 servers (test/harness/openvpn-lab.ts) through a real sshd,
// each server's management interface streamed by whichever replica holds its lease. What is
// checked is what an operator running two or three replicas for safety relies on: each server
// has exactly one holder; every session is stored once and each change announced once; the
// holder of servers killed with SIGKILL is taken over within 3 × POLL_INTERVAL from the stored
// baseline (no false disconnect, nothing twice, nothing lost); a new replica gets its share by
// handover; each replica's page hears of the others' changes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { serverLease } from '../src/poll/leases.ts';
import { Store } from '../src/store/store.ts';
import type { StoredEvent } from '../src/store/records.ts';
import { labAvailable, startLab, type Lab, type LabClient } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { freePort, sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { waitFor } from './support/wait.ts';
import { slackSignedHeaders, slashCommandBody } from './support/slack-request.ts';

const prerequisites = [labAvailable(), sshdAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab and sshd',
);

const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const run = promisify(execFile);
/** POLL_INTERVAL: a lease lasts 20 s, a takeover must finish within 30 s. */
const POLL_SECONDS = 10;
const NAMES = ['lab-0', 'lab-1', 'lab-2', 'lab-3'];
const CLIENTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'];
/** Slack over HTTP on every replica (no notice channel: notices stay in the log), answering through a local fake. */
const SLACK_SECRET = 'replicas-signing-secret';
const SLACK_TOKEN = 'xoxb-replicas-test';

interface Replica {
  id: string;
  port: number;
  child: ChildProcess;
  output: () => string;
}

interface Health {
  ok: boolean;
  replica: string;
  servers: { name: string; heldBy: string | null; lastGoodAgeSeconds: number | null; problems: string[] }[];
}

describeLab('three vpnwatch start replicas on one database, against the OpenVPN lab', () => {
  let lab: Lab;
  let sshd: Sshd;
  let dir: string;
  let env: Record<string, string>;
  let store: Store;
  let slack: FakeSlack;
  const replicas = new Map<string, Replica>();
  const client = (name: string): LabClient => lab.clients[CLIENTS.indexOf(name)]!;
  /** Which lab server each client uses. */
  const serverOf = (name: string) => CLIENTS.indexOf(name) % NAMES.length;

  async function startReplica(id: string): Promise<Replica> {
    const port = await freePort();
    let output = '';
    const child = spawn(bin, ['start'], {
      cwd: dir, env: { ...process.env, ...env, VPNWATCH_REPLICA_ID: id, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    const replica = { id, port, child, output: () => output };
    replicas.set(id, replica);
    await waitFor(() => /vpnwatch started/.test(output) || child.exitCode !== null, { timeoutMs: 60_000, what: `replica ${id} started (output:\n${output})` });
    if (child.exitCode !== null) throw new Error(`replica ${id} exited ${child.exitCode}:\n${output}`);
    return replica;
  }

  async function kill(id: string, signal: NodeJS.Signals): Promise<void> {
    const r = replicas.get(id)!;
    if (r.child.exitCode !== null || r.child.signalCode !== null) return;
    const exited = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill(signal);
    await exited;
  }

  const running = () => [...replicas.values()].filter((r) => r.child.exitCode === null && r.child.signalCode === null);

  async function health(r: Replica): Promise<Health> {
    const res = await fetch(`http://127.0.0.1:${r.port}/healthz`);
    return (await res.json()) as Health;
  }

  /** The holder of each server as the database says now. */
  async function holders(): Promise<Record<string, string | null>> {
    const now = Date.now();
    const leases = await store.leases.list(NAMES.map(serverLease));
    return Object.fromEntries(NAMES.map((n) => {
      const lease = leases.find((l) => l.name === serverLease(n));
      return [n, lease && lease.released === null && lease.expiresAt.getTime() > now ? lease.holder : null];
    }));
  }

  const events = async (): Promise<StoredEvent[]> => store.queries.eventsSince(new Date(0), 10_000);
  /** Stored events about `user`, as [type, server]. */
  const eventsOf = async (user: string) => (await events()).filter((e) => e.user === user).map((e) => [e.type, e.server]);
  /** Notice lines about `user` across every replica's log (notices go to the log: no chat is configured). */
  /** Changes that must have been announced exactly once, checked at the end. */
  const announcedOnce: [string, RegExp][] = [['alice', /connected/], ['bob', /connected/], ['carol', /connected/], ['dave', /connected/], ['erin', /connected/], ['frank', /connected/], ['bob', /disconnected/]];
  const noticesOf = (user: string, what: RegExp) => [...replicas.values()].flatMap((r) => r.output().split('\n'))
    .filter((line) => line.includes('"component":"notices"') && new RegExp(`\\b${user} ${what.source}`).test(line));

  beforeAll(async () => {
    [lab, sshd] = await Promise.all([
      startLab({ servers: NAMES.map(() => ({ proto: 'tcp' as const, statusVersion: 2 as const })), clients: CLIENTS.map((commonName) => ({ commonName })) }),
      startSshd(),
    ]);
    slack = await startFakeSlack({ botToken: SLACK_TOKEN });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-replicas-'));
    fs.writeFileSync(path.join(dir, 'servers.yml'), ['servers:', ...lab.servers.flatMap((s, i) => [
      `  - name: ${NAMES[i]}`,
      `    host: ${sshd.host}`,
      `    port: ${sshd.port}`,
      `    username: ${sshd.username}`,
      `    privateKeyPath: ${sshd.userKeyPath}`,
      `    hostKey: '${sshd.hostKeyFingerprint}'`,
      `    statusPath: ${s.statusPath}`,
      '    statusRefresh: 1',
      `    management: { host: 127.0.0.1, port: ${s.managementPort} }`,
    ]), ''].join('\n'));
    const database = `vpnwatch_replicas_${process.pid}_${Date.now()}`;
    env = { MONGODB_URI: `${inject('mongoUri')}/${database}`, POLL_INTERVAL: String(POLL_SECONDS), LOG_LEVEL: 'info', MANAGEMENT_STATUS_INTERVAL: '2', PAGE_ACCESS: 'public',
      SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_SIGNING_SECRET: SLACK_SECRET, SLACK_ADMIN_USERS: 'U0ADMIN', SLACK_API_URL: slack.apiUrl };
    store = await Store.open(inject('mongoUri'), database);
    // One after the other, as a rolling start would: the first takes every server, the others get theirs by handover.
    for (const id of ['replica-a', 'replica-b', 'replica-c']) await startReplica(id);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...replicas.keys()].map((id) => kill(id, 'SIGKILL')));
    if (store) {
      await store.connection.dropDatabase();
      await store.close();
    }
    await Promise.all([lab?.close(), sshd?.stop(), slack?.close()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('each server has exactly one holder, the servers are spread evenly, and every replica says the same', async () => {
    await waitFor(async () => {
      const held = Object.values(await holders());
      const shares = ['replica-a', 'replica-b', 'replica-c'].map((id) => held.filter((h) => h === id).length).sort();
      return held.every(Boolean) && shares.join() === '1,1,2';
    }, { timeoutMs: 6 * POLL_SECONDS * 1000, intervalMs: 500, what: 'the four servers spread 2/1/1 over the three replicas' });
    const expected = await holders();
    // Each replica's /healthz names itself and agrees on the holders (within one lease tick).
    await waitFor(async () => {
      const answers = await Promise.all(running().map(health));
      return answers.every((h, i) => h.replica === running()[i]!.id && h.servers.every((s) => s.heldBy === expected[s.name])) ? answers : null;
    }, { timeoutMs: 15_000, intervalMs: 500, what: 'every /healthz showing the same holders' });
    // Every server has had a good read by its holder.
    await waitFor(async () => (await health(running()[0]!)).servers.every((s) => s.lastGoodAgeSeconds !== null), { timeoutMs: 30_000, what: 'a good read of every server' });
  }, 120_000);

  it('vpnwatch poll beside them: each server is polled now by the replica that holds it', async () => {
    const expected = await holders();
    const { stdout } = await run(bin, ['poll', '--json'], { cwd: dir, env: { ...process.env, ...env } });
    // A file read older than what the management stream already applied is superseded and not
    // reported (the stream keeps each server current): whatever is reported was read fine.
    const report = JSON.parse(stdout) as { server: string; ok: boolean }[];
    expect(report.every((s) => s.ok && NAMES.includes(s.server))).toBe(true);
    for (const name of NAMES) {
      const carriedOutBy = running().filter((r) => r.output().split('\n').some((l) => l.includes('carrying out a poll request') && l.includes(`"server":"${name}"`)));
      expect(carriedOutBy.map((r) => r.id), name).toEqual([expected[name]]);
    }
  }, 60_000);

  it('each replica\'s /metrics has the per-server series of the servers it holds, and only those', async () => {
    const expected = await holders();
    for (const r of running()) {
      const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
      const series = [...text.matchAll(/^vpnwatch_server_up\{server="([^"]+)"\}/gm)].map((m) => m[1]);
      expect(series.sort(), r.id).toEqual(NAMES.filter((n) => expected[n] === r.id));
      expect(text).toMatch(/^process_resident_memory_bytes \d/m); // its own process metrics
    }
  });

  it('the page and /vpn servers show which replica polls each server', async () => {
    const expected = await holders();
    const r = running()[0]!;
    const view = await (await fetch(`http://127.0.0.1:${r.port}/view.json`)).json() as { servers: { rows: { key: string; cells: (string | { text: string })[] }[] } };
    for (const row of view.servers.rows) expect(row.cells.map((c) => (typeof c === 'string' ? c : c.text)).join(' | ')).toContain(`on ${expected[row.key]}`);
  });

  it('every session is stored once and each connect announced once, whichever replica polls its server', async () => {
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await client(name).connect(serverOf(name));
    await waitFor(async () => (await store.queries.online()).length === 6, { timeoutMs: 30_000, what: 'six sessions online' });
    // A few more cycles and stream reads, by every replica.
    await new Promise((resolve) => setTimeout(resolve, POLL_SECONDS * 1000));
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      expect(await eventsOf(name), name).toEqual([['connected', NAMES[serverOf(name)]]]);
      expect((await store.queries.userReport(name))!.user.sessionCount, name).toBe(1);
    }
    await waitFor(() => ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].every((n) => noticesOf(n, /connected/).length >= 1), { timeoutMs: 20_000, what: 'the connect notices' });
  }, 90_000);

  it('a disconnect is stored and announced once; another replica\'s page hears of it within seconds', async () => {
    const bobsHolder = (await holders())[NAMES[serverOf('bob')]!];
    const watcherReplica = running().find((r) => r.id !== bobsHolder)!;
    const stream = await fetch(`http://127.0.0.1:${watcherReplica.port}/api/stream`);
    const reader = stream.body!.getReader();
    let received = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += Buffer.from(value).toString();
      }
    })();
    try {
      await client('bob').disconnect();
      await waitFor(async () => (await eventsOf('bob')).length === 2, { timeoutMs: 20_000, what: 'bob\'s disconnect stored' });
      await waitFor(() => /"type":"disconnected","server":"[^"]+","user":"bob"/.test(received), { timeoutMs: 10_000, what: `the disconnect on the /api/stream of ${watcherReplica.id} (received: ${received})` });
      await new Promise((resolve) => setTimeout(resolve, POLL_SECONDS * 1000));
      expect(await eventsOf('bob')).toEqual([['connected', NAMES[serverOf('bob')]], ['disconnected', NAMES[serverOf('bob')]]]);
      await waitFor(() => noticesOf('bob', /disconnected/).length >= 1, { timeoutMs: 20_000, what: 'the disconnect notice' });
    } finally {
      await reader.cancel();
      await reading.catch(() => undefined);
    }
  }, 60_000);

  it('the holder of two servers killed with SIGKILL: both taken over within 3 intervals, from the stored baseline, nothing twice or lost', async () => {
    const before = await holders();
    const victim = ['replica-a', 'replica-b', 'replica-c'].find((id) => Object.values(before).filter((h) => h === id).length === 2)!;
    const orphaned = NAMES.filter((n) => before[n] === victim);
    const killedAt = Date.now();
    await kill(victim, 'SIGKILL');
    // Changes while nobody polls those servers: one client leaves, another arrives.
    const leaving = CLIENTS.find((c) => orphaned.includes(NAMES[serverOf(c)]!) && client(c).isRunning)!;
    const arriving = 'hank';
    const arrivingAt = NAMES.indexOf(orphaned[0]!);
    await client(leaving).disconnect();
    await client(arriving).connect(arrivingAt);

    // Taken over: held by a survivor and read by it, within 3 × POLL_INTERVAL of the kill.
    const takenOverAt = await waitFor(async () => {
      const now = await holders();
      if (!orphaned.every((n) => now[n] !== null && now[n] !== victim)) return null;
      const servers = await store.queries.servers();
      return orphaned.every((n) => (servers.find((s) => s.name === n)?.lastPollAt?.getTime() ?? 0) > killedAt + 1000) ? Date.now() : null;
    }, { timeoutMs: 4 * POLL_SECONDS * 1000, intervalMs: 250, what: `the servers of ${victim} (${orphaned.join(', ')}) taken over` });
    const seconds = (takenOverAt - killedAt) / 1000;
    console.log(`takeover after SIGKILL: ${seconds.toFixed(1)} s (POLL_INTERVAL ${POLL_SECONDS} s, lease ${2 * POLL_SECONDS} s)`);
    expect(seconds).toBeLessThanOrEqual(3 * POLL_SECONDS);

    await waitFor(async () => (await eventsOf(arriving)).length === 1 && (await eventsOf(leaving)).length === 2, { timeoutMs: 20_000, what: 'the changes made during the takeover found' });
    await new Promise((resolve) => setTimeout(resolve, POLL_SECONDS * 1000)); // more cycles by the new holders
    // Nobody who stayed connected was disconnected; the two changes are stored and announced once.
    for (const name of CLIENTS.filter((c) => client(c).isRunning && c !== arriving)) expect(await eventsOf(name), name).toEqual([['connected', NAMES[serverOf(name)]]]);
    expect(await eventsOf(leaving)).toEqual([['connected', NAMES[serverOf(leaving)]], ['disconnected', NAMES[serverOf(leaving)]]]);
    expect(await eventsOf(arriving)).toEqual([['connected', NAMES[arrivingAt]]]);
    await waitFor(() => noticesOf(leaving, /disconnected/).length >= 1 && noticesOf(arriving, /connected/).length >= 1, { timeoutMs: 20_000, what: 'the notices of the changes found on takeover' });
    announcedOnce.push([leaving, /disconnected/], [arriving, /connected/]);
    // Each management interface is held by its new holder's stream.
    const survivor = running()[0]!;
    await waitFor(async () => (await health(survivor)).servers.filter((s) => orphaned.includes(s.name)).every((s) => s.problems.length === 0), { timeoutMs: 20_000, what: 'the streams of the taken-over servers up' });
  }, 120_000);

  it('a new replica takes its share within a few intervals, by handover: nothing announced, nobody disconnected', async () => {
    const eventsBefore = (await events()).length;
    const joined = await startReplica('replica-d');
    await waitFor(async () => {
      const held = Object.values(await holders());
      const shares = running().map((r) => held.filter((h) => h === r.id).length).sort();
      return held.every(Boolean) && shares.join() === '1,1,2' && held.includes(joined.id);
    }, { timeoutMs: 6 * POLL_SECONDS * 1000, intervalMs: 500, what: 'replica-d holding its share' });
    await new Promise((resolve) => setTimeout(resolve, POLL_SECONDS * 1000));
    expect((await events()).slice(eventsBefore).map((e) => [e.type, e.user])).toEqual([]);
    // It polls what it took: a change on one of its servers is found and stored once.
    const now = await holders();
    const server = NAMES.findIndex((n) => now[n] === joined.id);
    await client('gina').connect(server);
    await waitFor(async () => (await eventsOf('gina')).length === 1, { timeoutMs: 30_000, what: 'gina stored' });
    expect(await eventsOf('gina')).toEqual([['connected', NAMES[server]]]);
  }, 120_000);

  it('/vpn kick arriving at a replica that does not hold the server: the holder kicks over its connection, verifies, and the admin gets the answer', async () => {
    const now = await holders();
    const server = NAMES[NAMES.findIndex((n) => now[n] === 'replica-d')]!;
    const asked = running().find((r) => r.id !== 'replica-d')!;
    const responsePath = '/response/kick-1';
    const body = slashCommandBody({ text: `kick gina ${server} all`, responseUrl: `${slack.base}${responsePath}` });
    const res = await fetch(`http://127.0.0.1:${asked.port}/slack/events`, { method: 'POST', body, headers: slackSignedHeaders(body, SLACK_SECRET) });
    expect(res.status).toBe(200);
    const answer = await waitFor(() => slack.calls.find((c) => c.path === responsePath)?.body as { text: string; blocks: unknown[] } | undefined, { timeoutMs: 30_000, what: 'the kick\'s answer through response_url' });
    expect(JSON.stringify(answer.blocks)).toContain('Kicked gina');
    expect(JSON.stringify(answer.blocks)).toContain('Verified: a fresh read no longer lists the kicked sessions.');
    // Carried out by the holder (through the request in MongoDB), not by the replica that was asked.
    expect(replicas.get('replica-d')!.output()).toMatch(/carrying out a kick request from replica /);
    expect(asked.output()).not.toMatch(/carrying out a kick request/);
    await waitFor(async () => (await eventsOf('gina')).length === 2, { timeoutMs: 20_000, what: 'gina\'s end stored' });
    expect(await eventsOf('gina')).toEqual([['connected', server], ['disconnected', server]]);
    const kicks = await store.audit.kicks('gina');
    expect(kicks.map((k) => [k.result, k.server])).toEqual([['kicked', server]]);
  }, 90_000);

  it('each change was announced once, whichever replica found it and whichever replicas ran', () => {
    for (const [user, what] of announcedOnce) expect(noticesOf(user, what), `${user} ${what.source}`).toHaveLength(1);
  });
});
