// Where notices go. A target is a platform plus a channel (`slack:C123`, `discord:456`), or the
// log: the unit the outbox advances, claims, paces and reports on, each on its own. A server's
// notices go to its own channel on a platform, else that platform's global channel. The sink
// interface is what each chat adapter implements; DeliveryError is how it tells a transient
// failure from a permanent one.
import type { Config } from '../config.ts';
import { formatTime } from '../format.ts';
import type { Logger } from '../log.ts';
import type { TargetHealth } from '../store/outbox.ts';
import { noticeSections, noticeText, type Notice } from './notice-text.ts';

export type NoticePlatform = 'slack' | 'discord' | 'log';

export interface PostOptions {
  /**
   * Derived from the deliveries a message carries (≤ 25 characters): the same message posted again
   * carries the same nonce. Discord sends it with `enforce_nonce`, so a post retried after a
   * timeout is not created twice; Slack has no such field.
   */
  nonce?: string;
}

export interface NoticeSink {
  /** The platform this sink posts to (the field keeps its older name; a target is platform + channel). */
  target: NoticePlatform;
  /** Posts a notice; resolves to a reference to the message for edit(), or null when it cannot be edited. */
  post(channel: string, notice: Notice, options?: PostOptions): Promise<string | null>;
  /** Replaces the content of a notice posted to `channel` (`ref` as post() returned it); absent where post() gives no ref. */
  edit?(channel: string, ref: string, notice: Notice): Promise<void>;
}

/** A failed post or edit, classified by the adapter that knows its platform's errors. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(message: string, readonly permanent: boolean, readonly retryAfterMs?: number) {
    super(message);
  }
}

/**
 * What each platform takes, as the notifier paces and combines:
 * - `minIntervalMs`: the least time between two messages (posts or edits) to one channel. Slack
 *   allows about one message a second per channel; Discord 5 per 5 s per channel, so 1 s is safe.
 * - `maxChars`: sections are combined into one message while its plain text stays within this,
 *   so that it fits the platform even when escaping grows every character as much as it can:
 *   Discord content holds 2,000 characters and escaping at most doubles one (a backslash); Slack's
 *   text holds 40,000 and an entity (`&amp;`) is at most 5 characters (its sections of 3,000 stay
 *   under 50 blocks). A single section longer than this goes alone, cut by the renderer.
 * - `combine`: several servers' changes may share one message (the log keeps one per server).
 */
export const PLATFORM_LIMITS: Record<NoticePlatform, { minIntervalMs: number; maxChars: number; combine: boolean }> = {
  slack: { minIntervalMs: 1_000, maxChars: 8_000, combine: true },
  discord: { minIntervalMs: 1_000, maxChars: 1_000, combine: true },
  log: { minIntervalMs: 0, maxChars: 8_000, combine: false },
};

type NoticeConfig = Pick<Config, 'servers' | 'slack' | 'discord'>;

/** The channel a server's notices go to on `platform`: the server's own, else the global one. */
export function noticeChannel(config: NoticeConfig, server: string, platform: NoticePlatform): string | undefined {
  if (platform === 'log') return 'log';
  const notify = config.servers.find((s) => s.name === server)?.notify;
  if (platform === 'slack') return config.slack ? notify?.slackChannel ?? config.slack.noticeChannel : undefined;
  return config.discord ? notify?.discordChannel ?? config.discord.noticeChannel : undefined;
}

/** A target's id: `slack:C123`, `discord:456`, or `log`. */
export function targetId(platform: NoticePlatform, channel: string): string {
  return platform === 'log' ? 'log' : `${platform}:${channel}`;
}

/** The platform and channel of a target id. */
export function parseTarget(id: string): { platform: NoticePlatform; channel: string } {
  if (id === 'log') return { platform: 'log', channel: 'log' };
  const colon = id.indexOf(':');
  const platform = id.slice(0, colon);
  if (colon < 1 || (platform !== 'slack' && platform !== 'discord')) throw new Error(`not a notice target: '${id}'`);
  return { platform, channel: id.slice(colon + 1) };
}

/** Where a server's events are to be delivered (target ids); the log when no chat channel is configured for it. */
export function noticeTargets(config: NoticeConfig, server: string): string[] {
  const chats = (['slack', 'discord'] as const).flatMap((p) => {
    const channel = noticeChannel(config, server, p);
    return channel === undefined ? [] : [targetId(p, channel)];
  });
  return chats.length ? chats : ['log'];
}

/** Every target some server's notices go to, in a stable order. */
export function configuredTargets(config: NoticeConfig): string[] {
  return [...new Set(config.servers.flatMap((s) => noticeTargets(config, s.name)))].sort();
}

const PLATFORM_NAMES: Record<NoticePlatform, string> = { slack: 'Slack', discord: 'Discord', log: 'the log' };

/** A target as people read it: "Slack C0NOTICE", "Discord 3000…", "the log". */
export function targetLabel(id: string): string {
  const { platform, channel } = parseTarget(id);
  return platform === 'log' ? PLATFORM_NAMES.log : `${PLATFORM_NAMES[platform]} ${channel}`;
}

/**
 * A target's state in words, for /vpn servers and the page: "Notices to Slack C0GONE: failing since
 * 2026-11-28 10:02 UTC: Slack API error: channel_not_found". `error: false` leaves the error text
 * out (the page's guests).
 */
export function describeTarget(t: TargetHealth, { error = true } = {}): string {
  const why = error && t.error ? `: ${t.error}` : '';
  const waiting = t.pending > 0 ? `, ${t.pending} waiting` : '';
  const since = t.since ? ` since ${formatTime(t.since)}` : '';
  switch (t.state) {
    case 'ok':
      return `Notices to ${targetLabel(t.id)}: delivered${waiting}`;
    case 'retrying':
      return `Notices to ${targetLabel(t.id)}: retrying${since}${t.nextAttemptAt ? `, next attempt ${formatTime(t.nextAttemptAt)}` : ''}${waiting}${why}`;
    case 'failing':
      return `Notices to ${targetLabel(t.id)}: failing${since}${waiting}${why}`;
  }
}

/** Writes notices to the log: the target when no chat is configured. */
export function logSink(log: Logger): NoticeSink {
  return {
    target: 'log',
    async post(_channel, notice) {
      log.info({ server: noticeSections(notice).map((s) => s.server).join(', ') }, noticeText(notice, { realIps: true })); // the log is the operator's
      return null;
    },
  };
}
