// Which MongoDB to use. MONGODB_URI when set. Otherwise the embedded default
// (src/store/embedded-mongo.ts), run by `vpnwatch start` or on its own by `vpnwatch db`; whichever
// runs it records its address in the data folder, so that CLI commands run beside it
// (`vpnwatch online`, `poll`, ...) and a `vpnwatch start` beside a `vpnwatch db` use the same
// database.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { EmbeddedLockedError, mongodObtainable, startMongoJavaServer, startMongoMemoryServer, type EmbeddedMongo } from './embedded-mongo.ts';
import { Store } from './store.ts';

const DB_NAME = 'vpnwatch';

/** Where each embedded engine keeps its data inside the data folder. */
export const embeddedDataPaths = (dataDir: string) => ({
  mongod: path.join(dataDir, 'mongodb'),
  h2: path.join(dataDir, 'h2', 'vpnwatch.mv.db'),
});

/** Who runs the embedded database: `vpnwatch start` (for itself) or `vpnwatch db` (for anyone). */
type DatabaseOwner = 'start' | 'db';

interface DatabaseRecord {
  uri: string;
  engine: string;
  persistent: boolean;
  dataPath?: string | null;
  pid: number;
  /** The engine's own process (java or mongod), which dies with `pid`. */
  enginePid?: number | null;
  /** Missing in records written before `vpnwatch db` existed: those were all `start`. */
  owner?: DatabaseOwner;
  startedAt: string;
}

export interface Database {
  store: Store;
  uri: string;
  /** What serves it: 'MONGODB_URI', the embedded engine's name, or 'vpnwatch db'. */
  engine: string;
  close(): Promise<void>;
}

const recordFile = (config: Config) => path.join(config.dataDir, 'mongo.json');

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function reachable(uri: string): Promise<boolean> {
  const m = /^mongodb:\/\/([^/:]+):(\d+)/.exec(uri);
  if (!m) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect({ host: m[1]!, port: Number(m[2]) });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The embedded database a running `vpnwatch start` or `vpnwatch db` recorded, if that process is still alive. */
async function runningEmbedded(config: Config): Promise<DatabaseRecord | null> {
  let record: DatabaseRecord;
  try {
    record = JSON.parse(fs.readFileSync(recordFile(config), 'utf8')) as DatabaseRecord;
  } catch {
    return null;
  }
  return processAlive(record.pid) && (await reachable(record.uri)) ? record : null;
}

function describeOwner(record: DatabaseRecord): string {
  return `${record.owner === 'db' ? 'a `vpnwatch db`' : 'another `vpnwatch start`'} (pid ${record.pid})`;
}

const hasFiles = (p: string) => { try { return fs.statSync(p).isDirectory() ? fs.readdirSync(p).length > 0 : fs.statSync(p).size > 0; } catch { return false; } };

/**
 * Starts the embedded engine for this data folder: mongodb-memory-server where a mongod can be had,
 * else mongo-java-server with its H2 file. Both keep their data in the data folder.
 */
async function startEmbedded(config: Config, log: Logger, port = 0): Promise<EmbeddedMongo> {
  const paths = embeddedDataPaths(config.dataDir);
  let embedded: EmbeddedMongo | undefined;
  const mongod = await mongodObtainable(config.searchPath);
  if (mongod.ok) {
    try {
      embedded = await startMongoMemoryServer(paths.mongod, mongod.systemBinary, port);
      log.info({ data: paths.mongod }, `embedded MongoDB (mongodb-memory-server) keeps its data in ${paths.mongod}`);
    } catch (err) {
      log.info({ reason: (err as Error).message.split('\n')[0] }, 'mongodb-memory-server did not start');
    }
  } else {
    log.info({ reason: mongod.why }, 'mongodb-memory-server cannot get a mongod here');
  }
  if (!embedded) {
    embedded = await startH2(paths.h2, port, config, log);
    log.info({ data: paths.h2 }, `embedded database is mongo-java-server (offline fallback) with its H2 backend: the data is kept in ${paths.h2}`);
  }
  // An engine switch (a mongod appeared or went away) starts from that engine's own data.
  const other = embedded.engine === 'mongodb-memory-server' ? paths.h2 : paths.mongod;
  if (hasFiles(other)) log.warn({ unused: other }, `${other} holds data of the other embedded engine, which this start does not use (history there is not shown). Set MONGODB_URI to choose a database explicitly.`);
  return embedded;
}

/** How long a start waits for the engine of a vpnwatch that just died to let go of the H2 file. */
const LOCK_WAIT_MS = 10_000;

/**
 * mongo-java-server on the H2 file. No live vpnwatch owns this data folder (checked before), so a
 * locked file most likely belongs to the engine of one that just crashed: that engine exits when
 * it sees its parent gone, and a supervisor's immediate restart waits for it instead of failing.
 */
async function startH2(file: string, port: number, config: Config, log: Logger): Promise<EmbeddedMongo> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await startMongoJavaServer({ h2File: file, port });
    } catch (err) {
      if (!(err instanceof EmbeddedLockedError)) throw err;
      if (Date.now() >= deadline) throw new Error(`${err.message}. Is another vpnwatch running on ${config.dataDir}? Stop it first, or give this one another VPNWATCH_DATA_DIR`);
      if (attempt === 0) log.warn({ data: file }, `${file} is still locked (by the engine of a vpnwatch that just stopped?): waiting up to ${LOCK_WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Records who serves the embedded database, and returns how to remove that record again. */
function writeRecord(config: Config, embedded: EmbeddedMongo, owner: DatabaseOwner): () => void {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const record: DatabaseRecord = {
    uri: embedded.uri, engine: embedded.engine, persistent: embedded.persistent, dataPath: embedded.dataPath,
    pid: process.pid, enginePid: embedded.pid, owner, startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(recordFile(config), `${JSON.stringify(record, null, 2)}\n`);
  return () => {
    try {
      const current = JSON.parse(fs.readFileSync(recordFile(config), 'utf8')) as DatabaseRecord;
      if (current.pid === process.pid) fs.rmSync(recordFile(config));
    } catch { /* already gone */ }
  };
}

/**
 * For `vpnwatch start`: MONGODB_URI; else the database a `vpnwatch db` on this data folder serves;
 * else start the embedded default and record where it is.
 */
export async function openServiceDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.mongodbUri) {
    const store = await Store.open(config.mongodbUri);
    log.info('using the MongoDB at MONGODB_URI');
    return { store, uri: config.mongodbUri, engine: 'MONGODB_URI', close: () => store.close() };
  }
  const existing = await runningEmbedded(config);
  if (existing && existing.pid !== process.pid) {
    if (existing.owner === 'db') {
      const store = await Store.open(existing.uri, DB_NAME);
      log.info({ uri: existing.uri, pid: existing.pid }, `using the embedded database that \`vpnwatch db\` (pid ${existing.pid}) serves${existing.dataPath ? ` from ${existing.dataPath}` : ''}`);
      return { store, uri: existing.uri, engine: 'vpnwatch db', close: () => store.close() };
    }
    throw new Error(`${describeOwner(existing)} is running on the embedded database in ${config.dataDir}; stop it first, or give this one another VPNWATCH_DATA_DIR`);
  }
  const embedded = await startEmbedded(config, log);
  let store: Store;
  try {
    store = await Store.open(embedded.uri, DB_NAME);
  } catch (err) {
    await embedded.stop();
    throw err;
  }
  const removeRecord = writeRecord(config, embedded, 'start');
  return {
    store,
    uri: embedded.uri,
    engine: embedded.engine,
    close: async () => {
      await store.close();
      await embedded.stop();
      removeRecord();
    },
  };
}

