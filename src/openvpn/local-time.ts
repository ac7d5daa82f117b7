// OpenVPN writes human timestamps in the server's local time with no zone: ctime() up to 2.4
// (`Thu Jun 18 04:23:03 2015`, day padded with a space: `Feb  1`) and `2024-01-02 10:11:12`
// from 2.5 on. Only status-version 2/3 carry Unix seconds next to them. These functions turn the
// text into epoch milliseconds for a given IANA zone, fast enough for 100,000 rows.

const MONTHS: Record<string, number | undefined> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};
const WEEKDAYS = new Set(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']);

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

/** Reads into `w` (reused across calls: one allocation per row adds up at 100,000 rows). */
function readWallClock(text: string, w: WallClock): WallClock | null {
  // 2.5+: `2024-01-02 10:11:12`
  if (text.length === 19 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && (text[10] === ' ' || text[10] === 'T')) {
    const century = twoDigits(text, 0);
    const year = twoDigits(text, 2);
    w.month = twoDigits(text, 5) - 1;
    w.day = twoDigits(text, 8);
    if (century < 0 || year < 0 || w.month < 0 || w.day < 0 || !readClock(text, 11, w)) return null;
    w.year = century * 100 + year;
    return w;
  }
  // ctime (<= 2.4): `Thu Jun 18 04:23:03 2015`, day padded with a space (`Feb  1`); hand-made
  // files sometimes write `Feb 1`, hence the 23-character form.
  if ((text.length !== 24 && text.length !== 23) || text[3] !== ' ' || text[7] !== ' ') return null;
  if (!WEEKDAYS.has(text.slice(0, 3))) return null;
  const month = MONTHS[text.slice(4, 7)];
  if (month === undefined) return null;
  w.month = month;
  const dayText = text.length === 24 ? text.slice(8, 10) : text.slice(8, 9);
  w.day = Number(dayText.trim());
  const rest = text.length === 24 ? 10 : 9;
  if (!(w.day >= 1) || !/^ ?\d{1,2}$/.test(dayText) || text[rest] !== ' ' || !readClock(text, rest + 1, w) || text[rest + 9] !== ' ') return null;
  const century = twoDigits(text, rest + 10);
  const year = twoDigits(text, rest + 12);
  if (century < 0 || year < 0) return null;
  w.year = century * 100 + year;
  return w;
}

function plausible(w: WallClock): boolean {
  // second 60 is accepted: seen in a real file (`13:40:60`); Date.UTC rolls it into the next minute.
  return w.month >= 0 && w.month <= 11 && w.day >= 1 && w.day <= 31 && w.hour <= 23 && w.minute <= 59 && w.second <= 60;
}

/**
 * Converts local wall-clock times of one IANA zone to UTC. Offsets are cached per 15-minute
 * bucket of local time: every zone's transitions of the last decades fall on such boundaries.
 */
export class LocalTimeReader {
  private readonly format: Intl.DateTimeFormat | null;
  private readonly offsetCache = new Map<number, number>();
  private readonly scratch: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };

  constructor(readonly timeZone: string) {
    if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
      this.format = null;
      return;
    }
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
    } catch {
      throw new RangeError(`unknown time zone '${timeZone}' (use an IANA name such as Europe/Berlin or UTC)`);
    }
  }

  /** Epoch ms for an OpenVPN timestamp string, or null when the text is not one. */
  toEpochMs(text: string): number | null {
    const w = readWallClock(text, this.scratch);
    if (!w || !plausible(w)) return null;
    const asUtc = Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second);
    if (!this.format) return asUtc;
    const bucket = Math.floor(asUtc / 900_000);
    let offset = this.offsetCache.get(bucket);
    if (offset === undefined) {
      offset = this.offsetForLocal(asUtc);
      this.offsetCache.set(bucket, offset);
    }
    return asUtc - offset;
  }

  /** Offset (ms, local minus UTC) that applies at the UTC instant `epochMs`. */
  private offsetAt(epochMs: number): number {
    const parts = this.format!.formatToParts(new Date(epochMs));
    const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
    const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return local - Math.floor(epochMs / 1000) * 1000;
  }

  /**
   * Offset for a local wall-clock time (given as if it were UTC). Two passes settle DST edges.
   * A time inside a DST gap or overlap has no single answer (the file does not say which was
   * meant); it resolves to one of the neighbouring instants.
   */
  private offsetForLocal(localAsUtc: number): number {
    const first = this.offsetAt(localAsUtc);
    const second = this.offsetAt(localAsUtc - first);
    return first === second ? first : Math.max(first, second);
  }
}
