// A local stand-in for Slack's servers, on 127.0.0.1, as the real ones behave on the wire:
// - the Web API (POST /api/<method>, form or JSON bodies, `Authorization: Bearer <token>`),
//   answering `{ ok: false, error: 'invalid_auth' }` for an unknown token and
//   `channel_not_found` for an unknown channel, with HTTP 200 as Slack does; chat.postMessage keeps
//   each message by its ts, chat.update replaces one (`message_not_found` for a ts it does not
//   hold: never posted, or deleted with deleteMessage);
// - response_url hooks (POST /response/<id>, JSON), usable 5 times each, as Slack allows;
// - Socket Mode: apps.connections.open (app token) returns a ws:// URL whose server sends
//   `hello`, delivers envelopes and records the acks;
// - Slack's message limits (see slackMessageProblems below), on chat.postMessage, chat.update and
//   response_urls: a message that breaks one is refused the way Slack refuses it, so a test fails
//   when something vpnwatch sends would not fit.
// Tests can queue other answers per method (a 429 with retry-after, a 500) and read every call.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SlackCall {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Form fields, or the JSON object; JSON-encoded form fields (blocks) are decoded. */
  body: Record<string, any>;
}

export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface FakeSlackOptions {
  botToken: string;
  appToken?: string;
  channels?: string[];
}

/**
 * Slack's limits on a message, as its Block Kit reference states them (checked through the search
 * tool against the Block Kit reference and the SDKs that mirror it): at most 50 blocks; a header's
 * text is plain_text of 1-150 characters; a section has text (1-3000) and/or 1-10 fields (1-2000
 * each); a context has 1-10 elements; every text object holds 1-3000 characters. `text` over
 * 40,000 characters is `msg_too_long`. Past the documented limits, Slack also refuses blocks whose
 * texts add up to about 13,000 characters with `msg_blocks_too_long` (observed, not documented:
 * slackapi/bolt-js#2509); the fake refuses above 13,000.
 * Characters are counted as Unicode code points. Returns null for a message Slack takes.
 */
export function slackMessageProblems(body: Record<string, any>): { error: string; errors: string[] } | null {
  const length = (text: unknown) => [...String(text ?? '')].length;
  if (length(body.text) > 40_000) return { error: 'msg_too_long', errors: [] };
  const blocks: unknown = body.blocks;
  if (blocks === undefined) return null;
  const errors: string[] = [];
  const at = (pointer: string, problem: string) => errors.push(`${problem} [json-pointer:${pointer}]`);
  let total = 0;
  const text = (t: any, pointer: string, max: number, plainOnly = false) => {
    if (!t || typeof t !== 'object' || !(t.type === 'plain_text' || (!plainOnly && t.type === 'mrkdwn'))) return at(`${pointer}/type`, plainOnly ? 'must be plain_text' : 'must be plain_text or mrkdwn');
    const n = length(t.text);
    total += n;
    if (n < 1) at(`${pointer}/text`, 'must be more than 0 characters');
    if (n > max) at(`${pointer}/text`, `must be less than ${max + 1} characters`);
  };
  if (!Array.isArray(blocks)) return { error: 'invalid_blocks', errors: ['must be an array [json-pointer:/blocks]'] };
  if (blocks.length > 50) at('/blocks', 'no more than 50 items allowed');
  blocks.forEach((b: any, i: number) => {
    const p = `/blocks/${i}`;
    switch (b?.type) {
      case 'header':
        text(b.text, `${p}/text`, 150, true);
        break;
      case 'section':
        if (b.text === undefined && b.fields === undefined) at(p, 'must provide either text or fields');
        if (b.text !== undefined) text(b.text, `${p}/text`, 3000);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length < 1 || b.fields.length > 10) at(`${p}/fields`, 'must have 1 to 10 items');
          else b.fields.forEach((f: any, j: number) => text(f, `${p}/fields/${j}`, 2000));
        }
        break;
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 10) at(`${p}/elements`, 'must have 1 to 10 items');
        else b.elements.forEach((e: any, j: number) => text(e, `${p}/elements/${j}`, 3000));
        break;
      case 'divider':
        break;
      default:
        at(`${p}/type`, `unsupported type: ${String(b?.type)}`);
    }
  });
  if (errors.length) return { error: 'invalid_blocks', errors };
  if (total > 13_000) return { error: 'msg_blocks_too_long', errors: [] };
  return null;
}

/** Slack's answer refusing a message: HTTP 200 with ok: false for the Web API. */
function refusal(problem: { error: string; errors: string[] }) {
  return {
    ok: false, error: problem.error,
    ...(problem.errors.length ? { errors: problem.errors, response_metadata: { messages: problem.errors.map((e) => `[ERROR] ${e}`) } } : {}),
  };
}

/** How many times Slack accepts posts to one response_url. */
const RESPONSE_URL_USES = 5;

function decodeForm(raw: string): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
  }
  return out;
}

