// /vpn stats: totals across the fleet.
import { formatDuration } from '../src/format.ts';
import type { Command } from '../src/command.ts';

export const stats: Command = {
  name: 'stats',
  description: 'Totals: users online, connections, active servers, average connection time',
  options: [],
  adminOnly: false,
  private: false,
  async run(_input, ctx) {
    const s = await ctx.store.queries.stats(ctx.now());
    return {
      title: 'VPN totals',
      fields: [
        { name: 'Users online', value: String(s.usersOnline) },
        { name: 'Active connections', value: String(s.activeConnections) },
        { name: 'Active servers', value: `${s.activeServers} of ${s.totalServers}` },
        { name: 'Unhealthy servers', value: String(s.unhealthyServers) },
        { name: 'Average connection time', value: s.averageConnectionSeconds === null ? '—' : formatDuration(s.averageConnectionSeconds) },
      ],
      tone: s.unhealthyServers > 0 ? 'warn' : 'info',
      private: false,
      data: s,
    };
  },
};
