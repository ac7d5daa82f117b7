// What the notice tests share: sessions and server configs, and reads stored the way the poller
// stores them (diff against the stored baseline, then applyCycle), so the outbox holds exactly
// what polling puts there.
import type { Config } from '../../src/config.ts';
import { diffSnapshots, emptyBaseline } from '../../src/poll/diff.ts';
import { sessionKey, userName, type ServerConfig, type ServerRead, type VpnSession } from '../../src/domain.ts';
import { noticeTargets } from '../../src/notify/targets.ts';
import type { ServerCycle } from '../../src/store/cycle-writes.ts';
import type { Store } from '../../src/store/store.ts';

export const T = (hhmmss: string) => new Date(`2026-11-28T${hhmmss}.000Z`);

export const noticeSession = (commonName: string, port: number, connectedAt = '2026-11-28T08:00:00.000Z', realAddress = `203.0.113.${port % 250}`): VpnSession => ({
  commonName, username: null, realAddress, realPort: port, protocol: null, virtualAddress: `198.18.0.${port % 250}`,
  virtualIpv6: null, bytesReceived: 1_000, bytesSent: 2_000, connectedAt, clientId: port, peerId: 0, cipher: null,
});

export const noticeServer = (name: string, notify?: ServerConfig['notify']): ServerConfig => ({
  name, host: `${name}.example.net`, port: 22, username: 'vpnwatch', insecureSkipHostKeyCheck: true, statusPath: '/run/openvpn/status.log',
  statusRefreshSeconds: 10, timezone: 'UTC', ...(notify ? { notify } : {}),
});

type TargetConfig = Pick<Config, 'servers' | 'slack' | 'discord'>;

/**
 * Stores one read of each server in `reads` (server → sessions) as one poll cycle, the way the
 * poller does. `kicked` names users whose sessions ending in this read were kicked; `targets`
 * replaces where the events go (default: where the config sends them).
 */
export async function storeReads(store: Store, at: string, reads: Record<string, VpnSession[]>, cfg: TargetConfig, { announce = true, kicked = [] as string[], targets }: { announce?: boolean; kicked?: string[]; targets?: string[] } = {}): Promise<void> {
  const readAt = at.includes('T') ? at : `2026-11-28T${at}.000Z`;
  const baselines = await store.cycles.loadBaselines();
  const cycles: ServerCycle[] = [];
  const usersOnline = new Map<string, boolean>();
  for (const [server, sessions] of Object.entries(reads)) {
    const read: ServerRead = { server, ok: true, readAt, durationMs: 5, source: 'status-file', snapshot: { format: 'openvpn-status-v2', updatedAt: readAt, complete: true, sessions, warnings: [] } };
    const baseline = baselines.get(server) ?? emptyBaseline();
    const kickedKeys = new Set(Object.values(baseline.sessions ?? {}).filter((s) => kicked.includes(userName(s))).map(sessionKey));
    const diff = diffSnapshots(baseline, read, { downAfter: 2, staleAfterMs: 3_600_000, firstSinceStart: !announce, kicked: kickedKeys });
    const listed = new Set(sessions.map(userName));
    for (const s of [...diff.started, ...diff.ended]) usersOnline.set(userName(s), listed.has(userName(s)));
    cycles.push({ server, read, diff, cycle: `${server}@${readAt}`, targets: targets ?? noticeTargets(cfg, server), sessionIds: { ended: new Map(), current: new Map() } });
  }
  await store.cycles.applyCycle(cycles, usersOnline);
}

/** One server's read, stored as a cycle of its own. */
export function storeRead(store: Store, server: string, at: string, sessions: VpnSession[], cfg: TargetConfig, opts: { announce?: boolean; kicked?: string[]; targets?: string[] } = {}): Promise<void> {
  return storeReads(store, at, { [server]: sessions }, cfg, opts);
}
