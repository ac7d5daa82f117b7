// Bree job, run in a worker thread every POLL_INTERVAL: read and parse every server's status file,
// post the reads to the main thread (which diffs and stores them), and end. Each run opens its SSH
// connections and closes them at the end (README "Polling": why, with the measurements).
import { parentPort, workerData } from 'node:worker_threads';
import type { ServerConfig } from '../src/domain.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { SshPool } from '../src/ssh.ts';

export interface PollJobData {
  servers: ServerConfig[];
  concurrency: number;
  timeoutMs: number;
}

export interface PollJobMessage {
  type: 'reads';
  reads: import('../src/domain.ts').ServerRead[];
}

const data = workerData as PollJobData;
const pool = new SshPool({ connectTimeoutMs: data.timeoutMs });

parentPort?.on('message', (message) => {
  // bree.stop() sends 'cancel': drop the connections and end this thread (not the process).
  if (message === 'cancel') void pool.closeAll().finally(() => process.exit(0));
});

try {
  const reads = await readServers(data.servers, pool, { concurrency: data.concurrency, timeoutMs: data.timeoutMs });
  parentPort?.postMessage({ type: 'reads', reads } satisfies PollJobMessage);
} finally {
  await pool.closeAll();
}
parentPort?.postMessage('done');
