// The stored online list (a server's onlineJson) is written field by field for speed
// (src/store/records.ts encodeOnline): it must be exactly the text JSON.stringify gives for the
// entries, whatever the common names hold, so every reader (decodeOnline) gets what was online.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VpnSession } from '../src/domain.ts';
import { decodeOnline, encodeOnline, plainSession } from '../src/store/records.ts';

/** What the list held before it was written by hand: the entries, through JSON.stringify. */
const reference = (sessions: Record<string, VpnSession>, ids: Map<string, string>) =>
  JSON.stringify(Object.entries(sessions).map(([key, s]) => ({ ...plainSession(s), sessionId: ids.get(key) ?? null })));

const text = fc.oneof(
  fc.string({ unit: 'binary' }), // any code points, lone surrogates included
  fc.constantFrom('@everyone', '<script>alert(1)</script>', 'a"b\\c', 'line\nbreak\ttab\u0000nul', 'ünïcødé 😀', ''),
);
const count = fc.oneof(fc.constant(0), fc.nat(), fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }));
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const session: fc.Arbitrary<VpnSession> = fc.record({
  commonName: text, username: orNull(text), realAddress: text, realPort: orNull(fc.integer({ min: 0, max: 65535 })), protocol: orNull(text),
  virtualAddress: orNull(text), virtualIpv6: orNull(text), bytesReceived: count, bytesSent: count,
  connectedAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), clientId: orNull(fc.nat()), peerId: orNull(fc.nat()), cipher: orNull(text),
});

describe('encodeOnline', () => {
  it('is JSON.stringify of the entries, for any sessions and ids, and reads back as them', () => {
    fc.assert(fc.property(fc.array(fc.tuple(text, session, orNull(fc.stringMatching(/^[0-9a-f]{24}$/))), { maxLength: 20 }), (rows) => {
      const sessions: Record<string, VpnSession> = {};
      const ids = new Map<string, string>();
      for (const [key, s, id] of rows) {
        sessions[key] = s;
        if (id) ids.set(key, id);
      }
      const { json, count } = encodeOnline(sessions, ids);
      expect(json).toBe(reference(sessions, ids));
      expect(count).toBe(Object.keys(sessions).length);
      expect(decodeOnline(json)).toEqual(Object.entries(sessions).map(([key, s]) => ({ ...plainSession(s), sessionId: ids.get(key) ?? null })));
    }), { numRuns: 500 });
  });

  it('writes only the contract\'s fields, missing ones as null (a session read back from mongoose can carry extras)', () => {
    const extra = { commonName: 'carol', realAddress: '198.18.0.7', bytesReceived: 5, bytesSent: 7, connectedAt: '2026-11-30T09:00:00.000Z', _id: 'x', __v: 0 } as unknown as VpnSession;
    expect(JSON.parse(encodeOnline({ k: extra }, new Map([['k', 'abc']])).json)).toEqual([{
      commonName: 'carol', username: null, realAddress: '198.18.0.7', realPort: null, protocol: null, virtualAddress: null, virtualIpv6: null,
      bytesReceived: 5, bytesSent: 7, connectedAt: '2026-11-30T09:00:00.000Z', clientId: null, peerId: null, cipher: null, sessionId: 'abc',
    }]);
    expect(encodeOnline({}, new Map())).toEqual({ json: '[]', count: 0 });
  });
});
