// The JSON API's shapes (/api/status, /api/users/:name, /api/events), built from store records for
// one viewer: addresses masked unless the viewer may see real IPs; SSH hosts, whole error texts and
// per-user history for the admin only.
// These types are the public JSON contract (README "Status page and API"), so they mirror the
// store's records field by field on purpose.
import { serverHealth, userName, type LiveModeInfo, type Stats, type VpnSession } from '../domain.ts';
import { secondsBetween } from '../format.ts';
import type { OnlineSession, ServerRecord, SessionRecord, StoredEvent, UserReport } from '../store/records.ts';
import { shownError } from './public-error.ts';
import type { SessionPage } from './session-list.ts';
import type { StoreSnapshot } from './snapshot.ts';
import { viewSearch, type ViewQuery } from './view-query.ts';
import { showIp, type Viewer } from './viewer.ts';

export interface ApiSession {
  server: string;
  user: string;
  commonName: string;
  username: string | null;
  realAddress: string;
  realPort: number | null;
  protocol: string | null;
  virtualAddress: string | null;
  virtualIpv6: string | null;
  connectedAt: string;
  connectedSeconds: number;
  bytesReceived: number;
  bytesSent: number;
  clientId: number | null;
}

export interface ApiServer {
  name: string;
  host?: string | null;
  healthy: boolean;
  lastResult: ServerRecord['lastResult'];
  lastPollAt: string | null;
  lastGoodAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  down: boolean;
  source: string | null;
  /** 'stream', 'reconnecting', 'short' or 'file-only' where known. */
  mode: LiveModeInfo['mode'] | null;
  onlineCount: number;
}

/** Where a paged answer stands: asked for with `page` or `per`. */
export interface ApiPage {
  number: number;
  per: number;
  pages: number;
  /** Sessions the filter and search match (what the pages divide). */
  matched: number;
  /** The URLs of the pages before and after, with the same query; null at the ends. */
  prev: string | null;
  next: string | null;
}

