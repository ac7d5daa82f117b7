// parseStatus: the text of an OpenVPN server status file (status-version 1, 2 or 3, OpenVPN 2.2
// to 2.7, or the same text from the management interface's `status 1|2|3`) in, plain data out.
// ../../README.md "Status formats" and openvpn-formats.md are the spec; every quirk handled here
// has a fixture and a test named after it in test/parse-status.test.ts.
//
// Rules that keep a monitor honest:
// - A text is a status file only when its format's structure is there (see requireStructure):
//   a look-alike (a playlist starting TITLE and ending END) read as "0 sessions" would disconnect
//   everyone.
// - Columns are mapped by their header names, never by position (2.4 inserted a column mid-row).
// - Nothing is quoted in these formats, so a comma inside a common name or username splits the row
//   into too many fields (v1/v2). The surplus is joined back into the free-text column(s) and the
//   other columns must still read as what they are; if no split fits, the row is refused.
// - Fields that identify a session (common name, virtual address, the row's column count, and the
//   connected-since time, see addClient) fail the whole parse when they cannot be read, naming the
//   line: dropping the row would make a connected user look disconnected. Fields that only inform
//   (real address form, client and peer id) keep the row, as written or null, with a warning.
// - A text without END is not an error once its first header row is there: the snapshot is
//   returned with complete=false (whatever the cut), and callers must not infer disconnects from
//   it (OpenVPN rewrites the file in place, not atomically). Before that header it is refused.
import { sessionKey, type StatusFormat, type StatusSnapshot, type VpnSession } from '../domain.ts';
import { ipv4PortKey, isDottedQuad, isVirtualAddressColumn, parseRealAddress, parseRouteAddress, type RealAddress, type RouteAddress, type RouteKind } from './addresses.ts';
import { AddressIndex } from './address-index.ts';
import { isoFromEpochMs } from './iso-time.ts';
import { formatOffset, LocalTimeReader } from './local-time.ts';

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
  /**
   * The reader's clock. OpenVPN wrote the Updated/TIME line moments before it was read, so when
   * that local time happened twice (clocks went back) the occurrence nearest this is the one.
   */
  now?: Date | number;
}

/**
 * OpenVPN formats each status line into a 512-byte buffer and writes nothing more once a line does
 * not fit (status.c, STATUS_PRINTF_MAXLEN; the management interface sends the same lines): no
 * line of its output is longer than 511 bytes.
 */
export const OPENVPN_MAX_LINE_BYTES = 511;
/** Per-row warnings kept in a snapshot; the rest are counted in one last warning. */
const MAX_ROW_WARNINGS = 50;

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
  /** Where each field of the row being read starts and ends (see locateFields; reused per row). */
  from: Int32Array;
  to: Int32Array;
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

/** The decimal counter text[from, to), read in place (exact up to 2^53); NaN when not digits. */
function readUint(text: string, from = 0, to = text.length): number {
  const length = to - from;
  if (length === 0 || length > 16) return length > 16 && DIGITS.test(text.slice(from, to)) ? Number(text.slice(from, to)) : NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

const DIGITS = /^\d+$/;
const TIME_TEXT = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4})$/;

/** Whether a value reads as its column's kind: the evidence for where a row's extra commas belong. */
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
  return { names, kinds, index, free: kinds.flatMap((k, i) => (k === 'text' ? [i] : [])), from: new Int32Array(names.length), to: new Int32Array(names.length) };
}

/**
 * Finds the fields of the row text[start, end) into table.from/to, in place: most values are read
 * where they stand (numbers, times, UNDEF), and only the strings a session keeps are cut out.
 * False when the row does not have exactly the header's number of fields.
 */
function locateFields(text: string, start: number, end: number, sep: string, table: Table): boolean {
  const { from, to } = table;
  const last = from.length - 1;
  // One pass over the row's characters: cheaper than a native indexOf call per short field.
  const separator = sep.charCodeAt(0);
  let k = 0;
  from[0] = start;
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) !== separator) continue;
    if (k === last) return false;
    to[k] = i;
    from[++k] = i + 1;
  }
  if (k !== last) return false;
  to[last] = end;
  return true;
}

/** Joins the values of a row whose surplus separators were placed; no field contains it (control characters become '_'). */
const PLACED = '\u0001';

interface Aligned {
  /** The row's values (the input array itself when no field was surplus). */
  values: string[];
  /** How many placements of the surplus fit (1, or 2 meaning "2 or more": the first was used). */
  readings: number;
}

/**
 * Places a row's surplus fields (separators inside free-text columns) so every other column fits
 * its kind. Linear in the row's length: with two free-text columns (Common Name and Username) only
 * the columns between them move with the split, so each placement checks those few, and strings
 * are joined once, for the placement chosen (the one giving Common Name the most).
 */
