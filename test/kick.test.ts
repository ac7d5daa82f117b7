// The verified kick (src/kick.ts) end to end: real OpenVPN 2.6 servers and namespaced clients
// (test/harness/openvpn-lab.ts), their management interfaces reached through a real sshd, the
// last poll and the audit log in a real MongoDB-wire server.
import { pino } from 'pino';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Actor, type ServerConfig, isOnline } from '../src/domain.ts';
import { ManagementKicker } from '../src/kick/kicker.ts';
import { parseStatus } from '../src/openvpn/parse-status.ts';
import { Poller } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import type { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab, type LabClient } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { readWholeFiles } from './support/whole-reads.ts';
import { DedicatedManagementAccess } from '../src/openvpn/management-access.ts';

const prerequisites = [labAvailable(), sshdAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab and sshd',
);

const ADMIN: Actor = { platform: 'slack', userId: 'U0ADMIN', userName: 'ops-admin' };
const PASSWORD = 'kick-Secret';
const HINT = (server: string) => `${server} has no management interface configured; add management: { port: 7505 } to servers.yml`;
const silent = pino({ level: 'silent' });

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - started;
}

describeLab('ManagementKicker against OpenVPN 2.6 through a real sshd', () => {
  let sshd: Sshd;
  let lab: Lab;
  let store: Store;
  let pool: SshPool;
  let servers: ServerConfig[];
  let kicker: ManagementKicker;
  let alice: LabClient, bob: LabClient, dave: LabClient, erin: LabClient;
  let carols: LabClient[];
  const timings: Record<string, number> = {};
  /** What the kicker told onKilled (the poller's noteKicked in production). */
  const killed: [string, string[]][] = [];

  beforeAll(async () => {
    [sshd, lab, store] = await Promise.all([
      startSshd(),
      startLab({
        servers: [
          { proto: 'tcp', statusVersion: 3, managementPassword: PASSWORD }, // fra-1
          { proto: 'tcp', management: 'none' }, // ams-1
          { proto: 'tcp', duplicateCn: true, management: 'unix' }, // par-1
          { proto: 'udp', statusVersion: 3 }, // udp-1
        ],
        clients: ['alice', 'bob', 'carol', 'carol', 'carol', 'dave', 'erin'].map((commonName) => ({ commonName })),
      }),
      openTestStore(),
    ]);
    const [a, b, c1, c2, c3, d, e] = lab.clients as LabClient[];
    [alice, bob, dave, erin, carols] = [a!, b!, d!, e!, [c1!, c2!, c3!]];
    await Promise.all([alice.connect(0), bob.connect(1), ...carols.map((c) => c.connect(2)), dave.connect(3), erin.connect(3)]);
    const [fra, , par, udp] = lab.servers;
    servers = [
      sshd.serverConfig({ name: 'fra-1', statusPath: fra!.statusPath, management: { host: '127.0.0.1', port: fra!.managementPort!, password: PASSWORD, mode: 'short' } }),
      sshd.serverConfig({ name: 'ams-1', statusPath: lab.servers[1]!.statusPath }),
      sshd.serverConfig({ name: 'par-1', statusPath: par!.statusPath, management: { socket: par!.managementSocket!, mode: 'short' } }),
      sshd.serverConfig({ name: 'udp-1', statusPath: udp!.statusPath, management: { host: '127.0.0.1', port: udp!.managementPort!, mode: 'short' } }),
    ];
    pool = new SshPool({ connectTimeoutMs: 5000 });
    await recordPoll([1, 1, 3, 2]);
    kicker = new ManagementKicker({ store, servers, sshPool: pool, log: silent, onKilled: (server, sessions) => killed.push([server, sessions.map((s) => s.commonName)]) });
  });
  afterAll(async () => {
    console.log('kick timings (ms):', JSON.stringify(timings));
    await pool?.closeAll();
    await Promise.all([lab?.close(), sshd?.stop(), store && dropTestStore(store)]);
  });

  /** One poll of every lab server's status file over SFTP, stored by the poller: what "the last poll" says. */
  async function recordPoll(expectedOnline: number[]): Promise<void> {
    await Promise.all(servers.map((_, i) => lab.waitForStatus(i, (t) => parseStatus(t).sessions.filter(isOnline).length === expectedOnline[i], 10_000)));
    const reads = await readWholeFiles(servers, pool, { concurrency: 4, timeoutMs: 5000 });
    expect(reads.map((r) => r.ok && r.snapshot.complete && r.snapshot.sessions.length)).toEqual(expectedOnline);
    const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 3, targets: () => [], log: silent });
    await poller.start();
    await poller.apply(reads);
  }

  it('kicks a connected client found through the last poll: HALT, the client exits, a fresh read confirms, the kick is recorded', async () => {
    const started = Date.now();
    const outcome = await kicker.kick({ target: 'alice', by: ADMIN, where: '#vpn-admins' });
    timings.tcpKickToVerified = Date.now() - started;
    expect(outcome).toMatchObject({ result: 'kicked', verified: true });
    expect(outcome.sessions).toEqual([{
      server: 'fra-1', killed: true, gone: true,
      session: expect.objectContaining({ commonName: 'alice', realAddress: alice.address, virtualAddress: alice.expectedVirtualAddress(0) }),
    }]);
    const cid = outcome.sessions[0]!.session.clientId;
    expect(killed).toEqual([['fra-1', ['alice']]]);
    expect(outcome.message).toBe(`Kicked alice: ended fra-1 Client ID ${cid} from ${alice.address}. A fresh read confirms it is gone.`);
    // HALT, not RESTART: the client process exits instead of reconnecting.
    timings.tcpClientExitAfterVerified = await waitFor('alice exits', () => !alice.isRunning);
    expect(await store.audit.kicks('alice')).toEqual([{
      at: expect.any(Date), by: ADMIN, where: '#vpn-admins', target: 'alice', server: 'fra-1', clientIds: [cid], result: 'kicked', verified: true, message: outcome.message,
    }]);
  });

  it('several sessions of one common name: choose lists them and does nothing; a Client ID picks one; all ends the rest', async () => {
    const choose = await kicker.kick({ target: 'carol', server: 'par-1', by: ADMIN });
    expect(choose.result).toBe('choose');
    expect(choose.sessions.map((s) => s.session.realAddress).sort()).toEqual(carols.map((c) => c.address).sort());
    expect(choose.sessions.every((s) => !s.killed && !s.gone && s.server === 'par-1')).toBe(true);
    const cids = choose.sessions.map((s) => s.session.clientId);
    expect(new Set(cids).size).toBe(3);
    expect(choose.message).toMatch(/^'carol' has 3 sessions: par-1 Client ID \d+ from .*\. Say which Client ID to end, or all\. Nothing was done\.$/);
    expect(carols.every((c) => c.isRunning)).toBe(true);

    const first = choose.sessions.find((s) => s.session.realAddress === carols[0]!.address)!;
    const one = await kicker.kick({ target: 'carol', server: 'par-1', which: String(first.session.clientId), by: ADMIN });
    expect(one).toMatchObject({ result: 'kicked', verified: true });
    expect(one.sessions.map((s) => [s.session.clientId, s.killed, s.gone])).toEqual([[first.session.clientId, true, true]]);
    await waitFor('the picked carol exits', () => !carols[0]!.isRunning);
    expect(carols[1]!.isRunning && carols[2]!.isRunning).toBe(true);

    const rest = await kicker.kick({ target: 'carol', server: 'par-1', which: 'all', by: ADMIN });
    expect(rest).toMatchObject({ result: 'kicked', verified: true });
    expect(rest.sessions.map((s) => s.session.realAddress).sort()).toEqual([carols[1]!.address, carols[2]!.address].sort());
    await waitFor('the other carols exit', () => !carols[1]!.isRunning && !carols[2]!.isRunning);

    const records = await store.audit.kicks('carol');
    expect(records.map((r) => [r.result, r.verified, r.clientIds.length, r.server])).toEqual([
      ['kicked', true, 2, 'par-1'],
      ['kicked', true, 1, 'par-1'],
      ['choose', false, 0, 'par-1'], // nothing done, asked which
    ]);
  });

  it('a UDP client: OpenVPN lists a HALTed client for ~5 s; the kick waits for that, or says it could not confirm', async () => {
    const impatient = new ManagementKicker({ store, servers, sshPool: pool, log: silent, verifyTimeoutMs: 1000 });
    const unconfirmed = await impatient.kick({ target: 'erin', by: ADMIN });
    expect(unconfirmed).toMatchObject({ result: 'kicked', verified: false });
    expect(unconfirmed.sessions.map((s) => [s.server, s.killed, s.gone, s.error])).toEqual([['udp-1', true, false, 'still listed 1 s after client-kill']]);
    const cid = unconfirmed.sessions[0]!.session.clientId;
    expect(unconfirmed.message).toBe(`Kicked erin: ended udp-1 Client ID ${cid} from ${erin.address}. ` +
      `Not confirmed gone within 1 s: udp-1 Client ID ${cid} from ${erin.address} (still listed 1 s after client-kill); check with /vpn user erin.`);

    const started = Date.now();
    const outcome = await kicker.kick({ target: 'dave', by: ADMIN });
    timings.udpKickToVerified = Date.now() - started;
    expect(outcome).toMatchObject({ result: 'kicked', verified: true });
    expect(outcome.sessions.map((s) => [s.server, s.session.commonName, s.killed, s.gone])).toEqual([['udp-1', 'dave', true, true]]);
    expect(dave.isRunning).toBe(false); // the client exits at once; the server lets go of it later
    expect(erin.isRunning).toBe(false);
    expect((await store.audit.kicks('erin')).map((r) => [r.result, r.verified])).toEqual([['kicked', false]]);
  });

  it('nobody by that name: not-found, from the last poll and from a fresh read; both recorded', async () => {
    const lastPoll = await kicker.kick({ target: 'nobody', by: ADMIN });
    expect(lastPoll).toEqual({ result: 'not-found', sessions: [], verified: false, message: "'nobody' is not online on any server (as of the last poll)." });
    const fresh = await kicker.kick({ target: 'nobody', server: 'fra-1', by: ADMIN });
    expect(fresh).toEqual({ result: 'not-found', sessions: [], verified: false, message: "'nobody' has no session on fra-1 right now." });
    expect((await store.audit.kicks('nobody')).map((r) => [r.result, r.server])).toEqual([['not-found', 'fra-1'], ['not-found', null]]);
  });

  it('a server without management: failed with the hint, whether named or found through the last poll; the client stays', async () => {
    const named = await kicker.kick({ target: 'bob', server: 'ams-1', by: ADMIN });
    expect(named).toEqual({ result: 'failed', sessions: [], verified: false, message: HINT('ams-1') });
    const found = await kicker.kick({ target: 'bob', by: ADMIN });
    expect(found.result).toBe('failed');
    expect(found.sessions).toEqual([{ server: 'ams-1', killed: false, gone: false, error: HINT('ams-1'), session: expect.objectContaining({ commonName: 'bob', realAddress: bob.address }) }]);
    expect(found.message).toBe(`Could not kick bob: ams-1 Client ID ${found.sessions[0]!.session.clientId} from ${bob.address}: ${HINT('ams-1')}.`);
    expect(bob.isRunning).toBe(true);
    expect((await store.audit.kicks('bob')).map((r) => [r.result, r.server, r.message])).toEqual([['failed', 'ams-1', found.message], ['failed', 'ams-1', HINT('ams-1')]]);
  });

  it('an unknown server (a usage error), a wrong management password, or a busy interface: nothing done, saying why', async () => {
    const unknown = await kicker.kick({ target: 'bob', server: 'zz-9', by: ADMIN });
    expect(unknown).toEqual({ result: 'invalid', sessions: [], verified: false, message: "No server 'zz-9'. Known: fra-1, ams-1, par-1, udp-1" });

    const wrongPassword = servers.map((s) => (s.name === 'fra-1' ? { ...s, management: { ...s.management!, password: 'not-it' } } : s));
    const wrong = await new ManagementKicker({ store, servers: wrongPassword, sshPool: pool, log: silent }).kick({ target: 'alice', server: 'fra-1', by: ADMIN });
    expect(wrong.result).toBe('failed');
    expect(wrong.message).toMatch(/^fra-1: the management interface refused the password/);

    // Another management client (an admin's telnet, say) holds fra-1's interface.
    const holder = net.connect(lab.servers[0]!.managementPort!, '127.0.0.1');
    await new Promise((resolve) => holder.once('data', resolve)); // its password prompt: it is being served
    try {
      const access = new DedicatedManagementAccess(pool, { greetingTimeoutMs: 1000 });
      const busy = await new ManagementKicker({ store, servers, sshPool: pool, log: silent, access }).kick({ target: 'alice', server: 'fra-1', by: ADMIN });
      expect(busy.result).toBe('failed');
      expect(busy.message).toContain('fra-1: the management interface accepted the connection but sent no greeting within 1000 ms');
      expect(busy.message).toContain('one management client at a time');
    } finally {
      holder.destroy();
    }
    expect((await store.audit.kicks(undefined, 3)).map((r) => [r.target, r.server, r.result])).toEqual([
      ['alice', 'fra-1', 'failed'], ['alice', 'fra-1', 'failed'], ['bob', 'zz-9', 'invalid'],
    ]);
  });
});
