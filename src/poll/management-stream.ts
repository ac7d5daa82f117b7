// Live connects and disconnects from OpenVPN's management interface, for every server that has a
// `management` block. What it reads goes through the poller like a file poll (same diff, same
// session identity, same baseline), so a session is announced once whichever path saw it first.
//
// | management.mode     | what happens                                                           |
// |---------------------|------------------------------------------------------------------------|
// | stream (default)    | ONE connection kept open through the server's pooled SSH connection.   |
// |                     | `>CLIENT:ESTABLISHED` triggers a `status 3` at once (connects within   |
// |                     | a second); `status 3` also runs every statusIntervalSeconds (default   |
// |                     | 2 s) for disconnects and byte counters: OpenVPN sends                  |
// |                     | `>CLIENT:DISCONNECT` only with --management-client-auth, which a       |
// |                     | monitor must not require. A dropped connection (OpenVPN restart, SSH   |
// |                     | loss, a read timing out) is reopened with exponential backoff and      |
// |                     | jitter (1 s doubling to 30 s); meanwhile the status-file poll is what  |
// |                     | updates the server.                                                    |
// | short               | every statusIntervalSeconds: connect, `status 3`, quit. OpenVPN serves |
// |                     | ONE management client at a time; a stream holds the interface for      |
// |                     | good, so sites where another tool (a dashboard, an admin's telnet)     |
// |                     | needs it use short. No ESTABLISHED: connects show within one interval. |
// | (no management)     | file-only: the status-file poll alone.                                 |
//
// The status-file poll keeps running for every server at its own interval, as a cross-check and
// as the health authority: a failed management read is never fed to the poller (it would count
// towards server-down); the connection is dropped and reopened instead.
//
// This manager is also the kicker's ManagementAccess: a kick borrows the stream's open connection
// (a second connection would find the interface busy), or, when the stream is down or the server reads in
// short mode, takes a dedicated connection that our own reconnects and short reads queue behind.
import type { LiveMode, LiveModeInfo, ServerConfig, ServerRead, StatusSnapshot } from '../domain.ts';
import { errorMessage, type Logger } from '../log.ts';
import { leavingClientFromLog, type ConnectManagementOptions, type ManagementClient, type ManagementError } from '../openvpn/management.ts';
import { HeldError, type Poller } from './poller.ts';
import type { SshPool } from '../ssh.ts';
import { DedicatedManagementAccess, type ManagementAccess, type ManagementLease } from '../openvpn/management-access.ts';

export interface ManagementStreamOptions {
  servers: ServerConfig[];
  sshPool: SshPool;
  /** Where the reads go. */
  poller: Pick<Poller, 'apply' | 'noteLeaving'>;
  /** How often `status 3` runs over an open stream, and how often a short-mode server is read. */
  statusIntervalSeconds: number;
  log: Logger;
  /** Greeting, command and channel timeouts for every management connection. */
  connect?: ConnectManagementOptions;
}

interface StreamState {
  server: ServerConfig;
  info: LiveModeInfo;
  /** The open stream connection. */
  client: ManagementClient | undefined;
  lease: ManagementLease | undefined;
  /** A stream connect in progress: a kick waits for it rather than racing it for the interface. */
  connecting: Promise<ManagementClient | undefined> | undefined;
  /** The read in progress (reads of one server never overlap), and whether another is wanted after it. */
  reading: Promise<void> | undefined;
  readAgain: boolean;
  /** Reads the current stream connection delivered. */
  readsServed: number;
  /** Ends the current wait (backoff or the pause between short reads) early: used by stop(). */
  wake: (() => void) | undefined;
  loop: Promise<void> | undefined;
}

/** Reconnect delays: the first, doubling up to the cap; each is jittered down by up to half. */
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_CAP_MS = 30_000;

export class ManagementStream implements ManagementAccess {
  readonly #opts: ManagementStreamOptions;
  readonly #log: Logger;
  readonly #intervalMs: number;
  /** Every connection other than an open stream's: our reconnects, short reads and kicks queue on it per server. */
  readonly #dedicated: DedicatedManagementAccess;
  readonly #states = new Map<string, StreamState>();
  #started = false;
  #stopped = false;

