// /vpn online [server]: how many are connected per server, and who (the first 25, then a count).
import { formatDuration, formatTime, formatTraffic, secondsBetween } from '../src/format.ts';
import { checkServer, fullAnswerAt, type Command } from '../src/command.ts';
import type { ServerRecord } from '../src/store/records.ts';
import { serverHealth, shownIp, userName } from '../src/domain.ts';

/** Rows shown before "…and N more": a chat message stays readable and under platform limits. */
const ONLINE_ROWS = 25;
/** Up to this many servers get a count line each; a larger fleet gets one summary line instead. */
const SERVER_LINES = 10;
/** Servers named in the summary of a large fleet whose counts are not current. */
const STALE_NAMED = 5;

/** Why a server's count may not be current. */
function healthNote(state: ServerRecord | undefined): string {
  switch (serverHealth(state).state) {
    case 'never': return ' (not read yet)';
    case 'down': return ' (down: showing its last good read)';
    case 'failing': return ` (last read ${state!.lastResult}: showing its last good read)`;
    case 'ok': return '';
  }
}

/** A count line per server; for a large fleet, one line saying which counts are not current. */
function serverLines(names: string[], countOf: (name: string) => number, stateOf: (name: string) => ServerRecord | undefined): string[] {
  if (names.length <= SERVER_LINES) return names.map((name) => `${name}: ${countOf(name)}${healthNote(stateOf(name))}`);
  const stale = names.filter((name) => !serverHealth(stateOf(name)).healthy);
  if (stale.length === 0) return [`${names.length} servers, all current`];
  const named = stale.slice(0, STALE_NAMED).map((name) => `${name}${healthNote(stateOf(name))}`).join(', ');
  const more = stale.length > STALE_NAMED ? ` and ${stale.length - STALE_NAMED} more` : '';
  return [`${names.length} servers; ${stale.length} not current: ${named}${more}`];
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
    const counts = new Map<string, number>();
    for (const s of sessions) counts.set(s.server, (counts.get(s.server) ?? 0) + 1);
    const stateByName = new Map(states.map((s) => [s.name, s]));
    const lines = serverLines(names, (name) => counts.get(name) ?? 0, (name) => stateByName.get(name));

    const sorted = [...sessions].sort((a, b) => a.server.localeCompare(b.server) || userName(a).localeCompare(userName(b)) || a.connectedAt.localeCompare(b.connectedAt));
    const rows = sorted.slice(0, ONLINE_ROWS).map((s) => [
      userName(s),
      s.server,
      shownIp(s.realAddress, ctx.viewer),
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
      lines,
      ...(rows.length ? { table: { columns: ['User', 'Server', 'Real IP', 'Virtual IP', 'Connected since', 'Received / Sent'], rows } } : {}),
      ...(sessions.length > rows.length ? { truncated: { shown: rows.length, total: sessions.length } } : {}),
      fullAnswer: fullAnswerAt(ctx, server ? `/?server=${encodeURIComponent(server)}` : '/', ['online', ...(server ? [server] : [])]),
      tone: 'info',
      private: false,
      data: { sessions },
    };
  },
};
