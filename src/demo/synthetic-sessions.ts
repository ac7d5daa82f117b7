// Plausible, deterministic VPN sessions for the demo fleet and the benchmarks. Addresses come from
// the documentation ranges (RFC 5737 / 3849) and the 198.18.0.0/15 benchmark range, so nothing
// generated here ever names a real host.
import type { VpnSession } from '../domain.ts';

const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'zoe'];
const CIPHERS = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'];

/** A small seeded PRNG (mulberry32): the same seed gives the same fleet on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Session number `i` of a server whose pool starts at 198.18.<pool>.0; `clientId` is OpenVPN's
 * CID. Virtual addresses stay inside 198.18.0.0/15 (wrapping round it), distinct within a server
 * for up to 128,000 sessions.
 */
export function syntheticSession(i: number, clientId: number, now: Date, random: () => number, pool = 0): VpnSession {
  const name = `${FIRST[i % FIRST.length]}${i >= FIRST.length ? `.${Math.floor(i / FIRST.length)}` : ''}`;
  const connectedMs = now.getTime() - Math.floor(random() * 8 * 3600_000) - 60_000;
  const ipv6 = i % 7 === 3;
  return {
    commonName: name,
    username: null,
    realAddress: ipv6 ? `2001:db8::${(i + 1).toString(16)}` : `203.0.113.${(i % 250) + 1}`,
    realPort: ipv6 ? null : 1024 + ((i * 7919) % 60000),
    protocol: null,
    virtualAddress: benchmarkAddress(pool + Math.floor(i / 250), (i % 250) + 2),
    virtualIpv6: null,
    bytesReceived: Math.floor(random() * 5e8),
    bytesSent: Math.floor(random() * 5e9),
    connectedAt: new Date(Math.floor(connectedMs / 1000) * 1000).toISOString(),
    clientId,
    peerId: i,
    cipher: CIPHERS[i % CIPHERS.length]!,
  };
}

/** Address `host` of block `block` of 198.18.0.0/15, counted in /24s (512 of them, then round again). */
function benchmarkAddress(block: number, host: number): string {
  const n = block % 512;
  return `198.${18 + (n >> 8)}.${n & 255}.${host}`;
}

export function syntheticSessions(count: number, now: Date, seed = 1): VpnSession[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => syntheticSession(i, i, now, random));
}
