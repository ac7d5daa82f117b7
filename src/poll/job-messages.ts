// The contract between the poll job's worker thread (jobs/poll-servers.ts) and the main thread:
// what the worker is given, and what it posts back. Plain data only (it is structured-cloned).
import type { HistoryConfig } from '../config.ts';
import type { ServerConfig, ServerRead } from '../domain.ts';
import type { DailyNoticesConfig } from '../notify/digest.ts';
import type { RollUpResult } from '../store/history.ts';

export interface PollJobData {
  servers: ServerConfig[];
  concurrency: number;
  timeoutMs: number;
}

/** What the job posts: one message per server read, then one at the end of the cycle. */
export type PollJobMessage = { type: 'read'; read: ServerRead } | { type: 'cycle-end'; reads: number };

/** What the history job (jobs/history-rollup.ts) is given: the database, and how long to keep things. */
export interface HistoryJobData {
  uri: string;
  dbName: string;
  history: HistoryConfig;
  /** The digest and the quota alert (src/notify/digest.ts). */
  notices: DailyNoticesConfig;
}

/** What it posts when a run is done. */
export interface HistoryJobMessage {
  type: 'history-rollup';
  result: RollUpResult;
  /** Ids of the notices (digest, quota alerts) this run stored. */
  notices: string[];
}
