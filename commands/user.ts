// /vpn user <name>: one user's state: online or not, current sessions, last seen, recent sessions, traffic.
import { formatAgo, formatDuration, formatTime, formatTraffic, secondsBetween } from '../src/format.ts';
import { fullAnswerAt, UserError, type Command, type CommandContext } from '../src/command.ts';
import { shownIp } from '../src/domain.ts';
import type { UserReport } from '../src/store/records.ts';

const RECENT_SESSIONS = 10;
/** Servers named in the title; more are counted (a user with sessions everywhere). */
const TITLE_SERVERS = 3;

/** The report for `name`, forgiving letter case; a UserError with suggestions when nobody by that name was seen. */
async function findUser(name: string, ctx: CommandContext): Promise<UserReport> {
  const exact = await ctx.store.queries.userReport(name, RECENT_SESSIONS);
  if (exact) return exact;
  const similar = await ctx.store.queries.userNames(name, 5);
  const sameLetters = similar.find((n) => n.toLowerCase() === name.toLowerCase());
  if (sameLetters) {
    const report = await ctx.store.queries.userReport(sameLetters, RECENT_SESSIONS);
    if (report) return report;
  }
  const suggestions = similar.length || name.length <= 2 ? similar : await ctx.store.queries.userNames(name.slice(0, 2), 5);
  throw new UserError(`No VPN user '${name}' has been seen.${suggestions.length ? ` Did you mean: ${suggestions.join(', ')}?` : ''}`);
}

export const user: Command = {
  name: 'user',
  description: 'One user: online now, last seen, recent sessions, traffic',
  options: [{ name: 'name', description: 'Common name (or username)', type: 'string', required: true, rest: true }],
  adminOnly: false,
  private: true,
  async run(input, ctx) {
    const report = await findUser(String(input.name), ctx);
    const [lastKick] = await ctx.store.audit.kicks(report.user.name, 1);
    const now = ctx.now();
    const week = await ctx.store.history.userDays(report.user.name, 7, now);
    const weekReceived = week.reduce((n, d) => n + d.bytesReceived, 0);
    const weekSent = week.reduce((n, d) => n + d.bytesSent, 0);
    const { user: u, online } = report;
    const servers = [...new Set(online.map((s) => s.server))];
    const where = servers.length <= TITLE_SERVERS ? servers.join(', ') : `${servers.length} servers`;
    const title = online.length === 0 ? `${u.name}: offline`
      : `${u.name}: online on ${where}${online.length > 1 ? ` (${online.length} sessions)` : ''}`;

    // Every session is listed (duplicate-cn may give one user thousands); chat renderers cut the
    // table to fit and point to the whole report.
    const currentRows = online.map((s) => [
      s.server, shownIp(s.realAddress, ctx.viewer), s.virtualAddress ?? s.virtualIpv6 ?? '—', formatTime(s.connectedAt),
      formatDuration(secondsBetween(s.connectedAt, now)), formatTraffic(s.bytesReceived, s.bytesSent), 'online',
    ]);
    const endedRows = report.recent.filter((r) => r.disconnectedAt !== null).map((r) => [
      r.server, shownIp(r.realAddress, ctx.viewer), r.virtualAddress ?? r.virtualIpv6 ?? '—', formatTime(r.connectedAt),
      formatDuration(secondsBetween(r.connectedAt, r.disconnectedAt!)), formatTraffic(r.bytesReceived, r.bytesSent),
      `${r.endedBy ?? 'disconnected'} ${formatAgo(r.disconnectedAt!, now)}`,
    ]);
    const rows = [...currentRows, ...endedRows];
    return {
      title,
      fields: [
        { name: 'Last seen', value: online.length ? 'now' : `${formatTime(u.lastSeen)} (${formatAgo(u.lastSeen, now)})` },
        { name: 'Last IP', value: u.lastIp ? `${shownIp(u.lastIp, ctx.viewer)}${u.lastServer ? ` on ${u.lastServer}` : ''}` : '—' },
        { name: 'Sessions', value: `${u.sessionCount} since ${formatTime(u.firstSeen)}` },
        { name: 'Total received / sent', value: formatTraffic(report.totalBytesReceived, report.totalBytesSent) },
        { name: 'Last 7 days', value: week.length ? `online on ${week.length} day${week.length === 1 ? '' : 's'}, ${formatDuration(week.reduce((n, d) => n + d.onlineSeconds, 0))}, ${formatTraffic(weekReceived, weekSent)}` : '—' },
        ...(lastKick ? [{ name: 'Last kick', value: `${formatTime(lastKick.at)} by ${lastKick.by.userName} (${lastKick.by.platform}): ${lastKick.result}${lastKick.verified ? ', verified gone' : ''}` }] : []),
      ],
      ...(rows.length ? { table: { columns: ['Server', 'Real IP', 'Virtual IP', 'Connected', 'Duration', 'Received / Sent', 'Status'], rows } } : {}),
      fullAnswer: fullAnswerAt(ctx, `/api/users/${encodeURIComponent(u.name)}`, ['user', u.name]),
      tone: online.length ? 'ok' : 'info',
      private: true,
      data: { ...report, lastKick: lastKick ?? null, lastSevenDays: week },
    };
  },
};