function alignFields(fields: string[], table: Table, sep: string, line: number): Aligned {
  const width = table.names.length;
  const count = fields.length;
  if (count === width) return { values: fields, readings: 1 };
  const free = table.free;
  if (count < width || sep !== ',' || free.length === 0 || free.length > 2) {
    throw new StatusParseError('malformed', `${count} fields where the header has ${width}`, line);
  }
  const surplus = count - width;
  const noFit = () => new StatusParseError('malformed', `${count} fields where the header has ${width}, and no reading of the extra commas fits the columns`, line);
  const first = free[0]!;
  const last = free[free.length - 1]!;
  // Columns before the first and after the last free column sit at fixed places whatever the split.
  for (let col = 0; col < width; col++) {
    if (col < first && !fits(table.kinds[col]!, fields[col]!)) throw noFit();
    if (col > last && !fits(table.kinds[col]!, fields[col + surplus]!)) throw noFit();
  }
  // `extra` of the surplus goes to the first free column (all of it when there is one): most first.
  let chosen = -1;
  let readings = 0;
  for (let extra = surplus; extra >= (free.length === 1 ? surplus : 0) && readings < 2; extra--) {
    let ok = true;
    for (let col = first + 1; col < last && ok; col++) ok = fits(table.kinds[col]!, fields[col + extra]!);
    if (ok) {
      readings++;
      if (chosen < 0) chosen = extra;
    }
  }
  if (chosen < 0) throw noFit();
  const values: string[] = [];
  let at = 0;
  for (let col = 0; col < width; col++) {
    const take = col === first ? chosen : col === last && free.length === 2 ? surplus - chosen : 0;
    values.push(take === 0 ? fields[at]! : fields.slice(at, at + 1 + take).join(sep));
    at += 1 + take;
  }
  return { values, readings };
}

class SnapshotBuilder {
  readonly sessions: VpnSession[] = [];
  readonly warnings: string[] = [];
  updatedAt: string | null = null;
  complete = false;
  /** The reader's clock, for the Updated line (see ParseStatusOptions.now). */
  now: number | undefined;
  /** Number of the last line with something on it: in a text without END it may be cut, and is not trusted. */
  lastLine = -1;
  /**
   * Routing rows as [from, to, line] triples of offsets into the text (after the tag), and their
   * headers: read only when some client needs its address from them (see joinRoutes). Numbers, not
   * a string or an object per row: 100,000-row files.
   */
  private readonly routeRows: number[] = [];
  private readonly routeTables: Table[] = [];
  /**
   * The first session per raw Real Address (keyed by ipv4PortKey where it has one, else by the
   * text): OpenVPN lists one instance once, so a repeat needs a look (checkDistinct), and routing
   * rows find their client by it (joinRoutes).
   */
  private readonly sessionByAddress = new AddressIndex();
  /** Raw Real Address → every session at it, for the few addresses with more than one (no port). */
  private readonly sharedAddress = new Map<number | string, number[]>();
  /** sessionKey → line, for sessions whose raw Real Address repeats (see checkDistinct). */
  private readonly repeatedKeys = new Map<string, number>();
  /** Per session: its line number, and where its line starts in the text (for the identical-row check). */
  private readonly sessionLine: number[] = [];
  private readonly sessionRow: number[] = [];
  private suppressedWarnings = 0;

  constructor(readonly format: StatusFormat, readonly sep: string, readonly time: LocalTimeReader, readonly text: string) {}

  /** A warning about one row: at most MAX_ROW_WARNINGS are kept, the rest counted. */
  warnRow(message: string): void {
    if (this.warnings.length < MAX_ROW_WARNINGS) this.warnings.push(message);
    else this.suppressedWarnings++;
  }

  /**
   * Epoch ms of a local-time text; null when it is not a time OpenVPN writes. A time the zone's
   * clock change made repeated or impossible is resolved by the rule in local-time.ts, with a warning.
   */
  localTime(text: string, line: number, column: string, near?: number): number | null {
    const ms = this.time.toEpochMs(text, near);
    if (ms === null || this.time.reading === 'exact') return ms;
    const zone = this.time.timeZone;
    const at = (t: number) => isoFromEpochMs(t).slice(11, 19);
    if (this.time.reading === 'repeated') {
      const all = this.time.detail.map((t) => `${at(t)}Z`).join(' and ');
      const which = near === undefined ? 'the first' : "the one nearest the reader's clock";
      this.warnRow(`line ${line}: ${column} '${text}' happened twice in ${zone} (clocks went back), at ${all}; read as ${which}, ${isoFromEpochMs(ms)}`);
    } else {
      const [before, after] = this.time.detail;
      this.warnRow(`line ${line}: ${column} '${text}' never happened in ${zone} (clocks jumped from ${formatOffset(before!)} to ${formatOffset(after!)}); read at ${formatOffset(before!)} as ${isoFromEpochMs(ms)}: is the server's timezone right?`);
    }
    return ms;
  }

  readUpdated(text: string, line: number, column: string): void {
    const ms = this.localTime(text, line, column, this.now);
    if (ms === null) this.warnings.push(`line ${line}: cannot read the time in the ${column} line, '${snippet(text)}'`);
    else this.updatedAt = isoFromEpochMs(ms);
  }

  /** A byte counter at text[from, to): it must read (see addClient). */
  private uint(text: string, from: number, to: number, line: number, column: string): number {
    const n = readUint(text, from, to);
    if (Number.isNaN(n)) throw new StatusParseError('malformed', `${column} '${snippet(text.slice(from, to))}' is not a number`, line);
    return n;
  }

