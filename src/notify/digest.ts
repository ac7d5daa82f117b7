// What the history job tells the notice channels once a day or once a condition: the daily digest
// at DIGEST_TIME in DIGEST_TZ (the previous local day: peak and when, users seen, top users,
// servers' down time, kicks), and the daily traffic quota alert (ALERT_DAILY_QUOTA_GB, per UTC
// day, resolved when the day is over). Both are stored as notices with ids derived from what they
// are about, so two vpnwatch processes (or two runs) send each once.
import type { AlertConfig } from '../config.ts';
import { formatBytes, formatDuration, formatTime } from '../format.ts';
import { DAY_MS, FLEET_SERIES, floorTo, type HistoryNotice, type HistoryStore } from '../store/history.ts';

export interface DailyNoticesConfig {
  alerts: AlertConfig;
  digest?: { time: string; timezone: string };
  /** Where the fleet's notices go (notifier targets). */
  targets: string[];
}

/** Minutes east of UTC of `zone` at instant `at`. */
function zoneOffsetMinutes(at: number, zone: string): number {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return Math.round((local - floorTo(at, 1000)) / 60_000);
}

/** The local date (YYYY-MM-DD) and minutes since local midnight of `at` in `zone`. */
export function localClock(at: number, zone: string): { date: string; minutes: number } {
  const local = at + zoneOffsetMinutes(at, zone) * 60_000;
  const iso = new Date(local).toISOString();
  return { date: iso.slice(0, 10), minutes: Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16)) };
}

/** The UTC instant of local midnight starting `date` in `zone`. */
export function localMidnight(date: string, zone: string): number {
  const guess = Date.parse(`${date}T00:00:00Z`);
  const first = guess - zoneOffsetMinutes(guess, zone) * 60_000;
  return guess - zoneOffsetMinutes(first, zone) * 60_000;
}

const previousDate = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);

/** The digest of local `date` in `zone`, as one notice. */
export async function digestNotice(history: HistoryStore, date: string, zone: string, at: number, targets: string[]): Promise<HistoryNotice> {
  const from = localMidnight(date, zone);
  const to = localMidnight(new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10), zone);
  const summary = await history.summary(new Date(from), new Date(to));
  const users = await history.usersBetween(from, to);
  const top = [...users].sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1])).slice(0, 3);
  const facts = await history.dayFacts(new Date(from - 30 * DAY_MS), new Date(to));
  // Down time per server within the day: from each server-down to its server-up (or the day's end).
  const down = new Map<string, number>();
  const since = new Map<string, number>();
  for (const o of facts.outages) {
    const t = o.at.getTime();
    if (o.type === 'server-down') since.set(o.server, t);
    else if (since.has(o.server)) {
      const start = Math.max(from, since.get(o.server)!);
      if (t > from && start < to) down.set(o.server, (down.get(o.server) ?? 0) + Math.min(t, to) - start);
      since.delete(o.server);
    }
  }
  for (const [server, t] of since) if (t < to) down.set(server, (down.get(server) ?? 0) + to - Math.max(from, t));
  const kicks = (await history.dayFacts(new Date(from), new Date(to))).kicks;
  const parts = [
    summary.peak ? `peak ${summary.peak.online} online at ${formatTime(summary.peak.at)}` : 'no samples',
    `${users.size} user${users.size === 1 ? '' : 's'} seen`,
    `traffic ${formatBytes(summary.bytesReceived + summary.bytesSent)}`,
    top.length ? `top: ${top.map(([u, f]) => `${u} ${formatBytes(f[0] + f[1])}`).join(', ')}` : 'top: —',
    down.size ? `down: ${[...down].map(([s, ms]) => `${s} ${formatDuration(ms / 1000)}`).join(', ')}` : 'no server down',
    `${kicks} kick${kicks === 1 ? '' : 's'}`,
  ];
  return { id: `digest|${date}|${zone}`, server: FLEET_SERIES, at: new Date(at).toISOString(), text: `📊 Daily digest, ${date} (${zone}): ${parts.join(' · ')}`, guestText: `📊 Daily digest, ${date} (${zone}): ${parts.join(' · ')}`, targets };
}

interface QuotaState { day: string; users: Record<string, string> }

/** The digest when it is due, and the quota alerts: run by the history job. Returns the notices stored. */
export async function dailyNotices(history: HistoryStore, config: DailyNoticesConfig, now: Date): Promise<string[]> {
  const notices: HistoryNotice[] = [];
  const at = now.getTime();
  if (config.digest) {
    const clock = localClock(at, config.digest.timezone);
    const [h, m] = config.digest.time.split(':').map(Number) as [number, number];
    // Due from DIGEST_TIME on; the id makes a later run (or another process) store nothing new.
    if (clock.minutes >= h * 60 + m) notices.push(await digestNotice(history, previousDate(clock.date), config.digest.timezone, at, config.targets));
  }
  const quota = config.alerts.dailyQuotaBytes;
  if (quota !== null) {
    const today = floorTo(at, DAY_MS);
    const day = new Date(today).toISOString().slice(0, 10);
    const state = (await history.alertState<QuotaState>('quota')) ?? { day, users: {} };
    if (state.day !== day) {
      for (const [user, id] of Object.entries(state.users)) {
        notices.push({ id: `${id}|resolved`, server: FLEET_SERIES, user, at: now.toISOString(), text: `✅ resolved: ${user}'s daily traffic quota starts over (a new UTC day)`, guestText: `✅ resolved: ${user}'s daily traffic quota starts over (a new UTC day)`, targets: config.targets });
      }
      state.day = day;
      state.users = {};
    }
    for (const [user, f] of await history.dayUsers(today)) {
      if (f[0] + f[1] <= quota || state.users[user]) continue;
      const id = `quota|${user}|${day}`;
      state.users[user] = id;
      const text = `📦 ${user} moved ${formatBytes(f[0] + f[1])} today (UTC), over the daily quota of ${formatBytes(quota)}`;
      notices.push({ id, server: FLEET_SERIES, user, at: now.toISOString(), text, guestText: text, targets: config.targets });
    }
    await history.setAlertState('quota', state, now);
  }
  return history.writeNotices(notices);
}

