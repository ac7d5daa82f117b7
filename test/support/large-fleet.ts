// A fleet at the sizes chat answers must survive: 600 servers, 5,000 sessions with IPv6 real
// addresses and long hostile common names (every character that Slack or Discord escapes, so each
// grows most when escaped), one user with 1,000 sessions (duplicate-cn), read failures whose
// errors name hosts, and one server with 100 changes in one cycle. Stored through the real Poller,
// as `vpnwatch start` stores it.
import { pino } from 'pino';
import type { ServerConfig, ServerRead, VpnSession } from '../../src/domain.ts';
import { Poller } from '../../src/poll/poller.ts';
import type { Store } from '../../src/store/store.ts';
import { chatServer } from './chat.ts';
import { IDS } from '../fakes/fake-discord.ts';

export const SERVER_COUNT = 600;
export const SESSION_COUNT = 5000;
/** duplicate-cn: one certificate used by many clients. */
export const DUP = 'shared-cert';
export const DUP_SESSIONS = 1000;
/** Servers whose reads fail in the second cycle, and the server with 100 changes. */
export const FAILING = 100;
export const BUSY = 'srv-001';
/** Servers whose every session ends in the second cycle (for /vpn recent). */
export const EMPTIED = ['srv-010', 'srv-011', 'srv-012', 'srv-013', 'srv-014', 'srv-015', 'srv-016', 'srv-017', 'srv-018', 'srv-019'];

export const serverName = (i: number) => `srv-${String(i).padStart(3, '0')}`;

/** 64 characters (a certificate's longest common name), nearly all of them escaped by Slack or Discord. */
export function hostileName(i: number): string {
  const tail = '&<>*_~`|@&<>[]()\\#-'.repeat(4);
  return `${i}${tail}`.slice(0, 64);
}

/** A username (the user of an UNDEF client) longer than any common name: 200 characters. */
export const LONG_USERNAME = `${'<!channel>&**bold**@everyone'.repeat(8)}`.slice(0, 200);

function session(i: number, startedAt: string): VpnSession {
  const hex = (n: number) => n.toString(16);
  const undef = i % 500 === 499;
  return {
    commonName: i < DUP_SESSIONS ? DUP : undef ? 'UNDEF' : hostileName(i),
    username: undef ? LONG_USERNAME : null,
    realAddress: `2001:db8:${hex(1000 + (i % 4000))}:${hex(i)}:1234:5678:9abc:${hex(40000 + i)}`,
    realPort: 1024 + (i % 60000),
    protocol: 'udp6',
    virtualAddress: null,
    virtualIpv6: `fd00:4000:${hex(i >> 8)}::${hex(i & 0xff)}`,
    bytesReceived: 1_000_000 * (i % 977),
    bytesSent: 3_000_000 * (i % 971),
    connectedAt: startedAt,
    clientId: i,
    peerId: i,
    cipher: 'AES-256-GCM',
  };
}

const good = (server: string, sessions: VpnSession[], readAt: string): ServerRead => ({
  server, ok: true, readAt, durationMs: 5, source: 'status-file',
  snapshot: { format: 'openvpn-status-v3', updatedAt: readAt, complete: true, sessions, warnings: [] },
});

export interface LargeFleet {
  servers: ServerConfig[];
  /** Sessions online after both cycles, by server. */
  online: Map<string, VpnSession[]>;
}

/**
 * Two cycles through the real Poller: the first read of every server (stored, not announced),
 * then one where BUSY has 100 changes, EMPTIED servers lose everyone, and FAILING servers fail.
 */
export async function seedLargeFleet(store: Store): Promise<LargeFleet> {
  const servers = Array.from({ length: SERVER_COUNT }, (_, i) => chatServer(serverName(i)));
  // The notice targets (platform and channel) chat-limits.test.ts configures.
  const poller = new Poller({ store, servers, pollIntervalSeconds: 30, downAfter: 3, targets: () => ['slack:C0NOTICE', `discord:${IDS.channel}`], log: pino({ level: 'silent' }) });
  await poller.start();
  const started = new Date(Date.now() - 3 * 3600_000).toISOString();
  const online = new Map<string, VpnSession[]>(servers.map((s) => [s.name, []]));
  for (let i = 0; i < SESSION_COUNT; i++) online.get(serverName(i % SERVER_COUNT))!.push(session(i, started));

  const first = new Date(Date.now() - 60_000).toISOString();
  await poller.apply(servers.map((s) => good(s.name, online.get(s.name)!, first)));

  const second = new Date().toISOString();
  // BUSY: everyone leaves, and new clients arrive, 100 changes in all.
  const leaving = online.get(BUSY)!.length;
  online.set(BUSY, Array.from({ length: 100 - leaving }, (_, n) => session(SESSION_COUNT + n, second)));
  for (const name of EMPTIED) online.set(name, []);
  const reads: ServerRead[] = servers.map((s, i) => (i >= SERVER_COUNT - FAILING
    ? { server: s.name, ok: false, readAt: second, durationMs: 15_000, source: 'status-file', error: `connect ETIMEDOUT [2001:db8:ffff::${i.toString(16)}]:22 (vpnwatch@${s.name}.internal.example.net)` }
    : good(s.name, online.get(s.name)!, second)));
  await poller.apply(reads);
  return { servers, online };
}