  /** An informational number (Client ID, Peer ID): null when empty; null and a warning when unreadable. */
  private optionalUint(text: string, from: number, to: number, line: number, column: string): number | null {
    if (from === to) return null;
    const n = readUint(text, from, to);
    if (!Number.isNaN(n)) return n;
    this.warnRow(`line ${line}: ${column} '${snippet(text.slice(from, to))}' is not a number; read as none`);
    return null;
  }

  /**
   * When the client connected. It identifies the instance (a reconnect at the same address is a
   * new session, and a session's records are keyed by it), so no substitute is made up: the
   * (time_t) column, else the text in the server's zone, else the row fails.
   */
  private connectedAt(text: string, from: Int32Array, to: Int32Array, cols: ClientColumns, line: number): number {
    const t = cols.sinceTimeT;
    if (t >= 0 && from[t] !== to[t]) {
      const n = readUint(text, from[t], to[t]);
      if (!Number.isNaN(n)) return n * 1000;
      const seconds = snippet(text.slice(from[t], to[t]));
      if (cols.since < 0) throw new StatusParseError('malformed', `Connected Since (time_t) '${seconds}' is not a number`, line);
      this.warnRow(`line ${line}: Connected Since (time_t) '${seconds}' is not a number; read from Connected Since`);
    }
    const k = cols.since;
    if (k < 0) throw new StatusParseError('malformed', 'the row has no Connected Since', line);
    const ms = this.time.toEpochMsAt(text, from[k]!, to[k]!);
    if (ms === null) throw new StatusParseError('malformed', `Connected Since '${snippet(text.slice(from[k], to[k]))}' is not a time OpenVPN writes`, line);
    // A repeated or skipped local time: the rule applied is in the warning.
    return this.time.reading === 'exact' ? ms : this.localTime(text.slice(from[k], to[k]), line, 'Connected Since')!;
  }

  /** The last cipher read: rows repeat a few names, so sessions share one string each. */
  private cipher = '';

  /**
   * A client row: the line text[lineFrom, end), its values from `start` (after the tag in v2/v3);
   * `table`/`cols` come from the section's header.
   */
  addClient(lineFrom: number, start: number, end: number, table: Table, cols: ClientColumns, line: number): void {
    let text = this.text;
    if (!locateFields(text, start, end, this.sep, table)) {
      // Separators inside free-text columns (or a short row): place them, then read the placed values.
      text = this.aligned(text.slice(start, end).split(this.sep), table, cols, line).join(PLACED);
      locateFields(text, 0, text.length, PLACED, table);
    }
    const { from, to } = table;
    this.listsIpv6 = cols.virtual6 >= 0;
    const rf = from[cols.real]!;
    const rt = to[cols.real]!;
    const ipv4Port = ipv4PortKey(text, rf, rt);
    const address = ipv4Port >= 0 ? ipv4Port : text.slice(rf, rt);
    const first = this.sessionByAddress.add(address, this.sessions.length);
    if (first >= 0 && this.sameRow(first, lineFrom, end)) {
      // An identical row is a hand edit or a copy error; counting it twice would invent a session.
      this.warnings.push(`line ${line}: repeats line ${this.sessionLine[first]} exactly; counted once`);
      return;
    }
    if (first >= 0) {
      const shared = this.sharedAddress.get(address);
      if (shared) shared.push(this.sessions.length);
      else this.sharedAddress.set(address, [first, this.sessions.length]);
    }
    let real: RealAddress | null;
    if (ipv4Port >= 0) real = { host: text.slice(rf, text.indexOf(':', rf)), port: ipv4Port % 65536, protocol: null };
    else if (!(real = parseRealAddress(address as string))) {
      // Informational: the session stays, under the address as written (its key stays stable).
      this.warnRow(`line ${line}: Real Address '${snippet(address as string)}' is not an address form vpnwatch knows; kept as written`);
      real = { host: address as string, port: null, protocol: null };
    }
    const virtual = this.virtualAddress(text, cols.virtual, table, line, 'Virtual Address');
    const virtual6 = this.virtualAddress(text, cols.virtual6, table, line, 'Virtual IPv6 Address');
    const u = cols.username;
    // `UNDEF` (no user/pass auth) is the common case: compared in place.
    const username = u < 0 || from[u] === to[u] || (to[u]! - from[u]! === 5 && text.startsWith('UNDEF', from[u])) ? null : text.slice(from[u], to[u]);
    const c = cols.cipher;
    let cipher: string | null = null;
    if (c >= 0 && from[c] !== to[c]) {
      if (to[c]! - from[c]! !== this.cipher.length || !text.startsWith(this.cipher, from[c])) this.cipher = text.slice(from[c], to[c]);
      cipher = this.cipher;
    }
    const session: VpnSession = {
      commonName: text.slice(from[cols.commonName], to[cols.commonName]),
      username,
      realAddress: real.host,
      realPort: real.port,
      protocol: real.protocol,
      virtualAddress: virtual,
      virtualIpv6: virtual6,
      bytesReceived: this.uint(text, from[cols.received]!, to[cols.received]!, line, 'Bytes Received'),
      bytesSent: this.uint(text, from[cols.sent]!, to[cols.sent]!, line, 'Bytes Sent'),
      connectedAt: isoFromEpochMs(this.connectedAt(text, from, to, cols, line)),
      clientId: cols.clientId >= 0 ? this.optionalUint(text, from[cols.clientId]!, to[cols.clientId]!, line, 'Client ID') : null,
      peerId: cols.peerId >= 0 ? this.optionalUint(text, from[cols.peerId]!, to[cols.peerId]!, line, 'Peer ID') : null,
      cipher,
    };
    if (first >= 0) this.checkDistinct(session, first, line);
    this.sessionLine.push(line);
    this.sessionRow.push(lineFrom);
    this.sessions.push(session);
  }

