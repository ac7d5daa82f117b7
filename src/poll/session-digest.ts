// What crosses from the poll job's worker thread to the main thread: only what the main thread
// does not have already. Most sessions of a read are the ones the baseline holds, with new byte
// counters; sending each as a full object (structured-cloned: an object and its strings) made the
// main thread take in 100,000 session objects per cycle at 200 servers × 500 sessions.
//
// So the main thread hands the worker a digest of each server's baseline: a 64-bit fingerprint per
// session of every field but the two byte counters. The worker sends, per session of the read, in
// the read's order: either the index of the baseline session with the same fingerprint (the digest
// proves every other field equal), or a full row (a session that came, or changed anything but its
// counters), and the byte counters of every session. The main thread rebuilds the read exactly:
// the baseline's object where nothing changed, a copy with the new counters where they moved, the
// full rows as sent. The diff (src/poll/diff.ts) then sees the read as the file said it, and every
// rule stays there: the worker decides nothing about sessions, it only leaves out what the main
// thread already holds.
//
// A fingerprint is two independent 32-bit hashes of the fields. A changed session is taken for a
// baseline one only if all 64 bits match one of the server's baseline fingerprints: with 1,000
// sessions per server, a chance of about 5 × 10⁻¹⁷ per changed session.
import type { StatusSnapshot, VpnSession } from '../domain.ts';

/** Per baseline session, in the baseline's order: two 32-bit words of its fingerprint. */
export type SessionDigest = Uint32Array;

/** A read's sessions relative to a digest (see the header). */
export interface SessionDelta {
  /** Per session of the read, in order: the digest index of an identical session (counters aside), or -1 - i for rows[i]. */
  order: Int32Array;
  /** Per session of the read, in order: bytesReceived, bytesSent. */
  counters: Float64Array;
  /** The sessions the digest did not vouch for, whole. */
  rows: VpnSession[];
}

/** A status snapshot as the worker sends it: its sessions as a delta against the baseline's digest. */
export type CompactSnapshot = Omit<StatusSnapshot, 'sessions'> & { delta: SessionDelta };

// Two lanes over the fields' UTF-16 code units, each with its own odd multiplier, finished with
// MurmurHash3's fmix32 avalanche. NUL separates fields; SOH stands for null.
const SEP = 0;
const NULL = 1;

function fingerprintInto(s: VpnSession, out: Uint32Array, at: number): void {
  let a = 0x811c9dc5;
  let b = 0x2545f491;
  const fields = [s.commonName, s.username, s.realAddress, s.realPort, s.protocol, s.virtualAddress, s.virtualIpv6, s.connectedAt, s.clientId, s.peerId, s.cipher];
  for (const field of fields) {
    if (field === null) {
      a = Math.imul(a ^ NULL, 0x9e3779b1);
      b = Math.imul(b ^ NULL, 0x85ebca77);
    } else {
      const text = typeof field === 'string' ? field : String(field);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        a = Math.imul(a ^ c, 0x9e3779b1);
        b = Math.imul(b ^ c, 0x85ebca77);
      }
    }
    a = Math.imul(a ^ SEP, 0x9e3779b1);
    b = Math.imul(b ^ SEP, 0x85ebca77);
  }
  out[at] = fmix32(a ^ Math.imul(b, 0x27d4eb2f));
  out[at + 1] = fmix32(b ^ Math.imul(a, 0x165667b1));
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Fingerprints by session object, in the main thread: a baseline session keeps its object from
 * cycle to cycle (or gets a copy that only differs in counters, which inherits the fingerprint),
 * so each session is hashed once, when it first appears. Two maps of numbers, not one of two-word
 * arrays: at 100,000 baseline sessions a Uint32Array per session held 18 MB of the main thread's
 * heap (an array and its buffer, ~190 bytes each); the second map and its numbers hold about 6.
 */
const knownHi = new WeakMap<VpnSession, number>();
const knownLo = new WeakMap<VpnSession, number>();
const scratch = new Uint32Array(2);

/** The digest of a baseline's sessions, in the given order (main thread). */
export function digestSessions(sessions: readonly VpnSession[]): SessionDigest {
  const digest = new Uint32Array(sessions.length * 2);
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    // The two maps are always set together: one lookup says whether the session was hashed.
    if (!knownHi.has(s)) {
      fingerprintInto(s, scratch, 0);
      knownHi.set(s, scratch[0]!);
      knownLo.set(s, scratch[1]!);
    }
    digest[2 * i] = knownHi.get(s)!;
    digest[2 * i + 1] = knownLo.get(s)!;
  }
  return digest;
}

