// Traffic as counters that only go up (vpnwatch_traffic_*_bytes_total): what the clients of a server
// sent and received between two stored reads, from OpenVPN's per-session byte counters. The sum of
// the online sessions' counters is no counter (it drops when a client leaves); the sum of their
// increases is. Pure: the poller feeds it each read with the baseline before it.
//
// | session in this read                                  | counted                                   |
// |-------------------------------------------------------|-------------------------------------------|
// | the same instance as before (diff.ts sameInstance)    | its increase since the last read          |
// | ... even when leaving or kicked (no longer online)    | its increase: the last delta of its life  |
// | a new instance, online now (new key, new Client ID,   | its whole counters: it started from 0     |
// |   or counters that went back)                         |                                           |
// | listed but not online (authenticating), not before    | nothing yet: counted whole once online    |
// | gone from the list                                    | nothing more: counted up to its last read |
// | any session of a rejected read, or of the first read  | nothing: the first read's counters hold   |
// |   ever (no baseline)                                  | traffic from before vpnwatch watched      |
import { sessionKey, type ServerRead } from '../domain.ts';
import { sameInstance, type DiffResult, type ServerBaseline } from './diff.ts';

export interface TrafficDelta {
  /** Bytes received from the clients (OpenVPN's "Bytes Received"). */
  received: number;
  sent: number;
}

export function trafficDelta(before: ServerBaseline, read: ServerRead, diff: DiffResult): TrafficDelta {
  const delta: TrafficDelta = { received: 0, sent: 0 };
  if (!read.ok || diff.rejected || before.sessions === null) return delta;
  const online = diff.baseline.sessions ?? {};
  for (const s of read.snapshot.sessions) {
    const key = sessionKey(s);
    const prev = before.sessions[key];
    if (prev && sameInstance(prev, s)) {
      delta.received += Math.max(0, s.bytesReceived - prev.bytesReceived);
      delta.sent += Math.max(0, s.bytesSent - prev.bytesSent);
    } else if (online[key] === s) {
      delta.received += s.bytesReceived;
      delta.sent += s.bytesSent;
    }
  }
  return delta;
}
