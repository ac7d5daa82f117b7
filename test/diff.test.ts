// The diff rules (src/diff.ts), one test per row of its rule table.
import { describe, expect, it } from 'vitest';
import { diffSnapshots, emptyBaseline, staleAfterMs, type ServerBaseline } from '../src/poll/diff.ts';
import { type ServerRead, type VpnSession, sessionKey } from '../src/domain.ts';

const T0 = '2026-11-28T10:00:00.000Z';
const opts = { downAfter: 3, staleAfterMs: staleAfterMs(10, 30) };

function session(commonName: string, port: number, extra: Partial<VpnSession> = {}): VpnSession {
  return {
    commonName, username: null, realAddress: '203.0.113.5', realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 200}`,
    virtualIpv6: null, bytesReceived: 100, bytesSent: 200, connectedAt: '2026-11-28T09:00:00.000Z', clientId: port, peerId: 0, cipher: 'AES-256-GCM', ...extra,
  };
}

function good(sessions: VpnSession[], readAt = T0, updatedAt: string | null = readAt, complete = true): ServerRead {
  return { server: 'fra-1', ok: true, readAt, durationMs: 5, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt, complete, sessions, warnings: [] } };
}
const failed = (error = 'connect ECONNREFUSED'): ServerRead => ({ server: 'fra-1', ok: false, error, readAt: T0, durationMs: 5, source: 'status-file' });

function baselineOf(sessions: VpnSession[]): ServerBaseline {
  return { sessions: Object.fromEntries(sessions.map((s) => [sessionKey(s), s])), consecutiveFailures: 0, down: false, lastGoodAt: T0, statusUpdatedAt: null, source: 'status-file' };
}

describe('diffSnapshots', () => {
  it('first good read ever: records everyone, announces nobody', () => {
    const r = diffSnapshots(emptyBaseline(), good([session('alice', 1001), session('bob', 1002)]), opts);
    expect(r.events).toEqual([]);
    expect(r.started.map((s) => s.commonName)).toEqual(['alice', 'bob']);
    expect(Object.keys(r.baseline.sessions!)).toHaveLength(2);
  });

  it('a new key is a connect, a missing key a disconnect', () => {
    const r = diffSnapshots(baselineOf([session('alice', 1001)]), good([session('bob', 1002)]), opts);
    expect(r.events.map((e) => [e.type, e.session?.commonName])).toEqual([['disconnected', 'alice'], ['connected', 'bob']]);
    expect([r.ended.length, r.started.length]).toEqual([1, 1]);
  });

  it('the same user gone and back in one read is one reconnected event', () => {
    const r = diffSnapshots(baselineOf([session('alice', 1001)]), good([session('alice', 1005)]), opts);
    expect(r.events.map((e) => [e.type, e.session?.realPort, e.previous?.realPort])).toEqual([['reconnected', 1005, 1001]]);
  });

  it('a new Client ID, or counters going backwards, at the same address is a new instance', () => {
    const before = session('alice', 1001, { clientId: 4, bytesReceived: 5000 });
    const newCid = diffSnapshots(baselineOf([before]), good([{ ...before, clientId: 9 }]), opts);
    expect(newCid.events.map((e) => e.type)).toEqual(['reconnected']);
    const reset = diffSnapshots(baselineOf([before]), good([{ ...before, bytesReceived: 10 }]), opts);
    expect(reset.events.map((e) => e.type)).toEqual(['reconnected']);
    const same = diffSnapshots(baselineOf([before]), good([{ ...before, bytesReceived: 9000 }]), opts);
    expect(same.events).toEqual([]);
    expect(same.baseline.sessions![sessionKey(before)]!.bytesReceived).toBe(9000);
  });

  it('a client listed without a virtual address is not online yet: no connect', () => {
    const ghost = session('mallory', 1003, { virtualAddress: null });
    const r = diffSnapshots(baselineOf([]), good([ghost]), opts);
    expect(r.events).toEqual([]);
    expect(r.baseline.sessions).toEqual({});
  });

  it('UNDEF clients with a username are known by it', () => {
    const r = diffSnapshots(baselineOf([session('UNDEF', 1001, { username: 'carol' })]), good([session('UNDEF', 1009, { username: 'carol' })]), opts);
    expect(r.events.map((e) => e.type)).toEqual(['reconnected']);
  });

  it('a failed read never disconnects anyone; the third in a row is server-down, once', () => {
    let b = baselineOf([session('alice', 1001)]);
    const types: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const r = diffSnapshots(b, failed(), opts);
      types.push(r.events.map((e) => e.type));
      expect(r.rejected).toEqual({ reason: 'error', message: 'connect ECONNREFUSED' });
      b = r.baseline;
    }
    expect(types).toEqual([[], [], ['server-down'], [], []]);
    expect(Object.keys(b.sessions!)).toHaveLength(1);
  });

  it('an incomplete read (no END) is rejected and changes nothing', () => {
    const r = diffSnapshots(baselineOf([session('alice', 1001)]), good([], T0, T0, false), opts);
    expect(r.rejected?.reason).toBe('incomplete');
    expect(r.events).toEqual([]);
    expect(Object.keys(r.baseline.sessions!)).toEqual([sessionKey(session('alice', 1001))]);
  });

  it('a stale read (TIME older than the bound) is rejected and changes nothing', () => {
    // refresh 10 s, poll 30 s: the bound is 2 × 10 + 30 + 10 s of slack = 60 s
    const r = diffSnapshots(baselineOf([session('alice', 1001)]), good([], T0, '2026-11-28T09:58:59.000Z'), opts);
    expect(r.rejected?.reason).toBe('stale');
    expect(r.rejected?.message).toMatch(/^status file is stale: written 2026-11-28T09:58:59.000Z, 61 s before it was read \(limit 60 s\)/);
    expect(diffSnapshots(baselineOf([]), good([], T0, '2026-11-28T09:59:01.000Z'), opts).rejected).toBeNull();
  });

  it('recovery after server-down is server-up, then the changes', () => {
    const down: ServerBaseline = { ...baselineOf([session('alice', 1001)]), consecutiveFailures: 4, down: true };
    const r = diffSnapshots(down, good([session('alice', 1001), session('bob', 1002)]), opts);
    expect(r.events.map((e) => e.type)).toEqual(['server-up', 'connected']);
    expect([r.baseline.down, r.baseline.consecutiveFailures]).toEqual([false, 0]);
  });

  it('a status text older than the one the baseline came from is superseded and changes nothing', () => {
    // The management stream applied a `status 3` of 10:00:05; the file poll then reads a file written at 10:00:00.
    const prev = { ...baselineOf([session('alice', 1001)]), statusUpdatedAt: '2026-11-28T10:00:05.000Z' };
    const r = diffSnapshots(prev, good([session('alice', 1001), session('bob', 1002)], '2026-11-28T10:00:06.000Z', '2026-11-28T10:00:00.000Z'), opts);
    expect(r.rejected).toEqual({ reason: 'superseded', message: 'status written 2026-11-28T10:00:00.000Z is older than the 2026-11-28T10:00:05.000Z already applied' });
    expect([r.events, r.baseline]).toEqual([[], prev]);
    // The same second is not older: it is applied.
    expect(diffSnapshots(prev, good([session('alice', 1001)], '2026-11-28T10:00:06.000Z', '2026-11-28T10:00:05.000Z'), opts).rejected).toBeNull();
  });

  it('UNDEF clients without a username are never paired: each is its own disconnect and connect', () => {
    const r = diffSnapshots(baselineOf([session('UNDEF', 1001)]), good([session('UNDEF', 1009)]), opts);
    expect(r.events.map((e) => [e.type, e.session?.realPort])).toEqual([['disconnected', 1001], ['connected', 1009]]);
  });

  it('the first read since a start, against a baseline under an hour old: every change, marked with the gap it happened in', () => {
    const prev = { ...baselineOf([session('alice', 1001)]), lastGoodAt: '2026-11-28T09:10:00.000Z' };
    const first = diffSnapshots(prev, good([session('bob', 1002)]), { ...opts, firstSinceStart: true });
    expect(first.events.map((e) => [e.type, e.session?.commonName, e.gap])).toEqual([
      ['disconnected', 'alice', { from: '2026-11-28T09:10:00.000Z', to: T0 }],
      ['connected', 'bob', { from: '2026-11-28T09:10:00.000Z', to: T0 }],
    ]);
    expect(first.silent.size).toBe(0);
    // Not the first read since a start: no gap.
    expect(diffSnapshots(prev, good([session('bob', 1002)]), opts).events.map((e) => e.gap)).toEqual([undefined, undefined]);
  });

  it('the first read since a start, against an older baseline: the changes are stored silently, one summary is announced', () => {
    const prev = { ...baselineOf([session('alice', 1001), session('bob', 1002), session('carol', 1003)]), lastGoodAt: '2026-11-28T07:00:00.000Z' };
    const first = diffSnapshots(prev, good([session('carol', 1009), session('dave', 1004), session('erin', 1005)]), { ...opts, firstSinceStart: true });
    const summary = first.events.at(-1)!;
    expect(summary).toEqual({ type: 'summary', server: 'fra-1', at: T0, since: '2026-11-28T07:00:00.000Z', counts: { connected: 2, disconnected: 2, reconnected: 1 } });
    expect(first.events.filter((e) => !first.silent.has(e))).toEqual([summary]);
    expect(first.silent.size).toBe(5);
    // Nothing changed: no summary either; a failure after a start is announced as always.
    expect(diffSnapshots(prev, good([session('alice', 1001), session('bob', 1002), session('carol', 1003)]), { ...opts, firstSinceStart: true }).events).toEqual([]);
    const down = diffSnapshots({ ...prev, consecutiveFailures: 2 }, failed(), { ...opts, firstSinceStart: true });
    expect([down.events.map((e) => e.type), down.silent.size]).toEqual([['server-down'], 0]);
  });

  it('a session marked leaving is not online though still listed; a later instance at its address is', () => {
    const alice = session('alice', 1001, { clientId: 7 });
    const leaving = new Map([[sessionKey(alice), { clientId: 7 }]]);
    const r = diffSnapshots(baselineOf([alice]), good([alice]), { ...opts, leaving });
    expect(r.events.map((e) => [e.type, e.session?.commonName])).toEqual([['disconnected', 'alice']]);
    expect(r.baseline.sessions).toEqual({});
    // The client came back at the same address and port with a new Client ID: that instance is online.
    const again = diffSnapshots(r.baseline, good([{ ...alice, clientId: 8 }]), { ...opts, leaving });
    expect(again.events.map((e) => [e.type, e.session?.clientId])).toEqual([['connected', 8]]);
  });

  it('a session ended by a kick ends as kicked; one ended by a new instance as replaced', () => {
    const alice = session('alice', 1001, { clientId: 4 });
    const kicked = diffSnapshots(baselineOf([alice, session('bob', 1002)]), good([]), { ...opts, kicked: new Set([sessionKey(alice)]) });
    expect(kicked.events.map((e) => [e.type, e.session?.commonName, e.endedBy])).toEqual([['disconnected', 'alice', 'kicked'], ['disconnected', 'bob', 'disconnected']]);
    expect([...kicked.endedBy]).toEqual([[sessionKey(alice), 'kicked']]);
    const replaced = diffSnapshots(baselineOf([alice]), good([{ ...alice, clientId: 9 }]), opts);
    expect([...replaced.endedBy]).toEqual([[sessionKey(alice), 'replaced']]);
    expect(replaced.events.map((e) => [e.type, e.previous?.clientId, e.session?.clientId])).toEqual([['reconnected', 4, 9]]);
  });

  it('a status time more than a minute ahead of the read is a failed read that says what to check', () => {
    const ahead = diffSnapshots(baselineOf([session('alice', 1001)]), good([], T0, '2026-11-28T12:00:00.000Z'), opts);
    expect(ahead.rejected?.reason).toBe('future');
    expect(ahead.rejected?.message).toBe("status file time is 2h ahead of vpnwatch's clock (written 2026-11-28T12:00:00.000Z, read 2026-11-28T10:00:00.000Z): is `timezone` right for this server, and is its clock right?");
    expect(ahead.events).toEqual([]);
    expect(Object.keys(ahead.baseline.sessions!)).toHaveLength(1);
    // Within the allowance (clocks a little apart) the read is used.
    expect(diffSnapshots(baselineOf([]), good([], T0, '2026-11-28T10:01:00.000Z'), opts).rejected).toBeNull();
    expect(diffSnapshots(baselineOf([]), good([], T0, '2026-11-28T10:01:01.000Z'), opts).rejected?.reason).toBe('future');
  });

  it('a future time no longer blocks newer reads: after the fix, the next good read applies', () => {
    const ahead = diffSnapshots(baselineOf([session('alice', 1001)]), good([session('alice', 1001)], T0, '2026-11-28T12:00:00.000Z'), opts);
    const next = diffSnapshots(ahead.baseline, good([session('bob', 1002)], '2026-11-28T10:00:30.000Z'), opts);
    expect(next.rejected).toBeNull();
    expect(next.events.map((e) => e.type)).toEqual(['disconnected', 'connected']);
  });

  it('a failed file read while the management stream keeps the server current is covered: recorded for its source only', () => {
    const streamed: ServerBaseline = { ...baselineOf([session('alice', 1001)]), source: 'management', lastGoodAt: '2026-11-28T09:59:58.000Z' };
    const r = diffSnapshots(streamed, failed('Permission denied'), opts);
    expect([r.affectsServer, r.rejected?.reason, r.events]).toEqual([false, 'covered', []]);
    expect(r.baseline).toBe(streamed);
    expect(r.verdict).toEqual({ source: 'status-file', result: 'error', message: 'Permission denied' });
    // The stream itself silent for longer than the staleness bound: the failure counts again.
    const quiet = diffSnapshots({ ...streamed, lastGoodAt: '2026-11-28T09:58:00.000Z' }, failed('Permission denied'), opts);
    expect([quiet.affectsServer, quiet.rejected?.reason, quiet.baseline.consecutiveFailures]).toEqual([true, 'error', 1]);
  });

  it('a superseded file read still gets its own verdict: a stale file shows while the stream serves', () => {
    const streamed: ServerBaseline = { ...baselineOf([session('alice', 1001)]), source: 'management', lastGoodAt: T0, statusUpdatedAt: T0 };
    const fine = diffSnapshots(streamed, good([session('alice', 1001)], T0, '2026-11-28T09:59:50.000Z'), opts);
    expect([fine.affectsServer, fine.rejected?.reason, fine.verdict.result]).toEqual([false, 'superseded', 'ok']);
    const stale = diffSnapshots(streamed, good([session('alice', 1001)], T0, '2026-11-28T09:00:00.000Z'), opts);
    expect([stale.affectsServer, stale.verdict.result]).toEqual([false, 'stale']);
  });

  it('traffic since the last good read: counters that grew, new instances from zero, never negative', () => {
    const alice = session('alice', 1001, { bytesReceived: 1_000, bytesSent: 2_000, clientId: 1 });
    const bob = session('bob', 1002, { bytesReceived: 5_000, bytesSent: 5_000, clientId: 2 });
    const prev = { ...baselineOf([alice, bob]), lastGoodAt: '2026-11-28T09:59:30.000Z' };
    const r = diffSnapshots(prev, good([
      { ...alice, bytesReceived: 1_500, bytesSent: 2_100 }, // grew by 500 / 100
      { ...bob, clientId: 9, bytesReceived: 300, bytesSent: 400 }, // a new instance at bob's address: counts from zero
      session('carol', 1003, { bytesReceived: 70, bytesSent: 80 }), // new
    ]), opts);
    expect(r.traffic).toEqual({ received: 500 + 300 + 70, sent: 100 + 400 + 80, since: '2026-11-28T09:59:30.000Z' });
    expect(diffSnapshots(emptyBaseline(), good([alice]), opts).traffic).toEqual({ received: 0, sent: 0, since: null });
    expect(diffSnapshots(prev, failed(), opts).traffic.received).toBe(0);
  });

  it("the file's modification time says when a far-off TIME is a wrong timezone rather than a stopped OpenVPN", () => {
    const withMtime = (updatedAt: string, mtime: string): ServerRead => ({ ...good([], T0, updatedAt), fileModifiedAt: mtime });
    // Three hours behind, yet the file was rewritten 4 s ago: the zone is wrong (a server west of what `timezone` says).
    const behind = diffSnapshots(baselineOf([]), withMtime('2026-11-28T07:00:00.000Z', '2026-11-28T09:59:56.000Z'), opts);
    expect(behind.rejected?.message).toBe("status file is stale: written 2026-11-28T07:00:00.000Z, 10800 s before it was read (limit 60 s); the file itself was modified 4s before the read, so OpenVPN is writing it: its times are read in the wrong zone; set `timezone` to the server's zone");
    const ahead = diffSnapshots(baselineOf([]), withMtime('2026-11-28T12:00:00.000Z', '2026-11-28T09:59:56.000Z'), opts);
    expect(ahead.rejected?.message).toMatch(/^status file time is 2h ahead of vpnwatch's clock \(written .*\); the file itself was modified 4s before the read, so OpenVPN is writing it/);
    // Both old: OpenVPN stopped writing it.
    const stopped = diffSnapshots(baselineOf([]), withMtime('2026-11-28T07:00:00.000Z', '2026-11-28T07:00:00.000Z'), opts);
    expect(stopped.rejected?.message).toBe("status file is stale: written 2026-11-28T07:00:00.000Z, 10800 s before it was read (limit 60 s); the file was last modified 2026-11-28T07:00:00.000Z; is OpenVPN running, and are the server's clock and timezone right?");
  });
});
