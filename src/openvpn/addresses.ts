// Address columns of the OpenVPN status formats. Their printed form changed three times
// (openvpn-formats.md §3.1): v4-mapped and IPv6 clients without a port (2.2–2.6), and from 2.7 a
// protocol prefix (`udp4:`, `tcp4-server:`) with bracketed IPv6 (`udp6:[2001:db8::1]:51234`).
// Never split on ':' blindly: IPv6 is full of them.

export interface RealAddress {
  host: string;
  port: number | null;
  protocol: string | null;
}

const PROTOCOL_PREFIX = /^((?:udp|tcp)[46]?(?:-server|-client)?):/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6ISH = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[\w.-]+)?$/;

function toPort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/** Whether text[start, end) is an IPv4 address: four groups of 1-3 digits, each at most 255, checked without a regex. */
export function isDottedQuad(text: string, start: number, end: number): boolean {
  let dots = 0;
  let digits = 0;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return dots === 3 && digits > 0;
}

/**
 * `a.b.c.d:port` in text[from, to), written the one way OpenVPN writes it (decimal, no leading
 * zeros), as the number ip * 65536 + port; -1 for any other text. Equal numbers mean equal text, so
 * the parser can key nearly every client by it: a number is cheaper to hash and compare than text.
 */
export function ipv4PortKey(text: string, from: number, to: number): number {
  let key = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + c - 48;
      if (++digits > 5) return -1;
      continue;
    }
    if (digits === 0) return -1;
    if (c === 46 && dots < 3 && part <= 255) {
      key = key * 256 + part;
      dots++;
    } else if (c === 58 && dots === 3 && part <= 255) {
      key = key * 256 + part;
      dots++;
    } else {
      return -1;
    }
    part = 0;
    digits = 0;
  }
  return dots === 4 && digits > 0 && part <= 65535 ? key * 65536 + part : -1;
}

/** `a.b.c.d:port` with no prefix, the common case, checked without regexes; null otherwise. */
function plainIpv4WithPort(text: string): RealAddress | null {
  const colon = text.indexOf(':');
  if (colon < 7 || colon === text.length - 1 || text.length - colon > 6 || !isDottedQuad(text, 0, colon)) return null;
  let port = 0;
  for (let i = colon + 1; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    port = port * 10 + d;
  }
  return port > 65535 ? null : { host: text.slice(0, colon), port, protocol: null };
}

/** Reads a Real Address column; null when the text is not an address OpenVPN would print. */
export function parseRealAddress(text: string): RealAddress | null {
  const fast = plainIpv4WithPort(text);
  if (fast) return fast;
  let rest = text;
  let protocol: string | null = null;
  const prefix = PROTOCOL_PREFIX.exec(rest);
  if (prefix) {
    protocol = prefix[1]!;
    rest = rest.slice(prefix[0].length);
  }
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return null;
    const host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (!IPV6ISH.test(host)) return null;
    if (after === '') return { host, port: null, protocol };
    if (!after.startsWith(':')) return null;
    const port = toPort(after.slice(1));
    return port === null ? null : { host, port, protocol };
  }
  const firstColon = rest.indexOf(':');
  if (firstColon < 0) return IPV4.test(rest) ? { host: rest, port: null, protocol } : null;
  if (rest.indexOf(':', firstColon + 1) < 0) {
    // exactly one colon: IPv4 (or, in hand-made files, a name) with a port
    const host = rest.slice(0, firstColon);
    const port = toPort(rest.slice(firstColon + 1));
    return port !== null && host !== '' && /^[\w.-]+$/.test(host) ? { host, port, protocol } : null;
  }
  // several colons and no brackets: a bare IPv6 (2.2–2.6 print IPv6 and v4-mapped without a port)
  return IPV6ISH.test(rest) ? { host: rest, port: null, protocol } : null;
}

export type RouteKind = 'ipv4' | 'ipv6' | 'ipv4-net' | 'ipv6-net' | 'mac';

export interface RouteAddress {
  address: string;
  kind: RouteKind;
  /** `C` suffix: a host route cached from an iroute lookup, not the client's own address. */
  cached: boolean;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}(@\d+)?$/;

/** Reads a Virtual Address column of the ROUTING TABLE (pool address, iroute, MAC or cached route). */
export function parseRouteAddress(text: string): RouteAddress | null {
  // The common case first: a client's own IPv4 pool address.
  if (isDottedQuad(text, 0, text.length)) return { address: text, kind: 'ipv4', cached: false };
  const cached = text.endsWith('C') && !MAC.test(text);
  const address = cached ? text.slice(0, -1) : text;
  if (MAC.test(address)) return { address, kind: 'mac', cached };
  const slash = address.indexOf('/');
  const host = slash < 0 ? address : address.slice(0, slash);
  if (slash >= 0 && !/^\d{1,3}$/.test(address.slice(slash + 1))) return null;
  if (IPV4.test(host)) return { address, kind: slash < 0 ? 'ipv4' : 'ipv4-net', cached };
  if (IPV6ISH.test(host)) return { address, kind: slash < 0 ? 'ipv6' : 'ipv6-net', cached };
  return null;
}

/** A Virtual Address / Virtual IPv6 Address column of CLIENT_LIST: an address or empty. */
export function isVirtualAddressColumn(text: string): boolean {
  return text === '' || isDottedQuad(text, 0, text.length) || IPV6ISH.test(text);
}
