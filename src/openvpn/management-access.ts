// How vpnwatch reaches a server's OpenVPN management interface for a job (a kick, a short read).
// OpenVPN serves one management client at a time, so whatever holds a long-lived connection (the
// live stream, src/poll/management-stream.ts) lends that one; otherwise a dedicated connection is
// opened through the server's pooled SSH connection.
import type { ServerConfig } from '../domain.ts';
import type { SshPool } from '../ssh.ts';
import { connectManagement, notConfigured, type ConnectManagementOptions, type ManagementClient } from './management.ts';

/** A management client lent for one job; release() hands it back (or ends the session). */
export interface ManagementLease {
  client: ManagementClient;
  release(): Promise<void>;
}

/**
 * How the kicker reaches a server's management interface. OpenVPN serves one management client
 * at a time, so whatever holds a long-lived connection (the live stream) must lend that one
 * instead of letting the kicker open a second, which would wait for the first forever.
 */
export interface ManagementAccess {
  acquire(server: ServerConfig): Promise<ManagementLease>;
}

/**
 * A connection of its own per acquire(), through the server's pooled SSH connection, ended with
 * `quit` on release. Acquires for the same server wait for each other: two of our own kicks must
 * not lock each other out of the one-client interface.
 */
export class DedicatedManagementAccess implements ManagementAccess {
  readonly #sshPool: SshPool;
  readonly #opts: ConnectManagementOptions;
  readonly #held = new Map<string, Promise<void>>();

  constructor(sshPool: SshPool, opts: ConnectManagementOptions = {}) {
    this.#sshPool = sshPool;
    this.#opts = opts;
  }

  async acquire(server: ServerConfig): Promise<ManagementLease> {
    const previous = this.#held.get(server.name) ?? Promise.resolve();
    let unlock!: () => void;
    const released = new Promise<void>((resolve) => (unlock = resolve));
    const mine = previous.then(() => released);
    this.#held.set(server.name, mine);
    const done = () => {
      unlock();
      if (this.#held.get(server.name) === mine) this.#held.delete(server.name);
    };
    await previous;
    try {
      if (!server.management) throw notConfigured(server);
      const ssh = await this.#sshPool.get(server);
      const client = await connectManagement(ssh, server, this.#opts);
      return { client, release: () => client.quit().finally(done) };
    } catch (err) {
      done();
      throw err;
    }
  }
}