export interface ApiStatus {
  /** When this data was read; connectedSeconds and averageConnectionSeconds are as of then. */
  generatedAt: string;
  /** The data version (also the ETag): it changes only when what this answer shows changes. */
  version: string;
  realIpsMasked: boolean;
  counts: Stats;
  servers: ApiServer[];
  sessions: ApiSession[];
  page?: ApiPage;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function apiSession(s: OnlineSession, viewer: Viewer, now: Date): ApiSession {
  return {
    server: s.server, user: userName(s), commonName: s.commonName, username: s.username,
    realAddress: showIp(s.realAddress, viewer)!, realPort: viewer.realIps ? s.realPort : null, protocol: s.protocol,
    virtualAddress: s.virtualAddress, virtualIpv6: s.virtualIpv6, connectedAt: s.connectedAt,
    connectedSeconds: Math.max(0, Math.floor(secondsBetween(s.connectedAt, now))),
    bytesReceived: s.bytesReceived, bytesSent: s.bytesSent, clientId: s.clientId,
  };
}

export function apiServer(s: ServerRecord, viewer: Viewer, mode?: LiveModeInfo): ApiServer {
  return {
    name: s.name, ...(viewer.admin ? { host: s.host } : {}), healthy: serverHealth(s).healthy, lastResult: s.lastResult,
    lastPollAt: iso(s.lastPollAt), lastGoodAt: iso(s.lastGoodAt), lastError: shownError(s.lastError, viewer), consecutiveFailures: s.consecutiveFailures,
    down: s.down, source: s.source, mode: mode?.mode ?? null, onlineCount: s.onlineCount,
  };
}

/** /api/status: every session the query matches, or with `page`/`per` one page of them. */
export function buildApiStatus(snapshot: StoreSnapshot, viewer: Viewer, q: ViewQuery, selected: SessionPage): ApiStatus {
  const url = (page: number) => `/api/status${viewSearch({ ...q, page })}`;
  return {
    generatedAt: snapshot.at.toISOString(),
    version: snapshot.version,
    realIpsMasked: !viewer.realIps,
    counts: snapshot.stats,
    servers: snapshot.servers.map((s) => apiServer(s, viewer, snapshot.modes[s.name])),
    sessions: selected.sessions.map((s) => apiSession(s, viewer, snapshot.at)),
    ...(q.paged ? {
      page: {
        number: selected.page, per: selected.per, pages: selected.pages, matched: selected.matched,
        prev: selected.page > 1 ? url(selected.page - 1) : null, next: selected.page < selected.pages ? url(selected.page + 1) : null,
      },
    } : {}),
  };
}

export interface ApiSessionRecord {
  id: string;
  server: string;
  user: string;
  commonName: string;
  username: string | null;
  realAddress: string;
  realPort: number | null;
  virtualAddress: string | null;
  virtualIpv6: string | null;
  connectedAt: string;
  disconnectedAt: string | null;
  bytesReceived: number;
  bytesSent: number;
  endedBy: string | null;
}

export function apiSessionRecord(r: SessionRecord, viewer: Viewer): ApiSessionRecord {
  return {
    id: r.id, server: r.server, user: r.user, commonName: r.commonName, username: r.username,
    realAddress: showIp(r.realAddress, viewer)!, realPort: viewer.realIps ? r.realPort : null,
    virtualAddress: r.virtualAddress, virtualIpv6: r.virtualIpv6, connectedAt: r.connectedAt.toISOString(),
    disconnectedAt: iso(r.disconnectedAt), bytesReceived: r.bytesReceived, bytesSent: r.bytesSent, endedBy: r.endedBy,
  };
}

export interface ApiUser {
  name: string;
  online: boolean;
  firstSeen: string;
  lastSeen: string;
  lastIp: string | null;
  lastServer: string | null;
  sessionCount: number;
  totalBytesReceived: number;
  totalBytesSent: number;
  sessions: ApiSession[];
  /** The user's latest sessions, ended or not: for the admin only. */
  recent?: ApiSessionRecord[];
}

export function apiUser(report: UserReport, viewer: Viewer, now: Date): ApiUser {
  const u = report.user;
  return {
    name: u.name, online: report.online.length > 0, firstSeen: u.firstSeen.toISOString(), lastSeen: u.lastSeen.toISOString(),
    lastIp: showIp(u.lastIp, viewer), lastServer: u.lastServer, sessionCount: u.sessionCount,
    totalBytesReceived: report.totalBytesReceived, totalBytesSent: report.totalBytesSent,
    sessions: report.online.map((s) => apiSession(s, viewer, now)),
    ...(viewer.admin ? { recent: report.recent.map((r) => apiSessionRecord(r, viewer)) } : {}),
  };
}

export interface ApiEventSession {
  user: string;
  commonName: string;
  realAddress: string;
  virtualAddress: string | null;
  connectedAt: string;
  bytesReceived: number;
  bytesSent: number;
}

export interface ApiEvent {
  id: string;
  /** Monotonic across the store: the /api/events cursor (`?after=`). */
  seq: number;
  type: StoredEvent['type'];
  server: string;
  at: string;
  user: string | null;
  session?: ApiEventSession;
  previous?: ApiEventSession;
  endedBy?: string;
  error?: string;
}

function apiEventSession(s: VpnSession, viewer: Viewer): ApiEventSession {
  return {
    user: userName(s), commonName: s.commonName, realAddress: showIp(s.realAddress, viewer)!, virtualAddress: s.virtualAddress,
    connectedAt: s.connectedAt, bytesReceived: s.bytesReceived, bytesSent: s.bytesSent,
  };
}

/** An event without its delivery bookkeeping (the notifier's business), addresses masked. */
export function apiEvent(e: StoredEvent, viewer: Viewer): ApiEvent {
  return {
    id: e.id, seq: e.seq, type: e.type, server: e.server, at: e.at, user: e.user,
    ...(e.session ? { session: apiEventSession(e.session, viewer) } : {}),
    ...(e.previous ? { previous: apiEventSession(e.previous, viewer) } : {}),
    ...(e.endedBy ? { endedBy: e.endedBy } : {}),
    ...(e.error ? { error: shownError(e.error, viewer)! } : {}),
  };
}
