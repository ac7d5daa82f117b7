// /vpn kick <name> [server] [all|CID]: admins only. The Kicker ends the sessions through the OpenVPN
// management interface, checks a fresh read, and records the kick in MongoDB; this command only
// turns the request into a KickRequest and the outcome into words.
import { shownIp, type KickOutcome, type KickedSession } from '../src/domain.ts';
import { formatTime } from '../src/format.ts';
import { checkServer, fullAnswerAt, invocation, UserError, type Command, type CommandContext, type FullAnswer, type Reply } from '../src/command.ts';

/** A name as it must be typed again: quoted when it has spaces. */
const typed = (name: string) => (/\s/.test(name) ? `"${name}"` : name);

/**
 * `kick bob all` and `kick bob 17`: typed text has no names for its words, so a second word that
 * is no server but reads as a choice is the choice.
 */
export function serverAndChoice(serverText: string | undefined, whichText: string | undefined, servers: readonly { name: string }[]): { serverText?: string; whichText?: string } {
  if (serverText !== undefined && whichText === undefined && /^(all|\d+)$/i.test(serverText) && !servers.some((s) => s.name === serverText)) {
    return { whichText: serverText };
  }
  return { ...(serverText !== undefined ? { serverText } : {}), ...(whichText !== undefined ? { whichText } : {}) };
}

function parseWhich(text: string): 'all' | number {
  if (text.toLowerCase() === 'all') return 'all';
  if (/^\d+$/.test(text)) return Number(text);
  throw new UserError(`'${text}' is not a Client ID. Give the number from the list, or all.`);
}

function sessionResult(k: KickedSession): string {
  if (!k.killed) return `not kicked: ${k.error ?? 'refused'}`;
  return k.gone ? 'gone' : 'still listed after the kick';
}

/**
 * Where every session of the user is listed with its Client ID: the user report. Not `vpnwatch
 * kick`, which would end a session by then the only one.
 */
const allSessions = (name: string, ctx: CommandContext): FullAnswer => fullAnswerAt(ctx, `/api/users/${encodeURIComponent(name)}`, ['user', name]);

function choiceReply(name: string, outcome: KickOutcome, ctx: CommandContext): Reply {
  const example = outcome.sessions.find((k) => k.session.clientId !== null);
  const lines = [
    example
      ? `Kick one: ${invocation(ctx.actor, `kick ${typed(name)} ${example.server} ${example.session.clientId}`)} (server, then Client ID)`
      : 'These sessions have no Client ID (the status format lacks it), so only all of them can be kicked.',
    `Kick all: ${invocation(ctx.actor, `kick ${typed(name)} all`)}`,
  ];
  return {
    title: `${name} has ${outcome.sessions.length} sessions: which one?`,
    lines,
    table: {
      columns: ['Client ID', 'Server', 'Real IP', 'Virtual IP', 'Connected'],
      rows: outcome.sessions.map((k) => [
        k.session.clientId === null ? '—' : String(k.session.clientId), k.server, shownIp(k.session.realAddress, ctx.viewer),
        k.session.virtualAddress ?? k.session.virtualIpv6 ?? '—', formatTime(k.session.connectedAt),
      ]),
    },
    fullAnswer: allSessions(name, ctx),
    tone: 'warn',
    private: true,
    data: outcome,
  };
}

export const kick: Command = {
  name: 'kick',
  description: 'Disconnect a user (admins only); with several sessions, pick one by Client ID or all',
  options: [
    { name: 'name', description: 'Common name (or username) to disconnect', type: 'string', required: true },
    { name: 'server', description: 'Only on this server', type: 'string' },
    { name: 'which', description: "'all', or the Client ID of one session", type: 'string' },
  ],
  adminOnly: true,
  private: true,
  async run(input, ctx) {
    const name = String(input.name);
    const { serverText, whichText } = serverAndChoice(
      input.server === undefined ? undefined : String(input.server), input.which === undefined ? undefined : String(input.which), ctx.servers,
    );
    const server = serverText === undefined ? undefined : checkServer(serverText, ctx.servers);
    const which = whichText === undefined ? undefined : parseWhich(whichText);

    const outcome = await ctx.kicker.kick({
      target: name, by: ctx.actor, ...(server ? { server } : {}), ...(which !== undefined ? { which } : {}), ...(ctx.where ? { where: ctx.where } : {}),
    });
    if (outcome.result === 'choose') return choiceReply(name, outcome, ctx);
    if (outcome.result === 'not-found') {
      return { title: `${name} is not connected${server ? ` to ${server}` : ''}`, lines: [outcome.message], tone: 'warn', private: true, data: outcome };
    }
    const title = { kicked: `Kicked ${name}`, partial: `Kicked ${name} only in part`, failed: `Could not kick ${name}` }[outcome.result];
    const verification = outcome.verified
      ? 'Verified: a fresh read no longer lists the kicked sessions.'
      : 'Not verified: a fresh read still lists a session, or could not be made.';
    return {
      title,
      lines: [outcome.message, verification].filter(Boolean),
      table: {
        columns: ['Server', 'Real IP', 'Client ID', 'Result'],
        rows: outcome.sessions.map((k) => [k.server, shownIp(k.session.realAddress, ctx.viewer), k.session.clientId === null ? '—' : String(k.session.clientId), sessionResult(k)]),
      },
      fullAnswer: allSessions(name, ctx),
      tone: outcome.result === 'failed' ? 'error' : outcome.result === 'kicked' && outcome.verified ? 'ok' : 'warn',
      private: true,
      data: outcome,
    };
  },
  // The Kicker records every kick it attempts; a refused one never reaches it, so it is recorded here.
  async refused(input, ctx) {
    await ctx.store.audit.recordKick({
      at: ctx.now(), by: { platform: ctx.actor.platform, userId: ctx.actor.userId, userName: ctx.actor.userName }, where: ctx.where ?? null,
      target: input.name === undefined ? '(none)' : String(input.name), server: input.server === undefined ? null : String(input.server),
      clientIds: [], result: 'refused', verified: false, message: 'not an admin',
    });
  },
};
