// Alerts that follow the reads (src/poll/history-recorder.ts calls observe() for every applied
// read): a server's online count falling by more than ALERT_ONLINE_DROP_PERCENT in one read (an
// outage the status file does not show), and a user online from ALERT_SHARED_ACCOUNT_IPS or more
// real IPs at once (shared credentials?). Each condition is one notice when it begins and one
// "resolved" line when it ends, through the notifier's outbox. Notice ids are derived from the
// condition, so a second vpnwatch seeing the same condition (or a restart) stores no second one.
import type { AlertConfig } from '../config.ts';
import { maskIp, userName, type VpnSession } from '../domain.ts';
import { formatTime } from '../format.ts';
import type { Logger } from '../log.ts';
import type { DiffResult, ServerBaseline } from '../poll/diff.ts';
import { FLEET_SERIES, type HistoryNotice, type HistoryStore } from '../store/history.ts';

export interface LiveAlertsDeps {
  config: AlertConfig;
  history: Pick<HistoryStore, 'writeNotices' | 'alertState' | 'setAlertState'>;
  /** Where a server's notices go (notifier targets). */
  targets: (server: string) => string[];
  log: Logger;
}

/** What is raised now, kept in the store so a restart resolves what it raised before. */
interface RaisedState {
  drops: Record<string, { id: string; before: number }>;
  shared: Record<string, { id: string }>;
}

export class LiveAlerts {
  private state: RaisedState = { drops: {}, shared: {} };
  private loaded = false;
  private changed = false;
  private readonly online = new Map<string, VpnSession[]>();
  private pending: HistoryNotice[] = [];

  constructor(private readonly deps: LiveAlertsDeps) {}

  get enabled(): boolean {
    return this.deps.config.onlineDropPercent !== null || this.deps.config.sharedAccountIps !== null;
  }

  private notice(id: string, server: string, at: string, text: string, guestText = text, user?: string): void {
    this.pending.push({ id, server, at, text, guestText, targets: this.deps.targets(server), ...(user ? { user } : {}) });
  }

  /** One applied read of `server` (diffed against `prev`). */
  observe(server: string, prev: ServerBaseline, diff: DiffResult, readAt: string): void {
    if (diff.rejected || !diff.affectsServer || !this.enabled) return;
    const now = Object.values(diff.baseline.sessions ?? {});
    this.online.set(server, now);
    const percent = this.deps.config.onlineDropPercent;
    if (percent === null || prev.sessions === null) return;
    const before = Object.keys(prev.sessions).length;
    const raised = this.state.drops[server];
    if (!raised && before >= this.deps.config.onlineDropMinOnline && (before - now.length) * 100 > percent * before) {
      const id = `drop|${server}|${readAt.slice(0, 16)}`;
      this.state.drops[server] = { id, before };
      this.changed = true;
      this.notice(id, server, readAt, `📉 ${server}: online fell from ${before} to ${now.length} (−${Math.round(((before - now.length) * 100) / before)} %) in one read, at ${formatTime(readAt)}: an outage the status file does not show?`);
    } else if (raised && now.length * 100 >= raised.before * (100 - percent)) {
      delete this.state.drops[server];
      this.changed = true;
      this.notice(`${raised.id}|resolved`, server, readAt, `✅ ${server}: resolved: ${now.length} online again (${raised.before} before the drop)`);
    }
  }

  /** Shared accounts across every server's online list, then stores the notices due. */
  async flush(at: string): Promise<void> {
    if (!this.enabled) return;
    if (!this.loaded) {
      const stored = await this.deps.history.alertState<RaisedState>('live');
      if (stored) this.state = { drops: { ...stored.drops, ...this.state.drops }, shared: { ...stored.shared, ...this.state.shared } };
      this.loaded = true;
    }
    const ips = this.deps.config.sharedAccountIps;
    if (ips !== null) {
      const byUser = new Map<string, (VpnSession & { server: string })[]>();
      for (const [server, sessions] of this.online) {
        for (const s of sessions) byUser.set(userName(s), [...(byUser.get(userName(s)) ?? []), { ...s, server }]);
      }
      for (const [user, sessions] of byUser) {
        const addresses = [...new Set(sessions.map((s) => s.realAddress))];
        if (addresses.length < ips || this.state.shared[user]) continue;
        // The id names the moment the condition began: the latest connect among these sessions.
        const since = sessions.map((s) => s.connectedAt).sort().at(-1)!;
        const id = `shared|${user}|${since}`;
        this.state.shared[user] = { id };
        this.changed = true;
        const list = (mask: boolean) => addresses.map((a) => `${mask ? maskIp(a) : a} (${[...new Set(sessions.filter((s) => s.realAddress === a).map((s) => s.server))].join(', ')})`).join(', ');
        this.notice(id, FLEET_SERIES, at, `👥 ${user} is online from ${addresses.length} addresses at once: ${list(false)}. Shared credentials?`, `👥 ${user} is online from ${addresses.length} addresses at once: ${list(true)}. Shared credentials?`, user);
      }
      for (const [user, raised] of Object.entries(this.state.shared)) {
        const addresses = new Set((byUser.get(user) ?? []).map((s) => s.realAddress));
        if (addresses.size >= ips) continue;
        delete this.state.shared[user];
        this.changed = true;
        this.notice(`${raised.id}|resolved`, FLEET_SERIES, at, `✅ resolved: ${user} is online from ${addresses.size === 0 ? 'no address' : 'one address'} now`, undefined, user);
      }
    }
    const due = this.pending;
    this.pending = [];
    try {
      await this.deps.history.writeNotices(due);
      if (this.changed) await this.deps.history.setAlertState('live', this.state, new Date(at));
      this.changed = false;
    } catch (err) {
      this.pending.unshift(...due);
      throw err;
    }
  }
}
