// /vpn kick <name> [server] [all|CID]: admins only. The Kicker decides what the request means (a
// usage error is `invalid`), ends the sessions through the OpenVPN management interface, checks a
// fresh read, and records every attempt in the audit log; this command only turns the words into
// a KickRequest and the outcome into words.
import { findServer, shownIp, type KickOutcome, type KickedSession, type KickRequest } from '../src/domain.ts';
import { formatTime } from '../src/format.ts';
import { fullAnswerAt, invocation, type Command, type CommandContext, type CommandInput, type FullAnswer, type Reply } from '../src/command.ts';

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

/** The request as the admin typed it (missing words absent, the name '' when none was given). */
function kickRequest(input: CommandInput, ctx: CommandContext): KickRequest {
  const word = (key: string) => (input[key] === undefined ? undefined : String(input[key]).trim() || undefined);
  const { serverText, whichText } = serverAndChoice(word('server'), word('which'), ctx.servers);
  return {
    target: word('name') ?? '', by: ctx.actor,
    ...(serverText !== undefined ? { server: serverText } : {}), ...(whichText !== undefined ? { which: whichText } : {}), ...(ctx.where ? { where: ctx.where } : {}),
  };
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
    const request = kickRequest(input, ctx);
    const name = request.target;
    const outcome = await ctx.kicker.kick(request);
    if (outcome.result === 'invalid') {
      // A usage error: said privately, as any typo is (the kicker has recorded the attempt).
      return { title: outcome.message, tone: 'warn', private: true, data: outcome };
    }
    if (outcome.result === 'choose') return choiceReply(name, outcome, ctx);
    if (outcome.result === 'not-found') {
      const server = request.server === undefined ? undefined : findServer(request.server, ctx.servers)?.name;
      return { title: `${name} is not connected${server ? ` to ${server}` : ''}`, lines: [outcome.message], tone: 'warn', private: true, data: outcome };
    }
    const titles: Record<typeof outcome.result, string> = { kicked: `Kicked ${name}`, partial: `Kicked ${name} only in part`, failed: `Could not kick ${name}` };
    const verification = outcome.verified
      ? 'Verified: a fresh read no longer lists the kicked sessions.'
      : 'Not verified: a fresh read still lists a session, or could not be made.';
    return {
      title: titles[outcome.result],
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
  // Words dispatch cannot take (no name): still a kick attempt, so the kicker decides and records it.
  async rejected(input, _problem, ctx) {
    return kick.run(input, ctx);
  },
  // A non-admin never reaches the kick; the kicker records the refusal like any other attempt.
  async refused(input, ctx) {
    await ctx.kicker.refuse(kickRequest(input, ctx), 'not an admin');
  },
};
