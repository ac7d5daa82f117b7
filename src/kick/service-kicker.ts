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
}

export class ServiceKicker implements Kicker {
  /** The service that carried out the last kick; null when it was done here. */
  carriedOutBy: string | null = null;

  constructor(private readonly opts: ServiceKickerOptions) {}

  async kick(request: KickRequest): Promise<KickOutcome> {
    const { store, local, log } = this.opts;
    this.carriedOutBy = null;
    const checked = checkKickRequest(request, this.opts.servers);
    if (!checked.ok) return local.kick(request);
    const live = await store.replicas.live(3 * HEARTBEAT_MS);
    if (live.length === 0) return local.kick(request);

    const claimWithinMs = this.opts.claimWithinMs ?? 10_000;
    const server = checked.server?.name ?? await this.#onlyServerOf(request.target);
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
   * Without a SERVER, the kick is about the servers where the last poll lists the user: the one
   * server when there is one, so only its holder claims it; else any service (null).
   */
  async #onlyServerOf(target: string): Promise<string | null> {
    const servers = new Set((await this.opts.store.queries.online()).filter((s) => userName(s) === target).map((s) => s.server));
    return servers.size === 1 ? [...servers][0]! : null;
  }
}
