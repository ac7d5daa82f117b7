// /vpn top [24h|7d|30d]: the users who moved the most traffic in the period (private: per-user
// figures are shown only to whoever asked, as on the page, where they are the admin's).
import { formatDuration, formatTime, formatTraffic } from '../src/format.ts';
import { UserError, type Command, type Reply } from '../src/command.ts';
import { TOP_RANGES, type TopList, type TopRange } from '../src/store/history.ts';

/** Users shown in chat and the terminal (the API gives the whole list the job keeps). */
export const TOP_SHOWN = 10;

export function parseRange(text: string | undefined): TopRange {
  const range = (text ?? '24h').toLowerCase();
  if ((TOP_RANGES as readonly string[]).includes(range)) return range as TopRange;
  throw new UserError(`Unknown period '${text}'. Use ${TOP_RANGES.join(', ')}`);
}

/** A top list as a Reply: chat's /vpn top and `vpnwatch top`. */
export function topReply(list: TopList, shown = TOP_SHOWN): Reply {
  const what = list.by === 'bytes' ? 'traffic' : 'time online';
  const users = list.users.slice(0, shown);
  return {
    title: users.length ? `Top ${users.length} users by ${what}, last ${list.range}` : `No user traffic recorded in the last ${list.range} yet`,
    ...(users.length ? {
      table: {
        columns: ['#', 'User', 'Received / Sent', 'Time online', 'Sessions'],
        rows: users.map((u, i) => [String(i + 1), u.user, formatTraffic(u.bytesReceived, u.bytesSent), formatDuration(u.onlineSeconds), String(u.sessions)]),
      },
    } : {}),
    ...(list.computedAt ? { footer: `As of ${formatTime(list.computedAt)} (recomputed every 5 minutes)` } : {}),
    tone: 'info',
    private: true,
    data: list.users,
  };
}

export const top: Command = {
  name: 'top',
  description: 'Top users by traffic: 24h, 7d or 30d',
  options: [{ name: 'period', description: '24h, 7d or 30d (default 24h)', type: 'string' }],
  adminOnly: false,
  private: true,
  async run(input, ctx) {
    const range = parseRange(input.period === undefined ? undefined : String(input.period));
    return topReply(await ctx.store.history.top(range, 'bytes'));
  },
};
