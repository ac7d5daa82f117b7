// parseStatus: the text of an OpenVPN server status file (status-version 1, 2 or 3, OpenVPN 2.2
// to 2.7, or the same text from the management interface's `status 1|2|3`) in, plain data out.
// ../../README.md "Status formats" and openvpn-formats.md are the spec; every quirk handled here
// has a fixture and a test named after it in test/parse-status.test.ts.
//
// Rules that keep a monitor honest:
// - Columns are mapped by their header names, never by position (2.4 inserted a column mid-row).
// - Nothing is quoted in these formats, so a comma inside a common name or username splits the row
//   into too many fields (v1/v2). The surplus is joined back into the free-text column(s) and the
//   other columns must still read as what they are; if no split fits, the row is refused.
// - A row that cannot be read fails the whole parse, naming the line: dropping it silently
//   would make a connected user look disconnected.
// - A missing END is not an error: the snapshot is returned with complete=false, and callers
//   must not infer disconnects from it (OpenVPN rewrites the file in place, not atomically).
import type { StatusFormat, StatusSnapshot, VpnSession } from '../domain.ts';
import { isVirtualAddressColumn, parseRealAddress, parseRouteAddress } from './addresses.ts';
import { isoFromEpochMs } from './iso-time.ts';
import { LocalTimeReader } from './local-time.ts';

export type StatusParseErrorCode = 'empty' | 'not-status' | 'client-mode' | 'malformed';

export class StatusParseError extends Error {
  override readonly name = 'StatusParseError';
  constructor(readonly code: StatusParseErrorCode, message: string, readonly line: number | null = null) {
    super(line === null ? message : `line ${line}: ${message}`);
  }
}

export interface ParseStatusOptions {
  /** IANA zone of the server, for timestamps that have no (time_t) column. Default UTC. */
  timezone?: string;
}

type ColumnKind = 'text' | 'real' | 'vaddr' | 'route' | 'uint' | 'optuint' | 'time' | 'time_t' | 'plain';

const CLIENT_COLUMNS: Record<string, ColumnKind> = {
  'Common Name': 'text',
  'Real Address': 'real',
  'Virtual Address': 'vaddr',
  'Virtual IPv6 Address': 'vaddr',
  'Bytes Received': 'uint',
  'Bytes Sent': 'uint',
  'Connected Since': 'time',
  'Connected Since (time_t)': 'time_t',
  Username: 'text',
  'Client ID': 'optuint',
  'Peer ID': 'optuint',
  'Data Channel Cipher': 'plain',
};

const ROUTE_COLUMNS: Record<string, ColumnKind> = {
  'Virtual Address': 'route',
  'Common Name': 'text',
  'Real Address': 'real',
  'Last Ref': 'time',
  'Last Ref (time_t)': 'time_t',
};

const REQUIRED_CLIENT_COLUMNS = ['Common Name', 'Real Address', 'Bytes Received', 'Bytes Sent'];
const REQUIRED_ROUTE_COLUMNS = ['Virtual Address', 'Common Name', 'Real Address'];

interface Table {
  names: string[];
  kinds: ColumnKind[];
  index: Map<string, number>;
  /** Columns that may contain the separator (free text), in order. */
  free: number[];
}

/** Where each CLIENT_LIST value sits in a row (-1: the column is absent), resolved once per header. */
interface ClientColumns {
  commonName: number; real: number; virtual: number; virtual6: number; received: number; sent: number;
  since: number; sinceTimeT: number; username: number; clientId: number; peerId: number; cipher: number;
}

function clientColumns(t: Table): ClientColumns {
  const at = (name: string) => t.index.get(name) ?? -1;
  return {
    commonName: at('Common Name'), real: at('Real Address'), virtual: at('Virtual Address'), virtual6: at('Virtual IPv6 Address'),
    received: at('Bytes Received'), sent: at('Bytes Sent'), since: at('Connected Since'), sinceTimeT: at('Connected Since (time_t)'),
    username: at('Username'), clientId: at('Client ID'), peerId: at('Peer ID'), cipher: at('Data Channel Cipher'),
  };
}

