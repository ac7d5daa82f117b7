// /vpn servers: each server's health, last good read, online count and mode (live stream or
// status file), plus what keeps vpnwatch from talking: each notice channel that is not
// delivering (retrying after a platform's outage, or failing: a missing channel, a bad token) and
// chat platforms that are not connected (a bad token, an outage), so each platform shows the
// other's trouble. Error texts may name hosts and addresses: they are shown
// only to a viewer who may see real IPs (src/domain.ts), others get the state and a pointer.
import { describeMode, formatAgo, formatTime } from '../src/format.ts';
import { fullAnswerAt, type Command } from '../src/command.ts';
import { publicCause, serverHealth, SOURCE_NAMES, sourceProblems, type ChatStatus, type LiveModeInfo } from '../src/domain.ts';
import { describeTarget } from '../src/notify/targets.ts';

const PLATFORM_NAMES: Record<string, string> = { slack: 'Slack', discord: 'Discord' };
/** Read errors listed one per line; the rest are counted (a fleet-wide outage would fill the answer). */
const ERROR_LINES = 5;

const CHAT_STATE_TEXT: Record<Exclude<ChatStatus['state'], 'ok'>, string> = {
  connecting: 'is connecting',
  retrying: 'is unreachable, retrying',
  failing: 'is not connected and needs an admin',
};

export const servers: Command = {
  name: 'servers',
  description: 'Server health, last good read, online count; notice channels and chat connections in trouble',
  options: [],
  adminOnly: false,
  private: false,
  async run(_input, ctx) {
    const [states, notices] = await Promise.all([ctx.store.queries.servers(), ctx.store.outbox.health()]);
    const problems = notices.filter((t) => t.state !== 'ok');
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
    // Each server's own failure, and each source that is not read (the status file may fail while
    // the management stream keeps the server current). Guests get the cause without hosts or
    // addresses (publicCause: the page's rule too).
    const readErrors = names.flatMap((n) => {
      const s = byName.get(n);
      if (!s) return [];
      const shown = (error: string) => (details ? error : publicCause(error));
      const own = s.lastError && s.lastResult !== 'ok' ? [`${n}: ${shown(s.lastError)}`] : [];
      const sources = sourceProblems(s.sources, modes[n])
        .filter((p) => p.error !== s.lastError)
        .map((p) => `${n}: ${SOURCE_NAMES[p.source]}: ${shown(p.error)}${p.since ? ` (since ${formatTime(p.since)})` : ''}`);
      return [...own, ...sources];
    });
    const errorLines = [...readErrors.slice(0, ERROR_LINES), ...(readErrors.length > ERROR_LINES ? [`…and ${readErrors.length - ERROR_LINES} more read errors`] : [])];
    const lines = [
      ...errorLines,
      ...chat.map((c) => `${PLATFORM_NAMES[c.platform]} ${CHAT_STATE_TEXT[c.state as Exclude<ChatStatus['state'], 'ok'>]} (since ${formatTime(c.since)})${details && c.error ? `: ${c.error}` : ''}`),
      ...problems.map((t) => describeTarget(t, { error: details })),
    ];
    return {
      title: names.length === 0 ? 'No servers configured' : `${names.length} server${names.length === 1 ? '' : 's'}: ${healthy} healthy`,
      ...(lines.length ? { lines } : {}),
      ...(rows.length ? { table: { columns: ['Server', 'Health', 'Last good read', 'Online', 'Mode'], rows } } : {}),
      fullAnswer: fullAnswerAt(ctx, '/', ['servers']),
      tone: healthy < names.length || problems.length || chat.length ? 'warn' : 'ok',
      private: false,
      data: { servers: states.map((s) => ({ ...s, mode: modes[s.name] ?? null })), notices, chat: ctx.chat?.() ?? [] },
    };
  },
};
