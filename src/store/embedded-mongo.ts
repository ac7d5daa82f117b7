// The embedded databases, used when MONGODB_URI is not set.
//
// First choice is mongodb-memory-server with its data in a local folder (a restart keeps history).
// Where its mongod cannot be had (no internet, as on our CI machines) we fall back to
// mongo-java-server, an offline MongoDB-wire server: a Maven artifact run by
// MongoServerLauncher.java next to this file, whose jars are fetched on first use. It has two
// backends: H2, whose data is one file (what `vpnwatch start` uses), and memory (tests and
// throw-away databases). vpnwatch uses only what every engine supports (no transactions, no
// change streams).
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const embeddedDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'embedded');
const pomFile = path.join(embeddedDir, 'pom.xml');
const depsDir = path.join(embeddedDir, 'target', 'deps');
/** Holds the hash of the pom.xml the jars in depsDir were fetched for. */
const depsStamp = path.join(depsDir, '.pom-sha256');

export type EmbeddedEngine = 'mongodb-memory-server' | 'mongo-java-server' | 'mongo-java-server-h2';

export interface EmbeddedMongo {
  uri: string;
  engine: EmbeddedEngine;
  /** false for mongo-java-server's memory backend: everything is lost when the process stops. */
  persistent: boolean;
  /** Where the data lives on disk (a folder for mongod, the file for H2); null in memory. */
  dataPath: string | null;
  /** The database server's own process (java, or mongod). */
  pid: number | null;
  /** Settles when that process has exited, whether stop() ended it or it died. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

const exitOf = (child: ChildProcess | undefined): Promise<void> =>
  !child || child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

/** The jars the launcher needs (besides netty and slf4j, which they bring): checked after a fetch. */
const REQUIRED_JARS = ['mongo-java-server-core-', 'mongo-java-server-memory-backend-', 'mongo-java-server-h2-backend-', 'h2-'];

/** A data file another process holds: the H2 file is single-writer. */
export class EmbeddedLockedError extends Error {}

/** Fetches mongo-java-server's jars with Maven unless those of the current pom.xml are there; returns their folder. */
export function ensureMongoJavaServerJars(): string {
  const wanted = createHash('sha256').update(fs.readFileSync(pomFile)).digest('hex');
  if (fs.existsSync(depsStamp) && fs.readFileSync(depsStamp, 'utf8').trim() === wanted) return depsDir;
  // Into a fresh folder, swapped in only when complete: jars of an older pom.xml (another
  // version) on the classpath would clash, and a failed fetch must not remove the jars there were.
  const fetching = `${depsDir}.fetching`;
  fs.rmSync(fetching, { recursive: true, force: true });
  const result = spawnSync(
    'mvn',
    ['-B', '-q', '-f', pomFile,
      'org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies',
      '-DincludeScope=runtime', `-DoutputDirectory=${fetching}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.error) throw new Error(`cannot run Maven to fetch mongo-java-server (${result.error.message}); install Java 17 and Maven, or set MONGODB_URI`);
  if (result.status !== 0) throw new Error(`Maven could not fetch mongo-java-server from Maven Central (needed once, and again after an upgrade); let it reach Maven Central, or set MONGODB_URI:\n${(result.stdout + result.stderr).trim().slice(-2000)}`);
  const jars = fs.readdirSync(fetching);
  const missing = REQUIRED_JARS.filter((prefix) => !jars.some((jar) => jar.startsWith(prefix) && jar.endsWith('.jar')));
  if (missing.length) throw new Error(`Maven fetched mongo-java-server without ${missing.map((m) => `${m}*.jar`).join(', ')} (see ${pomFile})`);
  fs.rmSync(depsDir, { recursive: true, force: true });
  fs.renameSync(fetching, depsDir);
  fs.writeFileSync(depsStamp, `${wanted}\n`);
  return depsDir;
}

export interface MongoJavaServerOptions {
  /** Keep the data in this H2 file (created when missing); without it, in memory. */
  h2File?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

/** Starts mongo-java-server on 127.0.0.1. It dies with its parent (it exits when its stdin closes). */
export async function startMongoJavaServer(opts: MongoJavaServerOptions = {}): Promise<EmbeddedMongo> {
  ensureMongoJavaServerJars();
  const backend = opts.h2File ? ['h2', path.resolve(opts.h2File)] : ['memory'];
  if (opts.h2File) fs.mkdirSync(path.dirname(path.resolve(opts.h2File)), { recursive: true });
  // H2: a query that reads a large collection decodes all of it (the process reached 1.6 GB over
  // 100,000 sessions), so the heap keeps the JVM's default limit (a quarter of the memory); a lower
  // cap would make such a query fail. Instead G1 collects every 10 s when it has not otherwise and
  // gives unused heap back (0.6 GB 45 s after that query).
  const heap = opts.h2File ? ['-XX:G1PeriodicGCInterval=10000'] : [];
  const child: ChildProcess = spawn(
    'java',
    [...heap, '-Xss4m', '-cp', `${depsDir}${path.sep}*`, path.join(embeddedDir, 'MongoServerLauncher.java'), '127.0.0.1', String(opts.port ?? 0), ...backend],
    // stdin stays a pipe we never close: the launcher exits when it reaches EOF, i.e. when we die.
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  // Writing to a pipe whose reader died must not throw in this process: the exit is handled below.
  child.stdin!.on('error', () => {});
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const what = opts.h2File ? `mongo-java-server (H2 file ${backend[1]})` : 'mongo-java-server';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${what} did not start within 60 s: ${stderr}`)); }, 60_000);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const listening = /^LISTENING (\S+)$/.exec(line);
      if (listening) { clearTimeout(timer); resolve(listening[1]!); }
      const failed = /^FAILED (.*)$/.exec(line);
      if (failed) {
        clearTimeout(timer);
        const reason = failed[1]!;
        reject(/file is locked/i.test(reason)
          ? new EmbeddedLockedError(`the data file ${backend[1]} is in use by another process (H2 allows one writer): ${reason}`)
          : new Error(`${what} cannot open its data file; it was left as it is: ${reason}`));
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}) before listening: ${stderr}`)); });
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start java for mongo-java-server: ${err.message}`)); });
  });
  const exited = exitOf(child);
  return {
    uri: `mongodb://${address}`,
    engine: opts.h2File ? 'mongo-java-server-h2' : 'mongo-java-server',
    persistent: Boolean(opts.h2File),
    dataPath: opts.h2File ? backend[1]! : null,
    pid: child.pid ?? null,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // EOF on stdin: the launcher closes the server and the H2 file, then exits.
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** mongodb-memory-server with its files in dataDir; rejects where mongod cannot be had. */
export async function startMongoMemoryServer(dataDir: string, systemBinary?: string, port = 0): Promise<EmbeddedMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  fs.mkdirSync(dataDir, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath: dataDir, storageEngine: 'wiredTiger', ip: '127.0.0.1', ...(port ? { port } : {}) },
    ...(systemBinary ? { binary: { systemBinary } } : {}),
  });
  const mongodProcess = server.instanceInfo?.instance.mongodProcess;
  return {
    uri: server.getUri(),
    engine: 'mongodb-memory-server',
    persistent: true,
    dataPath: dataDir,
    pid: mongodProcess?.pid ?? null,
    exited: exitOf(mongodProcess),
    stop: async () => { await server.stop({ doCleanup: false }); },
  };
}

/**
 * Whether mongodb-memory-server can get a mongod: one on PATH, or a reachable download host.
 * Checked first because a blocked download costs ~7 s of retries and a screenful of errors.
 */
export async function mongodObtainable(pathVar: string | undefined): Promise<{ ok: boolean; systemBinary?: string; why?: string }> {
  const systemBinary = findMongodOnPath(pathVar);
  if (systemBinary) return { ok: true, systemBinary };
  const lookup = dns.lookup('fastdl.mongodb.org').then(() => true, () => false);
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref());
  return (await Promise.race([lookup, timeout])) ? { ok: true } : { ok: false, why: 'no mongod on PATH and fastdl.mongodb.org (its download) is unreachable' };
}

/** Finds a mongod on PATH, for tests that prefer a real engine when the machine has one. */
export function findMongodOnPath(pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'mongod');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}
