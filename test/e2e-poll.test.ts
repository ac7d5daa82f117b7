// End to end, all real: an OpenVPN 2.6 server (status-version 2, rewritten every second) with
// clients in their own network namespaces, its status file read through a real sshd by the real
// Bree job in a worker thread, diffed and stored in a MongoDB-wire server. Starting and stopping
// a client must yield connect and disconnect events and the right online and last-seen state.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type Bree from 'bree';
import type { ServerRead } from '../src/domain.ts';
import { logger } from '../src/log.ts';
import { Poller } from '../src/poll/poller.ts';
import { createPollScheduler, stopScheduler } from '../src/poll/scheduler.ts';
import type { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { waitFor } from './support/wait.ts';

const lab = labAvailable();
const sshd = sshdAvailable();
const describeE2e = requirePrerequisite({ ok: lab.ok && sshd.ok, why: [lab.why, sshd.why].filter(Boolean).join('; ') }, 'OpenVPN lab and sshd');

const POLL_SECONDS = 2;

describeE2e('polling a real OpenVPN server through sshd', () => {
  let vpn: Lab;
  let ssh: Sshd;
  let store: Store;
  let bree: Bree;
  const reads: ServerRead[] = [];

  beforeAll(async () => {
    vpn = await startLab({ servers: [{ statusVersion: 2, statusIntervalSeconds: 1, proto: 'tcp' }], clients: 2 });
    ssh = await startSshd();
    store = await openTestStore();
    const server = ssh.serverConfig({ name: 'lab-1', statusPath: vpn.servers[0]!.statusPath, statusRefreshSeconds: 1 });
    const poller = new Poller({ store, servers: [server], pollIntervalSeconds: POLL_SECONDS, downAfter: 3, targets: () => ['log'], log: logger.child({ test: 'e2e' }) });
    await poller.start();
    bree = createPollScheduler({
      intervalSeconds: POLL_SECONDS, order: () => ({ servers: [server], concurrency: 4, timeoutMs: 10_000 }),
      baseline: (name) => poller.online(name), closeWorkerAfterMs: 20_000, log: logger,
      onMessage: (msg) => {
        if (msg.type !== 'read') return;
        reads.push(msg.read);
        void poller.apply([msg.read]);
      },
      onError: (err) => { throw err; },
    });
    await bree.start();
    // The first good read sets the baseline (nobody connected yet, nothing announced).
    await waitFor(() => reads.some((r) => r.ok), { timeoutMs: 20_000, what: 'a first good read' });
  }, 60_000);

  afterAll(async () => {
    await stopScheduler(bree);
    await vpn?.close();
    await ssh?.stop();
    if (store) await dropTestStore(store);
  });

  it('reads the status file through sshd in a Bree worker thread', () => {
    const first = reads.find((r) => r.ok)!;
    expect(first).toMatchObject({ server: 'lab-1', ok: true, source: 'status-file' });
    if (first.ok) expect(first.snapshot).toMatchObject({ format: 'openvpn-status-v2', complete: true, sessions: [] });
  });

  it('a client that connects is announced as connected, with its virtual address', async () => {
    const client = vpn.clients[0]!;
    await client.connect(0);
    await expect.poll(async () => (await store.queries.online()).map((s) => [s.server, s.commonName, s.virtualAddress]), { timeout: 20_000, interval: 500 })
      .toEqual([['lab-1', client.statusCommonName, client.expectedVirtualAddress(0)]]);
    const events = await store.queries.eventsSince(new Date(0));
    expect(events.map((e) => [e.type, e.user, e.session?.virtualAddress])).toEqual([['connected', client.statusCommonName, client.expectedVirtualAddress(0)]]);
    const report = (await store.queries.userReport(client.statusCommonName))!;
    expect(report.user).toMatchObject({ online: true, lastServer: 'lab-1', sessionCount: 1 });
    expect(report.online[0]!.clientId).toEqual(expect.any(Number));
  }, 40_000);

  it('a client that stops is announced as disconnected, and its user is offline with a last-seen time', async () => {
    const client = vpn.clients[0]!;
    const stoppedAt = Date.now();
    await client.disconnect();
    await expect.poll(async () => (await store.queries.online()).length, { timeout: 30_000, interval: 500 }).toBe(0);
    const events = await store.queries.eventsSince(new Date(0));
    expect(events.map((e) => [e.type, e.user])).toEqual([['connected', client.statusCommonName], ['disconnected', client.statusCommonName]]);
    const report = (await store.queries.userReport(client.statusCommonName))!;
    expect(report.user.online).toBe(false);
    expect(report.user.lastSeen.getTime()).toBeGreaterThanOrEqual(stoppedAt - POLL_SECONDS * 1000);
    expect(report.recent[0]).toMatchObject({ server: 'lab-1', endedBy: 'disconnected' });
    expect(report.recent[0]!.disconnectedAt).not.toBeNull();
  }, 50_000);

  it('the other client never showed up and was never announced', async () => {
    expect((await store.queries.eventsSince(new Date(0))).some((e) => e.user === vpn.clients[1]!.statusCommonName)).toBe(false);
  });
});
