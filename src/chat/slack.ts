// The Slack adapter (Bolt): `/vpn …` slash commands and notices.
//
// HTTP mode (SLACK_SIGNING_SECRET): Bolt's ExpressReceiver verifies each request's signature and
// timestamp (401 otherwise) and serves POST /slack/events, Bolt's default request URL. Its router
// is handed to the web server to mount, BEFORE any body parser (Bolt needs the raw body to check
// the signature). Socket Mode (SLACK_APP_TOKEN): Bolt opens a websocket to Slack; no public URL.
//
// A command is acked at once (Slack gives 3 s), then dispatched, then answered through the
// response_url: ephemeral when the Reply is private, in the channel otherwise.
import { App, ExpressReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Router } from 'express';
import type { SlackConfig } from '../config.ts';
import type { Actor } from '../domain.ts';
import { dispatch, type DispatchDeps } from '../dispatch.ts';
import { logger, type Logger } from '../log.ts';
import { unescapeSlack } from './escape.ts';
import { renderSlackNotice, renderSlackNoticeUpdate, renderSlackReply } from './render-slack.ts';
import { type Notice } from '../notify/notice-text.ts';
import { DeliveryError, type NoticeSink } from '../notify/targets.ts';

export interface SlackAdapterDeps {
  config: SlackConfig;
  dispatch: DispatchDeps;
  log?: Logger;
}

export interface SlackAdapter {
  app: App;
  mode: 'http' | 'socket';
  /** HTTP mode: serves POST /slack/events; mount it on the web server before any body parser. null in Socket Mode. */
  router: Router | null;
  /** Checks the bot token (auth.test); in Socket Mode, then connects. The router answers only after this. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Posts a notice; resolves to its ref for editNotice: `{"channel":"C…","ts":"…"}`. */
  postNotice(channel: string, notice: Notice): Promise<string | null>;
  /** Replaces a posted notice's content (chat.update). */
  editNotice(channel: string, ref: string, notice: Notice): Promise<void>;
  sink: NoticeSink;
}

/** Bolt's logger interface on top of pino. */
function boltLogger(log: Logger): BoltLogger {
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg) => log.debug(line(msg)),
    info: (...msg) => log.info(line(msg)),
    warn: (...msg) => log.warn(line(msg)),
    error: (...msg) => log.error(line(msg)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

/**
 * A posted notice as the notifier stores it: the channel ID Slack answered with (the configured
 * channel may be a name, and chat.update takes only an ID) and the message's ts.
 */
interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** Slack Web API errors whose cause passes: worth another try later. */
const TRANSIENT_API_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/** A Web API failure as the notifier needs it: transient (retry) or permanent (record and stop). */
export function slackDeliveryError(err: unknown): DeliveryError {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  switch (e.code) {
    case webApi.ErrorCode.RateLimitedError:
      return new DeliveryError(`Slack rate limit (retry after ${e.retryAfter} s)`, false, (e.retryAfter ?? 1) * 1000);
    case webApi.ErrorCode.PlatformError: {
      const error = e.data?.error ?? 'unknown_error';
      return new DeliveryError(`Slack API error: ${error}`, !TRANSIENT_API_ERRORS.has(error));
    }
    case webApi.ErrorCode.HTTPError: {
      const status = e.statusCode ?? 0;
      return new DeliveryError(`Slack API HTTP ${status}`, !(status >= 500 || status === 408));
    }
    default:
      return new DeliveryError(`Slack API unreachable: ${e.message ?? String(err)}`, false);
  }
}

export function createSlackApp(deps: SlackAdapterDeps): SlackAdapter {
  const { config } = deps;
  const log = (deps.log ?? logger).child({ module: 'slack' });
  const boltLog = boltLogger(log);
  const apiUrl = config.apiUrl ? { slackApiUrl: config.apiUrl } : {};
  const socketMode = config.appToken !== undefined;

  // The Socket Mode receiver is built here rather than by Bolt, to wait for the websocket's close
  // handshake on stop().
  const socketReceiver = socketMode ? new SocketModeReceiver({ appToken: config.appToken!, logger: boltLog, installerOptions: { clientOptions: apiUrl } }) : null;
  const httpReceiver = socketMode ? null : new ExpressReceiver({ signingSecret: config.signingSecret!, endpoints: '/slack/events', logger: boltLog });
  // deferInitialization: Bolt would otherwise call auth.test in its constructor and leave a bad
  // token's rejection unhandled (a crash); start() runs it instead and reports it.
  const app = new App({ token: config.botToken, receiver: (socketReceiver ?? httpReceiver)!, logger: boltLog, clientOptions: apiUrl, deferInitialization: true });

  app.command('/vpn', async ({ command, ack, respond }) => {
    await ack();
    const actor: Actor = { platform: 'slack', userId: command.user_id, userName: command.user_name };
    const reply = await dispatch(unescapeSlack(command.text), actor, deps.dispatch, command.channel_id);
    try {
      await respond(renderSlackReply(reply));
    } catch (err) {
      log.error({ err, userId: command.user_id }, 'could not answer a /vpn command through its response_url');
    }
  });
  app.error(async (err) => {
    log.error({ err }, 'Slack event failed');
  });

  // Notices use a client of their own: no hidden retries or waits, so the notifier decides when to
  // try again (and honours retry-after) and nothing blocks its run.
  const noticeClient = new webApi.WebClient(config.botToken, {
    ...apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 10_000, logger: boltLog,
  });
  const postNotice = async (channel: string, notice: Notice): Promise<string | null> => {
    try {
      const posted = await noticeClient.chat.postMessage({ channel, ...renderSlackNotice(notice) });
      return posted.ts ? JSON.stringify({ channel: posted.channel ?? channel, ts: posted.ts } satisfies SlackMessageRef) : null;
    } catch (err) {
      throw slackDeliveryError(err);
    }
  };
  const editNotice = async (_channel: string, ref: string, notice: Notice): Promise<void> => {
    const { channel, ts } = JSON.parse(ref) as SlackMessageRef;
    try {
      await noticeClient.chat.update({ channel, ts, ...renderSlackNoticeUpdate(notice) });
    } catch (err) {
      throw slackDeliveryError(err);
    }
  };

  return {
    app,
    mode: socketMode ? 'socket' : 'http',
    router: httpReceiver?.router ?? null,
    async start() {
      try {
        await app.init();
      } catch (err) {
        throw new Error(`Slack auth.test with SLACK_BOT_TOKEN failed: ${slackDeliveryError(err).message}`);
      }
      if (socketMode) await app.start();
    },
    async stop() {
      await socketReceiver?.client.disconnect();
    },
    postNotice,
    editNotice,
    sink: { target: 'slack', post: postNotice, edit: editNotice },
  };
}
