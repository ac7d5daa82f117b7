// Gives every test file a real MongoDB-wire server: MONGODB_URI when set; else a mongod found on
// PATH (or MONGOMS_SYSTEM_BINARY) through mongodb-memory-server; else, offline, mongo-java-server.
// Test files read the address with inject('mongoUri') and use a database of their own.
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

let embedded: EmbeddedMongo | undefined;
let tmp: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.MONGODB_URI;
  if (external) {
    project.provide('mongoUri', external);
    project.provide('mongoEngine', 'MONGODB_URI');
    return;
  }
  const mongod = process.env.MONGOMS_SYSTEM_BINARY ?? findMongodOnPath(process.env.PATH);
  if (mongod) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-test-mongod-'));
    embedded = await startMongoMemoryServer(tmp, mongod);
  } else {
    embedded = await startMongoJavaServer();
  }
  project.provide('mongoUri', embedded.uri);
  project.provide('mongoEngine', embedded.engine);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}
