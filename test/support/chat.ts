// What the Slack and Discord adapter tests share: a store seeded with two online sessions (one
// with a hostile common name), a server config, and the one stand-in they use: a Kicker that
// records requests (the real one talks to OpenVPN's management interface, tested in the lab).
import type { Kicker, KickOutcome, KickRequest, ServerConfig, ServerRead, VpnSession } from '../../src/domain.ts';
import { diffSnapshots, emptyBaseline } from '../../src/poll/diff.ts';
import type { Store } from '../../src/store/store.ts';

export const chatSession = (commonName: string, port: number): VpnSession => ({
  commonName, username: null, realAddress: `203.0.113.${port % 250}`, realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 250}`,
  virtualIpv6: null, bytesReceived: 1_000, bytesSent: 2_000, connectedAt: '2026-11-28T09:00:00.000Z', clientId: port, peerId: 0, cipher: null,
});

export const chatServer = (name: string): ServerConfig => ({
  name, host: `${name}.example.net`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true, statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 10, timezone: 'UTC',
});

export function recordingKicker(): { kicker: Kicker; requests: KickRequest[] } {
  const requests: KickRequest[] = [];
  return {
    requests,
    kicker: {
      async kick(request: KickRequest): Promise<KickOutcome> {
        requests.push(request);
        return { result: 'kicked', verified: true, message: `${request.target} was disconnected`, sessions: [] };
      },
      async refuse() {},
    },
  };
}

/** Stores one good read of fra-1 listing `alice` and `evil` (its first read: nothing announced). */
export async function seedChatStore(store: Store, evil: string, target: string): Promise<void> {
  const readAt = '2026-11-28T10:00:00.000Z';
  const read: ServerRead = {
    server: 'fra-1', ok: true, readAt, durationMs: 5, source: 'status-file',
    snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions: [chatSession('alice', 101), chatSession(evil, 102)], warnings: [] },
  };
  const diff = diffSnapshots(emptyBaseline(), read, { downAfter: 2, staleAfterMs: 3_600_000, firstSinceStart: true });
  await store.cycles.applyCycle([{ server: 'fra-1', read, diff, cycle: 'c1', targets: [target], sessionIds: { ended: new Map(), current: new Map() } }],
    new Map([['alice', true], [evil, true]]));
}
