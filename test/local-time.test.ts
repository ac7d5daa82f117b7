// Local times (status-version 1 and the text columns) to UTC, against what Intl says, in every IANA
// zone: every 15 minutes within 4 hours of each of its offset changes in 2024 and 2025 (this
// catches Lord Howe's 30-minute and Chatham's 45-minute shifts), plus the seconds at each edge.
// The changes and the truth come from Intl here, independently of src/openvpn/local-time.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalTimeReader } from '../src/openvpn/local-time.ts';
import { parseStatus } from '../src/openvpn/parse-status.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2026, 0, 1);

/** Intl's wall clock for an instant, as if it were UTC (formatToParts: not the module's method). */
function wallClock(format: Intl.DateTimeFormat, ms: number): number {
  const part: Record<string, number> = {};
  for (const p of format.formatToParts(ms)) if (p.type !== 'literal') part[p.type] = Number(p.value);
  return Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
}

function intlFormat(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
}

/** Intl's offset at an instant, read from `format` (`11/14/2023, 23:13:20`) for speed: the scan below makes ~3,000 per zone. */
function scanOffset(format: Intl.DateTimeFormat, ms: number): number {
  const [month, day, year, hour, minute, second] = format.format(ms).split(/\D+/).map(Number);
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!) - ms;
}

/** The zone's offset changes in [FROM, TO): an offset sample every 6 hours, each change bisected to the second. */
function transitions(format: Intl.DateTimeFormat): { at: number; before: number; after: number }[] {
  const offset = (ms: number) => scanOffset(format, ms);
  const found = [];
  let t = FROM;
  let o = offset(t);
  while (t < TO) {
    const next = t + 6 * HOUR;
    if (offset(next) === o) {
      t = next;
      continue;
    }
    let lo = t;
    let hi = next;
    while (hi - lo > 1000) {
      const mid = lo + Math.round((hi - lo) / 2000) * 1000;
      if (offset(mid) === o) lo = mid;
      else hi = mid;
    }
    const after = offset(hi);
    found.push({ at: hi, before: o, after });
    t = hi;
    o = after;
  }
  return found;
}

