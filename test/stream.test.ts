// The management stream (src/management-stream.ts) end to end: real OpenVPN 2.6 servers and
// namespaced clients (test/harness/openvpn-lab.ts), their management interfaces reached through a
// real sshd, reads diffed by the real Poller into a MongoDB-wire server, with a real status-file
// poll (SFTP through the same sshd) beside it where a test needs both paths.
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor, ServerConfig, ServerRead } from '../src/domain.ts';
import { ManagementKicker } from '../src/kick/kicker.ts';
import { LiveFeed, type LiveUpdate } from '../src/poll/live-feed.ts';
import type { LiveModeInfo } from '../src/domain.ts';
import { ManagementStream } from '../src/poll/management-stream.ts';
import { ManagementClient } from '../src/openvpn/management.ts';
import { parseStatus } from '../src/openvpn/parse-status.ts';
import { Poller, type CycleReport } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import type { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab, type LabClient } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { waitFor } from './support/wait.ts';
import { readWholeFiles } from './support/whole-reads.ts';
import { DedicatedManagementAccess } from '../src/openvpn/management-access.ts';
import { type StoredEvent } from '../src/store/records.ts';

const prerequisites = [labAvailable(), sshdAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab and sshd',
);

const silent = pino({ level: 'silent' });
const ADMIN: Actor = { platform: 'slack', userId: 'U0ADMIN', userName: 'ops-admin' };
const PASSWORD = 'stream-Secret';
/** status 3 every 2 s on the main stream: the production default. */
const STATUS_SECONDS = 2;

// Lab server index → vpnwatch server name.
const TCP = 0, PW = 1, UNIX = 2, SHORT = 3, UDP = 4, EST = 5, PW_WRONG = 6;
const NAMES = ['tcp-1', 'pw-1', 'unix-1', 'short-1', 'udp-1', 'est-1', 'pw-wrong'];
const CLIENTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivy', 'jack', 'kim', 'liam'];

