// Where notices go: a target is a platform (or the log), and a server's notices go to its own
// channel on that platform, else the global one. The sink interface is what each chat adapter
// implements; DeliveryError is how it tells a transient failure from a permanent one.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { noticeText, type Notice } from './notice-text.ts';

export type NoticeTarget = 'slack' | 'discord' | 'log';

export interface NoticeSink {
  target: NoticeTarget;
  /** Posts a notice; resolves to a reference to the message for edit(), or null when it cannot be edited. */
  post(channel: string, notice: Notice): Promise<string | null>;
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
      log.info({ server: notice.server }, noticeText(notice, { realIps: true })); // the log is the operator's
      return null;
    },
  };
}

