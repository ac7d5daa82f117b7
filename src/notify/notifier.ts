// Delivers connect/disconnect notices from the events stored in MongoDB (the outbox), so a notice
// is never announced before it is recorded and survives a restart or a chat outage.
//
// Each run, per target (slack, discord, log):
//   1. take the events whose delivery to that target is pending and due (nextAttemptAt passed);
//   2. flap window: nothing is held back, a disconnect goes out at once. When the same user
//      connects again on the same server within `flapWindowSeconds` of a disconnect (not a kick:
//      that is news of its own), the two become one "reconnected" line:
//      - the disconnect already posted: the connect posts nothing new. Its message is rendered
//        again from the events delivered in it (found by the messageRef each delivery keeps), with
//        the disconnect's line replaced, and edited in place; the connect is marked sent with the
//        same messageRef. When the edit fails for good (the message was deleted), the connect is
//        posted as usual instead; a transient failure is retried like a post;
//      - the disconnect still pending (chat was down): the line goes out with the connect, and
//        both events are marked together.
//      Folding is decided from the stored times alone (event.at), so it works when the two arrive
//      in different cycles, and across a restart;
//   3. group what is due by server and poll cycle: one message per server per cycle;
//   4. post it; mark every event in it: sent (with the message's ref), or pending again with a
//      later nextAttemptAt for a transient error (429 honouring retry-after, 5xx, timeouts,
//      network), or failed for a permanent one (bad token, missing channel, no access), which is
//      logged once and shown by store.outbox.deliveryProblems(). A message that keeps failing
//      transiently for a day is failed too.
import type { Config } from '../config.ts';
import { errorMessage, logger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { foldable, ms, pairFlaps, sameUser, withinWindow } from './flaps.ts';
import { composeNotice, type Notice } from './notice-text.ts';
import { DeliveryError, logSink, noticeChannel, type NoticeSink, type NoticeTarget } from './targets.ts';
import { type Delivery, type StoredEvent } from '../store/records.ts';

export interface NotifierOptions {
  store: Pick<Store, 'outbox' | 'queries'>;
  config: Pick<Config, 'servers' | 'slack' | 'discord' | 'notices'>;
  /** Chat sinks; the log sink is added unless one is given. */
  sinks: NoticeSink[];
  log?: Logger;
  metrics?: Metrics;
  now?: () => Date;
  /** Fallback run interval: retries come due without a wake(). */
  tickMs?: number;
  /** Lines per message before "…and N more changes". */
  maxLines?: number;
  /** Transient failures stop being retried after this long (the delivery is then failed). */
  giveUpAfterMs?: number;
  /** false while the database does not answer: runs are skipped (the outbox is there). */
  databaseUp?: () => boolean;
}

interface Message {
  server: string;
  notice: Notice;
  /** Every event this message announces (a flap's disconnect included). */
  events: StoredEvent[];
}

/** Reconnects to fold into a notice already posted: the message, its server and poll cycle. */
interface Fold {
  ref: string;
  server: string;
  cycle: string;
  connects: StoredEvent[];
}

/** How a delivery attempt went: what to count and record on success. */
interface Outcome {
  failure: DeliveryError | null;
  result: 'sent' | 'edited';
  messageRef: string | null;
}

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 10 * 60_000;
/** Events read to find the disconnects a reconnect may fold into: far more than a flap window holds. */
const RECENT_EVENTS_LIMIT = 2_000;

const byTime = (a: StoredEvent, b: StoredEvent) => ms(a.at) - ms(b.at) || a.seq - b.seq;

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

  private get windowMs(): number {
    return this.opts.config.notices.flapWindowSeconds * 1000;
  }

  /** One pass over the outbox (what wake() and the tick run). */
  async runOnce(): Promise<void> {
    if (this.opts.databaseUp && !this.opts.databaseUp()) return;
    const events = await this.opts.store.outbox.pendingEvents(500);
    if (events.length === 0) return;
    const now = this.now();
    // Working copies of each event's deliveries: saved after every message, so a crash between
    // two posts never re-sends the first.
    const deliveries = new Map(events.map((e) => [e.id, e.deliveries.map((d) => ({ ...d }))]));
    const targets = new Set(events.flatMap((e) => e.deliveries.filter((d) => d.state === 'pending').map((d) => d.target as NoticeTarget)));
    for (const target of targets) {
      const pendingFor = (e: StoredEvent) => e.deliveries.find((d) => d.target === target && d.state === 'pending');
      const due = (e: StoredEvent) => {
        const next = pendingFor(e)!.nextAttemptAt;
        return !next || next <= now;
      };
      const candidates = events.filter(pendingFor);
      // Flaps whose disconnect is still pending too: they go out as one line with the connect.
      const flapFrom = pairFlaps(candidates, this.windowMs);
      const reconnects = candidates.filter((e) => e.type === 'connected' && !flapFrom.has(e) && due(e));
      const edited = await this.foldIntoPosted(reconnects, target, now, deliveries);
      for (const message of this.plan(candidates.filter((e) => !edited.has(e)), flapFrom, due)) {
        await this.deliver(message, target, now, deliveries);
      }
    }
  }

  /** The messages due now, one per server and cycle; a disconnect in `flapFrom` goes with its connect. */
  private plan(candidates: StoredEvent[], flapFrom: Map<StoredEvent, StoredEvent>, due: (e: StoredEvent) => boolean): Message[] {
    const absorbed = new Set(flapFrom.values());
    const groups = new Map<string, { server: string; cycle: string; events: StoredEvent[] }>();
    for (const e of candidates) {
      if (absorbed.has(e) || !due(e)) continue; // travels with its reconnect, or backing off
      const key = `${e.server}\n${e.cycle}`;
      const group = groups.get(key) ?? { server: e.server, cycle: e.cycle, events: [] };
      group.events.push(e);
      const from = flapFrom.get(e);
      if (from) group.events.push(from);
      groups.set(key, group);
    }
    const maxLines = this.opts.maxLines ?? 20;
    return [...groups.values()].map(({ server, cycle, events }) => ({ server, events, notice: composeNotice(server, cycle, events, flapFrom, maxLines) }));
  }

  /**
   * Folds connects into the notices already posted for their disconnects (within the window, on
   * the same target) by editing those messages. Returns the connects handled so: edited, or
   * waiting to retry the edit. The others (no such notice, or an edit that failed for good) are
   * left to be posted.
   */
  private async foldIntoPosted(connects: StoredEvent[], target: NoticeTarget, now: Date, deliveries: Map<string, Delivery[]>): Promise<Set<StoredEvent>> {
    const handled = new Set<StoredEvent>();
    const sink = this.sinks.get(target);
    const windowMs = this.windowMs;
    if (!sink?.edit || windowMs <= 0 || connects.length === 0) return handled;

    const since = Math.min(...connects.map((c) => ms(c.at))) - windowMs;
    const recent = await this.opts.store.queries.eventsSince(new Date(since - 1), RECENT_EVENTS_LIMIT);
    const refOf = (e: StoredEvent) => {
      const d = e.deliveries.find((x) => x.target === target);
      return d?.state === 'sent' ? d.messageRef ?? null : null;
    };
    // A user's disconnect line in a message is taken once a connect of theirs went out in it.
    const taken = new Set(recent.filter((e) => e.type === 'connected' && refOf(e)).map((e) => `${refOf(e)}\n${e.server}\n${e.user}`));
    const folds = new Map<string, Fold>();
    for (const c of connects) {
      const disconnect = recent.findLast((d) => foldable(d) && sameUser(d, c) && withinWindow(d, c, windowMs) && refOf(d) !== null
        && !taken.has(`${refOf(d)}\n${d.server}\n${d.user}`));
      if (!disconnect) continue;
      const ref = refOf(disconnect)!;
      taken.add(`${ref}\n${disconnect.server}\n${disconnect.user}`);
      const fold = folds.get(ref) ?? { ref, server: disconnect.server, cycle: disconnect.cycle, connects: [] };
      fold.connects.push(c);
      folds.set(ref, fold);
    }

    const maxLines = this.opts.maxLines ?? 20;
    for (const fold of folds.values()) {
      const posted = await this.opts.store.outbox.eventsOfMessage(target, fold.ref);
      const flapFrom = pairFlaps([...posted, ...fold.connects].sort(byTime), windowMs);
      // The message as it stands decides: a connect that pairs with none of its lines is posted.
      const connects = fold.connects.filter((c) => flapFrom.has(c));
      if (connects.length === 0) continue;
      const notice = composeNotice(fold.server, fold.cycle, [...posted, ...connects].sort(byTime), flapFrom, maxLines);
      const channel = noticeChannel(this.opts.config, fold.server, target);
      let failure: DeliveryError | null = null;
      try {
        if (!channel) throw new DeliveryError(`no ${target} notice channel is configured for ${fold.server}`, true);
        await sink.edit(channel, fold.ref, notice);
      } catch (err) {
        failure = classify(err);
      }
      if (failure?.permanent) {
        this.log.warn({ target, server: fold.server }, `could not edit the posted notice (${failure.message}); posting the reconnect instead`);
        continue;
      }
      await this.record(connects, target, now, deliveries, { failure, result: 'edited', messageRef: fold.ref }, fold.server, channel);
      for (const c of connects) handled.add(c);
    }
    return handled;
  }

  private async deliver(message: Message, target: NoticeTarget, now: Date, deliveries: Map<string, Delivery[]>): Promise<void> {
    const channel = noticeChannel(this.opts.config, message.server, target);
    const sink = this.sinks.get(target);
    let failure: DeliveryError | null = null;
    let messageRef: string | null = null;
    try {
      if (!sink) throw new DeliveryError(`no ${target} connection is configured`, true);
      if (!channel) throw new DeliveryError(`no ${target} notice channel is configured for ${message.server}`, true);
      messageRef = await sink.post(channel, message.notice);
    } catch (err) {
      failure = classify(err);
    }
    await this.record(message.events, target, now, deliveries, { failure, result: 'sent', messageRef }, message.server, channel);
  }

  /** Marks `events` after one attempt that carried them all: sent, pending for a retry, or failed. */
  private async record(events: StoredEvent[], target: NoticeTarget, now: Date, deliveries: Map<string, Delivery[]>, outcome: Outcome, server: string, channel: string | undefined): Promise<void> {
    const { failure } = outcome;
    const mine = (e: StoredEvent) => deliveries.get(e.id)!.find((d) => d.target === target)!;
    const attempts = Math.max(...events.map((e) => mine(e).attempts)) + 1;
    const oldest = Math.min(...events.map((e) => ms(e.at)));
    const givingUp = failure && !failure.permanent && now.getTime() - oldest > (this.opts.giveUpAfterMs ?? 24 * 3600_000);
    let update: Partial<Delivery>;
    if (!failure) {
      update = { state: 'sent', sentAt: now, nextAttemptAt: null, lastError: null, messageRef: outcome.messageRef };
      this.loggedProblems.delete(target);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: outcome.result });
    } else if (failure.permanent || givingUp) {
      const error = givingUp ? `gave up after ${attempts} attempts: ${failure.message}` : failure.message;
      update = { state: 'failed', nextAttemptAt: null, lastError: error };
      if (this.loggedProblems.get(target) !== error) {
        this.loggedProblems.set(target, error);
        this.log.error({ target, channel, server }, `notices to ${target} fail: ${error}`);
      }
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'failed' });
    } else {
      const delayMs = failure.retryAfterMs ?? Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      update = { state: 'pending', nextAttemptAt: new Date(now.getTime() + delayMs), lastError: failure.message };
      this.log.warn({ target, server, attempts, retryInMs: delayMs }, `notice to ${target} not delivered, will retry: ${failure.message}`);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'retry' });
    }
    for (const e of events) {
      const list = deliveries.get(e.id)!;
      const d = mine(e);
      Object.assign(d, update, { attempts: d.attempts + 1 });
      await this.opts.store.outbox.saveDeliveries(e.id, list);
    }
  }
}

/** Errors the adapter did not classify (a dropped connection, a timeout) are worth a retry. */
function classify(err: unknown): DeliveryError {
  return err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), false);
}