describeLab('management stream against OpenVPN 2.6 through a real sshd', () => {
  let sshd: Sshd;
  let lab: Lab;
  let store: Store;
  /** The main thread's pool (streams and kicks); file polls use their own, like the Bree worker. */
  let sshPool: SshPool;
  let filePool: SshPool;
  let servers: ServerConfig[];
  let poller: Poller;
  /** Every read handed to the poller, with what it made of it (a superseded read is missing from the report). */
  const applied: { read: ServerRead; report: CycleReport }[] = [];
  const recorder: Pick<Poller, 'apply' | 'noteLeaving'> = {
    apply: async (reads) => {
      const report = await poller.apply(reads);
      for (const read of reads) applied.push({ read, report });
      return report;
    },
    noteLeaving: (server, who, ttlMs) => {
      leavingNoted.push({ server, commonName: who.commonName });
      return poller.noteLeaving(server, who, ttlMs);
    },
  };
  /** Sessions the stream marked as leaving from an exit notice in OpenVPN's log. */
  const leavingNoted: { server: string; commonName: string }[] = [];
  let stream: ManagementStream;
  /** est-1 only, with status 3 hourly: whatever shows within seconds came from ESTABLISHED. */
  let establishedOnly: ManagementStream;
  const live: LiveUpdate[] = [];
  const client = (name: string): LabClient => lab.clients[CLIENTS.indexOf(name)]!;

  beforeAll(async () => {
    [sshd, lab, store] = await Promise.all([
      startSshd(),
      startLab({
        servers: [
          { proto: 'tcp', statusVersion: 3 },
          { proto: 'tcp', managementPassword: PASSWORD },
          { proto: 'tcp', management: 'unix' },
          { proto: 'tcp' },
          { proto: 'udp' },
          { proto: 'tcp' },
          { proto: 'tcp', managementPassword: PASSWORD },
        ],
        clients: CLIENTS.map((commonName) => ({ commonName })),
      }),
      openTestStore(),
    ]);
    servers = lab.servers.map((s, i) => sshd.serverConfig({
      name: NAMES[i]!, statusPath: s.statusPath, statusRefreshSeconds: 1,
      management: s.managementSocket
        ? { socket: s.managementSocket, mode: 'stream' }
        : { host: '127.0.0.1', port: s.managementPort!, mode: i === SHORT ? 'short' : 'stream', ...(s.managementPassword ? { password: i === PW_WRONG ? 'not-it' : s.managementPassword } : {}) },
    }));
    sshPool = new SshPool({ connectTimeoutMs: 5000 });
    filePool = new SshPool({ connectTimeoutMs: 5000 });
    const feed = new LiveFeed();
    feed.subscribe((u) => live.push(u));
    poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 3, targets: () => ['log'], log: silent, live: feed });
    await poller.start();
    stream = new ManagementStream({
      servers: servers.filter((s) => s.name !== 'est-1'), sshPool, poller: recorder, statusIntervalSeconds: STATUS_SECONDS, log: silent,
      connect: { greetingTimeoutMs: 1000 },
    });
    establishedOnly = new ManagementStream({ servers: [servers[EST]!], sshPool, poller: recorder, statusIntervalSeconds: 3600, log: silent });
    stream.start();
    establishedOnly.start();
    // Every reachable server's first read sets its baseline (nobody is connected yet).
    await waitFor(() => NAMES.filter((n) => n !== 'pw-wrong').every((n) => modes()[n]?.lastReadAt), { timeoutMs: 20_000, what: 'a first management read of every server' });
  });

  afterAll(async () => {
    await Promise.all([stream?.stop(), establishedOnly?.stop()]);
    await Promise.all([sshPool?.closeAll(), filePool?.closeAll()]);
    await Promise.all([lab?.close(), sshd?.stop(), store && dropTestStore(store)]);
  });

  function modes(): Record<string, LiveModeInfo> {
    return { ...stream.modes(), ...establishedOnly.modes() };
  }

  async function events(server: string, since = new Date(0)): Promise<StoredEvent[]> {
    return (await store.queries.eventsSince(since)).filter((e) => e.server === server);
  }

  const summary = (list: StoredEvent[]) => list.map((e) => [e.type, e.user]);

  /** One status-file read over SFTP (through sshd), handed to the same poller. */
  async function filePoll(name: string): Promise<CycleReport> {
    return recorder.apply(await readWholeFiles(servers.filter((s) => s.name === name), filePool, { concurrency: 1, timeoutMs: 5000 }));
  }

  /** Waits until the common names the lab server's status file lists online satisfy `predicate`. */
  function statusFileLists(serverIndex: number, predicate: (names: string[]) => boolean): Promise<string> {
    return lab.waitForStatus(serverIndex, (t) => predicate(parseStatus(t).sessions.filter((s) => s.virtualAddress).map((s) => s.commonName)), 15_000);
  }

  it('reports each server\'s mode: stream, short, and reconnecting with the reason when the password is wrong', () => {
    const m = modes();
    expect(Object.fromEntries(Object.entries(m).map(([name, info]) => [name, info.mode]))).toEqual({
      'tcp-1': 'stream', 'pw-1': 'stream', 'unix-1': 'stream', 'short-1': 'short', 'udp-1': 'stream', 'est-1': 'stream', 'pw-wrong': 'reconnecting',
    });
    expect(m['pw-wrong']!.lastError).toMatch(/^pw-wrong: the management interface refused the password/);
    expect(m['tcp-1']!.lastError).toBeUndefined();
    expect(Date.parse(m['tcp-1']!.since)).not.toBeNaN();
  });

  it('a connect is stored within seconds from >CLIENT:ESTABLISHED, with status 3 only hourly and no file poll, and reaches the live feed', async () => {
    const alice = client('alice');
    const before = live.length;
    await alice.connect(EST);
    // The periodic status 3 is an hour away: a connect stored at all came from ESTABLISHED.
    await waitFor(async () => (await events('est-1')).length > 0, { timeoutMs: 10_000, intervalMs: 50, what: 'the connect stored' });
    const stored = await events('est-1');
    expect(stored.map((e) => [e.type, e.user, e.session?.virtualAddress])).toEqual([['connected', 'alice', alice.expectedVirtualAddress(EST)]]);
    // The server's state is a cycle's last write (its commit point), a moment after its events.
    await waitFor(async () => (await store.queries.servers()).find((s) => s.name === 'est-1')?.onlineCount === 1, { timeoutMs: 5000, intervalMs: 50, what: 'est-1 stored with alice online' });
    expect((await store.queries.servers()).find((s) => s.name === 'est-1')).toMatchObject({ source: 'management', onlineCount: 1 });
    const update = live.slice(before).find((u) => u.events.some((e) => e.type === 'connected' && e.user === 'alice'));
    expect(update?.servers).toEqual(['est-1']);
  });

  it('a client that stops is stored as disconnected at once: TCP from the status 3, UDP from its exit notice in the log (OpenVPN lists it ~5 s more)', async () => {
    const bob = client('bob');
    const carol = client('carol');
    await Promise.all([bob.connect(TCP), carol.connect(UDP)]);
    await waitFor(async () => (await events('tcp-1')).length === 1 && (await events('udp-1')).length === 1, { timeoutMs: 5000, what: 'both connects stored' });
    await Promise.all([bob.disconnect(TCP), carol.disconnect(UDP)]);
    await waitFor(async () => (await events('tcp-1')).length === 2, { timeoutMs: 6000, intervalMs: 100, what: 'bob\'s disconnect stored' });
    await waitFor(async () => (await events('udp-1')).length === 2, { timeoutMs: 12_000, intervalMs: 100, what: 'carol\'s disconnect stored' });
    // Carol's end came from her exit notice in the log (OpenVPN keeps listing her ~5 s), not from the status.
    expect(leavingNoted).toContainEqual({ server: 'udp-1', commonName: 'carol' });
    // ...and the status 3 reads that still list her for those seconds do not bring her back.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(summary(await events('tcp-1'))).toEqual([['connected', 'bob'], ['disconnected', 'bob']]);
    expect(summary(await events('udp-1'))).toEqual([['connected', 'carol'], ['disconnected', 'carol']]);
    expect((await events('tcp-1'))[1]!.endedBy).toBe('disconnected');
    expect(await store.queries.online('tcp-1')).toEqual([]);
  });

  it('a management password: the stream logs in and announces connects', async () => {
    const dave = client('dave');
    await dave.connect(PW);
    await waitFor(async () => (await events('pw-1')).length > 0, { timeoutMs: 5000, what: 'dave\'s connect stored' });
    expect(summary(await events('pw-1'))).toEqual([['connected', 'dave']]);
    expect(applied.filter((a) => a.read.server === 'pw-1').every((a) => a.read.source === 'management')).toBe(true);
  });

  it('a unix-socket management interface: connects and disconnects', async () => {
    const erin = client('erin');
    await erin.connect(UNIX);
    await waitFor(async () => (await events('unix-1')).length === 1, { timeoutMs: 5000, what: 'erin\'s connect stored' });
    await erin.disconnect(UNIX);
    await waitFor(async () => (await events('unix-1')).length === 2, { timeoutMs: 6000, what: 'erin\'s disconnect stored' });
    expect(summary(await events('unix-1'))).toEqual([['connected', 'erin'], ['disconnected', 'erin']]);
    expect(modes()['unix-1']!.mode).toBe('stream');
  });

  it('short mode reads per cycle and leaves the interface free in between: another client gets in, and short reads resume after it', async () => {
    const frank = client('frank');
    await frank.connect(SHORT);
    await waitFor(async () => (await events('short-1')).length === 1, { timeoutMs: 6000, what: 'frank\'s connect stored' });
    expect(summary(await events('short-1'))).toEqual([['connected', 'frank']]);

    // Another tool takes the interface between two of our reads: it is greeted (we are not holding it).
    const other = await ManagementClient.open(net.connect(lab.servers[SHORT]!.managementPort!, '127.0.0.1'), { greetingTimeoutMs: 3000 });
    try {
      expect(other.managementVersion).toBe(5);
      // While it holds the interface, our reads find it busy; nothing is fed, the mode stays short.
      await waitFor(() => modes()['short-1']!.lastError?.includes('one management client at a time'), { timeoutMs: 6000, what: 'a busy short read' });
      expect(modes()['short-1']!.mode).toBe('short');
      expect((await other.status(3)).sessions.map((s) => s.commonName)).toEqual(['frank']);
    } finally {
      await other.quit();
    }
    const readsBefore = applied.filter((a) => a.read.server === 'short-1').length;
    await waitFor(() => applied.filter((a) => a.read.server === 'short-1').length > readsBefore, { timeoutMs: 6000, what: 'short reads again' });
    expect(modes()['short-1']!.lastError).toBeUndefined();
  });

  it('while the stream is down (wrong password) the status-file poll updates the server, and a kick falls back to a connection of its own', async () => {
    const kim = client('kim');
    await kim.connect(PW_WRONG);
    await statusFileLists(PW_WRONG, (names) => names.includes('kim'));
    await filePoll('pw-wrong'); // the first good read of this server: the baseline, not announced
    expect(summary(await events('pw-wrong'))).toEqual([]);
    expect((await store.queries.online('pw-wrong')).map((s) => s.commonName)).toEqual(['kim']);
    expect((await store.queries.servers()).find((s) => s.name === 'pw-wrong')).toMatchObject({ source: 'status-file', lastResult: 'ok' });

    // The kicker knows the right password; the stream (wrong one) keeps retrying on the same queue.
    const kicker = new ManagementKicker({
      store, servers: servers.map((s) => (s.name === 'pw-wrong' ? { ...s, management: { ...s.management!, password: PASSWORD } } : s)),
      sshPool, log: silent, access: stream, onKilled: (server, sessions) => poller.noteKicked(server, sessions),
    });
    const outcome = await kicker.kick({ target: 'kim', server: 'pw-wrong', by: ADMIN });
    expect(outcome).toMatchObject({ result: 'kicked', verified: true });
    await statusFileLists(PW_WRONG, (names) => !names.includes('kim'));
    await filePoll('pw-wrong');
    const stored = await events('pw-wrong');
    expect(stored.map((e) => [e.type, e.user, e.endedBy])).toEqual([['disconnected', 'kim', 'kicked']]);
    expect(modes()['pw-wrong']!.mode).toBe('reconnecting');
  });

  it('seen by both the stream and the file poll, each change is announced once: stream first for a connect, file first for a disconnect', async () => {
    const gina = client('gina');
    const hank = client('hank');
    const eventsBefore = (await events('est-1')).length;
    await gina.connect(EST);
    await waitFor(async () => (await events('est-1')).length === eventsBefore + 1, { timeoutMs: 5000, what: 'gina\'s connect from the stream' });
    // The file catches up: applied (not superseded once it is written in a later second), no new event.
    await statusFileLists(EST, (names) => names.includes('gina'));
    await waitFor(async () => (await filePoll('est-1')).servers.length === 1, { timeoutMs: 5000, what: 'a file read newer than the stream\'s' });

    // est-1 runs status 3 only hourly: the file poll sees gina leave first.
    await gina.disconnect(EST);
    await statusFileLists(EST, (names) => !names.includes('gina'));
    await filePoll('est-1');
    // The stream reads again (hank's ESTABLISHED) and also finds gina gone: nothing more for her.
    await hank.connect(EST);
    await waitFor(async () => (await events('est-1')).some((e) => e.user === 'hank'), { timeoutMs: 5000, what: 'hank\'s connect' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await filePoll('est-1');
    const after = (await events('est-1')).slice(eventsBefore);
    expect(summary(after)).toEqual([['connected', 'gina'], ['disconnected', 'gina'], ['connected', 'hank']]);
    const sources = applied.filter((a) => a.read.server === 'est-1' && a.report.servers.some((s) => s.events.length > 0))
      .map((a) => [a.read.source, a.report.servers[0]!.events.map((e) => `${e.type} ${e.session?.commonName}`)]).slice(-3);
    expect(sources).toEqual([['management', ['connected gina']], ['status-file', ['disconnected gina']], ['management', ['connected hank']]]);
  });

  it('with a file poll racing the stream (file read every ~0.3 s, status 3 every 2 s), three connect/disconnect rounds are announced once each', { timeout: 60_000 }, async () => {
    const ivy = client('ivy');
    // A client that stays on: OpenVPN rewrites its status file only when its event loop wakes,
    // which on a server with nobody connected can be seconds apart (measured: up to ~8 s).
    const kim = client('kim');
    await kim.connect(TCP);
    await waitFor(async () => (await store.queries.online('tcp-1')).length === 1, { timeoutMs: 5000, what: 'kim online' });
    const since = new Date();
    let polling = true;
    const fileLoop = (async () => {
      while (polling) {
        await filePoll('tcp-1');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    try {
      for (let round = 1; round <= 3; round++) {
        await ivy.connect(TCP);
        await waitFor(async () => (await events('tcp-1', since)).length === 2 * round - 1, { timeoutMs: 6000, what: `ivy's connect ${round}` });
        await new Promise((resolve) => setTimeout(resolve, 2500)); // both paths see ivy online for a while
        await ivy.disconnect(TCP);
        await waitFor(async () => (await events('tcp-1', since)).length === 2 * round, { timeoutMs: 6000, what: `ivy's disconnect ${round}` });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await new Promise((resolve) => setTimeout(resolve, 2000)); // room for a late duplicate to show
    } finally {
      polling = false;
      await fileLoop;
      await kim.disconnect(TCP);
    }
    expect(summary(await events('tcp-1', since))).toEqual(Array.from({ length: 3 }, () => [['connected', 'ivy'], ['disconnected', 'ivy']]).flat());
    const fileReads = applied.filter((a) => a.read.server === 'tcp-1' && a.read.source === 'status-file' && a.read.readAt > since.toISOString());
    expect(fileReads.length).toBeGreaterThan(5);
    // Some file reads were taken (written in a later second than the stream's last read), some
    // dropped as older: both paths really fed the one baseline.
    expect(fileReads.some((a) => a.report.servers.length === 1)).toBe(true);
    expect(fileReads.some((a) => a.report.servers.length === 0)).toBe(true);
  });

  it('a kick while the stream holds the interface borrows its connection (a second connection would find it busy); the stream stays up', async () => {
    const jack = client('jack');
    await jack.connect(TCP);
    await waitFor(async () => (await store.queries.online('tcp-1')).some((s) => s.commonName === 'jack'), { timeoutMs: 5000, what: 'jack online' });
    const since = modes()['tcp-1']!.since;

    const ownConnection = new ManagementKicker({ store, servers, sshPool, log: silent, access: new DedicatedManagementAccess(sshPool, { greetingTimeoutMs: 1000 }) });
    const busy = await ownConnection.kick({ target: 'jack', server: 'tcp-1', by: ADMIN });
    expect(busy.result).toBe('failed');
    expect(busy.message).toContain('one management client at a time');

    const kicker = new ManagementKicker({ store, servers, sshPool, log: silent, access: stream, onKilled: (server, sessions) => poller.noteKicked(server, sessions) });
    const outcome = await kicker.kick({ target: 'jack', server: 'tcp-1', by: ADMIN });
    expect(outcome).toMatchObject({ result: 'kicked', verified: true });
    expect(outcome.sessions.map((s) => [s.session.commonName, s.killed, s.gone])).toEqual([['jack', true, true]]);
    await waitFor(async () => (await events('tcp-1')).some((e) => e.user === 'jack' && e.type === 'disconnected'), { timeoutMs: 5000, what: 'jack\'s disconnect' });
    expect((await events('tcp-1')).filter((e) => e.user === 'jack').map((e) => [e.type, e.endedBy ?? null])).toEqual([['connected', null], ['disconnected', 'kicked']]);
    expect(modes()['tcp-1']).toMatchObject({ mode: 'stream', since });
  });

  it('OpenVPN restarted under the stream: it reconnects; each client\'s session really ended and a new one began, announced once, with no false disconnects', async () => {
    const [hank, liam] = [client('hank'), client('liam')];
    await Promise.all([hank.connect(TCP), liam.connect(TCP)]);
    await waitFor(async () => (await store.queries.online('tcp-1')).length === 2, { timeoutMs: 5000, what: 'hank and liam online' });
    const cidsBefore = (await store.queries.online('tcp-1')).map((s) => s.clientId);
    const since = new Date();
    const seenModes = new Set<string>();
    const watch = setInterval(() => seenModes.add(modes()['tcp-1']!.mode), 20);
    let polling = true;
    const fileLoop = (async () => {
      while (polling) {
        await filePoll('tcp-1');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      await lab.servers[TCP]!.restart({ waitForClients: true });
      await waitFor(async () => modes()['tcp-1']!.mode === 'stream' && (await store.queries.online('tcp-1')).length === 2, { timeoutMs: 15_000, what: 'the stream back, both online' });
      await new Promise((resolve) => setTimeout(resolve, 3000)); // room for a late duplicate or false disconnect
    } finally {
      clearInterval(watch);
      polling = false;
      await fileLoop;
    }
    expect(seenModes).toEqual(new Set(['stream', 'reconnecting']));
    expect(modes()['tcp-1']!.lastError).toBeUndefined();
    const online = await store.queries.online('tcp-1');
    expect(online.map((s) => s.commonName).sort()).toEqual(['hank', 'liam']);
    expect(online.some((s) => cidsBefore.includes(s.clientId))).toBe(false); // new OpenVPN process, new sessions
    // Per client: the old session ended and a new one began, told once: one "reconnected" when a
    // read saw both, else one disconnect then one connect. Nothing else (no server-down either).
    const restartEvents = await events('tcp-1', since);
    for (const name of ['hank', 'liam']) {
      const mine = restartEvents.filter((e) => e.user === name).map((e) => e.type);
      expect([['reconnected'], ['disconnected', 'connected']]).toContainEqual(mine);
    }
    expect(restartEvents.every((e) => e.user === 'hank' || e.user === 'liam')).toBe(true);
  }, 60_000);

  it('SSH lost (sshd and its sessions killed, then started again): every stream reconnects over a new SSH connection, and nobody is announced', async () => {
    const since = new Date();
    const streaming = Object.entries(modes()).filter(([, m]) => m.mode === 'stream').map(([name]) => name);
    expect(streaming.sort()).toEqual(['est-1', 'pw-1', 'tcp-1', 'udp-1', 'unix-1']);
    await sshd.restart();
    await waitFor(() => streaming.every((name) => modes()[name]!.mode === 'stream' && modes()[name]!.since > since.toISOString() && modes()[name]!.lastReadAt! > since.toISOString()),
      { timeoutMs: 15_000, what: 'every stream back, with a fresh read' });
    expect((await store.queries.eventsSince(since)).map((e) => [e.type, e.server, e.user])).toEqual([]);
    expect((await store.queries.online('tcp-1')).map((s) => s.commonName).sort()).toEqual(['hank', 'liam']);
  });

  it('stop() quits every connection: each interface greets the next client at once, and modes stop changing', async () => {
    await Promise.all([stream.stop(), establishedOnly.stop()]);
    const greeted = await Promise.all([TCP, UDP, EST].map((i) => ManagementClient.open(net.connect(lab.servers[i]!.managementPort!, '127.0.0.1'), { greetingTimeoutMs: 1000 })));
    expect(greeted.map((c) => c.isOpen)).toEqual([true, true, true]);
    await Promise.all(greeted.map((c) => c.quit()));
    const unix = await ManagementClient.open(net.connect(lab.servers[UNIX]!.managementSocket!), { greetingTimeoutMs: 1000 });
    await unix.quit();
    const pw = await ManagementClient.open(net.connect(lab.servers[PW]!.managementPort!, '127.0.0.1'), { greetingTimeoutMs: 1000, password: PASSWORD });
    await pw.quit();
    const after = applied.length;
    await new Promise((resolve) => setTimeout(resolve, 2 * STATUS_SECONDS * 1000));
    expect(applied.length).toBe(after); // no read after stop
  });
});

describe('ManagementStream without management servers', () => {
  it('reports file-only and starts and stops without touching SSH', async () => {
    const server: ServerConfig = {
      name: 'ams-1', host: '192.0.2.1', port: 22, username: 'u', insecureSkipHostKeyCheck: true, statusPath: '/x', statusRefreshSeconds: 60, timezone: 'UTC',
    };
    const apply = async () => { throw new Error('must not be called'); };
    const s = new ManagementStream({ servers: [server], sshPool: new SshPool({ connectTimeoutMs: 100 }), poller: { apply, noteLeaving: () => false }, statusIntervalSeconds: 2, log: silent });
    s.start();
    expect(s.modes()).toEqual({ 'ams-1': { mode: 'file-only', since: expect.any(String) } });
    await s.stop();
  });
});
