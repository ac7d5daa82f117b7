// OpenVPN writes human timestamps in the server's local time with no zone: ctime() up to 2.4
// (`Thu Jun 18 04:23:03 2015`, day padded with a space: `Feb  1`) and `2024-01-02 10:11:12`
// from 2.5 on. Only status-version 2/3 carry Unix seconds next to them. This module turns the text
// into epoch milliseconds for a given IANA zone, exactly, fast enough for 100,000 rows.
//
// Exactness needs the zone's offset changes. They are learned from Intl once per zone and UTC year
// (an offset sample every 12 hours, each change bisected to the second) and kept for the process,
// so reading a row never calls Intl: it looks the offset up, and consecutive rows usually hit the
// same cached stretch of local time.
//
// A local time that does not name exactly one instant is resolved by a stated rule, and reported
// (LocalTimeReader.reading) so the parser can warn:
// - repeated (clocks went back: 01:30 on 3 Nov 2024 in New York was 05:30Z and again 06:30Z): the
//   first occurrence, unless the caller passes a reference instant (the poller passes its own clock
//   for the file's Updated line), in which case the occurrence nearest to it;
// - skipped (clocks went forward: 02:30 on 31 Mar 2024 in Berlin never happened): read with the
//   offset in force before the change (02:30 CET = 01:30Z), as a clock not yet moved forward shows.

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Offsets of every zone stay within ±16 h (the largest ever, Manila's 1844 LMT, is -15:56). */
const MAX_OFFSET = 16 * HOUR;
/** Offset samples per scanned year: two changes closer than this and cancelling out would be missed. */
const SCAN_STEP = 12 * HOUR;

/** `Jan`..`Dec` and `Sun`..`Sat` as a number (three char codes), so a row needs no substring. */
const key3 = (text: string, at: number) => (text.charCodeAt(at) << 16) | (text.charCodeAt(at + 1) << 8) | text.charCodeAt(at + 2);
const MONTHS = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [key3(m, 0), i]));
const WEEKDAYS = new Set(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].map((d) => key3(d, 0)));
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Wall-clock fields read from a status timestamp, before any zone is applied. */
interface WallClock { year: number; month: number; day: number; hour: number; minute: number; second: number }

/** Two ASCII digits at `at`, or -1. Hand-rolled: this runs once per row of 100,000-row files. */
function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** `hh:mm:ss` at `at` into w, false when it is not one. */
function readClock(text: string, at: number, w: WallClock): boolean {
  if (text.charCodeAt(at + 2) !== 58 || text.charCodeAt(at + 5) !== 58) return false;
  w.hour = twoDigits(text, at);
  w.minute = twoDigits(text, at + 3);
  w.second = twoDigits(text, at + 6);
  return w.hour >= 0 && w.minute >= 0 && w.second >= 0;
}

/**
 * Reads text[at, at + length) into `w` (reused across calls: one allocation per row adds up at
 * 100,000 rows; and the parser reads rows in place, without cutting the field out).
 */
function readWallClock(text: string, at: number, length: number, w: WallClock): boolean {
  // 2.5+: `2024-01-02 10:11:12`
  if (length === 19 && text.charCodeAt(at + 4) === 45 && text.charCodeAt(at + 7) === 45 && (text.charCodeAt(at + 10) === 32 || text.charCodeAt(at + 10) === 84)) {
    const century = twoDigits(text, at);
    const year = twoDigits(text, at + 2);
    w.month = twoDigits(text, at + 5) - 1;
    w.day = twoDigits(text, at + 8);
    if (century < 0 || year < 0 || w.month < 0 || w.day < 0 || !readClock(text, at + 11, w)) return false;
    w.year = century * 100 + year;
    return true;
  }
  // ctime (<= 2.4): `Thu Jun 18 04:23:03 2015`, day padded with a space (`Feb  1`); hand-made
  // files sometimes write `Feb 1`, hence the 23-character form.
  const long = length === 24;
  if ((!long && length !== 23) || text.charCodeAt(at + 3) !== 32 || text.charCodeAt(at + 7) !== 32) return false;
  if (!WEEKDAYS.has(key3(text, at))) return false;
  const month = MONTHS.get(key3(text, at + 4));
  if (month === undefined) return false;
  w.month = month;
  if (long) {
    // `18` or ` 1`
    const units = text.charCodeAt(at + 9) - 48;
    const tens = text.charCodeAt(at + 8) === 32 ? 0 : text.charCodeAt(at + 8) - 48;
    if (units < 0 || units > 9 || tens < 0 || tens > 9) return false;
    w.day = tens * 10 + units;
  } else {
    w.day = text.charCodeAt(at + 8) - 48;
    if (w.day < 1 || w.day > 9) return false;
  }
  const rest = long ? 10 : 9;
  if (text.charCodeAt(at + rest) !== 32 || !readClock(text, at + rest + 1, w) || text.charCodeAt(at + rest + 9) !== 32) return false;
  const century = twoDigits(text, at + rest + 10);
  const year = twoDigits(text, at + rest + 12);
  if (century < 0 || year < 0) return false;
  w.year = century * 100 + year;
  return true;
}

