// /vpn online [server]: how many are connected per server, and who (the first 25, then a count).
import { formatDuration, formatTime, formatTraffic, secondsBetween } from '../src/format.ts';
import { checkServer, type Command } from '../src/command.ts';
import { serverHealth, userName } from '../src/domain.ts';
import { type ServerRecord } from '../src/store/records.ts';

/** Rows shown before "…and N more": a chat message stays readable and under platform limits. */
const ONLINE_ROWS = 25;

/** Why a server's count may not be current. */
function healthNote(state: ServerRecord | undefined): string {
  switch (serverHealth(state).state) {
    case 'never': return ' (not read yet)';
    case 'down': return ' (down: showing its last good read)';
    case 'failing': return ` (last read ${state!.lastResult}: showing its last good read)`;
    case 'ok': return '';
  }
}

export const online: Command = {
  name: 'online',
  description: 'Who is connected now, per server',
  options: [{ name: 'server', description: 'Only this server', type: 'string' }],
  adminOnly: false,
  private: false,
  async run(input, ctx) {
    const server = input.server === undefined ? undefined : checkServer(String(input.server), ctx.servers);
    const [sessions, states] = await Promise.all([ctx.store.queries.online(server), ctx.store.queries.servers()]);
    const now = ctx.now();
    const names = server ? [server] : [...new Set([...ctx.servers.map((s) => s.name), ...states.map((s) => s.name)])].sort();
    const perServer = names.map((name) => `${name}: ${sessions.filter((s) => s.server === name).length}${healthNote(states.find((s) => s.name === name))}`);

    const sorted = [...sessions].sort((a, b) => a.server.localeCompare(b.server) || userName(a).localeCompare(userName(b)) || a.connectedAt.localeCompare(b.connectedAt));
    const rows = sorted.slice(0, ONLINE_ROWS).map((s) => [
      userName(s),
      s.server,
      s.realAddress,
      s.virtualAddress ?? s.virtualIpv6 ?? '—',
      `${formatTime(s.connectedAt)} (${formatDuration(secondsBetween(s.connectedAt, now))})`,
      formatTraffic(s.bytesReceived, s.bytesSent),
    ]);
    const users = new Set(sessions.map((s) => userName(s))).size;
    const scope = server ? `${server}: ` : '';
    const title = sessions.length === 0 ? `${scope}Nobody is online`
      : `${scope}${sessions.length} online${users !== sessions.length ? ` (${users} users)` : ''}`;
    return {
      title,
      lines: perServer,
      ...(rows.length ? { table: { columns: ['User', 'Server', 'Real IP', 'Virtual IP', 'Connected since', 'Received / Sent'], rows } } : {}),
      ...(sessions.length > rows.length ? { truncated: { shown: rows.length, total: sessions.length } } : {}),
      tone: 'info',
      private: false,
      data: { sessions },
    };
  },
};
