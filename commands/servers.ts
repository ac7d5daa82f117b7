// /vpn servers: each server's health, last good read, online count and mode (live stream or
// status file), plus each notice target (a channel) that is not delivering: retrying after a
// transient failure, or failing (a bad token, a missing channel).
import { describeMode, formatAgo, formatTime } from '../src/format.ts';
import type { Command } from '../src/command.ts';
import { serverHealth, SOURCE_NAMES, sourceProblems } from '../src/domain.ts';
import { describeTarget } from '../src/notify/targets.ts';

export const servers: Command = {
  name: 'servers',
  description: 'Server health, last good read, online count; notice channels that are not delivering',
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
    const rows = names.map((name) => {
      const s = byName.get(name);
      return [name, serverHealth(s).label, s?.lastGoodAt ? `${formatTime(s.lastGoodAt)} (${formatAgo(s.lastGoodAt, now)})` : 'never', String(s?.onlineCount ?? 0), describeMode(modes[name], s?.source ?? null, now)];
    });
    const healthy = names.filter((n) => serverHealth(byName.get(n)).healthy).length;
    const lines = [
      ...names.flatMap((n) => {
        const s = byName.get(n);
        if (!s) return [];
        // The server's own failure, and each source that is not read (the status file may fail
        // while the management stream keeps the server current).
        const own = s.lastError && s.lastResult !== 'ok' ? [`${n}: ${s.lastError}`] : [];
        const sources = sourceProblems(s.sources, modes[n])
          .filter((p) => p.error !== s.lastError)
          .map((p) => `${n}: ${SOURCE_NAMES[p.source]}: ${p.error}${p.since ? ` (since ${formatTime(p.since)})` : ''}`);
        return [...own, ...sources];
      }),
      ...problems.map((t) => describeTarget(t)),
    ];
    return {
      title: names.length === 0 ? 'No servers configured' : `${names.length} server${names.length === 1 ? '' : 's'}: ${healthy} healthy`,
      ...(lines.length ? { lines } : {}),
      ...(rows.length ? { table: { columns: ['Server', 'Health', 'Last good read', 'Online', 'Mode'], rows } } : {}),
      tone: healthy < names.length || problems.length ? 'warn' : 'ok',
      private: false,
      data: { servers: states.map((s) => ({ ...s, mode: modes[s.name] ?? null })), notices },
    };
  },
};
