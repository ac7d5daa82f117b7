// Date#toISOString costs ~450 ns here, a fifth of the parse time of a 10,000-client file.
// Status times are whole seconds, so the ISO string is a cached `2024-01-02T10:11:` prefix for its
// minute plus one of 60 `SS.000Z` endings: one lookup in a small, hot table and one concatenation
// per row. (Built piece by piece, each string would be a chain of five concatenation nodes that
// every session keeps alive; a table per second of the day is too big to stay in the cache.)

const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const SECONDS = TWO.map((ss) => `${ss}.000Z`);
const minutes = new Map<number, string>();

/** The same string as `new Date(ms).toISOString()` for any ms, fast for whole seconds. */
export function isoFromEpochMs(ms: number): string {
  if (ms % 1000 !== 0 || ms < 0) return new Date(ms).toISOString();
  const minute = Math.floor(ms / 60_000);
  let prefix = minutes.get(minute);
  if (prefix === undefined) {
    prefix = new Date(minute * 60_000).toISOString().slice(0, 17); // `2024-01-02T10:11:`
    if (minutes.size > 4096) minutes.clear();
    minutes.set(minute, prefix);
  }
  return prefix + SECONDS[(ms - minute * 60_000) / 1000]!;
}
