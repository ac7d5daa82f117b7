// Test data written the way production writes it: ServerReads applied by the real Poller, so a
// test sees exactly what polling stores (and the LiveFeed fires).
import type { ServerConfig, ServerRead, VpnSession } from '../../src/domain.ts';
import type { LiveFeed } from '../../src/poll/live-feed.ts';
import { logger } from '../../src/log.ts';
import { Poller } from '../../src/poll/poller.ts';
import type { Store } from '../../src/store/store.ts';

export function vpnSession(commonName: string, n: number, extra: Partial<VpnSession> = {}): VpnSession {
  return {
    commonName, username: null, realAddress: `203.0.113.${n % 250}`, realPort: 40000 + n, protocol: null,
    virtualAddress: `10.8.0.${n % 250}`, virtualIpv6: null, bytesReceived: 1000 * n, bytesSent: 2000 * n,
    connectedAt: '2026-11-28T09:00:00.000Z', clientId: n, peerId: n, cipher: 'AES-256-GCM', ...extra,
  };
}

export function goodRead(server: string, readAt: string, sessions: VpnSession[]): ServerRead {
  return { server, ok: true, readAt, durationMs: 12, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } };
}

export function failedRead(server: string, readAt: string, error: string): ServerRead {
  return { server, ok: false, error, readAt, durationMs: 15_000, source: 'status-file' };
}

export function testServer(name: string): ServerConfig {
  return {
    name, host: `${name}.vpn.example`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true,
    statusPath: '/run/openvpn/status.log', statusRefreshSeconds: 60, timezone: 'UTC',
  };
}

/** A Poller (the real one) for servers `names`, storing into `store` and publishing to `live`. */
export async function testPoller(store: Store, names: string[], live?: LiveFeed): Promise<Poller> {
  const servers: ServerConfig[] = names.map(testServer);
  const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 1, targets: () => ['log'], log: logger.child({ module: 'test-poller' }), ...(live ? { live } : {}) });
  await poller.start();
  return poller;
}
