// /healthz's body, built in one place from sections. The one rule: the status is 503 only when this
// process cannot work (the database is unreachable), because load balancers act on it; everything
// else is in the body, where `ok` is false when any section needs an operator. A new concern
// (chat platforms, notice targets) is one more section.
import { serverHealth } from '../domain.ts';
import type { ServerRecord } from '../store/records.ts';
import { shownError } from './public-error.ts';
import type { Viewer } from './viewer.ts';

export interface HealthSection {
  /** false: an operator is needed (a server is down, a chat token is bad...). */
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

/** The servers section: each server's last read; not ok while one is down. Errors whole for the admin only. */
export function serversHealth(servers: ServerRecord[], viewer: Viewer, now: Date): Record<string, HealthSection> {
  const ageOf = (d: Date | null) => (d ? Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000)) : null);
  const ages = servers.map((s) => ageOf(s.lastGoodAt)).filter((a): a is number => a !== null);
  return {
    lastGoodPollAgeSeconds: { ok: true, value: ages.length ? Math.min(...ages) : null },
    servers: {
      ok: servers.every((s) => !s.down),
      value: servers.map((s) => ({
        name: s.name, healthy: serverHealth(s).healthy, lastResult: s.lastResult, lastGoodAgeSeconds: ageOf(s.lastGoodAt),
        consecutiveFailures: s.consecutiveFailures, down: s.down, error: shownError(s.lastError, viewer),
      })),
    },
  };
}
