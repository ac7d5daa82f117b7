// The Slack adapter (Bolt): `/vpn …` slash commands and notices.
//
// HTTP mode (SLACK_SIGNING_SECRET): Bolt's ExpressReceiver verifies each request's signature and
// timestamp (401 otherwise) and serves POST /slack/events, Bolt's default request URL. Its router
// is handed to the web server to mount, BEFORE any body parser (Bolt needs the raw body to check
// the signature). Socket Mode (SLACK_APP_TOKEN): Bolt opens a websocket to Slack; no public URL.
//
// A command is acked at once (Slack gives 3 s), then dispatched, then answered through the
// response_url: ephemeral when the Reply is private, in the channel otherwise. An answer Slack
// refuses anyway is reported to the person who asked, privately, with a reference to the log.
//
// start() is one connection attempt (src/chat/connection.ts retries it in the background): the
// token is checked with auth.test, without the Web API client's own retries (which would wait for
// half an hour while Slack answers 503), and its failure says whether trying again can help.
import { randomBytes } from 'node:crypto';
import { App, ExpressReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Router } from 'express';
import type { SlackConfig } from '../config.ts';
import type { Actor } from '../domain.ts';
import { dispatch, isAdmin, type DispatchDeps } from '../dispatch.ts';
import { logger, type Logger } from '../log.ts';
import { escapeSlack, unescapeSlack } from './escape.ts';
import { renderSlackNotice, renderSlackNoticeUpdate, renderSlackReply, type NoticeView } from './render-slack.ts';
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
  /**
   * One connection attempt: checks the bot token (auth.test); in Socket Mode, then connects. The
   * router answers only after this. Rejects with a DeliveryError: permanent for a bad token.
   */
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

/** Why a response_url post did not show the answer: Slack's status and error, e.g. `HTTP 400 invalid_blocks`. */
class RefusedReply extends Error {
  override readonly name = 'RefusedReply';
}

/**
 * Posts to a command's response_url (what Bolt's respond() does) and reads Slack's answer, so a
 * refusal names its reason: HTTP 400 with `invalid_blocks` as incoming webhooks answer, or an
 * `ok: false` body.
 */
async function respondTo(responseUrl: string, payload: object): Promise<void> {
  const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: { ok?: boolean; error?: string; errors?: string[] } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = text ? { error: text.slice(0, 200) } : {};
  }
  if (!res.ok || body.ok === false) {
    throw new RefusedReply([`HTTP ${res.status}`, body.error, ...(body.errors ?? [])].filter(Boolean).join(' '));
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
  // token's rejection unhandled (a crash); start() runs it instead and reports it. Its client does
  // not retry (start() is retried as a whole) and does not wait out rate limits.
  const app = new App({
    token: config.botToken, receiver: (socketReceiver ?? httpReceiver)!, logger: boltLog, deferInitialization: true,
    clientOptions: { ...apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 10_000 },
  });
  const web = deps.dispatch?.config?.web;
  const noticeView: NoticeView = { realIps: web?.showRealIps ?? false, ...(web?.publicUrl ? { publicUrl: web.publicUrl } : {}) };

  app.command('/vpn', async ({ command, ack }) => {
    await ack();
    const actor: Actor = { platform: 'slack', userId: command.user_id, userName: command.user_name };
    const reply = await dispatch(unescapeSlack(command.text), actor, deps.dispatch, command.channel_id);
    try {
      await respondTo(command.response_url, renderSlackReply(reply));
    } catch (err) {
      // The asker would otherwise see nothing: tell them privately. The reason is for admins.
      const ref = randomBytes(2).toString('hex');
      log.error({ err, ref, userId: command.user_id }, 'Slack did not take the answer to a /vpn command');
      const reason = isAdmin(actor, deps.dispatch.config) ? ` (${(err as Error).message})` : '';
      const text = `❌ Slack did not show the answer${reason}. It is logged under ref ${ref}.`;
      await respondTo(command.response_url, { response_type: 'ephemeral', replace_original: false, text: escapeSlack(text), link_names: false, parse: 'none', mrkdwn: false })
        .catch((again: unknown) => log.error({ err: again, ref }, 'could not tell the asker either'));
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
      const posted = await noticeClient.chat.postMessage({ channel, ...renderSlackNotice(notice, noticeView) });
      return posted.ts ? JSON.stringify({ channel: posted.channel ?? channel, ts: posted.ts } satisfies SlackMessageRef) : null;
    } catch (err) {
      throw slackDeliveryError(err);
    }
  };
  const editNotice = async (_channel: string, ref: string, notice: Notice): Promise<void> => {
    const { channel, ts } = JSON.parse(ref) as SlackMessageRef;
    try {
      await noticeClient.chat.update({ channel, ts, ...renderSlackNoticeUpdate(notice, noticeView) });
    } catch (err) {
      throw slackDeliveryError(err);
    }
  };

  return {
    app,
    mode: socketMode ? 'socket' : 'http',
    router: httpReceiver?.router ?? null,
    async start() {
      const failed = (what: string, err: unknown) => {
        const e = slackDeliveryError(err);
        return new DeliveryError(`${what} failed: ${e.message}`, e.permanent, e.retryAfterMs);
      };
      await app.init().catch((err: unknown) => { throw failed('Slack auth.test with SLACK_BOT_TOKEN', err); });
      if (socketMode) await app.start().catch((err: unknown) => { throw failed('Slack Socket Mode with SLACK_APP_TOKEN', err); });
    },
    async stop() {
      await socketReceiver?.client.disconnect();
    },
    postNotice,
    editNotice,
    sink: { target: 'slack', post: postNotice, edit: editNotice },
  };
}
