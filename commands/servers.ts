// /vpn servers: each server's health, last good read, online count and mode (live stream or
// status file), plus what keeps vpnwatch from talking: notice deliveries that keep failing (a
// missing channel) and chat platforms that are not connected (a bad token, an outage), so each
// platform shows the other's trouble. Error texts may name hosts and addresses: they are shown
// only to a viewer who may see real IPs (src/domain.ts), others get the state and a pointer.
import { describeMode, formatAgo, formatTime } from '../src/format.ts';
import { fullAnswerAt, type Command } from '../src/command.ts';
import { serverHealth, SOURCE_NAMES, sourceProblems, type ChatStatus, type LiveModeInfo } from '../src/domain.ts';

const TARGET_NAMES: Record<string, string> = { slack: 'Slack', discord: 'Discord', log: 'the log' };
/** Read errors listed one per line; the rest are counted (a fleet-wide outage would fill the answer). */
const ERROR_LINES = 5;

const CHAT_STATE_TEXT: Record<Exclude<ChatStatus['state'], 'ok'>, string> = {
  connecting: 'is connecting',
  retrying: 'is unreachable, retrying',
  failing: 'is not connected and needs an admin',
};

export const servers: Command = {
  name: 'servers',
  description: 'Server health, last good read, online count; failing notice deliveries and chat connections',
  options: [],
  adminOnly: false,
  private: false,
  async run(_input, ctx) {
    const [states, problems] = await Promise.all([ctx.store.queries.servers(), ctx.store.outbox.deliveryProblems()]);
    const now = ctx.now();
    const names = [...new Set([...ctx.servers.map((s) => s.name), ...states.map((s) => s.name)])].sort();
    const byName = new Map(states.map((s) => [s.name, s]));
    const modes = ctx.modes?.() ?? {};
    const chat = (ctx.chat?.() ?? []).filter((c) => c.state !== 'ok');
    const details = ctx.viewer.realIps;
    // A management connection's error (a password, a host) is an error text like the others.
    const modeOf = (name: string): LiveModeInfo | undefined => {
      const mode = modes[name];
      if (!mode || details) return mode;
      const { lastError: _hidden, ...rest } = mode;
      return rest;
    };
    const rows = names.map((name) => {
      const s = byName.get(name);
      return [name, serverHealth(s).label, s?.lastGoodAt ? `${formatTime(s.lastGoodAt)} (${formatAgo(s.lastGoodAt, now)})` : 'never', String(s?.onlineCount ?? 0), describeMode(modeOf(name), s?.source ?? null, now)];
    });
    const healthy = names.filter((n) => serverHealth(byName.get(n)).healthy).length;
    const readErrors = names.flatMap((n) => {
      const s = byName.get(n);
      if (!s) return [];
      // The server's own failure, and each source that is not read (the status file may fail
      // while the management stream keeps the server current).
      const own = s.lastError && s.lastResult !== 'ok' ? [`${n}: ${s.lastError}`] : [];
      const sources = sourceProblems(s.sources, modes[n])
        .filter((p) => p.error !== s.lastError)
        .map((p) => `${n}: ${SOURCE_NAMES[p.source]}: ${p.error}${p.since ? ` (since ${formatTime(p.since)})` : ''}`);
      return [...own, ...sources].map((line) => ({ server: n, line }));
    });
    const failingServers = new Set(readErrors.map((e) => e.server)).size;
    const errorLines = !readErrors.length ? []
      : details ? [...readErrors.slice(0, ERROR_LINES).map((e) => e.line), ...(readErrors.length > ERROR_LINES ? [`…and ${readErrors.length - ERROR_LINES} more read errors`] : [])]
        : [`${failingServers} server${failingServers === 1 ? '' : 's'} failed to read; the errors are for admins (the status page signed in, or vpnwatch servers)`];
    const lines = [
      ...errorLines,
      ...chat.map((c) => `${TARGET_NAMES[c.platform]} ${CHAT_STATE_TEXT[c.state as Exclude<ChatStatus['state'], 'ok'>]} (since ${formatTime(c.since)})${details && c.error ? `: ${c.error}` : ''}`),
      ...problems.map((p) => `Notices to ${TARGET_NAMES[p.target] ?? p.target} are failing (since ${formatTime(p.at)})${details ? `: ${p.error}` : ''}`),
    ];
    return {
      title: names.length === 0 ? 'No servers configured' : `${names.length} server${names.length === 1 ? '' : 's'}: ${healthy} healthy`,
      ...(lines.length ? { lines } : {}),
      ...(rows.length ? { table: { columns: ['Server', 'Health', 'Last good read', 'Online', 'Mode'], rows } } : {}),
      fullAnswer: fullAnswerAt(ctx, '/', ['servers']),
      tone: healthy < names.length || problems.length || chat.length ? 'warn' : 'ok',
      private: false,
      data: { servers: states.map((s) => ({ ...s, mode: modes[s.name] ?? null })), deliveryProblems: problems, chat: ctx.chat?.() ?? [] },
    };
  },
};