/** A decimal counter without a regex or a substring (exact up to 2^53); NaN when not digits. */
function readUint(text: string): number {
  if (text.length === 0 || text.length > 16) return text.length > 16 && DIGITS.test(text) ? Number(text) : NaN;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

const DIGITS = /^\d+$/;
const TIME_TEXT = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4})$/;

function fits(kind: ColumnKind, value: string): boolean {
  switch (kind) {
    case 'text': case 'plain': return true;
    case 'real': return parseRealAddress(value) !== null;
    case 'vaddr': return isVirtualAddressColumn(value);
    case 'route': return parseRouteAddress(value) !== null;
    case 'uint': case 'time_t': return DIGITS.test(value);
    case 'optuint': return value === '' || DIGITS.test(value);
    case 'time': return TIME_TEXT.test(value);
  }
}

function makeTable(names: string[], known: Record<string, ColumnKind>, required: string[], what: string, line: number): Table {
  const index = new Map<string, number>();
  names.forEach((n, i) => { if (!index.has(n)) index.set(n, i); });
  const missing = required.filter((n) => !index.has(n));
  if (missing.length > 0) {
    throw new StatusParseError('malformed', `the ${what} header has no ${missing.map((m) => `'${m}'`).join(', ')} column`, line);
  }
  const kinds = names.map((n) => known[n] ?? 'plain');
  return { names, kinds, index, free: kinds.flatMap((k, i) => (k === 'text' ? [i] : [])) };
}

/**
 * Distributes surplus fields (commas inside free-text columns) so every column fits its kind.
 * Values start at `offset` in `fields` (1 in v2/v3, after the line's tag) and do so in the result.
 */
function alignFields(fields: string[], offset: number, table: Table, sep: string, line: number): string[] {
  const width = table.names.length;
  const count = fields.length - offset;
  if (count === width) return fields;
  if (count < width || sep !== ',' || table.free.length === 0) {
    throw new StatusParseError('malformed', `${count} fields where the header has ${width}`, line);
  }
  const surplus = count - width;
  const candidates: string[][] = [];
  // With two free columns (Common Name and Username) try every share of the surplus.
  const shares = table.free.length === 1 ? [[surplus]] : Array.from({ length: surplus + 1 }, (_, a) => [surplus - a, a]);
  for (const share of shares) {
    const out = fields.slice(0, offset);
    let at = offset;
    for (let col = 0; col < width; col++) {
      const freeIndex = table.free.indexOf(col);
      const extra = freeIndex >= 0 ? share[freeIndex] ?? 0 : 0;
      out.push(fields.slice(at, at + 1 + extra).join(sep));
      at += 1 + extra;
    }
    if (table.kinds.every((kind, col) => fits(kind, out[offset + col]!))) candidates.push(out);
  }
  if (candidates.length === 0) {
    throw new StatusParseError('malformed', `${count} fields where the header has ${width}, and no reading of the extra commas fits the columns`, line);
  }
  return candidates[0]!;
}

interface RouteRow { text: string; line: number; table: Table }

class SnapshotBuilder {
  readonly sessions: VpnSession[] = [];
  readonly warnings: string[] = [];
  updatedAt: string | null = null;
  complete = false;
  /** Routing rows are read only when some client needs its address from them (see joinRoutes). */
  private readonly routeRows: RouteRow[] = [];
  /** Line number of the first row per raw Real Address: real OpenVPN never lists one instance twice. */
  private readonly rowByReal = new Map<string, number>();
  /** Per session: CN + separator + raw Real Address, the key its ROUTING TABLE rows carry. */
  private readonly ownerKey: string[] = [];

  constructor(readonly format: StatusFormat, readonly sep: string, readonly time: LocalTimeReader, private readonly lines: string[]) {}

  epochMsOrThrow(text: string, line: number, column: string): number {
    const ms = this.time.toEpochMs(text);
    if (ms === null) throw new StatusParseError('malformed', `${column} '${text}' is not a time OpenVPN writes`, line);
    return ms;
  }

