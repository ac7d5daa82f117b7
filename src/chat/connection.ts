// Keeps one chat platform connected in the background, so chat can never hold up or take down
// the rest of vpnwatch: polling, the page and notices to the log run whatever Slack or Discord do.
//
// Each attempt is the adapter's start(). A transient failure (the platform unreachable, a 5xx, a
// rate limit, a gateway that never says READY) is tried again after a backoff of 1 s doubling to
// 5 min, jittered, honouring a retry-after. A permanent one (a bad token) is not tried again: it
// needs the configuration changed (and vpnwatch restarted). Each change of state, and each new
// error, is logged once; status() feeds /healthz, `/vpn servers` and the page.
import type { ChatStatus } from '../domain.ts';
import { logger, type Logger } from '../log.ts';
import { DeliveryError } from '../notify/targets.ts';

export interface ChatConnectionOptions {
  platform: ChatStatus['platform'];
  /**
   * One attempt: resolves once connected; rejects with a DeliveryError saying whether another try
   * may help. An attempt that goes on (the platform retries by itself) reports why through `slow`.
   */
  connect: (slow: (reason: DeliveryError) => void) => Promise<void>;
  /** Ends the connection, and an attempt under way. */
  disconnect: () => Promise<void>;
  log?: Logger;
  now?: () => Date;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

const NAMES: Record<ChatStatus['platform'], string> = { slack: 'Slack', discord: 'Discord' };

export class ChatConnection {
  private current: ChatStatus;
  private readonly log: Logger;
  private readonly now: () => Date;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: ChatConnectionOptions) {
    this.log = (opts.log ?? logger).child({ module: 'chat', platform: opts.platform });
    this.now = opts.now ?? (() => new Date());
    this.current = { platform: opts.platform, state: 'connecting', since: this.now().toISOString(), error: null };
  }

  /** Starts connecting in the background; never throws, never waits. */
  start(): void {
    this.attempt = this.tryOnce();
  }

  status(): ChatStatus {
    return { ...this.current };
  }

  /** Stops retrying, disconnects, and waits for an attempt under way to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.opts.disconnect();
    await this.attempt;
  }

  private async tryOnce(): Promise<void> {
    try {
      await this.opts.connect((reason) => {
        if (!this.stopped && this.enter('retrying', reason.message)) this.log.warn(`cannot connect to ${NAMES[this.opts.platform]} yet (${reason.message}). Everything else keeps running.`);
      });
      if (this.stopped) return;
      this.failures = 0;
      this.enter('ok', null);
      this.log.info(`connected to ${NAMES[this.opts.platform]}`);
    } catch (err) {
      if (this.stopped) return;
      const failure = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message ?? String(err), false);
      this.failures += 1;
      if (failure.permanent) {
        if (this.enter('failing', failure.message)) {
          this.log.error(`${NAMES[this.opts.platform]} is off: ${failure.message}. Not retried: fix the configuration and restart vpnwatch. Everything else keeps running.`);
        }
        return;
      }
      const backoff = Math.min((this.opts.firstRetryMs ?? 1000) * 2 ** (this.failures - 1), this.opts.maxRetryMs ?? 5 * 60_000);
      const delayMs = Math.max(failure.retryAfterMs ?? 0, Math.round(backoff * (0.8 + Math.random() * 0.4)));
      if (this.enter('retrying', failure.message)) {
        this.log.warn(`cannot connect to ${NAMES[this.opts.platform]} (${failure.message}); retrying with backoff. Everything else keeps running.`);
      }
      this.timer = setTimeout(() => { this.attempt = this.tryOnce(); }, delayMs);
      this.timer.unref();
    }
  }

  /** Records the state; true when it (or its error) changed, which is when it is logged. */
  private enter(state: ChatStatus['state'], error: string | null): boolean {
    if (this.current.state === state && this.current.error === error) return false;
    this.current = { platform: this.opts.platform, state, since: this.current.state === state ? this.current.since : this.now().toISOString(), error };
    return true;
  }
}
