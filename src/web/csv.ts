// CSV as RFC 4180 writes it (CRLF line ends, fields with a comma, quote or line break quoted,
// quotes doubled), made safe to open in a spreadsheet: a text cell starting with = + - @ (or a tab
// or carriage return) would run as a formula there, so it gets a leading apostrophe, the usual
// neutraliser (OWASP "CSV injection"). Common names are chosen by whoever holds a certificate.
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