function plausible(w: WallClock): boolean {
  // second 60 is accepted: seen in a real file (`13:40:60`); Date.UTC rolls it into the next minute.
  // Years before 1900 cannot come from a clock that runs OpenVPN (and Date.UTC reads 0-99 as 19xx).
  return w.year >= 1900 && w.month >= 0 && w.month <= 11 && w.day >= 1 && w.day <= DAYS_IN_MONTH[w.month]! &&
    (w.day < 29 || w.month !== 1 || (w.year % 4 === 0 && (w.year % 100 !== 0 || w.year % 400 === 0))) &&
    w.hour <= 23 && w.minute <= 59 && w.second <= 60;
}

/** The offset changes of one UTC year: offsets[i] applies from starts[i] (starts[0] is the year's start). */
interface YearOffsets { starts: number[]; offsets: number[] }

/** A zone's offsets, learned from Intl a year at a time and kept for the process. */
class ZoneOffsets {
  private readonly years = new Map<number, YearOffsets>();
  private readonly format: Intl.DateTimeFormat;

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', numberingSystem: 'latn', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  /** Offset (ms, local minus UTC) at the whole-second instant `ms`, from Intl. */
  private intlOffset(ms: number): number {
    // `11/14/2023, 23:13:20`: month/day/year, hour:minute:second in the zone.
    const text = this.format.format(ms);
    const n = [0, 0, 0, 0, 0, 0];
    let field = 0;
    let digits = false;
    for (let i = 0; i < text.length && field < 6; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d >= 0 && d <= 9) {
        n[field] = n[field]! * 10 + d;
        digits = true;
      } else if (digits) {
        field++;
        digits = false;
      }
    }
    const local = new Date(0);
    local.setUTCFullYear(n[2]!, n[0]! - 1, n[1]!);
    local.setUTCHours(n[3]!, n[4]!, n[5]!, 0);
    return local.getTime() - ms;
  }

  private year(y: number): YearOffsets {
    let table = this.years.get(y);
    if (table) return table;
    const from = Date.UTC(y, 0, 1);
    const last = Date.UTC(y + 1, 0, 1) - 1000;
    table = { starts: [from], offsets: [this.intlOffset(from)] };
    let t = from;
    let offset = table.offsets[0]!;
    while (t < last) {
      const next = Math.min(t + SCAN_STEP, last);
      if (this.intlOffset(next) === offset) {
        t = next;
        continue;
      }
      // The first second whose offset differs; scanning resumes there (a second change may follow).
      let lo = t;
      let hi = next;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (this.intlOffset(mid) === offset) lo = mid;
        else hi = mid;
      }
      offset = this.intlOffset(hi);
      table.starts.push(hi);
      table.offsets.push(offset);
      t = hi;
    }
    this.years.set(y, table);
    return table;
  }

  /**
   * The stretches of constant offset around local time `local` (as if UTC): every stretch that can
   * hold an instant whose local time is within 8 h of it. starts[i]..starts[i+1] has offsets[i].
   */
  window(local: number): YearOffsets {
    const first = new Date(local - MAX_OFFSET - 8 * HOUR).getUTCFullYear();
    const lastYear = new Date(local + MAX_OFFSET + 8 * HOUR).getUTCFullYear();
    if (first === lastYear) return this.year(first);
    const a = this.year(first);
    const b = this.year(lastYear);
    return { starts: [...a.starts, ...b.starts], offsets: [...a.offsets, ...b.offsets] };
  }
}

const zones = new Map<string, ZoneOffsets>();

function zoneOffsets(timeZone: string): ZoneOffsets {
  let zone = zones.get(timeZone);
  if (!zone) {
    try {
      zone = new ZoneOffsets(timeZone);
    } catch {
      throw new RangeError(`unknown time zone '${timeZone}' (use an IANA name such as Europe/Berlin or UTC)`);
    }
    zones.set(timeZone, zone);
  }
  return zone;
}

