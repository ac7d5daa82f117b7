// GET /api/stream: Server-Sent Events for open pages. What it sends:
//
//   event: version   {"version":"…","at":"…"}   on connect, then every ping period: the data
//                    version now (a page whose view has it is current; otherwise it fetches)
//   event: update    {"version":"…","at":"…","servers":[…],"events":[{type,server,user}…]}
//                    when what the page shows changed: someone came or went, a server's health or
//                    mode or a chat connection changed (at once), or the periodic counter refresh
//                    (at the next ping)
//
// A page fetches its view (conditionally, If-None-Match) only when the version it has is not the
// one announced. Byte counters alone are no news (a management stream reads every 2 s): they reach
// the page at the next ping after the counter refresh (src/web/snapshot.ts).
//
// Bounded: at most `maxClients` streams (more get 503 and the page polls instead), and a client
// that stops reading is cut once `bufferLimitBytes` wait for it, instead of buffering without end.
// A stream opened on a sign-in that can end (a cookie, a proxy's user header) ends after `reauthMs`
// (the browser reconnects and is checked again), and a cookie's at once when it signs out here: a
// revoked sign-in keeps no stream for long.
import type { Request, Response } from 'express';
import { userName, type VpnEvent } from '../domain.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { LiveUpdate } from '../poll/live-feed.ts';

/** Events listed in one update at most (the rest are counted in `moreEvents`; /api/events has them all). */
const MAX_EVENTS_PER_UPDATE = 200;
/** How often the state kept in memory (management modes, chat connections) is compared. */
const MEMORY_CHECK_MS = 1000;

export interface StreamHubOptions {
  /** The data version now (a store read when the snapshot is older than a second). */
  version: () => Promise<string>;
  /** Something the page shows was stored: the next version() must read the store. */
  invalidate: () => void;
  pingMs: number;
  maxClients: number;
  bufferLimitBytes: number;
  reauthMs: number;
  /** What the page shows of the state kept in memory (src/web/snapshot.ts memorySignature): a change is news. */
  memory?: () => string;
  metrics?: Metrics;
  log: Logger;
  now: () => Date;
}

interface Client {
  res: Response;
  /** The sign-in cookie value the stream was opened with, if any. */
  signIn: string | null;
  /** Opened on a sign-in that can end (a cookie, or a proxy's session): checked again every reauthMs. */
  reauth: boolean;
  openedAt: number;
}

interface StreamEvent {
  type: VpnEvent['type'];
  server: string;
  user: string | null;
}

export class StreamHub {
  private readonly clients = new Set<Client>();
  private pending: { servers: Set<string>; events: StreamEvent[]; moreEvents: number } = { servers: new Set(), events: [], moreEvents: 0 };
  private lastVersion: string | null = null;
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  private pingWanted = false;
  private timers: NodeJS.Timeout[] = [];
  private memory = '';
  /** The store could not be read at the last check: said once in the log, not every ping. */
  private failing = false;

  constructor(private readonly opts: StreamHubOptions) {}

  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream for `res`; false (nothing written) when the cap is reached. */
  open(req: Request, res: Response, signIn: string | null, reauth: boolean): boolean {
    if (this.clients.size >= this.opts.maxClients) {
      this.opts.metrics?.streamDropped.inc({ reason: 'full' });
      return false;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n: connected\n\n');
    const client: Client = { res, signIn, reauth, openedAt: performance.now() };
    const first = this.clients.size === 0;
    this.clients.add(client);
    this.opts.metrics?.streamClients.set(this.clients.size);
    req.on('close', () => {
      this.clients.delete(client);
      this.opts.metrics?.streamClients.set(this.clients.size);
      if (this.clients.size === 0) {
        this.stopTimers();
        this.lastVersion = null;
      }
    });
    if (this.timers.length === 0) this.startTimers();
    void this.opts.version().then((version) => {
      // The first stream starts the count: what it is told now is what the others will be compared with.
      if (first) this.lastVersion ??= version;
      this.send(client, 'version', { version, at: this.opts.now().toISOString() });
    }, () => undefined);
    return true;
  }

  /** From the LiveFeed: news for open pages, except counters alone (they wait for the counter refresh). */
  publish(u: LiveUpdate): void {
    if (u.sessions.length === 0 && u.health.length === 0 && u.events.length === 0) return;
    for (const s of [...u.sessions, ...u.health]) this.pending.servers.add(s);
    for (const e of u.events) {
      if (this.pending.events.length < MAX_EVENTS_PER_UPDATE) this.pending.events.push({ type: e.type, server: e.server, user: e.session ? userName(e.session) : null });
      else this.pending.moreEvents++;
    }
    this.opts.invalidate();
    this.check();
  }

  /** A sign-in ended here: its streams end now. */
  closeSignIn(cookieValue: string): void {
    for (const c of this.clients) if (c.signIn === cookieValue) c.res.end();
  }

  close(): void {
    this.stopTimers();
    for (const c of this.clients) c.res.end();
  }

  private startTimers(): void {
    this.timers.push(setInterval(() => {
      const now = performance.now();
      for (const c of this.clients) if (c.reauth && now - c.openedAt >= this.opts.reauthMs) c.res.end();
      this.pingWanted = true;
      this.check();
    }, this.opts.pingMs));
    const memory = this.opts.memory;
    if (memory) {
      this.memory = memory();
      this.timers.push(setInterval(() => {
        const now = memory();
        if (now === this.memory) return;
        this.memory = now;
        this.opts.invalidate();
        this.check();
      }, MEMORY_CHECK_MS));
    }
    for (const t of this.timers) t.unref();
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Reads the version (one read at a time; a request meanwhile runs once more after) and tells every stream. */
  private check(): void {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = (async () => {
      do {
        this.checkAgain = false;
        let version: string;
        try {
          version = await this.opts.version();
        } catch (err) {
          if (!this.failing) this.opts.log.warn({ err }, 'live stream: cannot read the store; the pages say their data is getting old');
          this.failing = true;
          return;
        }
        this.failing = false;
        const at = this.opts.now().toISOString();
        if (version !== this.lastVersion || this.pending.events.length > 0) {
          const { servers, events, moreEvents } = this.pending;
          this.pending = { servers: new Set(), events: [], moreEvents: 0 };
          this.pingWanted = false;
          this.broadcast('update', { version, at, servers: [...servers], events, ...(moreEvents ? { moreEvents } : {}) });
        } else if (this.pingWanted) {
          this.pingWanted = false;
          this.broadcast('version', { version, at });
        }
        this.lastVersion = version;
      } while (this.checkAgain);
    })().finally(() => { this.checking = undefined; });
  }

  private broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) this.write(c, text);
  }

  private send(client: Client, event: string, data: unknown): void {
    this.write(client, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes, or cuts a client that has stopped reading (its unsent bytes over the limit). */
  private write(client: Client, text: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > this.opts.bufferLimitBytes) {
      this.opts.log.info({ buffered: res.writableLength }, 'live stream: the client stopped reading; cut');
      this.opts.metrics?.streamDropped.inc({ reason: 'slow' });
      this.clients.delete(client);
      this.opts.metrics?.streamClients.set(this.clients.size);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
