// Bree job, run in a worker thread every POLL_INTERVAL: takes its order from the main thread (the
// servers this replica holds, and a digest of each one's baseline), reads and parses each server's
// status file, and posts each read as it completes, with only what the main thread does not have
// already (src/poll/session-digest.ts), then ends. Each run opens its SSH connections and closes
// them at the end (README "Polling" has the measurements behind that choice).
import { parentPort } from 'node:worker_threads';
import type { CompactServerRead, PollJobOrder, PollWorkerMessage } from '../src/poll/job-messages.ts';
import { streamReads } from '../src/poll/read-servers.ts';
import { compactSnapshot } from '../src/poll/session-digest.ts';
import { SshPool } from '../src/ssh.ts';

let pool: SshPool | undefined;

const order = await new Promise<PollJobOrder>((resolve) => {
  parentPort?.on('message', (message: unknown) => {
    // bree.stop() sends 'cancel': drop the connections and end this thread (not the process).
    if (message === 'cancel') void (pool?.closeAll() ?? Promise.resolve()).finally(() => process.exit(0));
    else if (message && typeof message === 'object') resolve(message as PollJobOrder);
  });
});

pool = new SshPool({ connectTimeoutMs: order.timeoutMs });
const post = (message: PollWorkerMessage, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(message, transfer);

try {
  await streamReads(order.servers, pool, { concurrency: order.concurrency, timeoutMs: order.timeoutMs }, (read) => {
    if (!read.ok) return post({ type: 'read', read });
    const compact: CompactServerRead = { ...read, snapshot: compactSnapshot(read.snapshot, order.digests[read.server]) };
    const { order: positions, counters } = compact.snapshot.delta;
    post({ type: 'read', read: compact }, [positions.buffer as ArrayBuffer, counters.buffer as ArrayBuffer]);
  });
  post({ type: 'cycle-end', reads: order.servers.length });
} finally {
  await pool.closeAll();
}
parentPort?.postMessage('done');
