// Bree, set up for TypeScript jobs run by tsx (no build step). On Node 20 a worker thread cannot
// load a .ts entry even when the parent runs under tsx, so each .ts job starts from a tiny data: URL
// module that registers tsx inside the worker and then imports the job file.
import Bree from 'bree';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { VpnSession } from '../domain.ts';
import type { Logger } from '../log.ts';
import type { PollJobMessage, PollJobOrder, PollWorkerMessage } from './job-messages.ts';
import { digestSessions, expandSnapshot, type SessionDigest } from './session-digest.ts';

const jobsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'jobs');

function tsWorker(filename: string, options: Partial<WorkerOptions>): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(pathToFileURL(filename).href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options);
}

export interface PollScheduleOptions {
  intervalSeconds: number;
  /** What each cycle polls, decided as its worker starts (the servers this replica holds now). */
  order: () => Omit<PollJobOrder, 'digests'>;
  /** A server's baseline sessions now: the worker leaves out what they already say (src/poll/session-digest.ts). */
  baseline: (server: string) => readonly VpnSession[];
  /** A run that outlives this is terminated (a hung read must not block the next cycles). */
  closeWorkerAfterMs: number;
  /** Each read, rebuilt whole, and the end of each cycle. */
  onMessage: (message: PollJobMessage) => void;
  onError: (error: unknown) => void;
  log: Logger;
  /** The history job (roll-ups and retention), run at start and then every `intervalSeconds`. */
  history?: { intervalSeconds: number; workerData: object; onMessage: (message: unknown) => void };
}

/** Bree's name for the history job (jobs/history-rollup.ts). */
const HISTORY_JOB = 'history-rollup';

/** A Bree instance that runs jobs/poll-servers.ts (and jobs/history-rollup.ts) now and then every interval. */
export function createPollScheduler(opts: PollScheduleOptions): Bree {
  const log = opts.log.child({ component: 'bree' });
  /** The baseline sessions each digest of the running cycle was made from: what its reads are rebuilt against. */
  let digested = new Map<string, readonly VpnSession[]>();
  const bree = new Bree({
    root: jobsDir,
    defaultExtension: 'ts',
    acceptedExtensions: ['.ts', '.js'],
    // Bree logs every worker start and exit at info; ours keeps them at debug.
    logger: { info: (...a: unknown[]) => log.debug(a.map(String).join(' ')), warn: (...a: unknown[]) => log.warn(a.map(String).join(' ')), error: (...a: unknown[]) => log.error(a.map(String).join(' ')) } as never,
    jobs: [{
      name: 'poll-servers',
      interval: opts.intervalSeconds * 1000,
      timeout: 0,
      closeWorkerAfterMs: opts.closeWorkerAfterMs,
      // A cap on the worker's heap makes it collect garbage as it goes instead of growing with the
      // fleet (it only ever holds the reads in flight).
      worker: { resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } },
    }, ...(opts.history ? [{ name: HISTORY_JOB, interval: opts.history.intervalSeconds * 1000, timeout: 0, worker: { workerData: opts.history.workerData } }] : [])],
    workerMessageHandler: ({ name, message }: { name: string; message: unknown }) => {
      if (message === 'done') return;
      if (name === HISTORY_JOB) return opts.history?.onMessage(message);
      const m = message as PollWorkerMessage;
      if (m.type === 'cycle-end') {
        digested = new Map();
        return opts.onMessage(m);
      }
      // Each server is read once a cycle: its digested baseline is let go as its read arrives, or
      // the previous baseline's sessions (100,000 objects at 200 × 500) would live until the next cycle.
      const baseline = digested.get(m.read.server) ?? [];
      digested.delete(m.read.server);
      if (!m.read.ok) return opts.onMessage({ type: 'read', read: m.read });
      const { snapshot, ...read } = m.read;
      opts.onMessage({ type: 'read', read: { ...read, snapshot: expandSnapshot(snapshot, baseline) } });
    },
    errorHandler: (error: unknown) => opts.onError(error),
  });
  const original = bree.createWorker.bind(bree);
  bree.createWorker = (filename, options) => (filename.endsWith('.ts') ? tsWorker(filename, options) : original(filename, options));
  // The order goes to the worker as it starts (it waits for it): a message posted now is queued.
  bree.on('worker created', (name: string) => {
    if (name !== 'poll-servers') return;
    const order = opts.order();
    digested = new Map(order.servers.map((s) => [s.name, opts.baseline(s.name)]));
    const digests: Record<string, SessionDigest> = {};
    for (const [server, sessions] of digested) if (sessions.length) digests[server] = digestSessions(sessions);
    bree.workers.get(name)?.postMessage({ ...order, digests } satisfies PollJobOrder, Object.values(digests).map((d) => d.buffer as ArrayBuffer));
  });
  return bree;
}

/** bree.stop() waits forever for a worker that ignores 'cancel'; bound it. */
export async function stopScheduler(bree: Bree, graceMs = 5_000): Promise<void> {
  const stopping = bree.stop();
  const timer = setTimeout(() => { for (const w of bree.workers.values()) void w.terminate(); }, graceMs);
  try { await stopping; } finally { clearTimeout(timer); }
}
