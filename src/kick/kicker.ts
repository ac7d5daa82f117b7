// The backend of `/vpn kick`: ends a user's VPN sessions through OpenVPN's management interface
// and checks on fresh reads that they are gone.
//
// 1. Which servers: the one asked for, or every server where the last poll lists the user.
// 2. A fresh `status 3` on each (one management connection per server for the whole kick): the
//    user's online sessions there. Servers that cannot be read (no management configured, SSH
//    down, wrong password, interface busy) keep the sessions the last poll listed, marked as
//    impossible to act on, so the answer says what was not done and why.
// 3. None → not-found; several and no `which` → choose (nothing is done); else, for each chosen
//    session, `client-kill <CID> HALT`: by Client ID, so duplicate common names are unambiguous,
//    and HALT so the client exits instead of reconnecting at once (lab-notes).
// 4. Re-read `status 3` until the killed sessions are gone or verifyTimeoutMs passed. OpenVPN
//    keeps a HALTed UDP client listed, address and route included, for ~5 s (its delayed exit);
//    over TCP it is gone within ~0.2 s. A row without a virtual address counts as gone.
// 5. Every attempt is written to the audit log the same way, whatever its result: usage errors
//    (no name, an unknown server, a choice that is not `all` or a listed Client ID: `invalid`),
//    and refusals of non-admins (refuse()) too. This is the one place that decides what a kick
//    request means and the one place that records it, for chat, the terminal, and requests a
//    `vpnwatch kick` leaves for the running service (src/kick/service-kicker.ts).
import { invocation } from '../command.ts';
import { findServer, isOnline, sessionKey, unknownServerMessage, userName, type Actor, type KickedSession, type KickOutcome, type Kicker, type KickRequest, type ServerConfig, type VpnSession } from '../domain.ts';
import { errorMessage, type Logger } from '../log.ts';
import { DedicatedManagementAccess, type ManagementAccess, type ManagementLease } from '../openvpn/management-access.ts';
import { ManagementError, notConfigured } from '../openvpn/management.ts';
import type { SshPool } from '../ssh.ts';
import type { Store } from '../store/store.ts';
import { type KickRecord, type OnlineSession } from '../store/records.ts';

export interface ManagementKickerOptions {
  store: Pick<Store, 'queries' | 'audit'>;
  servers: ServerConfig[];
  sshPool: SshPool;
  log: Logger;
  now?: () => Date;
  /** How long after client-kill fresh reads may take to show the sessions gone; default 8 s. */
  verifyTimeoutMs?: number;
  /** Default: a DedicatedManagementAccess over sshPool. */
  access?: ManagementAccess;
  /**
   * Told which sessions OpenVPN accepted client-kill for, before the verification reads, so the
   * poll that sees them end can record them as kicked (Poller.noteKicked).
   */
  onKilled?: (server: string, sessions: VpnSession[]) => void;
}

/** A kick request as the kicker reads it: its server and choice, or the usage error in it. */
export type CheckedKick = { ok: true; server?: ServerConfig; which?: 'all' | number } | { ok: false; message: string };

/** What a kick request asks for, or why it cannot be carried out as asked (nothing is done then). */
export function checkKickRequest(request: KickRequest, servers: ServerConfig[]): CheckedKick {
  if (request.target.trim() === '') return { ok: false, message: `Say whose sessions to end: ${invocation(request.by, 'kick <name> [server] [all|CID]')}` };
  let server: ServerConfig | undefined;
  if (request.server !== undefined) {
    server = findServer(request.server, servers);
    if (!server) return { ok: false, message: unknownServerMessage(request.server, servers) };
  }
  let which: 'all' | number | undefined;
  if (request.which !== undefined) {
    const text = request.which.trim();
    if (/^all$/i.test(text)) which = 'all';
    else if (/^\d+$/.test(text)) which = Number(text);
    else return { ok: false, message: `'${text}' is not a Client ID. Give the number from the list, or all.` };
  }
  return { ok: true, ...(server ? { server } : {}), ...(which !== undefined ? { which } : {}) };
}

