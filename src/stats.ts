// The totals the page's cards, /vpn stats and /api/status show, from the servers and the online
// sessions. Pure, so the page (which already holds both lists) and the store compute them alike.
import { userName } from './diff.ts';
import type { OnlineSession, ServerState, Stats } from './store/store.ts';

/** A server is healthy when its last read was good and it is not marked down. */
export function isHealthy(s: Pick<ServerState, 'lastResult' | 'down'>): boolean {
  return s.lastResult === 'ok' && !s.down;
}

export function summarize(servers: ServerState[], online: OnlineSession[], now: Date): Stats {
  const healthy = servers.filter(isHealthy).length;
  const ages = online.map((s) => (now.getTime() - Date.parse(s.connectedAt)) / 1000);
  return {
    usersOnline: new Set(online.map(userName)).size,
    activeConnections: online.length,
    activeServers: healthy,
    unhealthyServers: servers.length - healthy,
    totalServers: servers.length,
    averageConnectionSeconds: ages.length ? Math.round(ages.reduce((a, b) => a + b, 0) / ages.length) : null,
  };
}
