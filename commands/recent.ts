// /vpn recent [n]: the last n sessions that ended (default 10, at most 50), newest first.
import { formatAgo, formatDuration, formatTime, formatTraffic, secondsBetween } from '../src/format.ts';
import { fullAnswerAt, type Command } from '../src/command.ts';
import { shownIp } from '../src/domain.ts';

export const recent: Command = {
  name: 'recent',
  description: 'Recently disconnected sessions (default 10, at most 50)',
  options: [{ name: 'n', description: 'How many (1-50)', type: 'integer', min: 1, max: 50 }],
  adminOnly: false,
  private: false,
  async run(input, ctx) {
    const limit = typeof input.n === 'number' ? input.n : 10;
    const sessions = await ctx.store.queries.recent(limit);
    const now = ctx.now();
    const rows = sessions.map((s) => [
      s.user, s.server, shownIp(s.realAddress, ctx.viewer), formatTime(s.connectedAt), formatAgo(s.disconnectedAt!, now),
      formatDuration(secondsBetween(s.connectedAt, s.disconnectedAt!)), formatTraffic(s.bytesReceived, s.bytesSent), s.endedBy ?? 'disconnected',
    ]);
    return {
      title: sessions.length === 0 ? 'No session has ended yet' : `Last ${sessions.length} disconnect${sessions.length === 1 ? '' : 's'}`,
      ...(rows.length ? { table: { columns: ['User', 'Server', 'Real IP', 'Connected', 'Ended', 'Duration', 'Received / Sent', 'How'], rows } } : {}),
      fullAnswer: fullAnswerAt(ctx, '/', ['recent', String(limit)]),
      tone: 'info',
      private: false,
      data: { sessions },
    };
  },
};