/** How the last time read resolved: see the rule at the top of this file. */
export type LocalReading = 'exact' | 'repeated' | 'skipped';

/** Converts local wall-clock times of one IANA zone to UTC (see the top of this file). */
export class LocalTimeReader {
  /** How the last successful toEpochMs call resolved. */
  reading: LocalReading = 'exact';
  /** For 'repeated': every instant the local time names, earliest first; for 'skipped': the change's offsets. */
  detail: number[] = [];
  private readonly zone: ZoneOffsets | null;
  private readonly scratch: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  /** A stretch of local time [cachedFrom, cachedTo) where every time exists once, at cachedOffset. */
  private cachedFrom = 0;
  private cachedTo = 0;
  private cachedOffset = 0;

  constructor(readonly timeZone: string) {
    this.zone = timeZone === 'UTC' || timeZone === 'Etc/UTC' ? null : zoneOffsets(timeZone);
  }

  /**
   * Epoch ms for an OpenVPN timestamp string, or null when the text is not one. `near` (epoch ms):
   * a repeated local time resolves to the occurrence nearest to it instead of the first.
   */
  toEpochMs(text: string, near?: number): number | null {
    return this.toEpochMsAt(text, 0, text.length, near);
  }

  /** toEpochMs of text[from, to), read in place. */
  toEpochMsAt(text: string, from: number, to: number, near?: number): number | null {
    const w = this.scratch;
    if (!readWallClock(text, from, to - from, w) || !plausible(w)) return null;
    const local = Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second);
    this.reading = 'exact';
    if (!this.zone) return local;
    if (local >= this.cachedFrom && local < this.cachedTo) return local - this.cachedOffset;
    return this.resolve(local, near);
  }

  /** The instants whose local time is `local`, from the zone's offset table; caches a stretch. */
  private resolve(local: number, near: number | undefined): number {
    const { starts, offsets } = this.zone!.window(local);
    const found: number[] = [];
    let foundAt = -1;
    for (let i = 0; i < starts.length; i++) {
      const t = local - offsets[i]!;
      const end = i + 1 < starts.length ? starts[i + 1]! : Infinity;
      if (t >= starts[i]! && t < end && found[found.length - 1] !== t) {
        found.push(t);
        foundAt = i;
      }
    }
    if (found.length === 1) {
      this.cacheAround(local, foundAt, starts, offsets);
      return found[0]!;
    }
    if (found.length > 1) {
      found.sort((a, b) => a - b);
      this.reading = 'repeated';
      this.detail = found;
      if (near === undefined) return found[0]!;
      return found.reduce((best, t) => (Math.abs(t - near) < Math.abs(best - near) ? t : best));
    }
    // Skipped: the change whose gap [start + before, start + after) holds this local time.
    let before = offsets[0]!;
    let after = before;
    for (let i = 1; i < starts.length; i++) {
      if (starts[i]! + offsets[i - 1]! <= local && local < starts[i]! + offsets[i]!) {
        before = offsets[i - 1]!;
        after = offsets[i]!;
      }
    }
    this.reading = 'skipped';
    this.detail = [before, after];
    return local - before;
  }

  /**
   * Remembers the stretch of local time around `local` that only stretch `k` covers, so the next
   * rows (status times cluster) skip the table. Other stretches' local ranges bound it; the window
   * is exact within 8 h of `local`.
   */
  private cacheAround(local: number, k: number, starts: number[], offsets: number[]): void {
    const endOf = (i: number) => (i + 1 < starts.length ? starts[i + 1]! : Infinity);
    let from = Math.max(starts[k]! + offsets[k]!, local - 8 * HOUR);
    let to = Math.min(endOf(k) + offsets[k]!, local + 8 * HOUR);
    for (let i = 0; i < starts.length; i++) {
      if (i === k) continue;
      const lo = starts[i]! + offsets[i]!;
      const hi = endOf(i) + offsets[i]!;
      if (hi <= local) from = Math.max(from, hi);
      else if (lo > local) to = Math.min(to, lo);
    }
    this.cachedFrom = from;
    this.cachedTo = to;
    this.cachedOffset = offsets[k]!;
  }
}

/** `+01:00`, `-03:30`, `+05:45` for an offset in ms. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(ms) / MINUTE);
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

