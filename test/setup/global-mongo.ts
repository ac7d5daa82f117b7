// Gives every test file a real MongoDB-wire server. Test files read the address with
// inject('mongoUri') and use a database of their own. Which server depends on the vitest project
// (vitest.config.ts):
//   "all": MONGODB_URI when set; else a mongod found on PATH (or MONGOMS_SYSTEM_BINARY) through
//     mongodb-memory-server; else, offline, mongo-java-server in memory (fast);
//   "store-on-h2": always mongo-java-server with its H2 backend in a temporary file, the offline
//     default of `vpnwatch start`, so every store query is checked on the engine users run.
// VPNWATCH_TEST_ENGINE=h2 puts the "all" project on H2 as well (the whole suite on that engine).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { findMongodOnPath, startMongoJavaServer, startMongoMemoryServer, type EmbeddedMongo } from '../../src/store/embedded-mongo.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    mongoEngine: string;
  }
}

/** The project that runs the store-query tests on H2 (see vitest.config.ts). */
export const H2_PROJECT = 'store-on-h2';

interface Engine {
  uri: string;
  engine: string;
  stop(): Promise<void>;
}

function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function startEngine(project: TestProject): Promise<Engine> {
  let embedded: EmbeddedMongo;
  let tmp: { dir: string; remove(): void } | undefined;
  if (project.name === H2_PROJECT || process.env.VPNWATCH_TEST_ENGINE === 'h2') {
    tmp = tempDir('vpnwatch-test-h2-');
    embedded = await startMongoJavaServer({ h2File: path.join(tmp.dir, 'test.mv.db') });
  } else if (process.env.MONGODB_URI) {
    return { uri: process.env.MONGODB_URI, engine: 'MONGODB_URI', stop: async () => {} };
  } else {
    const mongod = process.env.MONGOMS_SYSTEM_BINARY ?? findMongodOnPath(process.env.PATH);
    if (mongod) {
      tmp = tempDir('vpnwatch-test-mongod-');
      embedded = await startMongoMemoryServer(tmp.dir, mongod);
    } else {
      embedded = await startMongoJavaServer();
    }
  }
  return { uri: embedded.uri, engine: embedded.engine, stop: async () => { await embedded.stop(); tmp?.remove(); } };
}

// The default-export form: each project that runs this setup gets its own engine and teardown.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engine = await startEngine(project);
  project.provide('mongoUri', engine.uri);
  project.provide('mongoEngine', engine.engine);
  return () => engine.stop();
}