  /** Whether session i's line is the same text as text[from, to) (asked only of rows at one address). */
  private sameRow(i: number, from: number, to: number): boolean {
    const rowFrom = this.sessionRow[i]!;
    return this.text.startsWith(this.text.slice(from, to), rowFrom) && /^\r?(\n|$)/.test(this.text.slice(rowFrom + to - from, rowFrom + to - from + 2));
  }

  /** A Virtual Address column (identifying): an address, or null when empty or absent; anything else fails the read. */
  private virtualAddress(text: string, k: number, table: Table, line: number, column: string): string | null {
    if (k < 0 || table.from[k] === table.to[k]) return null;
    const value = text.slice(table.from[k], table.to[k]);
    if (!isVirtualAddressColumn(value)) throw new StatusParseError('malformed', `${column} '${snippet(value)}' is not an address`, line);
    return value;
  }

  /** A row with surplus fields, placed (see alignFields); warns when the placement was a choice. */
  private aligned(fields: string[], table: Table, cols: ClientColumns, line: number): string[] {
    const { values: v, readings } = alignFields(fields, table, this.sep, line);
    if (readings > 1) {
      this.warnRow(`line ${line}: the extra commas fit Common Name and Username in more than one way; read as Common Name '${snippet(v[cols.commonName]!)}', Username '${snippet(v[cols.username]!)}'`);
    }
    return v;
  }

  /**
   * Two rows at one raw Real Address: normal for clients without a port (2.4.0-2.4.6 v4-mapped,
   * IPv6 before 2.7) behind one NAT address. sessionKey tells those apart by when they connected;
   * if even that is equal, the store would count them as one, so say so.
   */
  private checkDistinct(session: VpnSession, first: number, line: number): void {
    const firstKey = sessionKey(this.sessions[first]!);
    if (!this.repeatedKeys.has(firstKey)) this.repeatedKeys.set(firstKey, this.sessionLine[first]!);
    const key = sessionKey(session);
    const twin = this.repeatedKeys.get(key);
    if (twin !== undefined) {
      this.warnRow(`line ${line}: same common name, real address and connected-since as line ${twin}; vpnwatch cannot tell these sessions apart and counts them as one`);
    } else {
      this.repeatedKeys.set(key, line);
    }
  }

  /** A routing row: its values are text[from, to). */
  addRoute(from: number, to: number, table: Table, line: number): void {
    this.routeRows.push(from, to, line);
    this.routeTables.push(table);
  }

  /**
   * Whether the client list has a Virtual IPv6 Address column (2.4+): then it says which clients
   * have an IPv6 pool address, and an IPv6 routing row is not one.
   */
  private listsIpv6 = false;

  /** Whether session i still lacks the kind of address a route of `kind` gives (a MAC yields to an IPv4). */
  private needsRoute(i: number, kind: RouteKind, macFilled: Uint8Array): boolean {
    const s = this.sessions[i]!;
    if (kind === 'ipv4') return s.virtualAddress === null || macFilled[i] === 1;
    if (kind === 'mac') return s.virtualAddress === null;
    return s.virtualIpv6 === null && !this.listsIpv6;
  }

