// Who is looking, and what the page and the API read from the store for them: one snapshot of the
// store shared by every request (src/web/response-cache.ts), shown to each viewer with real IPs in
// full or masked (maskIp in src/domain.ts).
import { maskIp, type LiveModeInfo, type Stats } from '../domain.ts';
import type { OnlineSession, ServerRecord, SessionRecord, UserRecord } from '../store/records.ts';
import type { TargetHealth } from '../store/outbox.ts';

/** Everything the page needs from the store, read at one moment. */
export interface StoreSnapshot {
  at: Date;
  stats: Stats;
  servers: ServerRecord[];
  /** How each server is followed now, by name (missing: status file only). */
  modes: Record<string, LiveModeInfo>;
  online: OnlineSession[];
  recent: SessionRecord[];
  offline: UserRecord[];
  /** Each notice target (channel) and how its deliveries go. */
  notices: TargetHealth[];
}

export interface Viewer {
  admin: boolean;
  /** Real IPs in full: the admin, or everyone when SHOW_REAL_IPS is set. */
  realIps: boolean;
}

/** An address as this viewer may see it. */
export const showIp = (address: string | null, viewer: Viewer): string | null => (address === null ? null : viewer.realIps ? address : maskIp(address));
