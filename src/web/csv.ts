// CSV as RFC 4180 writes it (CRLF line ends, fields with a comma, quote or line break quoted,
// quotes doubled), made safe to open in a spreadsheet: a text cell starting with = + - @ (or a tab
// or carriage return) would run as a formula there, so it gets a leading apostrophe, the usual
// neutraliser (OWASP "CSV injection"). Common names are chosen by whoever holds a certificate.
import { secondsBetween } from '../format.ts';
import type { SessionRecord } from '../store/records.ts';

export type CsvValue = string | number | null;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(value: CsvValue): string {
  if (value === null) return '';
  // Numbers are ours, never formulas: -5 stays -5.
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly CsvValue[][]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

// ---- the connection report (GET /api/sessions.csv) ----------------------------------------------

/** The connection report's rows (admin only, so addresses in full): one per session overlapping the range. */
export function reportRows(records: SessionRecord[], now: Date): (string | number | null)[][] {
  return records.map((r) => [
    r.server, r.user, r.commonName, r.username, r.realAddress, r.realPort,
    r.virtualAddress, r.connectedAt.toISOString(), r.disconnectedAt?.toISOString() ?? null,
    Math.max(0, Math.round(secondsBetween(r.connectedAt, r.disconnectedAt ?? now))), r.bytesReceived, r.bytesSent, r.endedBy,
  ]);
}

export const REPORT_HEADER = [
  'server', 'user', 'common_name', 'username', 'real_address', 'real_port', 'virtual_address',
  'connected_at', 'disconnected_at', 'duration_seconds', 'bytes_received', 'bytes_sent', 'ended_by',
];