  /**
   * Fills virtual addresses the CLIENT LIST does not carry (v1 never does; v2/v3 leave them empty
   * for TAP bridges and IPv6-only pools) from the client's own ROUTING TABLE rows, joined on
   * common name + real address. Cached `C` routes and iroute networks are not the client's address.
   * In v2/v3 files where every client has its pool addresses, the routing rows are not read at all.
   *
   * Sessions that share the join key (one common name at one address without a port) cannot be
   * told apart by their routes: each address none of them lists itself goes to the first of them
   * still without one, in the order of the lists, with a warning (both are online; which address
   * is whose may be swapped).
   */
  private joinRoutes(): void {
    const rows = this.routeRows;
    if (rows.length === 0) return;
    // v2/v3 carry the pool addresses themselves: the routing rows are read only for clients
    // listed without an IPv4 one (TAP bridges: a MAC; IPv6-only pools), or without an IPv6 one
    // where the list has no IPv6 column (2.2/2.3). Most files need none of them.
    const needsIpv6 = this.format === 'openvpn-status-v1' || !this.listsIpv6;
    if (!this.sessions.some((s) => s.virtualAddress === null || (needsIpv6 && s.virtualIpv6 === null))) return;
    const macFilled = new Uint8Array(this.sessions.length);
    /** Per group of sessions sharing a common name and address (by its first): the addresses given, per session. */
    const guessed = new Map<number, Map<number, string[]>>();
    for (let r = 0; r < this.routeTables.length; r++) {
      const line = rows[3 * r + 2]!;
      try {
        this.readRouteRow(rows[3 * r]!, rows[3 * r + 1]!, this.routeTables[r]!, line);
      } catch (err) {
        if (!this.cutOff(line, err)) throw err;
        continue;
      }
      const row = this.routeText;
      const ipv4Port = ipv4PortKey(row, this.routeRealFrom, this.routeRealTo);
      const real = ipv4Port >= 0 ? ipv4Port : row.slice(this.routeRealFrom, this.routeRealTo);
      const first = this.sessionByAddress.get(real);
      if (first < 0) continue;
      const shared = this.sharedAddress.size === 0 ? undefined : this.sharedAddress.get(real);
      if (!shared && !this.routeOwnedBy(this.sessions[first]!.commonName)) continue;
      const owners = shared ? shared.filter((m) => this.routeOwnedBy(this.sessions[m]!.commonName)) : undefined;
      if (owners?.length === 0) continue;
      // A client's own IPv4 pool address, the usual row, is recognised in place and cut out only
      // when given; anything else (IPv6, MAC, network, cached route) is read whole.
      let route: RouteAddress | null = null;
      if (!isDottedQuad(row, this.routeAddressFrom, this.routeAddressTo)) {
        const text = row.slice(this.routeAddressFrom, this.routeAddressTo);
        route = parseRouteAddress(text);
        if (!route) {
          const err = new StatusParseError('malformed', `Virtual Address '${snippet(text)}' is not an address, network or MAC`, line);
          if (!this.cutOff(line, err)) throw err;
          continue;
        }
        if (route.cached || route.kind === 'ipv4-net' || route.kind === 'ipv6-net') continue;
      }
      const kind: RouteKind = route ? route.kind : 'ipv4';
      let i = first;
      if (owners && owners.length > 1) {
        const given = route ? route.address : row.slice(this.routeAddressFrom, this.routeAddressTo);
        // A member that lists this address itself (v2/v3 CLIENT_LIST) owns its route.
        if (owners.some((m) => this.sessions[m]!.virtualAddress === given || this.sessions[m]!.virtualIpv6 === given)) continue;
        i = owners.find((m) => this.needsRoute(m, kind, macFilled)) ?? -1;
        if (i >= 0) {
          const group = guessed.get(owners[0]!) ?? new Map(owners.map((m) => [m, [] as string[]]));
          group.get(i)!.push(given);
          guessed.set(owners[0]!, group);
        }
      } else if (owners) {
        i = owners[0]!;
      }
      if (i < 0 || !this.needsRoute(i, kind, macFilled)) continue;
      const s = this.sessions[i]!;
      const address = route ? route.address : row.slice(this.routeAddressFrom, this.routeAddressTo);
      if (kind === 'ipv6') s.virtualIpv6 = address;
      else {
        // A TAP client's own route is its MAC; reported where no IPv4 pool address exists.
        s.virtualAddress = address;
        macFilled[i] = kind === 'mac' ? 1 : 0;
      }
    }
    for (const group of guessed.values()) {
      const members = [...group.keys()];
      const s = this.sessions[members[0]!]!;
      const where = s.realPort === null ? `${snippet(s.realAddress)} without a port` : `${snippet(s.realAddress)} port ${s.realPort}`;
      const assigned = members.map((i) => `${group.get(i)!.join(' ') || 'none'} to line ${this.sessionLine[i]}`).join(', ');
      this.warnRow(`lines ${members.map((i) => this.sessionLine[i]).join(', ')}: ${members.length} sessions of '${snippet(s.commonName)}' at ${where}; the ROUTING TABLE cannot tell whose address is whose: assigned in order (${assigned})`);
    }
  }

  /** Whether an error on `line` is the cut-off last line of a text without END (then: warned, skipped). */
  cutOff(line: number, err: unknown): boolean {
    if (this.complete || line !== this.lastLine || !(err instanceof StatusParseError)) return false;
    this.warnings.push(`line ${line}: cut off (${err.message.replace(/^line \d+: /, '')}); ignored`);
    return true;
  }

  /**
   * Set by readRouteRow (no object or copy per row): the row's text, and where its Virtual Address,
   * Common Name and Real Address are in it.
   */
  private routeText = '';
  private routeAddressFrom = 0;
  private routeAddressTo = 0;
  private routeCnFrom = 0;
  private routeCnTo = 0;
  private routeRealFrom = 0;
  private routeRealTo = 0;

  /** Whether the routing row just read names this common name (compared in place). */
  private routeOwnedBy(commonName: string): boolean {
    return this.routeCnTo - this.routeCnFrom === commonName.length && this.routeText.startsWith(commonName, this.routeCnFrom);
  }