export async function startFakeSlack(opts: FakeSlackOptions) {
  const calls: SlackCall[] = [];
  const queued = new Map<string, FakeAnswer[]>();
  const channels = new Set(opts.channels ?? []);
  /** Every message refused for breaking a limit: where it went, and Slack's answer. */
  const rejections: { path: string; error: string; errors: string[] }[] = [];
  const responseUses = new Map<string, number>();
  let messageTs = 1_700_000_000;
  /** Each message posted, by ts, as it reads now. */
  const messages = new Map<string, { channel: string; text: string; blocks?: unknown; edits: number }>();

  // ---- Socket Mode ----
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const socketUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link`;
  const acks: any[] = [];
  let socket: WebSocket | undefined;
  let connected!: () => void;
  const socketConnected = new Promise<void>((r) => (connected = r));
  wss.on('connection', (ws) => {
    socket = ws;
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0VPN' }, debug_info: { host: 'fake', approximate_connection_time: 3600 } }));
    ws.on('message', (data) => acks.push(JSON.parse(String(data))));
    connected();
  });

  // ---- Web API + response_url ----
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const path = req.url ?? '';
      const type = String(req.headers['content-type'] ?? '');
      const body = type.includes('json') ? JSON.parse(raw || '{}') : decodeForm(raw);
      calls.push({ path, headers: req.headers, body });
      const send = (a: FakeAnswer) => {
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      if (path.startsWith('/response/')) {
        // A response_url takes 5 posts within 30 minutes; Slack does not document the error after
        // that, the fake answers 404 used_url. A message that breaks a limit is refused as
        // incoming webhooks refuse it: HTTP 400 naming the error.
        const uses = (responseUses.get(path) ?? 0) + 1;
        responseUses.set(path, uses);
        if (uses > RESPONSE_URL_USES) return send({ status: 404, body: { ok: false, error: 'used_url' } });
        const queuedAnswer = queued.get('response')?.shift();
        if (queuedAnswer) return send(queuedAnswer);
        const problem = slackMessageProblems(body);
        if (problem) {
          rejections.push({ path, ...problem });
          return send({ status: 400, body: refusal(problem) });
        }
        return send({ status: 200, body: { ok: true } });
      }
      const method = path.startsWith('/api/') ? path.slice(5).split('?')[0]! : '';
      const next = queued.get(method)?.shift();
      if (next) return send(next);
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '') || body.token;
      if (method === 'apps.connections.open') {
        return send({ status: 200, body: token === opts.appToken ? { ok: true, url: socketUrl } : { ok: false, error: 'invalid_auth' } });
      }
      if (token !== opts.botToken) return send({ status: 200, body: { ok: false, error: 'invalid_auth' } });
      if (method === 'auth.test') {
        return send({ status: 200, body: { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'vpnbot', team_id: 'T0FAKE', user_id: 'U0BOT', bot_id: 'B0BOT' } });
      }
      if (method === 'chat.postMessage' || method === 'chat.update') {
        const problem = slackMessageProblems(body);
        if (problem) {
          rejections.push({ path, ...problem });
          return send({ status: 200, body: refusal(problem) });
        }
      }
      if (method === 'chat.postMessage') {
        if (!channels.has(body.channel)) return send({ status: 200, body: { ok: false, error: 'channel_not_found' } });
        messageTs += 1;
        const ts = `${messageTs}.000100`;
        messages.set(ts, { channel: body.channel, text: body.text, blocks: body.blocks, edits: 0 });
        return send({ status: 200, body: { ok: true, channel: body.channel, ts, message: { text: body.text } } });
      }
      if (method === 'chat.update') {
        if (!channels.has(body.channel)) return send({ status: 200, body: { ok: false, error: 'channel_not_found' } });
        const message = messages.get(body.ts);
        if (!message || message.channel !== body.channel) return send({ status: 200, body: { ok: false, error: 'message_not_found' } });
        Object.assign(message, { text: body.text, blocks: body.blocks, edits: message.edits + 1 });
        return send({ status: 200, body: { ok: true, channel: body.channel, ts: body.ts, text: body.text } });
      }
      return send({ status: 200, body: { ok: false, error: 'unknown_method' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let envelopes = 0;

  return {
    base,
    apiUrl: `${base}/api/`,
    calls,
    acks,
    messages,
    rejections,
    /** Someone deleted the message: later chat.update calls for it get message_not_found. */
    deleteMessage(ts: string) {
      messages.delete(ts);
    },
    socketConnected,
    /** The calls to one Web API method, or to response_urls with 'response'. */
    callsTo: (method: string) => calls.filter((c) => (method === 'response' ? c.path.startsWith('/response/') : c.path === `/api/${method}`)),
    /** The next calls to `method` (or to any response_url with 'response') get these answers, in order; then the normal behaviour resumes. */
    answerNext(method: string, ...answers: FakeAnswer[]) {
      queued.set(method, [...(queued.get(method) ?? []), ...answers]);
    },
    /** Delivers a slash command over the Socket Mode connection; resolves with the bot's ack frame. */
    async sendSlashCommand(payload: Record<string, string>): Promise<any> {
      if (!socket) throw new Error('no Socket Mode connection');
      const envelopeId = `env-${++envelopes}`;
      socket.send(JSON.stringify({ envelope_id: envelopeId, type: 'slash_commands', accepts_response_payload: true, payload }));
      for (let i = 0; i < 250; i++) {
        const ack = acks.find((a) => a.envelope_id === envelopeId);
        if (ack) return ack;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ack for ${envelopeId}`);
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type FakeSlack = Awaited<ReturnType<typeof startFakeSlack>>;
