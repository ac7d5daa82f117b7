// Delivers connect/disconnect notices from the outbox (src/store/outbox.ts): the events are stored
// first, with one outbox item per delivery still to make, so a notice is never announced before it
// is recorded and survives a restart or a chat outage.
//
// Each target (a platform and a channel: `slack:C123`, `discord:456`, or the log) advances on its
// own: a drain of its own, its own backoff and state, so one target's outage, however long, never
// holds up another's notices. A drain:
//   1. claims the target (a lease in MongoDB, atomic; it expires if this process dies): one sender
//      per channel across every vpnwatch process on the database, so a notice is posted once and
//      the channel's pace is kept;
//   2. stops while the target is backing off (retrying: nextAttemptAt not reached);
//   3. plans the target's oldest items: a message that was being posted when the last attempt
//      failed or its sender died goes out again first, as it was (same items, same nonce); stale
//      items (the event's record says sent or failed: a cycle written again) are dropped;
//   4. flap window: nothing is held back, a disconnect goes out at once. When the same user
//      connects again on the same server within `flapWindowSeconds` of a disconnect (not a kick:
//      that is news of its own), the two become one "reconnected" line:
//      - the disconnect already posted: its message (kept in notice_messages for the window) is
//        rendered again with that line replaced and edited in place; the connect is marked sent
//        with the same message ref. When the edit fails for good (the message was deleted), the
//        connect is posted as usual instead; a transient failure is retried like a post;
//      - the disconnect still pending (chat was down): the line goes out with the connect.
//      Folding is decided from the stored times alone (event.at), so it works when the two arrive
//      in different cycles, and across a restart;
//   5. composes a section per server and poll cycle, and combines what is due into as few
//      messages as fit the platform (PLATFORM_LIMITS), so a burst (a hundred servers changing in
//      one cycle) is a few messages, never a hundred;
//   6. posts each message no sooner than the platform's interval after the previous one to that
//      channel (about one a second), renewing the lease and recording the message in flight first;
//   7. records the outcome: sent (with the message's ref), or, for a transient error (429
//      honouring retry-after, 5xx, timeouts, network), the target retrying with backoff; or, for a
//      permanent one (bad token, missing channel, no access), the deliveries failed and the target
//      failing. A delivery that keeps failing transiently for a day is failed too. The target's
//      state (ok, retrying, failing) is stored, logged once per change, and shown by /healthz,
//      /vpn servers and the page.
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import { formatTime } from '../format.ts';
import { errorMessage, logger, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import type { MessageEvent, MessageSection, NoticeTargetRecord, OutboxItem, PostedMessage } from '../store/outbox.ts';
import type { StoredEvent } from '../store/records.ts';
import { foldable, ms, pairFlaps, sameUser, withinWindow } from './flaps.ts';
import { composeSection, noticeOf, noticeSections, noticeText, type Notice } from './notice-text.ts';
import { DeliveryError, logSink, parseTarget, PLATFORM_LIMITS, targetLabel, type NoticePlatform, type NoticeSink } from './targets.ts';

export interface NotifierOptions {
  store: Pick<Store, 'outbox'>;
  config: Pick<Config, 'servers' | 'slack' | 'discord' | 'notices'>;
  /** Chat sinks; the log sink is added unless one is given. */
  sinks: NoticeSink[];
  /** This notifier among the processes sharing the database: the holder of the targets it sends to. */
  id?: string;
  log?: Logger;
  metrics?: Metrics;
  /** The clock of events, retries and leases (tests set it). Pacing runs on real time. */
  now?: () => Date;
  /** Fallback run interval: retries come due without a wake(). */
  tickMs?: number;
  /** Lines per server section before "…and N more changes". */
  maxLines?: number;
  /** Transient failures stop being retried after this long (the delivery is then failed). */
  giveUpAfterMs?: number;
  /** Least time between two messages to one channel, per platform (default PLATFORM_LIMITS; 0: no pacing). */
  pacingMs?: Partial<Record<NoticePlatform, number>>;
  /** How long a claimed target stays this notifier's without renewal; default 60 s. */
  leaseMs?: number;
  /** false while the database does not answer: runs are skipped (the outbox is there). */
  databaseUp?: () => boolean;
}

/** A target being drained, with its stored state as this drain last wrote it. */
interface Sender {
  target: string;
  platform: NoticePlatform;
  channel: string;
  state: NoticeTargetRecord;
}

/** One attempt: a message to post, or a posted message to edit (reconnects folded in). */
type Unit =
  | { kind: 'post'; items: OutboxItem[]; events: StoredEvent[]; sections: MessageSection[]; notice: Notice }
  | { kind: 'edit'; message: PostedMessage; items: OutboxItem[]; events: StoredEvent[]; notice: Notice };

/** After an attempt: go on with the next unit, plan again (what is pending changed), or stop this drain. */
type Next = 'continue' | 'replan' | 'stop';

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 10 * 60_000;
/** Items planned at a time: a backlog is worked through in rounds. */
const BATCH = 500;
/** Bounds a drain: far more rounds than any backlog needs (each round posts or drops items). */
const MAX_ROUNDS = 1_000;
/** A posted message is kept this long past the flap window for folding (reads arrive after their time). */
const KEEP_MARGIN_MS = 10 * 60_000;
const PURGE_EVERY_MS = 60_000;

const byTime = (a: StoredEvent, b: StoredEvent) => ms(a.at) - ms(b.at) || a.seq - b.seq;

/** The nonce of a message: derived from the deliveries it carries, so posting it again gives the same. */
export function nonceOf(itemIds: string[]): string {
  return createHash('sha256').update([...itemIds].sort().join('\n')).digest('base64url').slice(0, 25);
}

const outline = (e: StoredEvent): MessageEvent => ({ id: e.id, type: e.type, server: e.server, user: e.user, at: e.at, ...(e.endedBy ? { endedBy: e.endedBy } : {}) });

export class Notifier {
  readonly id: string;
  private readonly sinks: Map<NoticePlatform, NoticeSink>;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly leaseMs: number;
  private readonly pacingMs: Record<NoticePlatform, number>;
  /** Running drains by target; a wake during one runs it again after it. */
  private readonly drains = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** When this process last posted to each target (performance.now()), for pacing. */
  private readonly lastSent = new Map<string, number>();
  private readonly abort = new AbortController();
  private scanning: Promise<void> | null = null;
  private scanAgain = false;
  private lastPurge = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: NotifierOptions) {
    this.id = opts.id ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = (opts.log ?? logger).child({ module: 'notifier' });
    this.now = opts.now ?? (() => new Date());
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.pacingMs = {
      slack: opts.pacingMs?.slack ?? PLATFORM_LIMITS.slack.minIntervalMs,
      discord: opts.pacingMs?.discord ?? PLATFORM_LIMITS.discord.minIntervalMs,
      log: opts.pacingMs?.log ?? PLATFORM_LIMITS.log.minIntervalMs,
    };
    this.sinks = new Map(opts.sinks.map((s) => [s.target, s]));
    if (!this.sinks.has('log')) this.sinks.set('log', logSink(this.log));
  }

  /** Starts the fallback tick and runs once. */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.opts.tickMs ?? 5_000);
    this.timer.unref();
    this.wake();
  }

  /** Looks for work soon: called by the poller after it stored a cycle. */
  wake(): void {
    if (this.stopped) return;
    this.scan().catch((err: unknown) => this.log.error({ err }, 'could not read the outbox; the next run retries'));
  }

  /** One pass: every target with deliveries waiting is drained; resolves when every drain has finished. */
  async runOnce(): Promise<void> {
    await this.scan();
    while (this.drains.size > 0) await Promise.all([...this.drains.values()]);
  }

  /** Stops the tick and any pacing wait, and waits for the drains in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort();
    await this.scanning?.catch(() => undefined);
    await Promise.all([...this.drains.values()]);
  }

  private get windowMs(): number {
    return this.opts.config.notices.flapWindowSeconds * 1000;
  }

  /** Starts a drain for each target with work (scans never overlap; a wake during one scans again after it). */
  private scan(): Promise<void> {
    if (this.scanning) {
      this.scanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.scanAgain = false;
        if (this.opts.databaseUp && !this.opts.databaseUp()) return;
        for (const target of await this.opts.store.outbox.targetsWithWork()) this.startDrain(target);
        if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
          this.lastPurge = Date.now();
          await this.opts.store.outbox.purgeMessages(this.now());
        }
      } while (this.scanAgain && !this.stopped);
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private startDrain(target: string): void {
    if (this.stopped) return;
    if (this.drains.has(target)) {
      this.again.add(target);
      return;
    }
    const run = (async () => {
      do {
        this.again.delete(target);
        try {
          await this.drain(target);
        } catch (err) {
          this.log.error({ err, target }, `notices to ${target}: the run failed; the next run retries`);
        }
      } while (this.again.has(target) && !this.stopped);
    })().finally(() => this.drains.delete(target));
    this.drains.set(target, run);
  }

  private async drain(target: string): Promise<void> {
    const { outbox } = this.opts.store;
    const state = await outbox.claimTarget(target, this.id, this.now(), this.leaseMs);
    if (!state) return; // another process sends to this target
    let sender: Sender;
    try {
      sender = { target, ...parseTarget(target), state };
    } catch (err) {
      // Not a target id (platform:channel): there is nowhere to send its deliveries.
      await this.failAll({ target, platform: 'log', channel: target, state }, errorMessage(err));
      await outbox.releaseTarget(target, this.id);
      return;
    }
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
        if (sender.state.state === 'retrying' && sender.state.nextAttemptAt && sender.state.nextAttemptAt > this.now()) return;
        const units = await this.plan(sender);
        if (units === 'again') continue;
        if (units.length === 0) return;
        let next: Next = 'continue';
        for (const unit of units) {
          next = await this.attempt(sender, unit);
          if (next !== 'continue') break;
        }
        if (next === 'stop') return;
      }
    } finally {
      await outbox.releaseTarget(target, this.id).catch((err: unknown) => this.log.warn({ err, target }, 'could not release the notice target; its lease expires'));
    }
  }

  /** What to send next to the sender's target, in order: the message in flight, edits, then new messages. */
  private async plan(sender: Sender): Promise<Unit[] | 'again'> {
    const { outbox } = this.opts.store;
    const items = await outbox.items(sender.target, BATCH);
    if (items.length === 0) return [];
    const events = await outbox.events(items.map((i) => i.event));
    const pendingFor = (i: OutboxItem) => events.get(i.event)?.deliveries.find((d) => d.target === sender.target)?.state === 'pending';
    const stale = items.filter((i) => !pendingFor(i));
    if (stale.length) await outbox.remove(stale.map((i) => i.id));
    const live = items.filter(pendingFor);
    if (live.length === 0) return 'again'; // all stale: read the next ones

    // The message in flight when the last attempt failed (or its sender died) may have been
    // posted: it goes out again alone and as it was (same items, same nonce), and the next round
    // plans the rest (a reconnect that came meanwhile folds into it by an edit).
    const inFlight = sender.state.inFlight ? new Set(sender.state.inFlight.items) : null;
    const again = inFlight ? live.filter((i) => inFlight.has(i.id)) : [];
    if (again.length) return this.posts(sender, again, events, true);

    const pending = live.map((i) => events.get(i.event)!).sort(byTime);
    const flapFrom = pairFlaps(pending, this.windowMs);
    const edits = await this.folds(sender, pending.filter((e) => e.type === 'connected' && !flapFrom.has(e)), live);
    const folded = new Set(edits.flatMap((u) => u.items));
    return [...edits, ...this.posts(sender, live.filter((i) => !folded.has(i)), events, false)];
  }

  /**
   * New messages for `items`: a section per server and cycle (a disconnect that pairs with a later
   * connect goes with it, as one line; past maxLines lines, "…and N more changes"), combined while
   * they fit the platform. A section too long for a message on its own goes alone, and the
   * platform's renderer cuts it to fit, saying how many changes it leaves out and where they are.
   * `single`: all in one message (the message in flight, as it was).
   */
  private posts(sender: Sender, items: OutboxItem[], events: Map<string, StoredEvent>, single: boolean): Unit[] {
    const limits = PLATFORM_LIMITS[sender.platform];
    const itemOf = new Map(items.map((i) => [i.event, i]));
    const list = items.map((i) => events.get(i.event)!).sort(byTime);
    const flapFrom = pairFlaps(list, this.windowMs);
    const absorbed = new Set(flapFrom.values());
    const groups = new Map<string, { server: string; cycle: string; events: StoredEvent[] }>();
    for (const e of list) {
      if (absorbed.has(e)) continue; // travels with its reconnect
      const key = `${e.server}\n${e.cycle}`;
      const group = groups.get(key) ?? { server: e.server, cycle: e.cycle, events: [] };
      group.events.push(e);
      const from = flapFrom.get(e);
      if (from) group.events.push(from);
      groups.set(key, group);
    }
    // A section with changes summarised away stays alone: its "see all" is about its server.
    const alone = (n: Notice) => noticeSections(n).some((x) => x.omitted > 0);
    const fits = (n: Notice) => limits.combine && !alone(n) && noticeText(n, { realIps: true }).length <= limits.maxChars;
    const units: Extract<Unit, { kind: 'post' }>[] = [];
    for (const g of groups.values()) {
      const section = composeSection(g.server, g.cycle, g.events, flapFrom, this.opts.maxLines ?? 20);
      const meta = { server: g.server, cycle: g.cycle, lines: section.lines.length };
      const last = units.at(-1);
      const combined = last && noticeOf([...noticeSections(last.notice), section]);
      if (last && combined && (single || fits(combined))) {
        last.notice = combined;
        last.sections.push(meta);
        last.events.push(...g.events);
        last.items.push(...g.events.map((e) => itemOf.get(e.id)!));
      } else {
        units.push({ kind: 'post', items: g.events.map((e) => itemOf.get(e.id)!), events: [...g.events], sections: [meta], notice: noticeOf([section]) });
      }
    }
    return units;
  }

  /**
   * Edits that fold `connects` into the messages already posted for their disconnects (within the
   * window, on this target). Connects that fold nowhere are left to be posted.
   */
  private async folds(sender: Sender, connects: StoredEvent[], items: OutboxItem[]): Promise<Unit[]> {
    const sink = this.sinks.get(sender.platform);
    const windowMs = this.windowMs;
    if (!sink?.edit || windowMs <= 0 || connects.length === 0) return [];
    const messages = await this.opts.store.outbox.messages(sender.target);
    // A user's disconnect line in a message is taken once a connect of theirs went out in it.
    const lineKey = (m: PostedMessage, e: MessageEvent | StoredEvent) => `${m.id}\n${e.server}\n${e.user}`;
    const taken = new Set(messages.flatMap((m) => m.events.filter((e) => e.type === 'connected').map((e) => lineKey(m, e))));
    const folds = new Map<string, { message: PostedMessage; connects: StoredEvent[] }>();
    for (const c of connects) {
      let best: { message: PostedMessage; disconnect: MessageEvent } | null = null;
      for (const m of messages) {
        for (const d of m.events) {
          if (!foldable(d) || !sameUser(d, c) || !withinWindow(d, c, windowMs) || taken.has(lineKey(m, d))) continue;
          if (!best || ms(d.at) > ms(best.disconnect.at)) best = { message: m, disconnect: d };
        }
      }
      if (!best) continue;
      taken.add(lineKey(best.message, best.disconnect));
      const fold = folds.get(best.message.id) ?? { message: best.message, connects: [] };
      fold.connects.push(c);
      folds.set(best.message.id, fold);
    }

    const itemOf = new Map(items.map((i) => [i.event, i]));
    const units: Unit[] = [];
    for (const { message, connects: candidates } of folds.values()) {
      const posted = [...(await this.opts.store.outbox.events(message.events.map((e) => e.id))).values()];
      const all = [...posted, ...candidates].sort(byTime);
      const flapFrom = pairFlaps(all, windowMs);
      // The message as it stands decides: a connect that pairs with none of its lines is posted.
      const folded = candidates.filter((c) => flapFrom.has(c));
      if (folded.length === 0) continue;
      // Each section as it was posted (as many lines), the reconnect in its disconnect's place.
      const notice = noticeOf(message.sections.map((s) => composeSection(s.server, s.cycle, all, flapFrom, s.lines)));
      units.push({ kind: 'edit', message, items: folded.map((c) => itemOf.get(c.id)!), events: folded, notice });
    }
    return units;
  }

  /** Waits until the channel may take another message (its platform's interval since the last one). */
  private async pace(sender: Sender): Promise<void> {
    const interval = this.pacingMs[sender.platform];
    if (interval <= 0) return;
    const mine = this.lastSent.get(sender.target);
    // The last post by whoever held the target before (another process) counts too.
    const waitMs = mine !== undefined ? mine + interval - performance.now()
      : sender.state.lastPostAt ? sender.state.lastPostAt.getTime() + interval - Date.now() : 0;
    if (waitMs > 0) await sleep(Math.min(waitMs, interval), undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  private async attempt(sender: Sender, unit: Unit): Promise<Next> {
    const { outbox } = this.opts.store;
    const { target, platform, channel } = sender;
    await this.pace(sender);
    if (this.stopped) return 'stop';
    const now = this.now();
    // The lease renewed, and the message written down before it goes out: if this process dies
    // after posting, the next holder posts the same message (same nonce) rather than another.
    const inFlight = unit.kind === 'post' ? { items: unit.items.map((i) => i.id), nonce: nonceOf(unit.items.map((i) => i.id)) } : null;
    const held = await outbox.updateTarget(target, this.id, { leaseUntil: new Date(now.getTime() + this.leaseMs), ...(inFlight ? { inFlight } : {}) });
    if (!held) {
      this.log.warn({ target }, `notices to ${target}: another process took over the target (this one's lease expired)`);
      return 'stop';
    }
    sender.state = { ...sender.state, ...(inFlight ? { inFlight } : {}) };

    const sink = this.sinks.get(platform);
    let failure: DeliveryError | null = null;
    let ref: string | null = null;
    try {
      if (!sink) throw new DeliveryError(`no ${platform} connection is configured`, true);
      if (unit.kind === 'post') ref = await sink.post(channel, unit.notice, { nonce: inFlight!.nonce });
      else await sink.edit!(channel, unit.message.ref, unit.notice);
    } catch (err) {
      failure = classify(err);
    }
    this.lastSent.set(target, performance.now());
    const eventIds = unit.events.map((e) => e.id);
    const itemIds = unit.items.map((i) => i.id);
    const lastPostAt = new Date();

    if (!failure) {
      const messageRef = unit.kind === 'post' ? ref : unit.message.ref;
      await outbox.recordAttempt(eventIds, target, { state: 'sent', sentAt: now, lastError: null, messageRef });
      if (unit.kind === 'post' && ref && sink?.edit && this.windowMs > 0) {
        await outbox.saveMessage({ target, ref, postedAt: now, sections: unit.sections, events: unit.events.map(outline) }, new Date(now.getTime() + this.windowMs + KEEP_MARGIN_MS));
      }
      if (unit.kind === 'edit') await outbox.addToMessage(unit.message.id, unit.events.map(outline));
      await outbox.remove(itemIds);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: unit.kind === 'post' ? 'sent' : 'edited' });
      await this.setState(sender, { state: 'ok', error: null, nextAttemptAt: null, failures: 0, inFlight: null, lastPostAt });
      return 'continue';
    }

    if (unit.kind === 'edit' && failure.permanent) {
      this.log.warn({ target }, `could not edit the posted notice (${failure.message}); posting the reconnect instead`);
      await outbox.forgetMessage(unit.message.id);
      return 'replan';
    }

    const attempts = Math.max(...unit.events.map((e) => e.deliveries.find((d) => d.target === target)?.attempts ?? 0)) + 1;
    const oldest = Math.min(...unit.events.map((e) => ms(e.at)));
    const givingUp = !failure.permanent && now.getTime() - oldest > (this.opts.giveUpAfterMs ?? 24 * 3600_000);
    if (failure.permanent || givingUp) {
      const error = givingUp ? `gave up after ${attempts} attempts: ${failure.message}` : failure.message;
      await outbox.recordAttempt(eventIds, target, { state: 'failed', lastError: error });
      await outbox.remove(itemIds);
      this.opts.metrics?.noticeDeliveries.inc({ target, result: 'failed' });
      await this.setState(sender, { state: 'failing', error, nextAttemptAt: null, failures: sender.state.failures + 1, inFlight: null, lastPostAt });
      return 'continue';
    }

    const failures = sender.state.failures + 1;
    const delayMs = failure.retryAfterMs ?? Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
    await outbox.recordAttempt(eventIds, target, { state: 'pending', lastError: failure.message });
    this.opts.metrics?.noticeDeliveries.inc({ target, result: 'retry' });
    await this.setState(sender, { state: 'retrying', error: failure.message, nextAttemptAt: new Date(now.getTime() + delayMs), failures, lastPostAt });
    return 'stop';
  }

  /** Fails every delivery waiting for the target, for good (it cannot be sent to at all). */
  private async failAll(sender: Sender, error: string): Promise<void> {
    const { outbox } = this.opts.store;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const items = await outbox.items(sender.target, BATCH);
      if (items.length === 0) break;
      await outbox.recordAttempt(items.map((i) => i.event), sender.target, { state: 'failed', lastError: error });
      await outbox.remove(items.map((i) => i.id));
    }
    await this.setState(sender, { state: 'failing', error, nextAttemptAt: null, inFlight: null });
  }

  /** Stores the target's new state; a change of state (or of a permanent error) is logged, once. */
  private async setState(sender: Sender, next: Partial<NoticeTargetRecord> & Pick<NoticeTargetRecord, 'state' | 'error'>): Promise<void> {
    const prev = sender.state;
    const changed = next.state !== prev.state || (next.state === 'failing' && next.error !== prev.error);
    const since = changed ? this.now() : prev.since;
    const state: NoticeTargetRecord = { ...prev, ...next, since };
    const { id: _id, holder: _holder, ...fields } = state;
    await this.opts.store.outbox.updateTarget(sender.target, this.id, fields);
    sender.state = state;
    if (!changed) return;
    const label = targetLabel(sender.target);
    const context = { target: sender.target, state: state.state };
    if (state.state === 'retrying') {
      this.log.warn({ ...context, nextAttemptAt: state.nextAttemptAt }, `notices to ${label} are being retried: ${state.error}`);
    } else if (state.state === 'failing') {
      this.log.error(context, `notices to ${label} fail: ${state.error}`);
    } else if (prev.state !== 'ok') {
      this.log.info(context, `notices to ${label} are delivered again (${prev.state} since ${prev.since ? formatTime(prev.since) : 'start'})`);
    }
  }
}

/** Errors the adapter did not classify (a dropped connection, a timeout) are worth a retry. */
function classify(err: unknown): DeliveryError {
  return err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), false);
}
