// The database: one mongoose connection and its models, and the store split by caller: the
// poller's cycle writes, the readers' queries, the notifier's outbox, the kick audit log, requests
// between processes, the registry of running services, their leases and the change sequence,
// the page's sign-ins and sign-in rate limits, and history (samples, roll-ups, retention).
//
// Every sort on a time ends with _id (or seq, for events): documents with the same time would
// otherwise come back in each engine's own order (mongo-java-server's memory backend: insertion;
// its H2 backend: _id; mongod: unspecified), and a limit would cut through them differently.
import mongoose from 'mongoose';
import { Changes } from './changes.ts';
import { CycleWrites } from './cycle-writes.ts';
import { HistoryStore } from './history.ts';
import { KickAudit } from './kick-audit.ts';
import { Leases } from './leases.ts';
import { createModels, type Models } from './models.ts';
import { Outbox } from './outbox.ts';
import { Queries } from './queries.ts';
import { WebSessions } from './web-sessions.ts';
import { Replicas } from './replicas.ts';
import { Requests } from './requests.ts';

export class Store {
  readonly models: Models;
  readonly cycles: CycleWrites;
  readonly queries: Queries;
  readonly outbox: Outbox;
  readonly audit: KickAudit;
  readonly web: WebSessions;
  readonly requests: Requests;
  readonly replicas: Replicas;
  readonly leases: Leases;
  readonly changes: Changes;
  readonly history: HistoryStore;

  private constructor(readonly connection: mongoose.Connection) {
    this.models = createModels(connection);
    this.cycles = new CycleWrites(this.models);
    this.queries = new Queries(this.models);
    this.outbox = new Outbox(this.models);
    this.audit = new KickAudit(this.models);
    this.web = new WebSessions(this.models);
    this.requests = new Requests(this.models);
    this.replicas = new Replicas(this.models);
    this.leases = new Leases(this.models);
    this.changes = new Changes(this.models);
    this.history = new HistoryStore(this.models);
  }

  /** Connects and makes sure every collection and index exists. */
  static async open(uri: string, dbName?: string): Promise<Store> {
    // A database that stops answering (paused, or a network that drops packets) keeps TCP open:
    // without a socket timeout an operation would wait for ever.
    // monitorCommands: the service counts its commands (vpnwatch_mongodb_commands_total).
    const connection = mongoose.createConnection(uri, { ...(dbName ? { dbName } : {}), serverSelectionTimeoutMS: 10_000, socketTimeoutMS: 30_000, monitorCommands: true });
    await connection.asPromise();
    const store = new Store(connection);
    await Promise.all(Object.values(store.models).map((m) => m.init()));
    return store;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  async ping(): Promise<boolean> {
    try {
      await this.connection.db!.admin().command({ ping: 1 });
      return true;
    } catch {
      return false;
    }
  }
}