/** Between verification reads: a HALTed TCP client is gone in ~0.2 s, a UDP one in ~5 s. */
const VERIFY_POLL_MS = 250;

interface Candidate {
  server: ServerConfig;
  session: VpnSession;
  /** Why nothing can be done about it (its server could not be read); absent when it can be kicked. */
  blocked?: string;
}

/** What a fresh read of one server says about the target: its sessions there, or why it could not be read. */
type TargetSessions = { server: ServerConfig; sessions: VpnSession[] } | { server: ServerConfig; error: string };

export class ManagementKicker implements Kicker {
  readonly #store: Pick<Store, 'queries' | 'audit'>;
  readonly #servers: ServerConfig[];
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #verifyTimeoutMs: number;
  readonly #access: ManagementAccess;
  readonly #onKilled: ManagementKickerOptions['onKilled'];

  constructor(opts: ManagementKickerOptions) {
    this.#store = opts.store;
    this.#servers = opts.servers;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => new Date());
    this.#verifyTimeoutMs = opts.verifyTimeoutMs ?? 8000;
    this.#access = opts.access ?? new DedicatedManagementAccess(opts.sshPool);
    this.#onKilled = opts.onKilled;
  }

  async kick(request: KickRequest): Promise<KickOutcome> {
    const at = this.#now();
    const checked = checkKickRequest(request, this.#servers);
    let outcome: KickOutcome;
    try {
      outcome = checked.ok ? await this.#kick(request, checked) : { result: 'invalid', sessions: [], verified: false, message: checked.message };
    } catch (err) {
      this.#log.error({ err, target: request.target }, 'kick failed unexpectedly');
      outcome = { result: 'failed', sessions: [], verified: false, message: `The kick failed: ${errorMessage(err)}` };
    }
    await this.#record(request, outcome, at, checked.ok ? checked.server?.name : undefined);
    return outcome;
  }

  async refuse(request: KickRequest, reason: string): Promise<void> {
    await this.#record(request, { result: 'refused', sessions: [], verified: false, message: reason }, this.#now());
  }

  async #kick(request: KickRequest, checked: Extract<CheckedKick, { ok: true }>): Promise<KickOutcome> {
    const target = request.target;
    const which = checked.which;
    let servers: ServerConfig[];
    let lastPoll: OnlineSession[] = [];
    if (checked.server) {
      servers = [checked.server];
    } else {
      lastPoll = (await this.#store.queries.online()).filter((s) => userName(s) === target);
      const listed = new Set(lastPoll.map((s) => s.server));
      servers = this.#servers.filter((s) => listed.has(s.name));
      if (servers.length === 0) return outcome('not-found', [], `'${target}' is not online on any server (as of the last poll).`);
    }

    const leases = new Map<string, ManagementLease>();
    try {
      const reads = await Promise.all(servers.map((server) => this.#readSessions(server, target, leases)));
      const candidates: Candidate[] = [];
      const errors: string[] = [];
      for (const read of reads) {
        if ('sessions' in read) {
          candidates.push(...read.sessions.map((session) => ({ server: read.server, session })));
          continue;
        }
        const known = lastPoll.filter((s) => s.server === read.server.name);
        if (known.length === 0) errors.push(read.error);
        candidates.push(...known.map(({ server: _, ...session }) => ({ server: read.server, session, blocked: read.error })));
      }
      if (candidates.length === 0) {
        if (errors.length > 0) return outcome('failed', [], errors.join('\n'));
        const where = servers.map((s) => s.name).join(', ');
        return outcome('not-found', [], checked.server
          ? `'${target}' has no session on ${where} right now.`
          : `'${target}' has no session on ${where} any more (the last poll listed one; it has ended since).`);
      }

      const untouched = (list: Candidate[]) => list.map((c) => kickedSession(c, c.blocked));
      let chosen = candidates;
      if (typeof which === 'number') {
        chosen = candidates.filter((c) => c.session.clientId === which);
        if (chosen.length === 0) {
          return outcome('invalid', untouched(candidates), `'${target}' has no session with Client ID ${which}. Sessions: ${candidates.map(sessionLabel).join('; ')}. Nothing was done.`);
        }
        if (chosen.length > 1) {
          return outcome('choose', untouched(chosen), `Client ID ${which} is on several servers (${chosen.map((c) => c.server.name).join(', ')}); say which server too. Nothing was done.`);
        }
      } else if (which !== 'all' && candidates.length > 1) {
        return outcome('choose', untouched(candidates),
          `'${target}' has ${candidates.length} sessions: ${candidates.map(sessionLabel).join('; ')}. Say which Client ID to end, or all. Nothing was done.`);
      }

      const results = await Promise.all(chosen.map((c) => this.#killOne(c, leases)));
      this.#announceKilled(results);
      await this.#verify(results, leases);
      return outcomeOfKills(target, results, this.#verifyTimeoutMs);
    } finally {
      await Promise.all([...leases.values()].map((lease) => lease.release().catch(() => undefined)));
    }
  }

  /** A fresh `status 3`: the target's online sessions; the lease stays open for the kill and the checks. */
  async #readSessions(server: ServerConfig, target: string, leases: Map<string, ManagementLease>): Promise<TargetSessions> {
    if (!server.management) return { server, error: notConfigured(server).message };
    try {
      const lease = await this.#access.acquire(server);
      leases.set(server.name, lease);
      const snapshot = await lease.client.status(3);
      return { server, sessions: snapshot.sessions.filter((s) => userName(s) === target && isOnline(s)) };
    } catch (err) {
      return { server, error: errorMessage(err) };
    }
  }

  async #killOne(c: Candidate, leases: Map<string, ManagementLease>): Promise<KickedSession> {
    if (c.blocked) return kickedSession(c, c.blocked);
    const cid = c.session.clientId;
    if (cid === null) return kickedSession(c, `${c.server.name}: OpenVPN lists no Client ID for this session (OpenVPN before 2.4), and client-kill needs one`);
    try {
      await leases.get(c.server.name)!.client.clientKill(cid, 'HALT');
      return { ...kickedSession(c), killed: true };
    } catch (err) {
      const why = err instanceof ManagementError && err.kind === 'error-reply'
        ? `${c.server.name}: OpenVPN refused client-kill for Client ID ${cid} (${err.reply}); the session may have ended just before`
        : errorMessage(err);
      return kickedSession(c, why);
    }
  }

  #announceKilled(results: KickedSession[]): void {
    if (!this.#onKilled) return;
    const byServer = new Map<string, VpnSession[]>();
    for (const r of results) if (r.killed) byServer.set(r.server, [...(byServer.get(r.server) ?? []), r.session]);
    for (const [server, sessions] of byServer) {
      try {
        this.#onKilled(server, sessions);
      } catch (err) {
        // The sessions were killed all the same; only their history label is at stake.
        this.#log.error({ err, server }, 'onKilled failed');
      }
    }
  }

  /** Re-reads each server until its killed sessions are no longer online, bounded by verifyTimeoutMs. */
  async #verify(results: KickedSession[], leases: Map<string, ManagementLease>): Promise<void> {
    const deadline = Date.now() + this.#verifyTimeoutMs;
    const byServer = new Map<string, KickedSession[]>();
    for (const r of results) if (r.killed) byServer.set(r.server, [...(byServer.get(r.server) ?? []), r]);
    await Promise.all([...byServer].map(async ([server, killed]) => {
      const client = leases.get(server)!.client;
      for (;;) {
        try {
          const { sessions } = await client.status(3, { timeoutMs: Math.max(1000, deadline - Date.now()) });
          for (const r of killed) {
            // Client IDs are unique per OpenVPN run; the key guards against a restart reusing one.
            r.gone = !sessions.some((s) => s.clientId === r.session.clientId && sessionKey(s) === sessionKey(r.session) && isOnline(s));
          }
        } catch (err) {
          for (const r of killed) r.error = `client-kill was accepted, but no fresh read could confirm it: ${errorMessage(err)}`;
          return;
        }
        const remaining = deadline - Date.now();
        if (killed.every((r) => r.gone) || remaining <= 0) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(VERIFY_POLL_MS, remaining)));
      }
    }));
    for (const r of results) if (r.killed && !r.gone && !r.error) r.error = `still listed ${Math.round(this.#verifyTimeoutMs / 1000)} s after client-kill`;
  }

  /** The one writer of the kick audit log: every attempt, one record, the same fields. */
  async #record(request: KickRequest, result: Omit<KickOutcome, 'result'> & { result: KickRecord['result'] }, at: Date, server?: string): Promise<void> {
    const acted = result.result === 'kicked' || result.result === 'partial' || result.result === 'failed';
    const servers = [...new Set(result.sessions.map((s) => s.server))];
    const record: KickRecord = {
      at,
      by: actorOf(request.by),
      where: request.where ?? null,
      target: request.target.trim() || '(none)',
      // The server as configured; as typed when it names none; else where the sessions were.
      server: server ?? request.server ?? (servers.length > 0 ? servers.join(', ') : null),
      clientIds: acted ? result.sessions.flatMap((s) => (s.session.clientId === null ? [] : [s.session.clientId])) : [],
      result: result.result,
      verified: result.verified,
      message: result.message,
    };
    this.#log.info({ target: record.target, server: record.server, clientIds: record.clientIds, result: result.result, verified: record.verified, by: record.by }, 'kick');
    try {
      await this.#store.audit.recordKick(record);
    } catch (err) {
      // The kick itself happened (or not) regardless; say so in the log rather than fail the reply.
      this.#log.error({ err, target: record.target }, 'could not record the kick in MongoDB');
    }
  }
}

