// A local stand-in for Discord's servers, on 127.0.0.1, as the real ones behave on the wire:
// - REST under /api/v10 with `Authorization: Bot <token>` (401 for another token), the gateway
//   URL, interaction callbacks, the webhook routes that edit, delete and follow up an
//   interaction's reply, command registration (PUT), and channel messages: posted (404 Unknown
//   Channel for a channel the bot cannot see) and edited (404 Unknown Message for one it does not
//   hold: never posted, or deleted with deleteMessage);
// - the gateway: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeat ACKs, and dispatches such as
//   INTERACTION_CREATE on demand; `sendReady = false` makes it a gateway that never says READY;
// - Discord's message limits (see discordMessageProblems below) on every route that posts or
//   edits a message (channel messages, interaction callbacks, the webhook routes of a reply): a
//   message that breaks one gets Discord's 400 with code 50035 and its errors object, so a test
//   fails when something vpnwatch sends would not fit; and the limits of command registration
//   (descriptions of 1-100 characters, `contexts` from 0-2).
// Tests can queue other answers per route (a 429 with retry-after, a 500) and read every call.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RestCall {
  method: string;
  /** Without the /api/v10 prefix and without the query string. */
  path: string;
  query: string;
  body: any;
  headers: http.IncomingHttpHeaders;
}

export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export const IDS = {
  app: '100000000000000001',
  guild: '200000000000000001',
  channel: '300000000000000001',
  adminRole: '310000000000000001',
  admin: '400000000000000001',
  member: '400000000000000002',
};

/** One entry of Discord's errors object: `{ _errors: [{ code, message }] }` at the field's path. */
type FormErrors = { [key: string]: FormErrors } & { _errors?: { code: string; message: string }[] };

/**
 * Discord's limits on a message (the API's "Embed Limits" and message content, checked through the
 * search tool against the SDKs that mirror them and the errors Discord returns): content up to 2,000
 * characters; up to 10 embeds; in an embed, title 256, description 4,096, up to 25 fields, field
 * name 1-256 and value 1-1,024 (both required), footer text 2,048, author name 256; and the title,
 * description, field names and values, footer and author texts of all embeds together up to
 * 6,000. Characters are counted as Unicode code points. Returns Discord's `errors` object, or
 * null for a message Discord takes.
 */
