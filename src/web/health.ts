// /healthz's body, built in one place from sections. The one rule: the status is 503 only when this
// process cannot work (the database is unreachable), because load balancers act on it; everything
// else is in the body, where `ok` is false when any section needs an operator. A new concern is one
// more section. Server error texts are whole for the admin and the cause alone for everyone else
// (/healthz is open: load balancers and strangers read it too).
import { serverHealth, SOURCE_NAMES, sourceProblems, type ChatStatus, type LiveModeInfo, type SourceName, type SourceState, shownError } from '../domain.ts';
import type { ServerRecord } from '../store/records.ts';
import type { TargetHealth } from '../store/outbox.ts';
import { parseTarget } from '../notify/targets.ts';
import type { Viewer } from './viewer.ts';

export interface HealthSection {
  /** false: an operator is needed (a server is not healthy, a chat token is bad...). */
  ok: boolean;
  value: unknown;
}

export interface HealthBody {
  ok: boolean;
  mongo: boolean;
  [section: string]: unknown;
}

export function healthBody(mongo: boolean, sections: Record<string, HealthSection>): HealthBody {
  return {
    ok: mongo && Object.values(sections).every((s) => s.ok),
    mongo,
    ...Object.fromEntries(Object.entries(sections).map(([name, s]) => [name, s.value])),
  };
}

/**
 * The chat section: each platform's connection; not ok while one fails for good (a bad token).
 * Its errors are the chat platforms' answers (`invalid_auth`, HTTP 503), not our infrastructure.
 */
export function chatHealth(chat: ChatStatus[]): HealthSection {
  return {
    ok: chat.every((c) => c.state !== 'failing'),
    value: Object.fromEntries(chat.map((c) => [c.platform, { state: c.state, error: c.error, since: c.since, ...(c.heldBy !== undefined ? { heldBy: c.heldBy } : {}) }])),
  };
}

/** Which replica answers (README "Running replicas"). */
export function replicaHealth(id: string): HealthSection {
  return { ok: true, value: id };
}

/**
 * The notices section: each notice target (a platform and a channel, by id) with its state; not ok
 * while one fails for good (a missing channel, no access): a platform's outage is `retrying` and
 * needs no operator. Its errors are the chat platforms' answers, like chat's.
 */
export function noticesHealth(targets: TargetHealth[]): HealthSection {
  return {
    ok: targets.every((t) => t.state !== 'failing'),
    value: targets.map((t) => ({
      id: t.id, ...parseTarget(t.id), ok: t.state !== 'failing', state: t.state, error: t.error, since: t.since?.toISOString() ?? null,
      nextAttemptAt: t.nextAttemptAt?.toISOString() ?? null, pending: t.pending,
    })),
  };
}

/** The servers sections: each server's last read and each of its sources; not ok while one is not healthy or a source has a problem. */
export function serversHealth(servers: ServerRecord[], modes: Record<string, LiveModeInfo>, viewer: Viewer, now: Date): Record<string, HealthSection> {
  const ageOf = (d: Date | null) => (d ? Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000)) : null);
  const ages = servers.map((s) => ageOf(s.lastGoodAt)).filter((a): a is number => a !== null);
  const rows = servers.map((s) => ({
    name: s.name, healthy: serverHealth(s).healthy, lastResult: s.lastResult, lastGoodAgeSeconds: ageOf(s.lastGoodAt),
    consecutiveFailures: s.consecutiveFailures, down: s.down, error: shownError(s.lastError, viewer),
    // With replicas: the one that polls it; none (a takeover is due) is a problem.
    ...(modes[s.name]?.heldBy !== undefined ? { heldBy: modes[s.name]!.heldBy } : {}),
    sources: sourceStatus(s.sources, modes[s.name], ageOf, viewer),
    problems: [
      ...sourceProblems(s.sources, modes[s.name]).map((p) => `${SOURCE_NAMES[p.source]}: ${shownError(p.error, viewer)}`),
      ...(modes[s.name]?.heldBy === null ? ['no replica polls it now (its lease is free until a replica takes it)'] : []),
    ],
  }));
  return {
    lastGoodPollAgeSeconds: { ok: true, value: ages.length ? Math.min(...ages) : null },
    servers: { ok: rows.every((s) => s.healthy && s.problems.length === 0), value: rows },
  };
}

/** Each source of a server: its last result, why, since when, and the management mode. */
function sourceStatus(sources: Partial<Record<SourceName, SourceState>>, mode: LiveModeInfo | undefined, ageOf: (d: Date | null) => number | null, viewer: Viewer) {
  const one = (s: SourceState | undefined) => (s ? { result: s.result, error: shownError(s.error, viewer), since: s.since?.toISOString() ?? null, lastGoodAgeSeconds: ageOf(s.lastGoodAt) } : null);
  const managed = (mode && mode.mode !== 'file-only') || sources.management;
  return { 'status-file': one(sources['status-file']), management: managed ? { mode: mode?.mode ?? null, ...(one(sources.management) ?? {}) } : null };
}