function outcome(result: KickOutcome['result'], sessions: KickedSession[], message: string): KickOutcome {
  return { result, sessions, verified: false, message };
}

function kickedSession(c: Candidate, error?: string): KickedSession {
  return { server: c.server.name, session: c.session, killed: false, gone: false, ...(error ? { error } : {}) };
}

function sessionLabel(c: Candidate | KickedSession): string {
  const server = typeof c.server === 'string' ? c.server : c.server.name;
  const cid = c.session.clientId === null ? 'no Client ID' : `Client ID ${c.session.clientId}`;
  return `${server} ${cid} from ${c.session.realAddress}`;
}

function outcomeOfKills(target: string, results: KickedSession[], verifyTimeoutMs: number): KickOutcome {
  const killed = results.filter((r) => r.killed);
  const failed = results.filter((r) => !r.killed);
  const verified = killed.length > 0 && killed.every((r) => r.gone);
  const list = (rs: KickedSession[]) => rs.map(sessionLabel).join('; ');
  const failures = failed.map((r) => `${sessionLabel(r)}: ${r.error}`).join('; ');
  const unconfirmed = killed.filter((r) => !r.gone);
  const check = unconfirmed.length === 0
    ? `A fresh read confirms ${killed.length === 1 ? 'it is' : 'they are'} gone.`
    : `Not confirmed gone within ${Math.round(verifyTimeoutMs / 1000)} s: ${unconfirmed.map((r) => `${sessionLabel(r)} (${r.error})`).join('; ')}; check with /vpn user ${target}.`;
  if (failed.length === 0) {
    return { result: 'kicked', sessions: results, verified, message: `Kicked ${target}: ended ${list(killed)}. ${check}` };
  }
  if (killed.length > 0) {
    return { result: 'partial', sessions: results, verified, message: `Kicked ${killed.length} of ${results.length} sessions of ${target}: ended ${list(killed)}. ${check} Not ended: ${failures}.` };
  }
  return { result: 'failed', sessions: results, verified: false, message: `Could not kick ${target}: ${failures}.` };
}

function actorOf(by: Actor): KickRecord['by'] {
  return { platform: by.platform, userId: by.userId, userName: by.userName };
}