  uint(text: string, line: number, column: string): number {
    const n = readUint(text);
    if (Number.isNaN(n)) throw new StatusParseError('malformed', `${column} '${text}' is not a number`, line);
    return n;
  }

  /** Row values start at fields[offset]; `table`/`cols` come from the section's header. */
  addClient(rawLine: string, fields: string[], offset: number, table: Table, cols: ClientColumns, line: number): void {
    const v = alignFields(fields, offset, table, this.sep, line);
    const o = offset;
    const realText = v[o + cols.real]!;
    const first = this.rowByReal.get(realText);
    if (first !== undefined && stripCr(this.lines[first - 1]!) === rawLine) {
      // An identical row is a hand edit or a copy error; counting it twice would invent a session.
      this.warnings.push(`line ${line}: repeats line ${first} exactly; counted once`);
      return;
    }
    if (first === undefined) this.rowByReal.set(realText, line);
    const real = parseRealAddress(realText);
    if (!real) throw new StatusParseError('malformed', `Real Address '${realText}' is not an address`, line);
    let connectedMs: number;
    if (cols.sinceTimeT >= 0 && v[o + cols.sinceTimeT] !== '') connectedMs = this.uint(v[o + cols.sinceTimeT]!, line, 'Connected Since (time_t)') * 1000;
    else if (cols.since >= 0) connectedMs = this.epochMsOrThrow(v[o + cols.since]!, line, 'Connected Since');
    else throw new StatusParseError('malformed', 'the row has no Connected Since', line);
    const username = cols.username >= 0 ? v[o + cols.username]! : '';
    const clientId = cols.clientId >= 0 ? v[o + cols.clientId]! : '';
    const peerId = cols.peerId >= 0 ? v[o + cols.peerId]! : '';
    this.ownerKey.push(this.owner(rawLine, fields, v, offset, cols, realText));
    this.sessions.push({
      commonName: v[o + cols.commonName]!,
      username: username === '' || username === 'UNDEF' ? null : username,
      realAddress: real.host,
      realPort: real.port,
      protocol: real.protocol,
      virtualAddress: cols.virtual >= 0 && v[o + cols.virtual] !== '' ? v[o + cols.virtual]! : null,
      virtualIpv6: cols.virtual6 >= 0 && v[o + cols.virtual6] !== '' ? v[o + cols.virtual6]! : null,
      bytesReceived: this.uint(v[o + cols.received]!, line, 'Bytes Received'),
      bytesSent: this.uint(v[o + cols.sent]!, line, 'Bytes Sent'),
      connectedAt: isoFromEpochMs(connectedMs),
      clientId: clientId === '' ? null : this.uint(clientId, line, 'Client ID'),
      peerId: peerId === '' ? null : this.uint(peerId, line, 'Peer ID'),
      cipher: cols.cipher >= 0 && v[o + cols.cipher] !== '' ? v[o + cols.cipher]! : null,
    });
  }

  /**
   * The join key of a client row. In OpenVPN's own layout Common Name and Real Address are adjacent,
   * so the key is a slice of the line (no copy: this runs for every row of 100,000-row files).
   */
  private owner(rawLine: string, fields: string[], v: string[], offset: number, cols: ClientColumns, realText: string): string {
    const sep = this.sep;
    if (v !== fields || cols.real !== cols.commonName + 1) return `${v[offset + cols.commonName]}${sep}${realText}`;
    let start = 0;
    for (let k = 0; k < offset + cols.commonName; k++) start = rawLine.indexOf(sep, start) + 1;
    const end = rawLine.indexOf(sep, rawLine.indexOf(sep, start) + 1);
    return rawLine.slice(start, end < 0 ? rawLine.length : end);
  }

  addRoute(text: string, table: Table, line: number): void {
    this.routeRows.push({ text, line, table });
  }

