// Page text that depends on the clock: "3m ago", a connection's duration, a server's mode ("...
// reconnecting since 2m ago"). The server sends the moment, not the text, and the page works the
// text out every second, so "last read" ages move without anything being fetched, and data that
// did not change is not sent again. The same function makes the server's first render: this
// module (with src/format.ts) is bundled for the browser as /static/clock-text.js.
import type { LiveModeInfo } from '../domain.ts';
import { describeMode, formatAgo, formatDuration, formatStamp, secondsBetween } from '../format.ts';

export type Clock =
  /** "3m ago", "just now". */
  | { ago: string }
  /** A duration from then until now: "1h 3m". */
  | { since: string }
  /** How a server is followed (src/format.ts describeMode). */
  | { mode: LiveModeInfo | null; source: string | null };

export function clockText(clock: Clock, now: Date): string {
  if ('ago' in clock) return formatAgo(clock.ago, now);
  if ('since' in clock) return formatDuration(secondsBetween(clock.since, now));
  return describeMode(clock.mode ?? undefined, clock.source, now);
}

export { formatStamp, formatDuration };