export interface DatabaseServer {
  /** `mongodb://127.0.0.1:PORT/vpnwatch`: what MONGODB_URI should be set to. */
  uri: string;
  engine: string;
  dataPath: string | null;
  /** The engine's process (java or mongod). */
  pid: number | null;
  /** Settles when the engine's process has exited (after stop(), or because it died). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** mongodb://host:port/vpnwatch, whatever form the engine reports its address in. */
function withDatabaseName(uri: string): string {
  const m = /^mongodb:\/\/([^/?]+)/.exec(uri);
  if (!m) throw new Error(`unexpected address from the embedded database: ${uri}`);
  return `mongodb://${m[1]}/${DB_NAME}`;
}

/**
 * For `vpnwatch db`: the embedded database on its own (the engine `vpnwatch start` would choose),
 * recorded in the data folder so that `vpnwatch start` and CLI commands find it. Port 0: a free one.
 */
export async function serveEmbeddedDatabase(config: Config, log: Logger, port = 0): Promise<DatabaseServer> {
  const existing = await runningEmbedded(config);
  if (existing) {
    throw new Error(`${describeOwner(existing)} already serves the embedded database in ${config.dataDir} at ${withDatabaseName(existing.uri)}; use that, or give this one another VPNWATCH_DATA_DIR`);
  }
  const embedded = await startEmbedded(config, log, port);
  const removeRecord = writeRecord(config, embedded, 'db');
  return {
    uri: withDatabaseName(embedded.uri),
    engine: embedded.engine,
    dataPath: embedded.dataPath,
    pid: embedded.pid,
    exited: embedded.exited,
    stop: async () => {
      await embedded.stop();
      removeRecord();
    },
  };
}

/**
 * For CLI commands: MONGODB_URI, or the database of the `vpnwatch start` or `vpnwatch db` running
 * beside us. With neither, `temporary` starts a throw-away in-memory database (for `poll`, which
 * still prints what it read); otherwise it is an error that says what to do.
 */
export async function openCliDatabase(config: Config, opts: { temporary: boolean }): Promise<Database> {
  if (config.mongodbUri) {
    const store = await Store.open(config.mongodbUri);
    return { store, uri: config.mongodbUri, engine: 'MONGODB_URI', close: () => store.close() };
  }
  const running = await runningEmbedded(config);
  if (running) {
    const store = await Store.open(running.uri, DB_NAME);
    return { store, uri: running.uri, engine: running.engine, close: () => store.close() };
  }
  if (!opts.temporary) {
    throw new Error(`no database: set MONGODB_URI, or run \`vpnwatch start\` or \`vpnwatch db\` (their embedded database is found through ${recordFile(config)})`);
  }
  const embedded = await startMongoJavaServer();
  const store = await Store.open(embedded.uri, DB_NAME);
  return { store, uri: embedded.uri, engine: `${embedded.engine} (temporary)`, close: async () => { await store.close(); await embedded.stop(); } };
}