export function discordMessageProblems(body: any): FormErrors | null {
  const errors: FormErrors = {};
  const length = (text: unknown) => [...String(text ?? '')].length;
  const put = (path: (string | number)[], code: string, message: string) => {
    let node = errors;
    for (const key of path) node = (node[String(key)] ??= {} as FormErrors);
    (node._errors ??= []).push({ code, message });
  };
  const max = (path: (string | number)[], text: unknown, limit: number) => {
    if (text !== undefined && text !== null && length(text) > limit) put(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${limit} or fewer in length.`);
  };
  const required = (path: (string | number)[], text: unknown, limit: number) => {
    if (text === undefined || text === null || length(text) === 0) put(path, 'BASE_TYPE_REQUIRED', 'This field is required');
    else max(path, text, limit);
  };
  max(['content'], body?.content, 2000);
  const embeds: any[] = Array.isArray(body?.embeds) ? body.embeds : [];
  if (embeds.length > 10) put(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  embeds.forEach((e, i) => {
    max(['embeds', i, 'title'], e.title, 256);
    max(['embeds', i, 'description'], e.description, 4096);
    max(['embeds', i, 'author', 'name'], e.author?.name, 256);
    if (e.footer) required(['embeds', i, 'footer', 'text'], e.footer.text, 2048);
    const fields: any[] = e.fields ?? [];
    if (fields.length > 25) put(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    fields.forEach((f, j) => {
      required(['embeds', i, 'fields', j, 'name'], f.name, 256);
      required(['embeds', i, 'fields', j, 'value'], f.value, 1024);
      total += length(f.name) + length(f.value);
    });
    total += length(e.title) + length(e.description) + length(e.footer?.text) + length(e.author?.name);
  });
  if (total > 6000) put(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  return Object.keys(errors).length ? errors : null;
}

/** Registration limits: every description 1-100 characters, contexts from 0 (guild), 1 (bot DM), 2 (private channel). */
function commandProblems(commands: any[]): FormErrors | null {
  const errors: FormErrors = {};
  const put = (path: (string | number)[], code: string, message: string) => {
    let node = errors;
    for (const key of path) node = (node[String(key)] ??= {} as FormErrors);
    (node._errors ??= []).push({ code, message });
  };
  const check = (o: any, path: (string | number)[]) => {
    const n = [...String(o.description ?? '')].length;
    if (n < 1 || n > 100) put([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    (o.options ?? []).forEach((sub: any, i: number) => check(sub, [...path, 'options', i]));
  };
  commands.forEach((c, i) => {
    check(c, [i]);
    (c.contexts ?? []).forEach((ctx: unknown, j: number) => {
      if (![0, 1, 2].includes(ctx as number)) put([i, 'contexts', j], 'ENUM_TYPE_COERCE', `Value "${String(ctx)}" is not a valid enum value.`);
    });
  });
  return Object.keys(errors).length ? errors : null;
}

const invalidFormBody = (errors: FormErrors): FakeAnswer => ({ status: 400, body: { message: 'Invalid Form Body', code: 50035, errors } });

const user = (id: string, username: string) => ({ id, username, discriminator: '0', global_name: username, avatar: null });

export async function startFakeDiscord(opts: { token: string }) {
  const rest: RestCall[] = [];
  const frames: any[] = [];
  const queued = new Map<string, FakeAnswer[]>();
  let sock: WebSocket | undefined;
  let seq = 0;
  let nextId = 500000000000000000n;
  const snowflake = () => String(++nextId);
  /** Each channel message posted, by id, as it reads now. */
  const messages = new Map<string, any>();
  /** Every message refused for breaking a limit: the route, and Discord's errors object. */
  const rejections: { route: string; errors: FormErrors }[] = [];
  const control = { sendReady: true };

  // ---- gateway ----
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const gatewayUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const send = (payload: unknown) => sock?.send(JSON.stringify(payload));
  const dispatch = (t: string, d: unknown) => send({ op: 0, t, s: ++seq, d });
  wss.on('connection', (ws) => {
    sock = ws;
    send({ op: 10, d: { heartbeat_interval: 41_250 } });
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      frames.push(frame);
      if (frame.op === 1) send({ op: 11 });
      if (frame.op !== 2 || !control.sendReady) return;
      dispatch('READY', {
        v: 10, user: { ...user(IDS.app, 'vpnbot'), bot: true, flags: 0 }, guilds: [{ id: IDS.guild, unavailable: true }],
        session_id: 'fake-session', resume_gateway_url: gatewayUrl, shard: [0, 1], application: { id: IDS.app, flags: 0 },
      });
      const role = (id: string, name: string, position: number) => ({ id, name, color: 0, hoist: false, position, permissions: '0', managed: false, mentionable: false, flags: 0 });
      dispatch('GUILD_CREATE', {
        id: IDS.guild, name: 'Ops', icon: null, owner_id: IDS.admin, afk_timeout: 300, verification_level: 0, default_message_notifications: 0,
        explicit_content_filter: 0, mfa_level: 0, nsfw_level: 0, premium_tier: 0, system_channel_flags: 0, features: [],
        roles: [role(IDS.guild, '@everyone', 0), role(IDS.adminRole, 'vpn-admins', 1)],
        emojis: [], stickers: [], member_count: 2, large: false, unavailable: false, joined_at: new Date().toISOString(),
        channels: [{ id: IDS.channel, type: 0, guild_id: IDS.guild, name: 'vpn-notices', position: 0, permission_overwrites: [], nsfw: false, topic: null, last_message_id: null, parent_id: null, rate_limit_per_user: 0 }],
        threads: [], members: [], presences: [], voice_states: [], stage_instances: [], guild_scheduled_events: [], soundboard_sounds: [],
        preferred_locale: 'en-US', premium_progress_bar_enabled: false,
      });
    });
  });

  const message = (channelId: string, body: any) => ({
    id: snowflake(), channel_id: channelId, type: 0, content: body?.content ?? '', embeds: body?.embeds ?? [], attachments: [], mentions: [],
    mention_roles: [], pinned: false, tts: false, mention_everyone: false, timestamp: new Date().toISOString(), edited_timestamp: null,
    flags: body?.flags ?? 0, components: [], author: { ...user(IDS.app, 'vpnbot'), bot: true }, webhook_id: IDS.app,
  });

  // ---- REST ----
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      // Paths arrive percent-encoded (discord.js sends `%40original` for `@original`).
      const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
      const method = req.method ?? 'GET';
      const body = raw && String(req.headers['content-type']).includes('json') ? JSON.parse(raw) : raw;
      rest.push({ method, path, query: url.search, body, headers: req.headers });
      const send = (a: FakeAnswer) => {
        // 204 No Content carries no body and no content type (discord.js parses JSON by content type).
        res.writeHead(a.status, { ...(a.body === undefined ? {} : { 'content-type': 'application/json' }), ...a.headers });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      const next = queued.get(`${method} ${path}`)?.shift();
      if (next) return send(next);
      // Interaction callbacks and webhooks are authorised by the interaction token in the path.
      const byToken = path.startsWith('/interactions/') || path.startsWith('/webhooks/');
      if (!byToken && req.headers.authorization !== `Bot ${opts.token}`) return send({ status: 401, body: { message: '401: Unauthorized', code: 0 } });
      let m: RegExpMatchArray | null;
      if (method === 'GET' && path === '/gateway/bot') {
        return send({ status: 200, body: { url: gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } } });
      }
      if (method === 'GET' && path === '/applications/@me') return send({ status: 200, body: { id: IDS.app, name: 'vpnwatch', flags: 0 } });
      // Every route that posts or edits a message checks Discord's limits first.
      const postsMessage = (method === 'POST' && /^\/channels\/\d+\/messages$/.test(path)) || (method === 'PATCH' && /^\/channels\/\d+\/messages\/\d+$/.test(path))
        || (method !== 'DELETE' && /^\/webhooks\/\d+\/[^/]+(\/messages\/@original)?$/.test(path));
      const callbackData = /^\/interactions\/\d+\/[^/]+\/callback$/.test(path) ? body?.data : undefined;
      const problems = postsMessage ? discordMessageProblems(body) : callbackData ? discordMessageProblems(callbackData) : null;
      if (problems) {
        rejections.push({ route: `${method} ${path}`, errors: problems });
        return send(invalidFormBody(callbackData ? { data: problems } : problems));
      }
      if (method === 'POST' && /^\/interactions\/\d+\/[^/]+\/callback$/.test(path)) return send({ status: 204 });
      if ((m = path.match(/^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/))) {
        if (method === 'DELETE') return send({ status: 204 });
        return send({ status: 200, body: message(IDS.channel, body) });
      }
      if (method === 'POST' && /^\/webhooks\/\d+\/[^/]+$/.test(path)) return send({ status: 200, body: message(IDS.channel, body) });
      if (method === 'PUT' && (m = path.match(/^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/))) {
        const refused = commandProblems(body as any[]);
        if (refused) return send(invalidFormBody(refused));
        return send({ status: 200, body: (body as any[]).map((c) => ({ id: snowflake(), application_id: m![1], guild_id: m![2], version: '1', type: 1, default_member_permissions: null, ...c })) });
      }
      if (method === 'POST' && (m = path.match(/^\/channels\/(\d+)\/messages$/))) {
        if (m[1] !== IDS.channel) return send({ status: 404, body: { message: 'Unknown Channel', code: 10003 } });
        if (!body?.content && !body?.embeds?.length) return send({ status: 400, body: { message: 'Cannot send an empty message', code: 50006 } });
        const posted = message(m[1]!, body);
        messages.set(posted.id, posted);
        return send({ status: 200, body: posted });
      }
      if (method === 'PATCH' && (m = path.match(/^\/channels\/(\d+)\/messages\/(\d+)$/))) {
        if (m[1] !== IDS.channel) return send({ status: 404, body: { message: 'Unknown Channel', code: 10003 } });
        const edited = messages.get(m[2]!);
        if (!edited || edited.channel_id !== m[1]) return send({ status: 404, body: { message: 'Unknown Message', code: 10008 } });
        Object.assign(edited, { content: body.content ?? edited.content, edited_timestamp: new Date().toISOString() });
        return send({ status: 200, body: edited });
      }
      return send({ status: 404, body: { message: '404: Not Found', code: 0 } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;

  return {
    apiBase,
    rest,
    frames,
    messages,
    rejections,
    /** false: IDENTIFY is never answered with READY (a gateway that hangs). */
    set sendReady(value: boolean) {
      control.sendReady = value;
    },
    /** Someone deleted the message: later edits of it get 404 Unknown Message. */
    deleteMessage(id: string) {
      messages.delete(id);
    },
    dispatch,
    /** The calls whose method and path match. */
    callsTo: (method: string, pattern: RegExp) => rest.filter((c) => c.method === method && pattern.test(c.path)),
    /** The next calls to `METHOD /path` get these answers, in order. */
    answerNext(route: string, ...answers: FakeAnswer[]) {
      queued.set(route, [...(queued.get(route) ?? []), ...answers]);
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type FakeDiscord = Awaited<ReturnType<typeof startFakeDiscord>>;

let interactions = 700000000000000000n;

/** An INTERACTION_CREATE payload for `/vpn <sub> [options]` from a guild member. */
export function vpnInteraction(sub: string, options: { name: string; type: 3 | 4; value: string | number }[], from: { userId: string; roles?: string[] }) {
  const id = String(++interactions);
  return {
    id, application_id: IDS.app, type: 2, token: `itoken-${id}`, version: 1, guild_id: IDS.guild, channel_id: IDS.channel,
    channel: { id: IDS.channel, type: 0, guild_id: IDS.guild, name: 'vpn-notices', position: 0, permission_overwrites: [], nsfw: false, parent_id: null },
    member: {
      user: user(from.userId, from.userId === IDS.admin ? 'ada' : 'mel'), roles: from.roles ?? [], permissions: '0', joined_at: new Date().toISOString(),
      deaf: false, mute: false, flags: 0, pending: false, nick: null, avatar: null, premium_since: null,
    },
    data: { id: '600000000000000000', name: 'vpn', type: 1, guild_id: IDS.guild, options: [{ name: sub, type: 1, options }] },
    app_permissions: '0', locale: 'en-US', guild_locale: 'en-US', entitlements: [],
    authorizing_integration_owners: { '0': IDS.guild }, context: 0, attachment_size_limit: 8_388_608,
  };
}