const pad = (n: number) => String(n).padStart(2, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A local time as OpenVPN writes it: 2.5+ ISO-like, or ctime (<= 2.4) with the day padded by a space. */
function asText(local: number, style: 'iso' | 'ctime'): string {
  const d = new Date(local);
  const clock = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (style === 'iso') return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${clock}`;
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${clock} ${d.getUTCFullYear()}`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

afterEach(() => {
  vi.restoreAllMocks();
});

describe('local time to UTC', () => {
  it('learns a zone once: reading rows does not call Intl', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `client${i},198.51.100.${i % 250}:${1024 + i},1,2,${asText(Date.UTC(2024, 5, 1, 0, 0, i * 37), 'ctime')}`);
    const text = ['OpenVPN CLIENT LIST', 'Updated,Sat Jun  1 22:00:00 2024', 'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since', ...rows,
      'ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref', 'GLOBAL STATS', 'END', ''].join('\n');
    // Count every Intl formatting call (`format` is a getter returning the bound formatter).
    const proto = Intl.DateTimeFormat.prototype;
    const format = Object.getOwnPropertyDescriptor(proto, 'format')!;
    let calls = 0;
    Object.defineProperty(proto, 'format', { ...format, get(this: Intl.DateTimeFormat) { calls++; return format.get!.call(this); } });
    const parts = vi.spyOn(proto, 'formatToParts');
    try {
      const first = parseStatus(text, { timezone: 'America/Sao_Paulo' });
      const learning = calls + parts.mock.calls.length;
      // Learning the zone's year is a scan (~730 samples + a bisection per change), not a call per row.
      expect(learning).toBeGreaterThan(0);
      expect(learning).toBeLessThan(1500);
      expect(first.sessions[100]!.connectedAt).toBe('2024-06-01T04:01:40.000Z'); // 01:01:40 at -03:00
      parseStatus(text, { timezone: 'America/Sao_Paulo' });
      expect(calls + parts.mock.calls.length).toBe(learning);
    } finally {
      Object.defineProperty(proto, 'format', format);
    }
  });

  it('the examples: Berlin and New York around their 2024 changes', () => {
    const berlin = new LocalTimeReader('Europe/Berlin');
    // 31 Mar 2024: 02:00 CET became 03:00 CEST. 01:30 is still CET (+01:00).
    expect(iso(berlin.toEpochMs('Sun Mar 31 01:30:00 2024'))).toBe('2024-03-31T00:30:00.000Z');
    expect(berlin.reading).toBe('exact');
    // 02:30 never happened: read at the offset before the change, as a clock not moved forward.
    expect(iso(berlin.toEpochMs('Sun Mar 31 02:30:00 2024'))).toBe('2024-03-31T01:30:00.000Z');
    expect(berlin.reading).toBe('skipped');
    expect(iso(berlin.toEpochMs('Sun Mar 31 03:00:00 2024'))).toBe('2024-03-31T01:00:00.000Z');
    // 27 Oct 2024: 03:00 CEST became 02:00 CET, so 02:00-02:59 happened twice.
    expect(iso(berlin.toEpochMs('Sun Oct 27 02:30:00 2024'))).toBe('2024-10-27T00:30:00.000Z');
    expect([berlin.reading, berlin.detail.map(iso)]).toEqual(['repeated', ['2024-10-27T00:30:00.000Z', '2024-10-27T01:30:00.000Z']]);
    expect(iso(berlin.toEpochMs('Sun Oct 27 02:30:00 2024', Date.parse('2024-10-27T01:31:00Z')))).toBe('2024-10-27T01:30:00.000Z');

    const ny = new LocalTimeReader('America/New_York');
    // 3 Nov 2024: at 02:00 EDT clocks went back to 01:00 EST. 01:00-01:59 repeats; 02:30 exists
    // once, in EST (-05:00): 07:30Z. (Read at EDT it would be 06:30Z, the bug this fixes.)
    expect(iso(ny.toEpochMs('Sun Nov  3 02:30:00 2024'))).toBe('2024-11-03T07:30:00.000Z');
    expect(ny.reading).toBe('exact');
    expect(iso(ny.toEpochMs('Sun Nov  3 01:30:00 2024'))).toBe('2024-11-03T05:30:00.000Z');
    expect([ny.reading, ny.detail.map(iso)]).toEqual(['repeated', ['2024-11-03T05:30:00.000Z', '2024-11-03T06:30:00.000Z']]);
    // 10 Mar 2024: 02:00 EST became 03:00 EDT; 02:30 is read at -05:00.
    expect(iso(ny.toEpochMs('2024-03-10 02:30:00'))).toBe('2024-03-10T07:30:00.000Z');
    expect(ny.reading).toBe('skipped');
  });

  it("Lord Howe's 30-minute and Chatham's 45-minute changes", () => {
    const lordHowe = new LocalTimeReader('Australia/Lord_Howe');
    // 7 Apr 2024 02:00 (+11:00) became 01:30 (+10:30): 01:30-01:59 repeats.
    expect(iso(lordHowe.toEpochMs('2024-04-07 01:45:00'))).toBe('2024-04-06T14:45:00.000Z');
    expect([lordHowe.reading, lordHowe.detail.map(iso)]).toEqual(['repeated', ['2024-04-06T14:45:00.000Z', '2024-04-06T15:15:00.000Z']]);
    expect(iso(lordHowe.toEpochMs('2024-04-07 02:00:00'))).toBe('2024-04-06T15:30:00.000Z');
    // 6 Oct 2024 02:00 (+10:30) became 02:30 (+11:00): 02:15 never happened.
    expect(iso(lordHowe.toEpochMs('2024-10-06 02:15:00'))).toBe('2024-10-05T15:45:00.000Z');
    expect(lordHowe.reading).toBe('skipped');
    const chatham = new LocalTimeReader('Pacific/Chatham');
    // 7 Apr 2024 03:45 (+13:45) became 02:45 (+12:45): 02:45-03:44 repeats.
    expect(iso(chatham.toEpochMs('2024-04-07 03:00:00'))).toBe('2024-04-06T13:15:00.000Z');
    expect(chatham.reading).toBe('repeated');
    expect(iso(chatham.toEpochMs('2024-04-07 03:45:00'))).toBe('2024-04-06T15:00:00.000Z');
    expect(chatham.reading).toBe('exact');
    // 29 Sep 2024 02:45 (+12:45) became 03:45 (+13:45).
    expect(iso(chatham.toEpochMs('2024-09-29 03:00:00'))).toBe('2024-09-28T14:15:00.000Z');
    expect(chatham.reading).toBe('skipped');
  });

  it('every IANA zone, every 15 minutes within 4 hours of each offset change in 2024-2025, agrees with Intl', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    let zonesWithChanges = 0;
    let checked = 0;
    const seen = { exact: 0, repeated: 0, skipped: 0 };
    for (const zone of zones) {
      const format = intlFormat(zone);
      const offset = (ms: number) => wallClock(format, ms) - ms;
      const changes = transitions(format);
      if (changes.length > 0) zonesWithChanges++;
      const reader = new LocalTimeReader(zone);
      for (const change of changes) {
        const low = Math.floor((change.at + Math.min(change.before, change.after) - 4 * HOUR) / (15 * MINUTE)) * 15 * MINUTE;
        const high = change.at + Math.max(change.before, change.after) + 4 * HOUR;
        const locals: number[] = [];
        for (let local = low; local <= high; local += 15 * MINUTE) locals.push(local);
        // The seconds on each side of the change's edges.
        for (const edge of [change.at + change.before, change.at + change.after]) locals.push(edge - 1000, edge);
        for (const local of locals) {
          // The instants Intl shows as this wall clock: candidates from every offset nearby, checked.
          const candidates = new Set([change.before, change.after, ...[-26, -14, 0, 14, 26].map((h) => offset(local + h * HOUR))].map((o) => local - o));
          const truth = [...candidates].filter((t) => wallClock(format, t) === local).sort((a, b) => a - b);
          const text = asText(local, checked % 2 === 0 ? 'iso' : 'ctime');
          const got = reader.toEpochMs(text);
          const where = `${zone} ${text}`;
          if (truth.length === 1) {
            expect([iso(got), reader.reading], where).toEqual([iso(truth[0]!), 'exact']);
            seen.exact++;
          } else if (truth.length > 1) {
            // Repeated: the first occurrence; nearest to a reference when one is given.
            expect([iso(got), reader.reading], where).toEqual([iso(truth[0]!), 'repeated']);
            expect(iso(reader.toEpochMs(text, truth[truth.length - 1]! + MINUTE)), where).toBe(iso(truth[truth.length - 1]!));
            seen.repeated++;
          } else {
            // Skipped: read at the offset in force before the change.
            expect([iso(got), reader.reading], where).toEqual([iso(local - change.before), 'skipped']);
            seen.skipped++;
          }
          checked++;
        }
      }
    }
    expect(zones.length).toBeGreaterThan(400);
    expect(zonesWithChanges).toBeGreaterThan(100);
    expect(seen.repeated).toBeGreaterThan(1000);
    expect(seen.skipped).toBeGreaterThan(1000);
    expect(checked).toBeGreaterThan(20_000);
  }, 120_000); // ~3 s alone; a generous limit for a loaded machine (not a speed check)

  it('an offset change with a seconds-precise offset (Monrovia left -00:44:30 in 1972)', () => {
    const monrovia = new LocalTimeReader('Africa/Monrovia');
    const format = intlFormat('Africa/Monrovia');
    for (const text of ['1971-06-01 12:00:00', '1972-01-06 23:00:00', '1972-01-07 12:00:00']) {
      const ms = monrovia.toEpochMs(text)!;
      expect(asText(wallClock(format, ms), 'iso'), text).toBe(text);
    }
  });

  it('text that is not a time OpenVPN writes reads as null', () => {
    const utc = new LocalTimeReader('UTC');
    for (const text of ['Thu Jun 18 04:23 2015', 'Thu Jux 18 04:23:03 2015', 'Xyz Jun 18 04:23:03 2015', 'Fri Feb 30 10:00:00 2024',
      'Sat Feb 29 10:00:00 2025', '2024-13-01 00:00:00', '2024-01-01 24:00:00', '1899-12-31 23:59:59', '0050-01-01 00:00:00', '', '2024-01-01']) {
      expect(utc.toEpochMs(text), text).toBeNull();
    }
    expect(iso(utc.toEpochMs('Thu Feb 29 10:00:00 2024'))).toBe('2024-02-29T10:00:00.000Z');
    expect(iso(utc.toEpochMs('Mon Jan 1 23:42:00 2024'))).toBe('2024-01-01T23:42:00.000Z'); // single-space day, hand-made files
  });
});
