// The one formatter (src/format.ts): what chat, the page and the terminal show, as exact strings.
import { describe, expect, it } from 'vitest';
import { describeMode, formatAgo, formatBytes, formatDuration, formatStamp, formatTime, formatTraffic } from '../src/format.ts';

describe('formatBytes: SI prefixes, three significant digits, no trailing .0', () => {
  it.each([
    [0, '0 B'], [1, '1 B'], [999, '999 B'], [1000, '1 kB'], [1500, '1.5 kB'], [9_950, '9.9 kB'], [10_000, '10 kB'],
    [12_345, '12.3 kB'], [99_940, '99.9 kB'], [99_960, '100 kB'], [153_400, '153 kB'], [999_499, '999 kB'], [999_600, '1 MB'], [999_999_999, '1 GB'],
    [3_400_000, '3.4 MB'], [5_000_000, '5 MB'], [2_000_000_000, '2 GB'], [1.2e12, '1.2 TB'], [5e18, '5000 PB'],
    [-5, '0 B'], [Number.NaN, '0 B'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('formatDuration: the two largest units, a zero second unit left out', () => {
  it.each([
    [0, '0s'], [0.9, '0s'], [45, '45s'], [60, '1m'], [725, '12m 5s'], [3600, '1h'], [3660, '1h 1m'], [3601, '1h'],
    [7380, '2h 3m'], [86_400, '1d'], [100_800, '1d 4h'], [273_600, '3d 4h'], [-30, '0s'],
  ])('%d s → %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});

describe('times are UTC, to the minute', () => {
  it('formats a Date and an ISO string alike, in UTC whatever the offset given', () => {
    expect(formatTime(new Date('2026-11-28T09:00:12.345Z'))).toBe('2026-11-28 09:00 UTC');
    expect(formatTime('2026-11-28T10:00:59+01:00')).toBe('2026-11-28 09:00 UTC');
  });
  it('a live view is stamped to the second', () => {
    expect(formatStamp('2026-11-28T09:00:12.999Z')).toBe('2026-11-28 09:00:12 UTC');
  });
  it('says how long ago, or just now', () => {
    const now = new Date('2026-11-28T10:00:00Z');
    expect(formatAgo('2026-11-28T09:55:00Z', now)).toBe('5m ago');
    expect(formatAgo('2026-11-28T09:59:59.5Z', now)).toBe('just now');
    expect(formatAgo('2026-11-27T08:00:00Z', now)).toBe('1d 2h ago');
  });
  it('traffic is received / sent', () => {
    expect(formatTraffic(1500, 12_000_000)).toBe('1.5 kB / 12 MB');
  });
});

describe('describeMode: how a server is followed', () => {
  const now = new Date('2026-11-28T10:00:00Z');
  it('names the live mode, else the source of the last good read', () => {
    expect(describeMode({ mode: 'stream', since: '2026-11-28T09:00:00Z' }, 'management', now)).toBe('live (management stream)');
    expect(describeMode({ mode: 'reconnecting', since: '2026-11-28T09:58:00Z', lastError: 'connection refused' }, 'status-file', now))
      .toBe('status file; management reconnecting (connection refused) since 2m ago');
    expect(describeMode({ mode: 'short', since: '2026-11-28T09:00:00Z' }, 'management', now)).toBe('management, per read');
    expect(describeMode(undefined, 'status-file', now)).toBe('status file');
    expect(describeMode(undefined, null, now)).toBe('—');
  });
});
