// `vpnwatch db` and `vpnwatch start` on the offline embedded default, as an operator runs them:
// the real binary, in a data folder of its own, without MONGODB_URI. `db` prints the address first
// and runs until a signal; `start` keeps its data on disk, so a kill -9 and a restart lose no
// history; a second process on the same data folder is refused with a message that says why.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embeddedDataPaths } from '../src/store/db.ts';
import { startMongoJavaServer } from '../src/store/embedded-mongo.ts';
import { Store } from '../src/store/store.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { javaPrerequisite } from './support/java.ts';
import { waitFor } from './support/wait.ts';
import { freePort } from './support/free-port.ts';

const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const describeWithJava = requirePrerequisite(javaPrerequisite(), 'Java 17 (for mongo-java-server)');

/** This suite's environment without a MONGODB_URI: the embedded default is what is under test. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { MONGODB_URI: _ignored, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'info', ...extra };
}

interface Running {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far, for failure messages. */
  output(): string;
  exit: Promise<number | null>;
}

function launch(cwd: string, args: string[], extraEnv: Record<string, string> = {}): Running & { firstLine: Promise<string> } {
  const child = spawn(bin, args, { cwd, env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const lines = readline.createInterface({ input: child.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing a line:\n${output}`)));
  });
  firstLine.catch(() => {}); // a process expected to fail is awaited through `exit` instead
  lines.on('line', (line) => { output += `${line}\n`; });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, firstLine, output: () => output, exit };
}

async function vpnwatch(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, args, { cwd, env: env() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const record = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'data', 'mongo.json'), 'utf8')) as { pid: number; enginePid: number; owner: string; engine: string; dataPath: string; uri: string };


describeWithJava('vpnwatch db', () => {
  let dir: string;
  let engineChosen = '';
  const started: Running[] = [];
  const run = (args: string[], extraEnv: Record<string, string> = {}) => { const r = launch(dir, args, extraEnv); started.push(r); return r; };

  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-db-')); });
  afterAll(async () => {
    for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) { r.child.kill('SIGKILL'); await r.exit; }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints MONGODB_URI first, serves the database CLI commands find, and stops cleanly on SIGTERM', async () => {
    const db = run(['db']);
    const line = await db.firstLine;
    expect(line).toMatch(/^MONGODB_URI=mongodb:\/\/127\.0\.0\.1:\d+\/vpnwatch$/);
    const uri = line.slice('MONGODB_URI='.length);
    const rec = record(dir);
    engineChosen = rec.engine;
    expect(rec).toMatchObject({ pid: db.child.pid, owner: 'db' });
    // The engine `vpnwatch start` would choose here: H2 in data/h2 where no mongod can be had.
    if (rec.engine === 'mongo-java-server-h2') expect(rec.dataPath).toBe(embeddedDataPaths(path.join(dir, 'data')).h2);
    else expect(rec).toMatchObject({ engine: 'mongodb-memory-server', dataPath: embeddedDataPaths(path.join(dir, 'data')).mongod });

    const store = await Store.open(uri);
    await store.audit.recordKick({ at: new Date('2026-11-28T10:00:00Z'), by: { platform: 'cli', userId: 'u', userName: 'u' }, where: null, target: 'alice', server: 'fra-1', clientIds: [7], result: 'kicked', verified: true, message: null });
    await store.close();
    // A CLI command beside it, with no MONGODB_URI, finds it through data/mongo.json.
    const servers = await vpnwatch(dir, 'servers', '--json');
    expect(servers).toMatchObject({ code: 0 });

    db.child.kill('SIGTERM');
    expect(await db.exit).toBe(0);
    expect(db.output()).toContain('SIGTERM: stopping the database');
    expect(fs.existsSync(path.join(dir, 'data', 'mongo.json'))).toBe(false);
    expect(alive(rec.enginePid)).toBe(false);
    expect((await vpnwatch(dir, 'servers', '--json')).stderr).toContain('no database: set MONGODB_URI, or run `vpnwatch start` or `vpnwatch db`');
  }, 60_000);

  it('starts again on the same data (SIGINT stops it too), and refuses a second one on that folder', async () => {
    const db = run(['db']);
    const uri = (await db.firstLine).slice('MONGODB_URI='.length);
    const store = await Store.open(uri);
    expect((await store.audit.kicks('alice')).map((k) => k.clientIds)).toEqual([[7]]);
    await store.close();

    const second = run(['db']);
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`a \`vpnwatch db\` (pid ${db.child.pid}) already serves the embedded database in ${path.join(dir, 'data')} at ${uri}`);
    expect(record(dir).pid).toBe(db.child.pid);

    db.child.kill('SIGINT');
    expect(await db.exit).toBe(0);
  }, 60_000);

  it('exits 1 when its engine is killed (SIGKILL), and the next one opens the data file it left', async () => {
    const db = run(['db']);
    await db.firstLine;
    const { enginePid, uri } = record(dir);
    const store = await Store.open(uri, 'vpnwatch');
    await store.audit.recordKick({ at: new Date('2026-11-28T10:01:00Z'), by: { platform: 'cli', userId: 'u', userName: 'u' }, where: null, target: 'alice', server: 'fra-1', clientIds: [8], result: 'kicked', verified: true, message: null });
    await store.close();
    process.kill(enginePid, 'SIGKILL');
    expect(await db.exit).toBe(1);
    expect(db.output()).toMatch(/the database engine \(.*, pid \d+\) exited on its own; vpnwatch db stops too/);
    expect(fs.existsSync(path.join(dir, 'data', 'mongo.json'))).toBe(false);

    const next = run(['db']);
    const again = await Store.open((await next.firstLine).slice('MONGODB_URI='.length));
    expect((await again.audit.kicks('alice')).map((k) => k.clientIds)).toEqual([[8], [7]]);
    await again.close();
    next.child.kill('SIGTERM');
    expect(await next.exit).toBe(0);
  }, 60_000);

  it('waits for the engine of a vpnwatch that just died to let go of the H2 file, then opens it', async () => {
    const file = embeddedDataPaths(path.join(dir, 'data')).h2;
    if (engineChosen !== 'mongo-java-server-h2') return; // a mongod was available: no H2 file here
    // The orphan: an engine still holding the file, whose vpnwatch (and record) are gone.
    const orphan = await startMongoJavaServer({ h2File: file });
    const db = run(['db']);
    await waitFor(() => db.output().includes('is still locked'), { timeoutMs: 30_000, what: `the wait to be logged:\n${db.output()}` });
    await orphan.stop();
    const store = await Store.open((await db.firstLine).slice('MONGODB_URI='.length));
    expect((await store.audit.kicks('alice')).length).toBe(2);
    await store.close();
    db.child.kill('SIGTERM');
    expect(await db.exit).toBe(0);
  }, 60_000);

  it('is the database a `vpnwatch start` on the same data folder uses, and outlives it', async () => {
    const db = run(['db']);
    const uri = (await db.firstLine).slice('MONGODB_URI='.length);
    const service = run(['start'], { PORT: String(await freePort()) }); // no servers file: the demo fleet
    await waitFor(() => service.output().includes(`using the embedded database that \`vpnwatch db\` (pid ${db.child.pid}) serves`),
      { timeoutMs: 60_000, what: `start to pick up the running db:\n${service.output()}` });
    const store = await Store.open(uri);
    await waitFor(async () => (await store.queries.servers()).length > 0, { timeoutMs: 60_000, intervalMs: 500, what: 'the demo servers polled into the db' });
    service.child.kill('SIGTERM');
    expect(await service.exit).toBe(0);
    expect(record(dir)).toMatchObject({ pid: db.child.pid, owner: 'db' });
    expect((await store.queries.servers()).length).toBeGreaterThan(0);
    await store.close();
    db.child.kill('SIGTERM');
    expect(await db.exit).toBe(0);
  }, 120_000);

  it('serves on --port when given one; a bad --port is a usage error', async () => {
    const port = await freePort();
    const db = run(['db', '--port', String(port)]);
    expect(await db.firstLine).toBe(`MONGODB_URI=mongodb://127.0.0.1:${port}/vpnwatch`);
    db.child.kill('SIGTERM');
    expect(await db.exit).toBe(0);
    for (const bad of ['http', '70000', '-1', '']) {
      const r = await vpnwatch(dir, 'db', `--port=${bad}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('vpnwatch db: --port: not a port number (0-65535)');
    }
  }, 60_000);
});

describeWithJava('vpnwatch start on the embedded default', () => {
  let dir: string;
  const started: Running[] = [];
  const start = async () => {
    const r = launch(dir, ['start'], { PORT: String(await freePort()) });
    started.push(r);
    return r;
  };

  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-start-h2-')); });
  afterAll(async () => {
    for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) { r.child.kill('SIGKILL'); await r.exit; }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ownRecord = (r: Running) => { try { return record(dir).pid === r.child.pid ? record(dir) : null; } catch { return null; } };
  const eventsOf = async (uri: string) => {
    const store = await Store.open(uri, 'vpnwatch');
    try { return (await store.queries.eventsSince(new Date(0), 10_000)).map((e) => e.id); } finally { await store.close(); }
  };

  it('says where the data is, refuses a second start on that folder, and keeps its history across a kill -9', async () => {
    // No servers file: the demo fleet, whose simulated users come and go every 5 s.
    const first = await start();
    const rec = await waitFor(() => ownRecord(first), { timeoutMs: 60_000, what: `the record of the first start:\n${first.output()}` });
    if (rec.engine === 'mongo-java-server-h2') {
      expect(first.output()).toContain(`the data is kept in ${embeddedDataPaths(path.join(dir, 'data')).h2}`);
      expect(first.output()).not.toMatch(/IN MEMORY/i);
    }
    const before = await waitFor(async () => { const ids = await eventsOf(rec.uri); return ids.length >= 2 ? ids : null; },
      { timeoutMs: 60_000, intervalMs: 1000, what: `two events stored by the demo:\n${first.output()}` });

    // Told apart by its record.
    const second = await start();
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`another \`vpnwatch start\` (pid ${first.child.pid}) is running on the embedded database in ${path.join(dir, 'data')}; stop it first`);
    // Without its record (deleted by hand), by the data file's lock: H2 has one writer.
    if (rec.engine === 'mongo-java-server-h2') {
      fs.rmSync(path.join(dir, 'data', 'mongo.json'));
      const third = await start();
      expect(await third.exit).toBe(1);
      expect(third.output()).toContain(`the data file ${rec.dataPath} is in use by another process (H2 allows one writer)`);
      expect(third.output()).toContain('Is another vpnwatch running on');
    }

    // kill -9: no shutdown at all; its engine goes when it sees its parent gone. A restart right
    // away opens the same file (waiting for that engine to let go of it if need be).
    first.child.kill('SIGKILL');
    await first.exit;
    const restarted = await start();
    const after = await waitFor(() => ownRecord(restarted), { timeoutMs: 60_000, what: `the record of the restart:\n${restarted.output()}` });
    expect(after.dataPath).toBe(rec.dataPath);
    expect(await eventsOf(after.uri)).toEqual(expect.arrayContaining(before));
    restarted.child.kill('SIGTERM');
    expect(await restarted.exit).toBe(0);
  }, 180_000);
});
