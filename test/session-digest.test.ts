// What the poll worker sends the main thread (src/poll/session-digest.ts): only the sessions the
// baseline's digest cannot vouch for go whole, and the main thread rebuilds exactly the read the
// worker parsed, whatever changed: every field, the counters, the order, sessions that came,
// went or appear twice.
import { describe, expect, it } from 'vitest';
import type { VpnSession } from '../src/domain.ts';
import { seededRandom, syntheticSession } from '../src/demo/synthetic-sessions.ts';
import { compactSessions, digestSessions, expandSessions } from '../src/poll/session-digest.ts';

const baseline = (n: number, seed = 7): VpnSession[] => {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => syntheticSession(i, i, new Date('2026-11-28T10:00:00.000Z'), random));
};

/** The worker's side and the main thread's side, as in a cycle. */
function roundTrip(read: VpnSession[], base: VpnSession[], digest = true) {
  const delta = compactSessions(read, digest ? digestSessions(base) : undefined);
  // Structured clone, as postMessage does: nothing may depend on object identity across it.
  const sent = structuredClone(delta);
  return { delta: sent, rebuilt: expandSessions(sent, base) };
}

// Every field the fingerprint covers, with a value that differs from what syntheticSession makes.
const CHANGES: Record<Exclude<keyof VpnSession, 'bytesReceived' | 'bytesSent'>, unknown> = {
  commonName: 'mallory', username: 'mallory', realAddress: '198.51.100.7', realPort: 1, protocol: 'udp4', virtualAddress: '10.99.0.1',
  virtualIpv6: 'fd00::1', connectedAt: '2026-11-28T09:59:59.000Z', clientId: 99_999, peerId: 99_999, cipher: 'BF-CBC',
};

describe('session digest', () => {
  it('an unchanged read sends no session whole, only counters, and rebuilds to the same sessions (the same objects)', () => {
    const base = baseline(500);
    const { delta, rebuilt } = roundTrip(base.map((s) => ({ ...s })), base);
    expect(delta.rows).toEqual([]);
    expect(rebuilt).toEqual(base);
    expect(rebuilt.every((s, i) => s === base[i])).toBe(true); // counters equal: the baseline's own objects
  });

  it('new counters travel as numbers; the rebuilt session is the baseline one with those counters', () => {
    const base = baseline(50);
    const read = base.map((s, i) => ({ ...s, bytesReceived: s.bytesReceived + i, bytesSent: s.bytesSent + 2 * i }));
    const { delta, rebuilt } = roundTrip(read, base);
    expect(delta.rows).toEqual([]);
    expect(rebuilt).toEqual(read);
    // Counters that went backwards are passed on as they are: the diff decides what that means.
    const backwards = base.map((s) => ({ ...s, bytesReceived: 0, bytesSent: 0 }));
    expect(roundTrip(backwards, base).rebuilt).toEqual(backwards);
  });

  for (const [field, value] of Object.entries(CHANGES)) {
    it(`a change of ${field} alone sends that session whole`, () => {
      const base = baseline(40);
      const read = base.map((s, i) => (i === 17 ? { ...s, [field]: value } : { ...s }));
      const { delta, rebuilt } = roundTrip(read, base);
      expect(delta.rows).toEqual([read[17]]);
      expect(rebuilt).toEqual(read);
    });
  }

  it('null and the text "null" are different fields', () => {
    const base = baseline(5).map((s) => ({ ...s, username: null }));
    const read = base.map((s, i) => (i === 2 ? { ...s, username: 'null' } : { ...s }));
    expect(roundTrip(read, base).delta.rows).toEqual([read[2]]);
  });

  it('sessions that came, went, moved, or are listed twice: the read is rebuilt in its own order', () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 50; trial++) {
      const base = baseline(1 + Math.floor(random() * 60), trial);
      let read = base.filter(() => random() > 0.2).map((s) => ({ ...s, bytesSent: s.bytesSent + Math.floor(random() * 3) }));
      const newcomers = baseline(Math.floor(random() * 5), 1000 + trial).map((s) => ({ ...s, commonName: `new-${s.commonName}` }));
      read = [...read, ...newcomers];
      if (read.length && random() > 0.5) read.push({ ...read[Math.floor(random() * read.length)]! }); // listed twice
      read.sort(() => random() - 0.5);
      const { delta, rebuilt } = roundTrip(read, base);
      expect(rebuilt).toEqual(read);
      expect(delta.rows.length).toBeLessThanOrEqual(newcomers.length + 1);
    }
  });

  it('without a digest (no baseline yet) every session goes whole', () => {
    const base = baseline(20);
    const { delta, rebuilt } = roundTrip(base, [], false);
    expect(delta.rows).toEqual(base);
    expect(rebuilt).toEqual(base);
  });

  it('a delta made against one baseline rebuilds against that baseline, not a later one', () => {
    const base = baseline(10);
    const delta = compactSessions(base.map((s) => ({ ...s })), digestSessions(base));
    expect(() => expandSessions(delta, base.slice(0, 3))).toThrow(/baseline session \d+ of 3/);
  });
});