  /**
   * Fills virtual addresses the CLIENT LIST does not carry (v1 never does; v2/v3 leave them empty
   * for TAP bridges and IPv6-only pools) from the client's own ROUTING TABLE rows, joined on
   * common name + real address. Cached `C` routes and iroute networks are not the client's address.
   * In v2/v3 files where every client has its pool addresses, the routing rows are not read at all.
   */
  private joinRoutes(): void {
    if (this.routeRows.length === 0) return;
    const sep = this.sep;
    // v2/v3 usually carry the pool addresses themselves; an IPv6 pool address shows in a routing
    // row as an address with ':' (a TAP MAC too). Without either need, skip the routing rows.
    if (this.format !== 'openvpn-status-v1' && this.sessions.every((s) => s.virtualAddress !== null) &&
      !this.routeRows.some((r) => { const colon = r.text.indexOf(':'); return colon >= 0 && colon < r.text.indexOf(sep); })) return;
    // Sessions that still miss an address, by the key their routes carry: CN + sep + raw Real Address.
    const waiting = new Map<string, number>();
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i]!;
      if (s.virtualAddress === null || s.virtualIpv6 === null) waiting.set(this.ownerKey[i]!, i);
    }
    if (waiting.size === 0) return;
    const macFilled = new Uint8Array(this.sessions.length);
    for (const row of this.routeRows) {
      const owner = this.readRouteRow(row);
      const i = waiting.get(owner);
      if (i === undefined) continue;
      const address = this.routeAddress;
      const route = parseRouteAddress(address);
      if (!route) throw new StatusParseError('malformed', `Virtual Address '${address}' is not an address, network or MAC`, row.line);
      if (route.cached || route.kind === 'ipv4-net' || route.kind === 'ipv6-net') continue;
      const s = this.sessions[i]!;
      if (route.kind === 'ipv4' && (s.virtualAddress === null || macFilled[i] === 1)) {
        s.virtualAddress = route.address;
        macFilled[i] = 0;
      } else if (route.kind === 'mac' && s.virtualAddress === null) {
        // A TAP client's own route is its MAC; reported where no IPv4 pool address exists.
        s.virtualAddress = route.address;
        macFilled[i] = 1;
      } else if (route.kind === 'ipv6' && s.virtualIpv6 === null) {
        s.virtualIpv6 = route.address;
      }
    }
  }

  /** Set by readRouteRow: the Virtual Address of the row just read (no object per row). */
  private routeAddress = '';

  /** The owner key (CN + sep + Real Address) of a routing row; its Virtual Address goes to routeAddress. */
  private readRouteRow(row: RouteRow): string {
    const { text, table, line } = row;
    const sep = this.sep;
    // Fast path for the layout every OpenVPN writes: Virtual Address, Common Name, Real Address, ...
    if (table.index.get('Virtual Address') === 0 && table.index.get('Common Name') === 1 && table.index.get('Real Address') === 2) {
      const a = text.indexOf(sep);
      const b = text.indexOf(sep, a + 1);
      const c = text.indexOf(sep, b + 1);
      let separators = 0;
      for (let at = text.indexOf(sep); at >= 0; at = text.indexOf(sep, at + 1)) separators++;
      if (separators === table.names.length - 1 && c > b && b > a && a > 0) {
        this.routeAddress = text.slice(0, a);
        return text.slice(a + 1, c);
      }
    }
    const v = alignFields(text.split(sep), 0, table, sep, line);
    this.routeAddress = v[table.index.get('Virtual Address')!]!;
    return `${v[table.index.get('Common Name')!]}${sep}${v[table.index.get('Real Address')!]}`;
  }

  result(): StatusSnapshot {
    this.joinRoutes();
    return { format: this.format, updatedAt: this.updatedAt, complete: this.complete, sessions: this.sessions, warnings: this.warnings };
  }
}