  /** Locates the Virtual Address, Common Name and Real Address of the routing row text[start, end) (see routeText). */
  private readRouteRow(start: number, end: number, table: Table, line: number): void {
    // OpenVPN's own layout (Virtual Address, Common Name, Real Address, ...) without surplus
    // separators is read in place; otherwise the values are placed, and read from a joined copy.
    const { index, from, to } = table;
    const text = this.text;
    if (index.get('Virtual Address') === 0 && index.get('Common Name') === 1 && index.get('Real Address') === 2 && locateFields(text, start, end, this.sep, table)) {
      this.routeText = text;
      this.routeAddressFrom = from[0]!;
      this.routeAddressTo = to[0]!;
      this.routeCnFrom = from[1]!;
      this.routeCnTo = to[1]!;
      this.routeRealFrom = from[2]!;
      this.routeRealTo = to[2]!;
      return;
    }
    const v = alignFields(text.slice(start, end).split(this.sep), table, this.sep, line).values;
    const address = v[index.get('Virtual Address')!]!;
    const commonName = v[index.get('Common Name')!]!;
    this.routeText = `${address}${PLACED}${commonName}${PLACED}${v[index.get('Real Address')!]}`;
    this.routeAddressFrom = 0;
    this.routeAddressTo = address.length;
    this.routeCnFrom = address.length + 1;
    this.routeCnTo = this.routeCnFrom + commonName.length;
    this.routeRealFrom = this.routeCnTo + 1;
    this.routeRealTo = this.routeText.length;
  }

  result(): StatusSnapshot {
    this.joinRoutes();
    if (this.suppressedWarnings > 0) this.warnings.push(`and ${this.suppressedWarnings} more warning(s) like the above`);
    return { format: this.format, updatedAt: this.updatedAt, complete: this.complete, sessions: this.sessions, warnings: this.warnings };
  }
}

/**
 * The lines of a text as offsets, without cutting them out (a string per line of a 100,000-row
 * file is work the parser need not do): text[from, to) is the current line without its line
 * break or the CR before it.
 */
class LineCursor {
  from = 0;
  to = 0;
  /** 1-based. */
  number = 0;
  /** The line has no line break after it: OpenVPN had not finished writing it (unless it is END). */
  unfinished = false;
  private next = 0;

  constructor(private readonly source: string) {}

  /** Moves to the next line; false past the last. */
  advance(): boolean {
    const text = this.source;
    if (this.next > text.length) return false;
    const lineBreak = text.indexOf('\n', this.next);
    this.from = this.next;
    this.to = lineBreak < 0 ? text.length : lineBreak;
    this.next = this.to + 1;
    this.unfinished = lineBreak < 0 && this.to > this.from;
    if (this.to > this.from && text.charCodeAt(this.to - 1) === 13) this.to--;
    this.number++;
    return true;
  }

  get empty(): boolean {
    return this.from === this.to;
  }

  is(word: string): boolean {
    return this.to - this.from === word.length && this.source.startsWith(word, this.from);
  }

  /** `>INFO:`, `>CLIENT:ESTABLISHED,…` and other management notifications, which may interleave. */
  get notification(): boolean {
    return this.source.charCodeAt(this.from) === 62 /* > */ && /^>[A-Z_-]+:/.test(this.source.slice(this.from, Math.min(this.to, this.from + 40)));
  }

  /** Only spaces and tabs (or nothing). */
  get blank(): boolean {
    for (let i = this.from; i < this.to; i++) if (this.source.charCodeAt(i) > 32) return false;
    return true;
  }

  /** The line, cut out. */
  line(): string {
    return this.source.slice(this.from, this.to);
  }
}

function snippet(line: string): string {
  const printable = line.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

/** Refuses a line OpenVPN cannot have written. Linear: bytes are counted only for lines that could be too long. */
function checkLength(text: string, from: number, to: number, lineNo: number): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so shorter lines cannot exceed the limit.
  if ((to - from) * 3 <= OPENVPN_MAX_LINE_BYTES) return;
  const bytes = Buffer.byteLength(text.slice(from, to), 'utf8');
  if (bytes > OPENVPN_MAX_LINE_BYTES) {
    throw new StatusParseError('malformed', `${bytes} bytes long; OpenVPN writes at most ${OPENVPN_MAX_LINE_BYTES} bytes per status line, so this is not its output`, lineNo);
  }
}

/** The structure each format has; what parseStatus requires before it calls a text a status file. */
interface Structure {
  /** Line number of the client-list header row, once read (the "first header row"). */
  clientHeader: number;
  /** Line number of the `Updated,` (v1) or `TIME` (v2/v3) line. */
  updated: number;
  /** Line number of the routing-table header row. */
  routeHeader: number;
}

/**
 * What must be there for a text to be a status file, per version (openvpn-formats.md §2: every
 * OpenVPN 2.2-2.7 prints all of it, in every state, also with no clients):
 * - v1: the `OpenVPN CLIENT LIST` title, then `Updated,<time>`, then the client-list header row;
 *   and, in a text that reached END, the `ROUTING TABLE` title with its header row (v1 reads
 *   virtual addresses only from there: without it nobody would look online).
 * - v2/v3: a `HEADER<sep>CLIENT_LIST` row; and, in a text that reached END, a
 *   `HEADER<sep>ROUTING_TABLE` row. TITLE and TIME are optional (a text pasted without them is
 *   still unambiguous; without TIME the snapshot has no updatedAt, with a warning).
 * A text that ends before its client-list header row cannot be told from a look-alike and is
 * refused; after that header, a text without END is an incomplete status file, whatever is missing.
 */
