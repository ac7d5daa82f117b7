// Who is looking, and what the page and the API read from the store for them: one snapshot of the
// store shared by every request (src/web/response-cache.ts), shown to each viewer with real IPs in
// full or masked (the privacy rule in src/domain.ts: Viewer, maskIp, shownIp).
import { shownIp, type ChatStatus, type LiveModeInfo, type Stats, type Viewer } from '../domain.ts';
import type { OnlineSession, ServerRecord, SessionRecord, UserRecord } from '../store/records.ts';

export type { Viewer };

/** Everything the page needs from the store, read at one moment. */
export interface StoreSnapshot {
  at: Date;
  stats: Stats;
  servers: ServerRecord[];
  /** How each server is followed now, by name (missing: status file only). */
  modes: Record<string, LiveModeInfo>;
  /** How each chat platform's connection stands (absent or empty: no chat). */
  chat?: ChatStatus[];
  online: OnlineSession[];
  recent: SessionRecord[];
  offline: UserRecord[];
}

/** An address as this viewer may see it. */
export const showIp = (address: string | null, viewer: Viewer): string | null => (address === null ? null : shownIp(address, viewer));
