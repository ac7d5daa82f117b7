// Carries out the requests other vpnwatch processes leave in MongoDB (src/store/requests.ts): a
// `vpnwatch poll` run beside this service asks it to poll now, so that the changes are found,
// stored and announced by one process; a `vpnwatch kick` asks it to kick through the management
// connection it holds (OpenVPN serves one client at a time), with the request's args a
// KickRequest and its result the verified KickOutcome (src/kick/service-kicker.ts). Each request
// is claimed with a lease, run by its kind's handler, and finished with a result or an error the
// asking process prints. The service also
// refreshes its entry in the replica registry here, which is how the CLI knows it is running.
import os from 'node:os';
import { errorMessage, type Logger } from './log.ts';
import type { Replicas } from './store/replicas.ts';
import type { Request, RequestKind, Requests } from './store/requests.ts';

export type RequestHandler = (request: Request) => Promise<unknown>;

/** A `poll` request: one server, or all (null). */
export interface PollArgs {
  server: string | null;
}

export interface RequestRunnerOptions {
  requests: Requests;
  replicas: Replicas;
  replicaId: string;
  handlers: Partial<Record<RequestKind, RequestHandler>>;
  /** The servers this process may act for: those whose leases it holds (requests about other servers are left to their holder). */
  servers: () => string[];
  log: Logger;
  /** How often to look for requests (default 250 ms: `vpnwatch poll` waits on it). */
  everyMs?: number;
}

/** A claimed request is this process's for this long; a process that died lets it go after that. */
export const REQUEST_LEASE_MS = 120_000;
/** The registry entry is refreshed this often; a service not seen for 3 × this is gone. */
export const HEARTBEAT_MS = 5_000;
/** At most this many requests run at once (a slow poll must not hold up the rest). */
const CONCURRENT = 4;

export class RequestRunner {
  readonly #opts: RequestRunnerOptions;
  readonly #startedAt = new Date();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #polling = false;
  #stopped = false;

  constructor(opts: RequestRunnerOptions) {
    this.#opts = opts;
  }

  async start(): Promise<void> {
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#timer = setInterval(() => void this.#poll(), this.#opts.everyMs ?? 250);
  }

  /** Stops taking requests, waits for those running, and leaves the registry. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    await Promise.allSettled([...this.#running]);
    await this.#opts.replicas.remove(this.#opts.replicaId).catch(() => undefined);
  }

  async #beat(): Promise<void> {
    try {
      await this.#opts.replicas.heartbeat({ id: this.#opts.replicaId, host: os.hostname(), pid: process.pid, startedAt: this.#startedAt });
    } catch (err) {
      this.#opts.log.debug({ err }, 'replica heartbeat not stored');
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      const kinds = Object.keys(this.#opts.handlers) as RequestKind[];
      while (!this.#stopped && this.#running.size < CONCURRENT) {
        const request = await this.#opts.requests.claim(this.#opts.replicaId, kinds, this.#opts.servers(), REQUEST_LEASE_MS);
        if (!request) break;
        const run = this.#run(request).finally(() => this.#running.delete(run));
        this.#running.add(run);
      }
    } catch (err) {
      this.#opts.log.debug({ err }, 'could not look for requests');
    } finally {
      this.#polling = false;
    }
  }

  async #run(request: Request): Promise<void> {
    const { log, requests, replicaId, handlers } = this.#opts;
    log.info({ request: request.id, kind: request.kind, server: request.server, by: request.requestedBy }, `carrying out a ${request.kind} request from ${request.requestedBy}`);
    let outcome: { result: unknown } | { error: string };
    try {
      outcome = { result: await handlers[request.kind]!(request) };
    } catch (err) {
      outcome = { error: errorMessage(err) };
    }
    await requests.finish(request.id, replicaId, outcome).catch((err: unknown) => log.warn({ err, request: request.id }, 'could not record the outcome of a request'));
  }
}
