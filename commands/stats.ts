// /vpn stats [24h|7d]: totals across the fleet now, and with a period, how it went: the peak
// online and when, the average online, and the traffic (from history).
import { formatBytes, formatDuration, formatTime, formatTraffic } from '../src/format.ts';
import { UserError, type Command } from '../src/command.ts';
import { DAY_MS } from '../src/store/history.ts';

const PERIODS: Record<string, number> = { '24h': DAY_MS, '7d': 7 * DAY_MS };

export const stats: Command = {
  name: 'stats',
  description: 'Totals: users online, connections, servers; with 24h or 7d: peak, average online, traffic',
  options: [{ name: 'period', description: '24h or 7d: add the peak, average online and traffic of the period', type: 'string' }],
  adminOnly: false,
  private: false,
  async run(input, ctx) {
    const periodText = input.period === undefined ? undefined : String(input.period).toLowerCase();
    const periodMs = periodText === undefined ? undefined : PERIODS[periodText];
    if (periodText !== undefined && periodMs === undefined) throw new UserError(`Unknown period '${input.period}'. Use 24h or 7d`);
    const now = ctx.now();
    const s = await ctx.store.queries.stats(now);
    const period = periodMs === undefined ? null : await ctx.store.history.summary(new Date(now.getTime() - periodMs), now);
    return {
      title: period ? `VPN totals, and the last ${periodText}` : 'VPN totals',
      fields: [
        { name: 'Users online', value: String(s.usersOnline) },
        { name: 'Active connections', value: String(s.activeConnections) },
        { name: 'Active servers', value: `${s.activeServers} of ${s.totalServers}` },
        { name: 'Unhealthy servers', value: String(s.unhealthyServers) },
        { name: 'Average connection time', value: s.averageConnectionSeconds === null ? '—' : formatDuration(s.averageConnectionSeconds) },
        ...(period ? [
          { name: `Peak online (${periodText})`, value: period.peak ? `${period.peak.online} at ${formatTime(period.peak.at)}` : '— (no samples)' },
          { name: `Average online (${periodText})`, value: period.avgOnline === null ? '—' : String(period.avgOnline) },
          { name: `Traffic received / sent (${periodText})`, value: formatTraffic(period.bytesReceived, period.bytesSent) },
          { name: `Total traffic (${periodText})`, value: formatBytes(period.bytesReceived + period.bytesSent) },
        ] : []),
      ],
      tone: s.unhealthyServers > 0 ? 'warn' : 'info',
      private: false,
      data: period ? { ...s, period } : s,
    };
  },
};
