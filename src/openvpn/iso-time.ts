// Date#toISOString costs ~450 ns here, a fifth of the parse time of a 10,000-client file.
// Status times are whole seconds, so the ISO string is a cached day prefix plus a clock.

const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const dayCache = new Map<number, string>();

/** The same string as `new Date(ms).toISOString()` for any ms, fast for whole seconds. */
export function isoFromEpochMs(ms: number): string {
  if (ms % 1000 !== 0 || ms < 0) return new Date(ms).toISOString();
  const day = Math.floor(ms / 86_400_000);
  let prefix = dayCache.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * 86_400_000).toISOString().slice(0, 11); // `2024-01-02T`
    if (dayCache.size > 4096) dayCache.clear();
    dayCache.set(day, prefix);
  }
  let s = (ms - day * 86_400_000) / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  return `${prefix}${TWO[h]}:${TWO[m]}:${TWO[s - m * 60]}.000Z`;
}
