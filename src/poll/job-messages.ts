// The contract between the poll job's worker thread (jobs/poll-servers.ts) and the main thread,
// and the history job's. Plain data only (it is structured-cloned; typed arrays are transferred).
//
//   main → worker, once, as the worker starts: the order: which servers (those this replica holds
//     leases for, decided as the cycle starts), and the digest of each one's baseline;
//   worker → main: one message per server read as it completes, its sessions as a delta against
//     the digest (src/poll/session-digest.ts), then one at the end of the cycle.
import type { HistoryConfig } from '../config.ts';
import type { ServerConfig, ServerRead } from '../domain.ts';
import type { DailyNoticesConfig } from '../notify/digest.ts';
import type { RollUpResult } from '../store/history.ts';
import type { CompactSnapshot, SessionDigest } from './session-digest.ts';

export interface PollJobOrder {
  servers: ServerConfig[];
  /** By server name: the digest of its baseline's sessions (absent: no baseline, every session goes whole). */
  digests: Record<string, SessionDigest>;
  concurrency: number;
  timeoutMs: number;
}

/** A read as the worker sends it: a good read's sessions as a delta. */
export type CompactServerRead =
  | Extract<ServerRead, { ok: false }>
  | (Omit<Extract<ServerRead, { ok: true }>, 'snapshot'> & { snapshot: CompactSnapshot });

/** What the worker posts. */
export type PollWorkerMessage = { type: 'read'; read: CompactServerRead } | { type: 'cycle-end'; reads: number };

/** What the main thread hands on, each read rebuilt whole. */
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
