// Which MongoDB to use. MONGODB_URI when set. Otherwise `vpnwatch start` runs the embedded default
// (src/store/embedded-mongo.ts) and records its address in the data folder, so that CLI commands
// run beside it (`vpnwatch online`, `poll`, ...) read and write the same database.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { mongodObtainable, startMongoJavaServer, startMongoMemoryServer, type EmbeddedMongo } from './embedded-mongo.ts';
import { Store } from './store.ts';

const DB_NAME = 'vpnwatch';

interface DatabaseRecord {
  uri: string;
  engine: string;
  persistent: boolean;
  pid: number;
  startedAt: string;
}

export interface Database {
  store: Store;
  uri: string;
  /** What serves it: 'MONGODB_URI', or the embedded engine's name. */
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

/** The embedded database a running `vpnwatch start` recorded, if that process is still alive. */
async function runningEmbedded(config: Config): Promise<DatabaseRecord | null> {
  let record: DatabaseRecord;
  try {
    record = JSON.parse(fs.readFileSync(recordFile(config), 'utf8')) as DatabaseRecord;
  } catch {
    return null;
  }
  return processAlive(record.pid) && (await reachable(record.uri)) ? record : null;
}

/** For `vpnwatch start`: MONGODB_URI, or start the embedded default and record where it is. */
export async function openServiceDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.mongodbUri) {
    const store = await Store.open(config.mongodbUri);
    log.info('using the MongoDB at MONGODB_URI');
    return { store, uri: config.mongodbUri, engine: 'MONGODB_URI', close: () => store.close() };
  }
  const existing = await runningEmbedded(config);
  if (existing && existing.pid !== process.pid) {
    throw new Error(`another vpnwatch (pid ${existing.pid}) is running on the embedded database in ${config.dataDir}; stop it first, or give this one another VPNWATCH_DATA_DIR`);
  }
  let embedded: EmbeddedMongo | undefined;
  const mongod = await mongodObtainable(config.searchPath);
  if (mongod.ok) {
    try {
      embedded = await startMongoMemoryServer(path.join(config.dataDir, 'mongodb'), mongod.systemBinary);
      log.info({ dataDir: config.dataDir }, 'embedded MongoDB (mongodb-memory-server) keeps its data in the data folder');
    } catch (err) {
      log.info({ reason: (err as Error).message.split('\n')[0] }, 'mongodb-memory-server did not start');
    }
  } else {
    log.info({ reason: mongod.why }, 'mongodb-memory-server cannot get a mongod here');
  }
  if (!embedded) {
    embedded = await startMongoJavaServer();
    log.warn('embedded database is mongo-java-server (offline fallback): the data is IN MEMORY ONLY and is lost when vpnwatch stops. Set MONGODB_URI to keep history.');
  }
  const store = await Store.open(embedded.uri, DB_NAME);
  fs.mkdirSync(config.dataDir, { recursive: true });
  const record: DatabaseRecord = { uri: embedded.uri, engine: embedded.engine, persistent: embedded.persistent, pid: process.pid, startedAt: new Date().toISOString() };
  fs.writeFileSync(recordFile(config), `${JSON.stringify(record, null, 2)}\n`);
  return {
    store,
    uri: embedded.uri,
    engine: embedded.engine,
    close: async () => {
      await store.close();
      await embedded.stop();
      try {
        const current = JSON.parse(fs.readFileSync(recordFile(config), 'utf8')) as DatabaseRecord;
        if (current.pid === process.pid) fs.rmSync(recordFile(config));
      } catch { /* already gone */ }
    },
  };
}

/**
 * For CLI commands: MONGODB_URI, or the database of the `vpnwatch start` running beside us.
 * With neither, `temporary` starts a throw-away embedded database (for `poll`, which still
 * prints what it read); otherwise it is an error that says what to do.
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
    throw new Error(`no database: set MONGODB_URI, or run \`vpnwatch start\` (its embedded database is found through ${recordFile(config)})`);
  }
  const embedded = await startMongoJavaServer();
  const store = await Store.open(embedded.uri, DB_NAME);
  return { store, uri: embedded.uri, engine: `${embedded.engine} (temporary)`, close: async () => { await store.close(); await embedded.stop(); } };
}
