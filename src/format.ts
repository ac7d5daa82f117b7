// Numbers and times as people read them: one style for chat, the status page and the terminal's
// text output (CSV and JSON stay raw: ISO times, seconds, bytes). Everything is UTC: a team spread
// over time zones reads one clock.
import type { LiveModeInfo } from './domain.ts';

/**
 * 0 B, 512 B, 1.5 kB, 12 kB, 153 kB, 3.4 MB, 2 GB: powers of 1000 with SI prefixes, as network
 * traffic is counted; three significant digits at most, a trailing `.0` dropped.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1000) return `${Math.max(0, Math.round(bytes || 0))} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = -1;
  // Rounding can carry into the next unit (999,600 B is 1 MB, not 1000 kB): compare rounded values.
  while (Math.round(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const rounded = value >= 99.95 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, '');
  return `${rounded} ${units[unit]}`;
}

/** The two largest units, a zero second unit left out: 45s, 12m 5s, 1h, 2h 3m, 3d 4h. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts: [number, string][] = [[Math.floor(s / 86_400), 'd'], [Math.floor((s % 86_400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
}

export function secondsBetween(from: Date | string, to: Date | string): number {
  return (new Date(to).getTime() - new Date(from).getTime()) / 1000;
}

/** 2026-11-28 09:00 UTC (minutes: what a person compares; the JSON has the exact time). */
export function formatTime(at: Date | string): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** 2026-11-28 09:00:12 UTC: when a live view was made, where seconds show that it moves. */
export function formatStamp(at: Date | string): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** "5m ago", "just now" */
export function formatAgo(at: Date | string, now: Date): string {
  const seconds = secondsBetween(at, now);
  return seconds < 1 ? 'just now' : `${formatDuration(seconds)} ago`;
}

/** "1.2 MB / 3.4 MB": received by the server (the client's upload), then sent to the client. */
export function formatTraffic(received: number, sent: number): string {
  return `${formatBytes(received)} / ${formatBytes(sent)}`;
}

/**
 * How a server is followed, for people: the live mode where the management stream reports one,
 * else where its last good read came from; with replicas, which one polls it (`heldBy`).
 */
export function describeMode(info: LiveModeInfo | undefined, source: string | null, now: Date): string {
  const holder = info?.heldBy === undefined ? '' : info.heldBy === null ? ' · no replica polls it now' : ` · on ${info.heldBy}`;
  return modeText(info, source, now) + holder;
}

function modeText(info: LiveModeInfo | undefined, source: string | null, now: Date): string {
  switch (info?.mode) {
    case 'stream': return 'live (management stream)';
    case 'reconnecting': return `status file; management reconnecting${info.lastError ? ` (${info.lastError})` : ''} since ${formatAgo(info.since, now)}`;
    case 'short': return `management, per read${info.lastError ? ` (last error: ${info.lastError})` : ''}`;
    default: return source === 'management' ? 'management interface' : source === 'status-file' ? 'status file' : '—';
  }
}