/** `>INFO:`, `>CLIENT:ESTABLISHED,…` and other management notifications, which may interleave. */
function isNotification(line: string): boolean {
  return line.charCodeAt(0) === 62 /* > */ && /^>[A-Z_-]+:/.test(line);
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

function snippet(line: string): string {
  const printable = line.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

export function parseStatus(text: string, options: ParseStatusOptions = {}): StatusSnapshot {
  const time = new LocalTimeReader(options.timezone ?? 'UTC');
  const lines = text.split('\n');
  if (text.trim() === '') {
    throw new StatusParseError('empty', 'the status text is empty (OpenVPN has not written it yet, or stopped writing it after a line over 511 characters)');
  }

  let start = -1;
  let format: StatusFormat | null = null;
  let firstOther = -1;
  for (let i = 0; i < lines.length && start < 0; i++) {
    const line = stripCr(lines[i]!);
    if (line === '' || isNotification(line)) continue;
    if (line === 'OpenVPN CLIENT LIST') format = 'openvpn-status-v1';
    else if (/^(TITLE|TIME|HEADER),/.test(line)) format = 'openvpn-status-v2';
    else if (/^(TITLE|TIME|HEADER)\t/.test(line)) format = 'openvpn-status-v3';
    else if (line === 'OpenVPN STATISTICS') {
      throw new StatusParseError('client-mode',
        "this is an OpenVPN client or peer-to-peer statistics file ('OpenVPN STATISTICS'), not a server status file; point statusPath at the server's --status file", i + 1);
    } else if (/^(TITLE|TIME|HEADER) {2,}/.test(line)) {
      throw new StatusParseError('malformed',
        'this looks like status-version 3 whose tabs were turned into spaces (a copy/paste?); its fields cannot be told apart', i + 1);
    } else {
      if (firstOther < 0) firstOther = i;
      continue;
    }
    start = i;
  }
  if (start < 0 || format === null) {
    const at = firstOther >= 0 ? firstOther : 0;
    throw new StatusParseError('not-status',
      `not an OpenVPN status file: expected 'OpenVPN CLIENT LIST' (status-version 1) or 'TITLE,'/'TITLE<TAB>' (2/3), found '${snippet(stripCr(lines[at] ?? ''))}'`, at + 1);
  }

  const sep = format === 'openvpn-status-v3' ? '\t' : ',';
  const out = new SnapshotBuilder(format, sep, time, lines);
  if (firstOther >= 0) out.warnings.push(`ignored ${start - firstOther} line(s) before the status header (line ${start + 1})`);

  let lastLine = lines.length - 1;
  while (lastLine > start && stripCr(lines[lastLine]!).trim() === '') lastLine--;
  let end = lines.length;
  const parseLine = format === 'openvpn-status-v1' ? v1LineParser(out) : v23LineParser(out);
  for (let i = start; i < lines.length; i++) {
    const line = stripCr(lines[i]!);
    if (line === 'END') {
      out.complete = true;
      end = i + 1;
      break;
    }
    if (line === '' || isNotification(line)) continue;
    try {
      parseLine(line, i + 1);
    } catch (err) {
      // The last line of a text without END is where a concurrent rewrite (or a cut) stopped:
      // it is expected to be partial, and the whole snapshot is reported incomplete anyway.
      if (i !== lastLine || !(err instanceof StatusParseError)) throw err;
      out.warnings.push(`line ${i + 1}: cut off (${err.message.replace(/^line \d+: /, '')}); ignored`);
    }
  }
  if (!out.complete) out.warnings.push('no END line: the text was cut off, or caught while OpenVPN was rewriting the file');
  const trailing = lines.slice(end).filter((l) => stripCr(l).trim() !== '').length;
  if (out.complete && trailing > 0) out.warnings.push(`ignored ${trailing} line(s) after END`);
  return out.result();
}

type LineParser = (line: string, lineNo: number) => void;

/** status-version 1: sections introduced by title lines, each with its own header line. */
function v1LineParser(out: SnapshotBuilder): LineParser {
  let section: 'clients-head' | 'clients' | 'routes-head' | 'routes' | 'stats' | 'start' = 'start';
  let clients: Table | null = null;
  let cols: ClientColumns | null = null;
  let routes: Table | null = null;
  return (line, lineNo) => {
    if (line === 'OpenVPN CLIENT LIST') { section = 'clients-head'; return; }
    if (line === 'ROUTING TABLE') { section = 'routes-head'; return; }
    if (line === 'GLOBAL STATS') { section = 'stats'; return; }
    switch (section) {
      case 'clients-head':
        if (line.startsWith('Updated,')) {
          const ms = out.time.toEpochMs(line.slice(8));
          if (ms === null) out.warnings.push(`line ${lineNo}: cannot read the Updated time '${snippet(line.slice(8))}'`);
          else out.updatedAt = new Date(ms).toISOString();
          return;
        }
        clients = makeTable(line.split(','), CLIENT_COLUMNS, REQUIRED_CLIENT_COLUMNS, 'CLIENT LIST', lineNo);
        if (!clients.index.has('Connected Since')) throw new StatusParseError('malformed', "the CLIENT LIST header has no 'Connected Since' column", lineNo);
        cols = clientColumns(clients);
        section = 'clients';
        return;
      case 'clients':
        out.addClient(line, line.split(','), 0, clients!, cols!, lineNo);
        return;
      case 'routes-head':
        routes = makeTable(line.split(','), ROUTE_COLUMNS, REQUIRED_ROUTE_COLUMNS, 'ROUTING TABLE', lineNo);
        section = 'routes';
        return;
      case 'routes':
        out.addRoute(line, routes!, lineNo);
        return;
      case 'stats':
        return; // `Max bcast/mcast queue length,N`: nothing a monitor needs
      case 'start':
        throw new StatusParseError('malformed', `unexpected line '${snippet(line)}'`, lineNo);
    }
  };
}

/** status-version 2 (commas) and 3 (tabs): every line starts with its tag. */
function v23LineParser(out: SnapshotBuilder): LineParser {
  const sep = out.sep;
  let clients: Table | null = null;
  let cols: ClientColumns | null = null;
  let routes: Table | null = null;
  return (line, lineNo) => {
    const fields = line.split(sep);
    const tag = fields[0];
    switch (tag) {
      case 'CLIENT_LIST':
        if (!clients) throw new StatusParseError('malformed', 'CLIENT_LIST row before its HEADER line', lineNo);
        out.addClient(line, fields, 1, clients, cols!, lineNo);
        return;
      case 'ROUTING_TABLE':
        if (!routes) throw new StatusParseError('malformed', 'ROUTING_TABLE row before its HEADER line', lineNo);
        out.addRoute(line.slice(tag.length + 1), routes, lineNo);
        return;
      case 'HEADER':
        if (fields[1] === 'CLIENT_LIST') {
          clients = makeTable(fields.slice(2), CLIENT_COLUMNS, REQUIRED_CLIENT_COLUMNS, 'CLIENT_LIST', lineNo);
          if (!clients.index.has('Connected Since') && !clients.index.has('Connected Since (time_t)')) {
            throw new StatusParseError('malformed', "the CLIENT_LIST header has no 'Connected Since' column", lineNo);
          }
          cols = clientColumns(clients);
        } else if (fields[1] === 'ROUTING_TABLE') {
          routes = makeTable(fields.slice(2), ROUTE_COLUMNS, REQUIRED_ROUTE_COLUMNS, 'ROUTING_TABLE', lineNo);
        }
        return; // headers of sections a future OpenVPN adds are ignored with their rows
      case 'TIME': {
        const seconds = fields[2];
        if (seconds !== undefined && DIGITS.test(seconds)) out.updatedAt = new Date(Number(seconds) * 1000).toISOString();
        else {
          const ms = out.time.toEpochMs(fields[1] ?? '');
          if (ms === null) out.warnings.push(`line ${lineNo}: cannot read the TIME line`);
          else out.updatedAt = new Date(ms).toISOString();
        }
        return;
      }
      case 'TITLE':
      case 'GLOBAL_STATS':
        return;
      default:
        if (line.startsWith('CLIENT_LIST') || line.startsWith('ROUTING_TABLE')) {
          const expected = sep === '\t' ? 'tab' : 'comma';
          throw new StatusParseError('malformed', `row is not ${expected}-separated like the rest of the file`, lineNo);
        }
        out.warnings.push(`line ${lineNo}: unknown line '${snippet(tag ?? '')}'; ignored`);
    }
  };
}
