// Bree job, run in a worker thread every POLL_INTERVAL: read and parse every server's status file
// and post each read to the main thread as it completes (the main thread diffs and stores them in
// batches), then end. Each run opens its SSH connections and closes them at the end (README
// "Polling" has the measurements behind that choice).
import { parentPort, workerData } from 'node:worker_threads';
import type { PollJobData, PollJobMessage } from '../src/poll/job-messages.ts';
import { streamReads } from '../src/poll/read-servers.ts';
import { SshPool } from '../src/ssh.ts';

const data = workerData as PollJobData;
const pool = new SshPool({ connectTimeoutMs: data.timeoutMs });
const post = (message: PollJobMessage) => parentPort?.postMessage(message);

parentPort?.on('message', (message) => {
  // bree.stop() sends 'cancel': drop the connections and end this thread (not the process).
  if (message === 'cancel') void pool.closeAll().finally(() => process.exit(0));
});

try {
  await streamReads(data.servers, pool, { concurrency: data.concurrency, timeoutMs: data.timeoutMs }, (read) => post({ type: 'read', read }));
  post({ type: 'cycle-end', reads: data.servers.length });
} finally {
  await pool.closeAll();
}
parentPort?.postMessage('done');