function requireStructure(format: StatusFormat, s: Structure, complete: boolean, lastLineNo: number): void {
  const sep = format === 'openvpn-status-v3' ? '<TAB>' : ',';
  const ends = complete ? 'reaches END' : 'ends';
  if (format === 'openvpn-status-v1') {
    if (s.updated < 0) throw new StatusParseError('not-status', `status-version 1 text ${ends} without the 'Updated,<time>' line that follows 'OpenVPN CLIENT LIST'`, lastLineNo);
    if (s.clientHeader < 0) throw new StatusParseError('not-status', `status-version 1 text ${ends} without its client list header row ('Common Name,Real Address,...')`, lastLineNo);
    if (complete && s.routeHeader < 0) throw new StatusParseError('not-status', "status-version 1 text reaches END without its 'ROUTING TABLE' section and header row ('Virtual Address,Common Name,...')", lastLineNo);
    return;
  }
  const version = format === 'openvpn-status-v2' ? 2 : 3;
  if (s.clientHeader < 0) throw new StatusParseError('not-status', `status-version ${version} text ${ends} without a 'HEADER${sep}CLIENT_LIST' row`, lastLineNo);
  if (complete && s.routeHeader < 0) throw new StatusParseError('not-status', `status-version ${version} text reaches END without a 'HEADER${sep}ROUTING_TABLE' row`, lastLineNo);
}

export function parseStatus(input: string, options: ParseStatusOptions = {}): StatusSnapshot {
  const time = new LocalTimeReader(options.timezone ?? 'UTC');
  // A byte-order mark (an editor's, or a copy through Windows) is not part of the first line, in
  // any version.
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (!/\S/.test(text)) {
    throw new StatusParseError('empty', 'the status text is empty (OpenVPN has not written it yet, or stopped writing it after a line over 511 characters)');
  }
  const lines = new LineCursor(text);

  let format: StatusFormat | null = null;
  let firstOther = -1;
  let firstOtherText = '';
  while (format === null && lines.advance()) {
    if (lines.empty || lines.notification) continue;
    const line = lines.line();
    if (line === 'OpenVPN CLIENT LIST') format = 'openvpn-status-v1';
    else if (/^(TITLE|TIME|HEADER),/.test(line)) format = 'openvpn-status-v2';
    else if (/^(TITLE|TIME|HEADER)\t/.test(line)) format = 'openvpn-status-v3';
    else if (line === 'OpenVPN STATISTICS') {
      throw new StatusParseError('client-mode',
        "this is an OpenVPN client or peer-to-peer statistics file ('OpenVPN STATISTICS'), not a server status file; point statusPath at the server's --status file", lines.number);
    } else if (/^(TITLE|TIME|HEADER) {2,}/.test(line)) {
      throw new StatusParseError('malformed',
        'this looks like status-version 3 whose tabs were turned into spaces (a copy/paste?); its fields cannot be told apart', lines.number);
    } else if (firstOther < 0) {
      firstOther = lines.number;
      firstOtherText = line;
    }
  }
  if (format === null) {
    throw new StatusParseError('not-status',
      `not an OpenVPN status file: expected 'OpenVPN CLIENT LIST' (status-version 1) or 'TITLE,'/'TITLE<TAB>' (2/3), found '${snippet(firstOtherText)}'`, firstOther >= 0 ? firstOther : 1);
  }
  const start = lines.number;

  const sep = format === 'openvpn-status-v3' ? '\t' : ',';
  const out = new SnapshotBuilder(format, sep, time, text);
  if (options.now !== undefined) out.now = typeof options.now === 'number' ? options.now : options.now.getTime();
  if (firstOther >= 0) out.warnings.push(`ignored ${start - firstOther} line(s) before the status header (line ${start})`);

  // Where the last line with something on it starts: in a text without END it may be cut off.
  let lastPrintable = text.length - 1;
  while (lastPrintable > 0 && text.charCodeAt(lastPrintable) <= 32) lastPrintable--;
  const lastLineFrom = text.lastIndexOf('\n', lastPrintable) + 1;
  let endLine = -1;
  const structure: Structure = { clientHeader: -1, updated: -1, routeHeader: -1 };
  const parseLine = format === 'openvpn-status-v1' ? v1LineParser(out, structure) : v23LineParser(out, structure);
  // The format's first line is the cursor's current line.
  do {
    if (lines.from === lastLineFrom) out.lastLine = lines.number;
    if (lines.is('END')) {
      out.complete = true;
      endLine = lines.number;
      break;
    }
    if (lines.empty || lines.notification) continue;
    checkLength(text, lines.from, lines.to, lines.number);
    if (lines.unfinished) {
      // A cut (or a read during a rewrite) can end a line anywhere, also where it still reads.
      out.warnings.push(`line ${lines.number}: cut off (the text ends inside it); ignored`);
      break;
    }
    try {
      parseLine(lines.from, lines.to, lines.number);
    } catch (err) {
      // The last line of a text without END is where a concurrent rewrite (or a cut) stopped:
      // it is expected to be partial, and the whole snapshot is reported incomplete anyway.
      if (lines.from !== lastLineFrom || !out.cutOff(lines.number, err)) throw err;
    }
  } while (lines.advance());
  requireStructure(format, structure, out.complete, out.complete ? endLine : out.lastLine);
  if (!out.complete) out.warnings.push('no END line: the text was cut off, or caught while OpenVPN was rewriting the file');
  if (structure.updated < 0 && out.complete) out.warnings.push('no TIME line: when this text was written is unknown');
  if (out.complete) {
    let trailing = 0;
    while (lines.advance()) if (!lines.blank) trailing++;
    if (trailing > 0) out.warnings.push(`ignored ${trailing} line(s) after END`);
  }
  return out.result();
}

