// Flap pairing: a user who disconnects and connects again on the same server within FLAP_WINDOW is
// one "reconnected" line, not two notices. Decided from the stored events' times alone, so it
// works when the two arrive in different poll cycles, and across a restart. (A reconnect seen
// within one read is paired by the diff instead: src/poll/diff.ts.)
import { type StoredEvent } from '../store/records.ts';

/** What pairing looks at: a stored event, or the outline of one kept with a posted message. */
export type FlapFacts = Pick<StoredEvent, 'type' | 'endedBy' | 'user' | 'server' | 'at'>;

export const ms = (at: string) => Date.parse(at);

/** A disconnect a reconnect may turn into one line: not a kick, which is news of its own. */
export const foldable = (e: FlapFacts) => e.type === 'disconnected' && e.endedBy !== 'kicked' && !!e.user;
export const sameUser = (a: FlapFacts, b: FlapFacts) => a.server === b.server && a.user === b.user;
export const withinWindow = (disconnect: FlapFacts, connect: FlapFacts, windowMs: number) =>
  ms(connect.at) >= ms(disconnect.at) && ms(connect.at) - ms(disconnect.at) <= windowMs;

/** Flaps among `events` (oldest first): each foldable disconnect with the first later connect of the same user on the same server within the window, by connect. */
export function pairFlaps(events: StoredEvent[], windowMs: number): Map<StoredEvent, StoredEvent> {
  const flapFrom = new Map<StoredEvent, StoredEvent>();
  if (windowMs <= 0) return flapFrom;
  for (const d of events) {
    if (!foldable(d)) continue;
    const c = events.find((e) => e.type === 'connected' && !flapFrom.has(e) && sameUser(e, d) && withinWindow(d, e, windowMs));
    if (c) flapFrom.set(c, d);
  }
  return flapFrom;
}

