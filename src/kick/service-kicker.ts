// `vpnwatch kick` beside a running `vpnwatch start`. OpenVPN serves one management client at a
// time and the service holds each interface (its management stream), so a kick from the terminal
// is a request in MongoDB (src/store/requests.ts) for the service to carry out: addressed to the
// kick's server, so only the process holding that server's connection claims it; the service's
// RequestRunner runs it through its own kicker (which borrows the stream's connection) and writes
// the verified outcome back, which this process returns as if it had kicked. No second channel
// beside the database.
//
// With no service running (none seen in the replica registry), or none taking the request within
// claimWithinMs, this process kicks directly through its own kicker, as before. A request that
// is a usage error is not sent: the local kicker decides and records it (nothing to carry out).
//
// With the lease holders known (`holders`: a running replica's chat kicks, and the terminal's), a
// kick about servers this process holds is carried out here; one about servers another replica
// holds goes to that replica (addressed to the first of them: its holder holds them all). A kick without a SERVER whose user is on servers
// that different replicas hold is not split: it is refused (recorded) with the servers to name,
// one kick per server, since a kick is verified on one holder's connections.
import { userName, type Kicker, type KickOutcome, type KickRequest, type ServerConfig } from '../domain.ts';
import type { Logger } from '../log.ts';
import { HEARTBEAT_MS } from '../request-runner.ts';
import type { Store } from '../store/store.ts';
import { checkKickRequest } from './kicker.ts';

export interface ServiceKickerOptions {
  store: Pick<Store, 'requests' | 'replicas' | 'queries'>;
  servers: ServerConfig[];
  /** Kicks in this process: when no service takes the request, and for usage errors and refusals. */
  local: Kicker;
  /** Who asks (shown in the service's log): the command, user, host and pid. */
  requestedBy: string;
  log: Logger;
  /** How long a running service has to claim the request before this process kicks by itself. */
  claimWithinMs?: number;
  /** How long a claimed kick may take (connect, client-kill, verification reads). */
  finishWithinMs: number;
  /**
   * Which replica holds each server's lease now (null: none), and this process's id (null for
   * the terminal, which holds nothing: servers nobody holds are kicked from here).
   */
  holders?: { self: string | null; of: (server: string) => string | null };
}

/** The longest a kick takes on its holder: a connection per server (SSH, then the interface), client-kill, verification. */
export const kickFinishMs = (pollTimeoutSeconds: number) => 2 * pollTimeoutSeconds * 1000 + 8_000 + 5_000;

export class ServiceKicker implements Kicker {
  /** The service that carried out the last kick; null when it was done here. */
  carriedOutBy: string | null = null;

  constructor(private readonly opts: ServiceKickerOptions) {}

  async kick(request: KickRequest): Promise<KickOutcome> {
    const { store, local, log } = this.opts;
    this.carriedOutBy = null;
    const checked = checkKickRequest(request, this.opts.servers);
    if (!checked.ok) return local.kick(request);
    const involved = checked.server ? [checked.server.name] : await this.#serversOf(request.target);
    const replicas = this.opts.holders;
    if (replicas) {
      const holders = new Set(involved.map(replicas.of));
      // Held here (or nobody is online: the local kicker says so, and records it).
      if (holders.size === 0 || (holders.size === 1 && holders.has(replicas.self))) return local.kick(request);
      if (holders.size > 1) {
        const message = `'${request.target}' is online on ${involved.join(', ')}, which different replicas hold: kick on one server at a time (kick ${request.target} ${involved[0]} ${request.which ?? 'all'}). Nothing was done.`;
        await local.refuse(request, message);
        return { result: 'invalid', sessions: [], verified: false, message };
      }
    }
    const live = await store.replicas.live(3 * HEARTBEAT_MS);
    if (live.length === 0) return local.kick(request);

    const claimWithinMs = this.opts.claimWithinMs ?? 10_000;
    // One server: only its holder claims the request. Several: for a replica, the first (one
    // replica holds them all, checked above); from the terminal, any service (null).
    const server = involved.length === 1 || (replicas && involved.length > 1) ? involved[0]! : null;
    const id = await store.requests.submit('kick', request, { server, requestedBy: this.opts.requestedBy, deadline: new Date(Date.now() + claimWithinMs) });
    const answer = await store.requests.wait<KickRequest, KickOutcome>(id, { timeoutMs: claimWithinMs + this.opts.finishWithinMs });
    if (answer.state === 'done' && answer.result) {
      this.carriedOutBy = answer.claimedBy;
      return answer.result;
    }
    if (answer.state === 'failed' && answer.claimedBy) throw new Error(`the running service (${answer.claimedBy}) could not carry out the kick: ${answer.error}`);
    if (answer.state === 'pending' && await store.requests.withdraw(id)) {
      log.warn(`no running service (${live.map((r) => r.id).join(', ')}) took the kick request within ${claimWithinMs / 1000} s; kicking from here`);
      return local.kick(request);
    }
    throw new Error(`the running service (${answer.claimedBy ?? live[0]!.id}) took the kick request but did not finish it in time; check with vpnwatch user ${request.target}`);
  }

  refuse(request: KickRequest, reason: string): Promise<void> {
    return this.opts.local.refuse(request, reason);
  }

  /**
   * Without a SERVER, the kick is about the servers where the last poll lists the user: with one,
   * only its holder claims the request; with several, any service (null: one replica holds them all).
   */
  async #serversOf(target: string): Promise<string[]> {
    return [...new Set((await this.opts.store.queries.online()).filter((s) => userName(s) === target).map((s) => s.server))].sort();
  }
}