  constructor(opts: ManagementStreamOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#intervalMs = opts.statusIntervalSeconds * 1000;
    this.#dedicated = new DedicatedManagementAccess(opts.sshPool, opts.connect);
    const since = new Date().toISOString();
    for (const server of opts.servers) {
      const mode: LiveMode = !server.management ? 'file-only' : server.management.mode === 'short' ? 'short' : 'reconnecting';
      this.#states.set(server.name, {
        server, info: { mode, since }, client: undefined, lease: undefined, connecting: undefined,
        reading: undefined, readAgain: false, readsServed: 0, wake: undefined, loop: undefined,
      });
    }
  }

  /** Opens the streams and starts the short-mode reads; returns at once. */
  start(): void {
    if (this.#started) throw new Error('ManagementStream already started');
    this.#started = true;
    for (const state of this.#states.values()) {
      if (state.info.mode === 'reconnecting') state.loop = this.#streamLoop(state);
      else if (state.info.mode === 'short') state.loop = this.#shortLoop(state);
    }
  }

  /** Every server's mode, by server name. */
  modes(): Record<string, LiveModeInfo> {
    return Object.fromEntries([...this.#states].map(([name, s]) => [name, { ...s.info }]));
  }

  /**
   * ManagementAccess for the kicker: the stream's own connection when it is open (or about to be:
   * a connect in progress is waited for), else a dedicated one. Releasing the stream's connection
   * leaves it open and reads at once: a kick has just changed who is online.
   */
  async acquire(server: ServerConfig): Promise<ManagementLease> {
    const state = this.#states.get(server.name);
    if (state && !this.#stopped) {
      const client = state.client?.isOpen ? state.client : await state.connecting;
      if (client?.isOpen) return { client, release: async () => this.#requestRead(state) };
    }
    return this.#dedicated.acquire(server);
  }

  /** Sends `quit` on every connection (after the command in flight), ends every wait and timer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const state of this.#states.values()) {
      state.wake?.();
      void state.lease?.release();
    }
    await Promise.all([...this.#states.values()].map((s) => s.loop));
  }

  async #streamLoop(state: StreamState): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      state.connecting = this.#connect(state);
      const client = await state.connecting;
      state.connecting = undefined;
      if (client) {
        // A connection that delivered a read was healthy: the next drop starts the backoff afresh.
        if (await this.#serve(state, client)) failures = 0;
      }
      if (this.#stopped) break;
      failures++;
      const delayMs = jittered(Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1)));
      this.#log.debug({ server: state.server.name, delayMs, error: state.info.lastError }, 'management stream: reconnecting after a pause');
      await this.#pause(state, delayMs);
    }
  }

  /** Opens the stream connection, or records why not and resolves undefined. */
  async #connect(state: StreamState): Promise<ManagementClient | undefined> {
    try {
      // Through the dedicated access, so a kick's own connection (taken while we were down) ends first.
      const lease = await this.#dedicated.acquire(state.server);
      if (this.#stopped) {
        await lease.release();
        return undefined;
      }
      state.lease = lease;
      return lease.client;
    } catch (err) {
      this.#noteError(state, err);
      return undefined;
    }
  }

  /** Reads over an open connection until it closes; true when at least one read got through. */
  async #serve(state: StreamState, client: ManagementClient): Promise<boolean> {
    const closed = new Promise<ManagementError | undefined>((resolve) => {
      client.once('close', resolve);
      if (!client.isOpen) resolve(undefined); // closed before we listened
    });
    client.on('notification', (n) => {
      if (n.kind === 'client' && n.event === 'ESTABLISHED') this.#requestRead(state);
      // A UDP client's exit notice: OpenVPN keeps listing it ~5 s more; announce it gone now.
      if (n.kind === 'other' && n.type === 'LOG') {
        const leaving = leavingClientFromLog(n.text);
        if (leaving && this.#opts.poller.noteLeaving(state.server.name, leaving)) this.#requestRead(state);
      }
    });
    // The log tells who is leaving before the status does (see above). Not fatal if refused.
    client.command('log on').catch((err: unknown) => this.#noteError(state, err));
    state.client = client;
    state.readsServed = 0;
    this.#setMode(state, 'stream');
    const timer = setInterval(() => this.#requestRead(state), this.#intervalMs);
    this.#requestRead(state); // at once: whatever happened while we were not connected
    const reason = await closed;
    clearInterval(timer);
    state.client = undefined;
    await state.reading;
    await state.lease?.release();
    state.lease = undefined;
    if (!this.#stopped) {
      if (reason) this.#noteError(state, reason);
      this.#setMode(state, 'reconnecting');
    }
    return state.readsServed > 0;
  }

  /** A read now, or right after the one in progress: ESTABLISHED bursts and timer ticks coalesce. */
  #requestRead(state: StreamState): void {
    if (state.reading) {
      state.readAgain = true;
      return;
    }
    state.reading = (async () => {
      do {
        state.readAgain = false;
        await this.#streamRead(state);
      } while (state.readAgain && state.client?.isOpen && !this.#stopped);
    })().finally(() => {
      state.reading = undefined;
    });
  }

  async #streamRead(state: StreamState): Promise<void> {
    const client = state.client;
    if (!client?.isOpen) return;
    const started = performance.now();
    let snapshot: StatusSnapshot;
    try {
      snapshot = await client.status(3);
    } catch (err) {
      // A timeout has closed the connection already; anything else (an ERROR reply) makes it
      // useless too. Closing ends #serve, and the loop reconnects.
      this.#noteError(state, err);
      client.close();
      return;
    }
    state.readsServed++;
    await this.#feed(state, snapshot, started);
  }

  async #shortLoop(state: StreamState): Promise<void> {
    while (!this.#stopped) {
      const started = performance.now();
      let snapshot: StatusSnapshot | undefined;
      try {
        const lease = await this.#dedicated.acquire(state.server);
        try {
          snapshot = await lease.client.status(3);
        } finally {
          // quit before storing: the interface is free again as soon as possible.
          await lease.release();
        }
      } catch (err) {
        this.#noteError(state, err);
      }
      if (snapshot) {
        delete state.info.lastError;
        await this.#feed(state, snapshot, started);
      }
      await this.#pause(state, Math.max(0, this.#intervalMs - (performance.now() - started)));
    }
  }

  /** Hands one good read to the poller. A store failure is the poller's to log and the next read retries. */
  async #feed(state: StreamState, snapshot: StatusSnapshot, started: number): Promise<void> {
    const readAt = new Date().toISOString();
    const read: ServerRead = {
      server: state.server.name, source: 'management', ok: true,
      snapshot: asOfEndOfSecond(snapshot), readAt, durationMs: Math.round(performance.now() - started),
    };
    state.info.lastReadAt = readAt;
    try {
      await this.#opts.poller.apply([read]);
    } catch (err) {
      // Held by the poller (the database is away: one line says so, from the database watch).
      if (err instanceof HeldError) this.#log.debug({ server: state.server.name }, err.message);
      else this.#log.error({ err, server: state.server.name }, 'could not store a management read; the next read retries');
    }
  }

  #pause(state: StreamState, ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        state.wake = undefined;
        resolve();
      }
      state.wake = done;
    });
  }

  #setMode(state: StreamState, mode: LiveMode): void {
    if (state.info.mode === mode) return;
    const previous = state.info.mode;
    state.info = { ...state.info, mode, since: new Date().toISOString() };
    if (mode === 'stream') delete state.info.lastError;
    const fields = { server: state.server.name, from: previous, to: mode, error: state.info.lastError };
    if (mode === 'stream') this.#log.info(fields, 'management stream connected: connects and disconnects are live');
    else this.#log.warn(fields, 'management stream lost: the status-file poll updates this server until it is back');
  }

  /** Records why a connection or read failed; logged when it changes, not on every retry. */
  #noteError(state: StreamState, err: unknown): void {
    const message = errorMessage(err);
    if (message !== state.info.lastError) this.#log.warn({ server: state.server.name, mode: state.info.mode }, message);
    state.info.lastError = message;
  }
}

/**
 * A status text's TIME has whole seconds, so a file written in the same second as a management
 * read would not be "older" (diff.ts, superseded) and could undo what the read saw: resurrect a
 * client that just left, or take its lower byte counters for a new session. The read is taken as
 * of the end of its second: ties go to the management read, whose next read is seconds away
 * anyway; a file written in a later second is newer and still applies. Both TIMEs come from the
 * VPN server's clock, so clock skew towards vpnwatch plays no part.
 */
function asOfEndOfSecond(snapshot: StatusSnapshot): StatusSnapshot {
  if (snapshot.updatedAt === null) return snapshot;
  const second = Math.floor(Date.parse(snapshot.updatedAt) / 1000) * 1000;
  return { ...snapshot, updatedAt: new Date(second + 999).toISOString() };
}

function jittered(ms: number): number {
  return ms / 2 + Math.random() * (ms / 2);
}
