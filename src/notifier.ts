// Delivers connect/disconnect notices from the events stored in MongoDB (the outbox), so a notice
// is never announced before it is recorded and survives a restart or a chat outage.
//
// Each run, per target (slack, discord, log):
//   1. take the events whose delivery to that target is pending and due (nextAttemptAt passed);
//   2. flap window: a disconnect is held back until `flapWindowSeconds` after it happened. If the
//      same user connects again on the same server within the window, the two become one
//      "reconnected" line, sent with the connect, and both events are marked together. Holding is
//      decided from the stored times alone (event.at vs now), so it works when the disconnect and
//      the reconnect arrive in different cycles, and across a restart;
//   3. group what is due by server and poll cycle: one message per server per cycle;
//   4. post it; mark every event in it: sent, or pending again with a later nextAttemptAt for a
//      transient error (429 honouring retry-after, 5xx, timeouts, network), or failed for a
//      permanent one (bad token, missing channel, no access), which is logged once and shown by
//      store.deliveryProblems(). A message that keeps failing transiently for a day is failed too.
import type { Config } from './config.ts';
import type { VpnSession } from './domain.ts';
import { formatDuration, secondsBetween } from './format.ts';
import { logger, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { noticeText, type Notice, type NoticeLine } from './reply.ts';
import type { Delivery, StoredEvent, Store } from './store/store.ts';

export type NoticeTarget = 'slack' | 'discord' | 'log';

export interface NoticeSink {
  target: NoticeTarget;
  post(channel: string, notice: Notice): Promise<void>;
}

/** A failed post, classified by the adapter that knows its platform's errors. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(message: string, readonly permanent: boolean, readonly retryAfterMs?: number) {
    super(message);
  }
}

type NoticeConfig = Pick<Config, 'servers' | 'slack' | 'discord'>;

/** The channel a server's notices go to on `target`: the server's own, else the global one. */
export function noticeChannel(config: NoticeConfig, server: string, target: NoticeTarget): string | undefined {
  if (target === 'log') return 'log';
  const notify = config.servers.find((s) => s.name === server)?.notify;
  if (target === 'slack') return config.slack ? notify?.slackChannel ?? config.slack.noticeChannel : undefined;
  return config.discord ? notify?.discordChannel ?? config.discord.noticeChannel : undefined;
}

/** Where a server's events are to be delivered; the log when no chat channel is configured for it. */
export function noticeTargets(config: NoticeConfig, server: string): NoticeTarget[] {
  const chats = (['slack', 'discord'] as const).filter((t) => noticeChannel(config, server, t) !== undefined);
  return chats.length ? [...chats] : ['log'];
}

/** Writes notices to the log: the target when no chat is configured. */
export function logSink(log: Logger): NoticeSink {
  return {
    target: 'log',
    async post(_channel, notice) {
      log.info({ server: notice.server }, noticeText(notice));
    },
  };
}

export interface NotifierOptions {
  store: Store;
  config: NoticeConfig & Pick<Config, 'notices'>;
  /** Chat sinks; the log sink is added unless one is given. */
  sinks: NoticeSink[];
  log?: Logger;
  metrics?: Metrics;
  now?: () => Date;
  /** Fallback run interval: retries and held disconnects come due without a wake(). */
  tickMs?: number;
  /** Lines per message before "…and N more changes". */
  maxLines?: number;
  /** Transient failures stop being retried after this long (the delivery is then failed). */
  giveUpAfterMs?: number;
}

interface Message {
  server: string;
  notice: Notice;
  /** Every event this message announces (a flap's disconnect included). */
  events: StoredEvent[];
}

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 10 * 60_000;

const ms = (at: string) => Date.parse(at);

function where(s: VpnSession): string {
  const virtual = s.virtualAddress ?? s.virtualIpv6;
  return `from ${s.realAddress}${virtual ? ` (${virtual})` : ''}`;
}

/** One event (and the disconnect it absorbed, for a flap) as one plain line. */
function lineFor(event: StoredEvent, flapFrom?: StoredEvent): NoticeLine {
  const who = event.user ?? '?';
  const s = event.session;
  switch (event.type) {
    case 'connected':
      if (flapFrom) return { kind: 'reconnected', text: `🔁 ${who} reconnected${s ? ` ${where(s)}` : ''} after ${formatDuration(secondsBetween(flapFrom.at, event.at))} away` };
      return { kind: 'connected', text: `🟢 ${who} connected${s ? ` ${where(s)}` : ''}` };
    case 'reconnected':
      return { kind: 'reconnected', text: `🔁 ${who} reconnected${s ? ` ${where(s)}` : ''}` };
    case 'disconnected': {
      const after = s ? ` after ${formatDuration(secondsBetween(s.connectedAt, event.at))}` : '';
      if (event.endedBy === 'kicked') return { kind: 'disconnected', text: `⛔ ${who} was kicked${after}` };
      const how = event.endedBy && event.endedBy !== 'disconnected' ? ` (${event.endedBy.replace('-', ' ')})` : '';
      return { kind: 'disconnected', text: `🔴 ${who} disconnected${after}${how}` };
    }
    case 'server-down':
      return { kind: 'server-down', text: `🚨 ${event.server} is down${event.error ? `: ${event.error}` : ''}` };
    case 'server-up':
      return { kind: 'server-up', text: `✅ ${event.server} is back up` };
  }
}

export class Notifier {
  private readonly sinks: Map<NoticeTarget, NoticeSink>;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** The permanent problem last logged per target: each is logged once, and again only after a success. */
  private readonly loggedProblems = new Map<NoticeTarget, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: NotifierOptions) {
    this.log = (opts.log ?? logger).child({ module: 'notifier' });
    this.now = opts.now ?? (() => new Date());
    this.sinks = new Map(opts.sinks.map((s) => [s.target, s]));
    if (!this.sinks.has('log')) this.sinks.set('log', logSink(this.log));
  }

  /** Starts the fallback tick and runs once. */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.opts.tickMs ?? 5_000);
    this.timer.unref();
    this.wake();
  }

  /** Runs soon: called by the poller after it stored a cycle. Runs never overlap; a wake during one runs again after it. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.runOnce();
        } catch (err) {
          this.log.error({ err }, 'notice run failed; the next run retries');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
  }

  /** Stops the tick and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the outbox (what wake() and the tick run). */
  async runOnce(): Promise<void> {
    const events = await this.opts.store.pendingEvents(500);
    if (events.length === 0) return;
    const now = this.now();
    // Working copies of each event's deliveries: saved after every message, so a crash between
    // two posts never re-sends the first.
    const deliveries = new Map(events.map((e) => [e.id, e.deliveries.map((d) => ({ ...d }))]));
    const targets = new Set(events.flatMap((e) => e.deliveries.filter((d) => d.state === 'pending').map((d) => d.target as NoticeTarget)));
    for (const target of targets) {
      for (const message of this.plan(events, target, now)) {
        await this.deliver(message, target, now, deliveries);
      }
    }
  }

  /** The messages due now for `target`, one per server and cycle, holding recent disconnects back for the flap window. */
  private plan(events: StoredEvent[], target: NoticeTarget, now: Date): Message[] {
    const pendingFor = (e: StoredEvent) => e.deliveries.find((d) => d.target === target && d.state === 'pending');
    const candidates = events.filter((e) => pendingFor(e));
    const windowMs = this.opts.config.notices.flapWindowSeconds * 1000;

    // A disconnect (not a kick: that is news of its own) and a later connect of the same user on
    // the same server within the window: one "reconnected" line.
    const flapFrom = new Map<StoredEvent, StoredEvent>();
    const absorbed = new Set<StoredEvent>();
    if (windowMs > 0) {
      for (const d of candidates) {
        if (d.type !== 'disconnected' || d.endedBy === 'kicked' || !d.user) continue;
        const c = candidates.find((e) => e.type === 'connected' && !flapFrom.has(e) && e.server === d.server && e.user === d.user
          && ms(e.at) >= ms(d.at) && ms(e.at) - ms(d.at) <= windowMs);
        if (c) {
          flapFrom.set(c, d);
          absorbed.add(d);
        }
      }
    }

    const groups = new Map<string, { server: string; items: StoredEvent[] }>();
    for (const e of candidates) {
      if (absorbed.has(e)) continue; // travels with its reconnect
      const next = pendingFor(e)!.nextAttemptAt;
      if (next && next > now) continue; // backing off
      const held = e.type === 'disconnected' && e.endedBy !== 'kicked' && now.getTime() - ms(e.at) < windowMs;
      if (held) continue; // a reconnect may still come within the window
      const key = `${e.server}\n${e.cycle}`;
      const group = groups.get(key) ?? { server: e.server, items: [] };
      group.items.push(e);
      groups.set(key, group);
    }

    const maxLines = this.opts.maxLines ?? 20;
    return [...groups.values()].map(({ server, items }) => ({
      server,
      notice: { server, lines: items.slice(0, maxLines).map((e) => lineFor(e, flapFrom.get(e))), omitted: Math.max(0, items.length - maxLines) },
      events: items.flatMap((e) => (flapFrom.has(e) ? [e, flapFrom.get(e)!] : [e])),
    }));
  }

  private async deliver(message: Message, target: NoticeTarget, now: Date, deliveries: Map<string, Delivery[]>): Promise<void> {
    const channel = noticeChannel(this.opts.config, message.server, target);
    const sink = this.sinks.get(target);
    let failure: DeliveryError | null = null;
    try {
      if (!sink) throw new DeliveryError(`no ${target} connection is configured`, true);
      if (!channel) throw new DeliveryError(`no ${target} notice channel is configured for ${message.server}`, true);
      await sink.post(channel, message.notice);
    } catch (err) {
      // Errors the adapter did not classify (a dropped connection, a timeout) are worth a retry.
      failure = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message ?? String(err), false);
    }

    const mine = (e: StoredEvent) => deliveries.get(e.id)!.find((d) => d.target === target)!;
    const attempts = Math.max(...message.events.map((e) => mine(e).attempts)) + 1;
    const oldest = Math.min(...message.events.map((e) => ms(e.at)));
    const givingUp = failure && !failure.permanent && now.getTime() - oldest > (this.opts.giveUpAfterMs ?? 24 * 3600_000);
    let update: Partial<Delivery>;
    if (!failure) {
      update = { state: 'sent', sentAt: now, nextAttemptAt: null, lastError: null };
      this.loggedProblems.delete(target);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'sent' });
    } else if (failure.permanent || givingUp) {
      const error = givingUp ? `gave up after ${attempts} attempts: ${failure.message}` : failure.message;
      update = { state: 'failed', nextAttemptAt: null, lastError: error };
      if (this.loggedProblems.get(target) !== error) {
        this.loggedProblems.set(target, error);
        this.log.error({ target, channel, server: message.server }, `notices to ${target} fail: ${error}`);
      }
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'failed' });
    } else {
      const delayMs = failure.retryAfterMs ?? Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      update = { state: 'pending', nextAttemptAt: new Date(now.getTime() + delayMs), lastError: failure.message };
      this.log.warn({ target, server: message.server, attempts, retryInMs: delayMs }, `notice to ${target} not delivered, will retry: ${failure.message}`);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'retry' });
    }
    for (const e of message.events) {
      const list = deliveries.get(e.id)!;
      const d = mine(e);
      Object.assign(d, update, { attempts: d.attempts + 1 });
      await this.opts.store.saveDeliveries(e.id, list);
    }
  }
}
