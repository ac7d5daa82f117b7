// The embedded default database, used when MONGODB_URI is not set.
//
// First choice is mongodb-memory-server with its data in a local folder (a restart keeps history).
// Where its mongod cannot be downloaded (no internet, as on our CI machines) we fall back to
// mongo-java-server: an offline MongoDB-wire server whose data lives in memory only. It is a
// Maven artifact run by MongoServerLauncher.java next to this file; its jars are fetched on first
// use. vpnwatch uses only what both engines support (no transactions, no change streams).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const embeddedDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'embedded');
const depsDir = path.join(embeddedDir, 'target', 'deps');

export type EmbeddedEngine = 'mongodb-memory-server' | 'mongo-java-server';

export interface EmbeddedMongo {
  uri: string;
  engine: EmbeddedEngine;
  /** false for mongo-java-server: everything is lost when the process stops. */
  persistent: boolean;
  /** The engine's process, where it runs in one of its own (tests pause it to cut the database off). */
  pid?: number;
  stop(): Promise<void>;
}

/** Fetches mongo-java-server's jars with Maven unless they are already there. */
export function ensureMongoJavaServerJars(): void {
  if (fs.existsSync(depsDir) && fs.readdirSync(depsDir).some((f) => f.startsWith('mongo-java-server-core'))) return;
  const result = spawnSync(
    'mvn',
    ['-B', '-q', '-f', path.join(embeddedDir, 'pom.xml'),
      'org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies',
      '-DincludeScope=runtime', `-DoutputDirectory=${depsDir}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.error) throw new Error(`cannot run Maven to fetch mongo-java-server (${result.error.message}); install Java 17 and Maven, or set MONGODB_URI`);
  if (result.status !== 0) throw new Error(`Maven could not fetch mongo-java-server:\n${(result.stdout + result.stderr).trim().slice(-2000)}`);
}

/** Starts mongo-java-server on 127.0.0.1 (a free port unless one is given). It dies with its parent. */
export async function startMongoJavaServer(port = 0): Promise<EmbeddedMongo> {
  ensureMongoJavaServerJars();
  const child: ChildProcess = spawn(
    'java',
    ['-Xss4m', '-cp', `${depsDir}${path.sep}*`, path.join(embeddedDir, 'MongoServerLauncher.java'), '127.0.0.1', String(port)],
    // stdin stays a pipe we never close: the launcher exits when it reaches EOF, i.e. when we die.
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error(`mongo-java-server did not start within 60 s: ${stderr}`)); }, 60_000);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^LISTENING (\S+)$/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mongo-java-server exited (${code}) before listening: ${stderr}`)); });
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start java for mongo-java-server: ${err.message}`)); });
  });
  return {
    uri: `mongodb://${address}`,
    engine: 'mongo-java-server',
    persistent: false,
    ...(child.pid ? { pid: child.pid } : {}),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }),
  };
}

/** mongodb-memory-server with its files in dataDir; rejects where mongod cannot be had. */
export async function startMongoMemoryServer(dataDir: string, systemBinary?: string): Promise<EmbeddedMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  fs.mkdirSync(dataDir, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath: dataDir, storageEngine: 'wiredTiger', ip: '127.0.0.1' },
    ...(systemBinary ? { binary: { systemBinary } } : {}),
  });
  return {
    uri: server.getUri(),
    engine: 'mongodb-memory-server',
    persistent: true,
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
