// An in-process feed of changes for the page's Server-Sent Events (GET /api/stream) and the
// notifier: the poller (and the management stream) publish after they have stored a change, the
// web server fans out. With replicas, what another replica stored comes in too, through the
// change sequence in MongoDB (src/poll/change-feed.ts), with its `origin`.
import { userName, type VpnEvent } from '../domain.ts';

/** An event as the feed tells it: what happened where, to whom; never an address. */
export interface LiveEvent {
  type: VpnEvent['type'];
  server: string;
  user: string | null;
}

export interface LiveUpdate {
  /** Events just stored (may be empty when only counters or server health changed). */
  events: LiveEvent[];
  /** Servers whose state was just stored. */
  servers: string[];
  at: string;
  /** The replica that stored it, when another one did. */
  origin?: string;
}

export function liveEvent(e: VpnEvent): LiveEvent {
  return { type: e.type, server: e.server, user: e.session ? userName(e.session) : null };
}

export class LiveFeed {
  private readonly listeners = new Set<(u: LiveUpdate) => void>();

  publish(update: LiveUpdate): void {
    for (const fn of this.listeners) {
      try { fn(update); } catch { /* one broken subscriber must not stop the others */ }
    }
  }

  subscribe(fn: (u: LiveUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