type LineParser = (from: number, to: number, lineNo: number) => void;

/** status-version 1: sections introduced by title lines, each with its own header line. */
function v1LineParser(out: SnapshotBuilder, structure: Structure): LineParser {
  const text = out.text;
  const is = (from: number, to: number, word: string) => to - from === word.length && text.startsWith(word, from);
  let section: 'title' | 'clients-head' | 'clients' | 'routes-head' | 'routes' | 'stats' = 'title';
  let clients: Table | null = null;
  let cols: ClientColumns | null = null;
  let routes: Table | null = null;
  return (from, to, lineNo) => {
    switch (section) {
      case 'title':
        // The line parseStatus recognised the format by.
        section = 'clients-head';
        return;
      case 'clients-head': {
        const line = text.slice(from, to);
        if (structure.updated < 0) {
          if (!line.startsWith('Updated,')) {
            throw new StatusParseError('not-status', `expected the 'Updated,<time>' line after 'OpenVPN CLIENT LIST', found '${snippet(line)}'`, lineNo);
          }
          structure.updated = lineNo;
          out.readUpdated(line.slice(8), lineNo, 'Updated');
          return;
        }
        clients = makeTable(line.split(','), CLIENT_COLUMNS, REQUIRED_CLIENT_COLUMNS, 'CLIENT LIST', lineNo);
        if (!clients.index.has('Connected Since')) throw new StatusParseError('malformed', "the CLIENT LIST header has no 'Connected Since' column", lineNo);
        cols = clientColumns(clients);
        structure.clientHeader = lineNo;
        section = 'clients';
        return;
      }
      case 'clients':
        if (is(from, to, 'ROUTING TABLE')) section = 'routes-head';
        else if (is(from, to, 'GLOBAL STATS')) section = 'stats';
        else out.addClient(from, from, to, clients!, cols!, lineNo);
        return;
      case 'routes-head':
        routes = makeTable(text.slice(from, to).split(','), ROUTE_COLUMNS, REQUIRED_ROUTE_COLUMNS, 'ROUTING TABLE', lineNo);
        structure.routeHeader = lineNo;
        section = 'routes';
        return;
      case 'routes':
        if (is(from, to, 'GLOBAL STATS')) section = 'stats';
        else out.addRoute(from, to, routes!, lineNo);
        return;
      case 'stats':
        return; // `Max bcast/mcast queue length,N`: nothing a monitor needs
    }
  };
}

/** status-version 2 (commas) and 3 (tabs): every line starts with its tag. */
function v23LineParser(out: SnapshotBuilder, structure: Structure): LineParser {
  const text = out.text;
  const sep = out.sep;
  let clients: Table | null = null;
  let cols: ClientColumns | null = null;
  let routes: Table | null = null;
  const clientTag = `CLIENT_LIST${sep}`;
  const routeTag = `ROUTING_TABLE${sep}`;
  return (from, to, lineNo) => {
    // The rows, by far the most lines, are read in place (routing rows mostly never, see joinRoutes).
    if (text.startsWith(clientTag, from) && to - from >= clientTag.length) {
      if (!clients) throw new StatusParseError('malformed', 'CLIENT_LIST row before its HEADER line', lineNo);
      out.addClient(from, from + clientTag.length, to, clients, cols!, lineNo);
      return;
    }
    if (text.startsWith(routeTag, from) && to - from >= routeTag.length) {
      if (!routes) throw new StatusParseError('malformed', 'ROUTING_TABLE row before its HEADER line', lineNo);
      out.addRoute(from + routeTag.length, to, routes, lineNo);
      return;
    }
    const line = text.slice(from, to);
    const fields = line.split(sep);
    const tag = fields[0];
    switch (tag) {
      case 'HEADER':
        if (fields[1] === 'CLIENT_LIST') {
          clients = makeTable(fields.slice(2), CLIENT_COLUMNS, REQUIRED_CLIENT_COLUMNS, 'CLIENT_LIST', lineNo);
          if (!clients.index.has('Connected Since') && !clients.index.has('Connected Since (time_t)')) {
            throw new StatusParseError('malformed', "the CLIENT_LIST header has no 'Connected Since' column", lineNo);
          }
          cols = clientColumns(clients);
          structure.clientHeader = lineNo;
        } else if (fields[1] === 'ROUTING_TABLE') {
          routes = makeTable(fields.slice(2), ROUTE_COLUMNS, REQUIRED_ROUTE_COLUMNS, 'ROUTING_TABLE', lineNo);
          structure.routeHeader = lineNo;
        }
        return; // headers of sections a future OpenVPN adds are ignored with their rows
      case 'TIME': {
        structure.updated = lineNo;
        const seconds = fields[2];
        if (seconds !== undefined && DIGITS.test(seconds)) out.updatedAt = isoFromEpochMs(Number(seconds) * 1000);
        else out.readUpdated(fields[1] ?? '', lineNo, 'TIME');
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
        out.warnRow(`line ${lineNo}: unknown line '${snippet(tag ?? '')}'; ignored`);
    }
  };
}
