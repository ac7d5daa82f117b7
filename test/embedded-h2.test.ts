// mongo-java-server with its H2 file, the offline default of `vpnwatch start`: what was written is
// there after a stop, after the engine is killed with SIGKILL right after any kind of write the
// store makes, and a second engine on the same file is refused while the first keeps serving.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMongoJavaServer, EmbeddedLockedError, type EmbeddedMongo } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { goodRead, testPoller, vpnSession } from './support/data.ts';
import { javaPrerequisite } from './support/java.ts';

const describeWithJava = requirePrerequisite(javaPrerequisite(), 'Java 17 (for mongo-java-server)');
/** Each test starts a JVM or two, which takes seconds on 2 busy cores. */
const JVM_STARTS_MS = 90_000;

/** SIGKILL: no shutdown hook runs, nothing is flushed or closed. */
async function crash(engine: EmbeddedMongo): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try { process.kill(engine.pid!, 0); } catch { clearInterval(poll); resolve(); }
    }, 20);
  });
  process.kill(engine.pid!, 'SIGKILL');
  await exited;
}

describeWithJava('the H2 engine', () => {
  let tmp: string;
  const engines: EmbeddedMongo[] = [];
  const stores: Store[] = [];
  const start = async (file: string) => { const e = await startMongoJavaServer({ h2File: file }); engines.push(e); return e; };
  const open = async (e: EmbeddedMongo) => { const s = await Store.open(e.uri, 'vpnwatch'); stores.push(s); return s; };

  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-h2-')); });
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
    for (const e of engines) await e.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps what was written across a stop and a start, in the file it was given', async () => {
    const file = path.join(tmp, 'stop', 'vpnwatch.mv.db');
    const first = await start(file);
    expect(first).toMatchObject({ engine: 'mongo-java-server-h2', persistent: true, dataPath: file });
    const store = await open(first);
    const poller = await testPoller(store, ['fra-1']);
    await poller.apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 1), vpnSession('bob', 2)])]);
    await store.close();
    await first.stop();
    expect(fs.statSync(file).size).toBeGreaterThan(0);

    const again = await open(await start(file));
    expect((await again.queries.online()).map((s) => s.commonName)).toEqual(['alice', 'bob']);
    expect((await again.cycles.loadBaselines()).get('fra-1')!.sessions).not.toBeNull();
  }, JVM_STARTS_MS);

  it('keeps every write it answered when SIGKILLed right after it, whichever kind of write', async () => {
    const file = path.join(tmp, 'crash', 'vpnwatch.mv.db');
    let engine = await start(file);
    let store = await open(engine);
    const restart = async () => {
      await crash(engine);
      await store.close();
      engine = await start(file);
      store = await open(engine);
    };
    const kick = { at: new Date('2026-11-28T10:02:00Z'), by: { platform: 'cli', userId: 'u', userName: 'u' }, where: null, target: 'alice', server: 'fra-1', clientIds: [1], result: 'kicked' as const, verified: true, message: null };
    // Each step is one kind of write the store makes, on top of what the steps before it wrote; each
    // check reads back, after the crash, the state that step left.
    const steps: { write: () => Promise<unknown>; check: () => Promise<void> }[] = [
      { // a cycle: bulk inserts (sessions, events), upserts (users, the server)
        write: async () => (await testPoller(store, ['fra-1'])).apply([goodRead('fra-1', '2026-11-28T10:00:00.000Z', [vpnSession('alice', 1)])]),
        check: async () => { expect((await store.queries.online()).map((s) => s.commonName)).toEqual(['alice']); },
      },
      { // a cycle with a change: events (the outbox), a session closed and one opened, $inc on the user
        write: async () => (await testPoller(store, ['fra-1'])).apply([goodRead('fra-1', '2026-11-28T10:00:30.000Z', [vpnSession('bob', 2)])]),
        check: async () => {
          expect((await store.queries.eventsSince(new Date(0))).map((e) => [e.type, e.user])).toEqual([['disconnected', 'alice'], ['connected', 'bob']]);
          expect((await store.queries.userReport('alice'))!.user).toMatchObject({ online: false, totalBytesReceived: 1000 });
        },
      },
      { // deliveries marked as sent (updates by _id with arrayFilters) and their outbox items removed: lost, they would be posted again
        write: async () => {
          const items = await store.outbox.items('log', 10);
          await store.outbox.recordAttempt(items.map((i) => i.event), 'log', { state: 'sent', sentAt: new Date(), lastError: null, messageRef: 'C1:1' });
          await store.outbox.remove(items.map((i) => i.id));
        },
        check: async () => {
          expect((await store.queries.eventsSince(new Date(0))).flatMap((e) => e.deliveries.map((d) => [d.state, d.attempts, d.messageRef]))).toEqual([['sent', 1, 'C1:1'], ['sent', 1, 'C1:1']]);
          expect(await store.outbox.targetsWithWork()).toEqual([]);
        },
      },
      { // a kick (insert through mongoose)
        write: () => store.audit.recordKick(kick),
        check: async () => { expect(await store.audit.kicks('alice')).toEqual([kick]); },
      },
    ];
    for (const step of steps) {
      await step.write();
      await restart();
      await step.check();
    }
  }, 4 * JVM_STARTS_MS);

  it('refuses a second engine on the same file, saying it is in use, while the first keeps serving', async () => {
    const file = path.join(tmp, 'lock', 'vpnwatch.mv.db');
    const first = await start(file);
    const store = await open(first);
    await store.audit.recordKick({ at: new Date(), by: { platform: 'cli', userId: 'u', userName: 'u' }, where: null, target: 'bob', server: null, clientIds: [], result: 'not-found', verified: false, message: null });
    const second = startMongoJavaServer({ h2File: file });
    await expect(second).rejects.toBeInstanceOf(EmbeddedLockedError);
    await expect(second).rejects.toThrow(`the data file ${file} is in use by another process (H2 allows one writer)`);
    expect(await store.audit.kicks('bob')).toHaveLength(1);
  }, JVM_STARTS_MS);

  it('refuses a file that is not an H2 store, naming it, and leaves it as it was', async () => {
    const file = path.join(tmp, 'garbage', 'vpnwatch.mv.db');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const garbage = Buffer.from('not an H2 file\n'.repeat(2000));
    fs.writeFileSync(file, garbage);
    await expect(startMongoJavaServer({ h2File: file })).rejects.toThrow(`mongo-java-server (H2 file ${file}) cannot open its data file; it was left as it is:`);
    expect(fs.readFileSync(file).equals(garbage)).toBe(true);
  }, JVM_STARTS_MS);
});
