// An in-process feed of changes for the page's Server-Sent Events (GET /api/stream): the poller
// (and the management stream) publish after they have stored a change, the web server fans out.
import type { VpnEvent } from '../domain.ts';

export interface LiveUpdate {
  /** Events just stored (may be empty when only counters or server health changed). */
  events: VpnEvent[];
  /** Servers whose state was just stored. */
  servers: string[];
  at: string;
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