/** 53 bits of a fingerprint, exact as a JavaScript number: the lookup key (the rest is compared after). */
const lookupKey = (hi: number, lo: number) => hi * 2 ** 21 + (lo >>> 11);

/** A read's sessions against a baseline digest (worker thread). Without a digest every session goes whole. */
export function compactSessions(sessions: readonly VpnSession[], digest: SessionDigest | undefined): SessionDelta {
  const index = new Map<number, number>();
  if (digest) {
    // A key seen twice in one baseline (two identical sessions) is left out: both go whole.
    const twice = new Set<number>();
    for (let i = 0; i < digest.length / 2; i++) {
      const key = lookupKey(digest[2 * i]!, digest[2 * i + 1]!);
      if (index.has(key)) twice.add(key);
      index.set(key, i);
    }
    for (const key of twice) index.delete(key);
  }
  const order = new Int32Array(sessions.length);
  const counters = new Float64Array(sessions.length * 2);
  const rows: VpnSession[] = [];
  const fp = new Uint32Array(2);
  for (let p = 0; p < sessions.length; p++) {
    const s = sessions[p]!;
    counters[2 * p] = s.bytesReceived;
    counters[2 * p + 1] = s.bytesSent;
    let i: number | undefined;
    if (digest) {
      fingerprintInto(s, fp, 0);
      i = index.get(lookupKey(fp[0]!, fp[1]!));
      if (i !== undefined && digest[2 * i + 1] !== fp[1]) i = undefined;
    }
    if (i === undefined) {
      order[p] = -1 - rows.length;
      rows.push(s);
    } else {
      order[p] = i;
    }
  }
  return { order, counters, rows };
}

/** Text that repeats across sessions (cipher names, 2.7 protocol prefixes): one string each, not one per session. */
const shared = new Map<string, string>();
const sharedText = (text: string | null): string | null => {
  if (text === null) return null;
  const known = shared.get(text);
  if (known !== undefined) return known;
  if (shared.size < 256) shared.set(text, text);
  return text;
};

/**
 * A session as one object literal, its fields in VpnSession's order, with these counters: every
 * session the main thread keeps has one hidden class and its fields in the object itself. A spread
 * copy, or a row as structured clone rebuilds it (a field at a time), keeps most fields in a
 * separate property array: ~90 bytes more per session, 18 MB at 100,000.
 */
function sessionOf(s: VpnSession, bytesReceived: number, bytesSent: number): VpnSession {
  return {
    commonName: s.commonName,
    username: s.username,
    realAddress: s.realAddress,
    realPort: s.realPort,
    protocol: sharedText(s.protocol),
    virtualAddress: s.virtualAddress,
    virtualIpv6: s.virtualIpv6,
    bytesReceived,
    bytesSent,
    connectedAt: s.connectedAt,
    clientId: s.clientId,
    peerId: s.peerId,
    cipher: sharedText(s.cipher),
  };
}

/** The sessions of the read, rebuilt from the delta and the baseline sessions its digest was made from (main thread). */
export function expandSessions(delta: SessionDelta, baseline: readonly VpnSession[]): VpnSession[] {
  const { order, counters, rows } = delta;
  const sessions = new Array<VpnSession>(order.length);
  for (let p = 0; p < order.length; p++) {
    const i = order[p]!;
    const bytesReceived = counters[2 * p]!;
    const bytesSent = counters[2 * p + 1]!;
    if (i < 0) {
      sessions[p] = sessionOf(rows[-1 - i]!, bytesReceived, bytesSent);
      continue;
    }
    const base = baseline[i];
    if (!base) throw new Error(`session delta refers to baseline session ${i} of ${baseline.length}`);
    if (base.bytesReceived === bytesReceived && base.bytesSent === bytesSent) {
      sessions[p] = base;
    } else {
      const copy = sessionOf(base, bytesReceived, bytesSent);
      if (knownHi.has(base)) {
        knownHi.set(copy, knownHi.get(base)!);
        knownLo.set(copy, knownLo.get(base)!);
      }
      sessions[p] = copy;
    }
  }
  return sessions;
}

/** A snapshot as the worker sends it (worker thread). */
export function compactSnapshot(snapshot: StatusSnapshot, digest: SessionDigest | undefined): CompactSnapshot {
  const { sessions, ...rest } = snapshot;
  return { ...rest, delta: compactSessions(sessions, digest) };
}

/** The snapshot the worker read (main thread). */
export function expandSnapshot(compact: CompactSnapshot, baseline: readonly VpnSession[]): StatusSnapshot {
  const { delta, ...rest } = compact;
  return { ...rest, sessions: expandSessions(delta, baseline) };
}
