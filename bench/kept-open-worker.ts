// Worker for bench/poll-cycle.ts's "kept-open" mode: keeps one SSH connection per server between
// cycles (the alternative to the production job, which reconnects every cycle). Streams each
// read as it completes, like the production job, then posts 'cycle-end'.
import { parentPort } from 'node:worker_threads';
import type { ServerConfig } from '../src/domain.ts';
import { streamReads } from '../src/poll/read-servers.ts';
import { SshPool } from '../src/ssh.ts';

const pool = new SshPool({ connectTimeoutMs: 30_000 });
parentPort!.on('message', async (m: { servers: ServerConfig[]; concurrency: number; timeoutMs: number }) => {
  await streamReads(m.servers, pool, { concurrency: m.concurrency, timeoutMs: m.timeoutMs }, (read) => parentPort!.postMessage({ type: 'read', read }));
  parentPort!.postMessage({ type: 'cycle-end', reads: m.servers.length });
});
