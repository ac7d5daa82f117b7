// A client for OpenVPN's management interface over any byte stream: an SSH tunnel in production
// (SshConnection.forwardOut to the server's loopback port, or openUnixSocket), a socket in tests.
// The protocol, as OpenVPN 2.6 speaks it (openvpn-formats.md §5, lab-notes.md):
//
// | what arrives                          | handling                                                     |
// |---------------------------------------|--------------------------------------------------------------|
// | `ENTER PASSWORD:` (no line end)       | answered once with the configured password; a second prompt  |
// |                                       | (2.6 re-prompts silently) or `ERROR: bad password` fails     |
// | `>INFO:OpenVPN Management Interface…` | the greeting: the client is ready                            |
// | nothing within greetingTimeoutMs      | another client holds the interface (one client at a time)    |
// | `>TYPE:…` anywhere, even between a    | a notification, never part of a reply; a `>CLIENT:<EVENT>`   |
// |   command and its reply               | line and its `>CLIENT:ENV` lines up to `ENV,END` are one     |
// | `SUCCESS: …` / `ERROR: …` first       | the whole reply (ERROR rejects; `status 4` has no END)       |
// | other lines up to `END`               | a multi-line reply                                           |
//
// Giving up on a busy interface has a cost on unix sockets: OpenVPN 2.6.14 later accepts the
// abandoned connection, fails to write to it, and then about one time in three never greets the
// client after it either (measured; the one after that is served). A caller that retries recovers.
//
// One command is in flight at a time; the rest wait in a queue. A command that gets no reply in
// time closes the client: a late reply would otherwise be taken for the next command's.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ServerConfig, StatusSnapshot, VpnSession } from '../domain.ts';
import type { SshConnection } from '../ssh.ts';
import { parseRealAddress } from './addresses.ts';
import { parseStatus } from './parse-status.ts';
import { errorMessage } from '../log.ts';

export type ManagementErrorKind =
  /** The server has no `management` block in the servers file. */
  | 'not-configured'
  /** The tunnel to the interface could not be opened (SSH down, nothing listening). */
  | 'unreachable'
  /** Connected, but no greeting: another management client holds the interface. */
  | 'busy'
  | 'bad-password'
  | 'timeout'
  | 'closed'
  /** OpenVPN answered `ERROR: …`; the line is in `reply`. */
  | 'error-reply'
  /** Refused before anything was sent. */
  | 'invalid-argument'
  /** The other side does not speak the management protocol as expected. */
  | 'protocol';

export class ManagementError extends Error {
  override readonly name = 'ManagementError';
  constructor(
    readonly kind: ManagementErrorKind,
    message: string,
    /** For 'error-reply': OpenVPN's `ERROR: …` line. */
    readonly reply?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `>CLIENT:<event>,<cid>[,<kid or address>…]` with its ENV block (ESTABLISHED, CONNECT, REAUTH,
 * DISCONNECT, CR_RESPONSE) or without one (ADDRESS). The env may hold secrets of the client
 * (CONNECT carries its cleartext password, which is dropped here): never log it whole.
 */
export interface ClientNotification {
  kind: 'client';
  event: string;
  cid: number;
  /** The fields after the CID: the key ID for CONNECT/REAUTH, address and primary flag for ADDRESS. */
  args: string[];
  env: Record<string, string>;
}

/** `>BYTECOUNT_CLI:<cid>,<in>,<out>`: totals since connect, as the server counts them. */
export interface ByteCountNotification {
  kind: 'bytecount';
  cid: number;
  bytesReceived: number;
  bytesSent: number;
}

/** Every other `>TYPE:text` line: INFO, STATE, LOG, HOLD, NOTIFY, FATAL, ... */
export interface OtherNotification {
  kind: 'other';
  type: string;
  text: string;
}

export type ManagementNotification = ClientNotification | ByteCountNotification | OtherNotification;

export interface ManagementClientOptions {
  /** Names the server in error messages. */
  label?: string;
  /** Answer to `ENTER PASSWORD:`. */
  password?: string;
  /** How long to wait for the greeting before calling the interface busy; default 5 s. */
  greetingTimeoutMs?: number;
  /** Default bound for one command's reply; default 10 s. */
  commandTimeoutMs?: number;
  /** IANA zone for status texts without time_t columns (status 1); default UTC. */
  timezone?: string;
}

const PROMPT = 'ENTER PASSWORD:';
const NOTIFICATION = /^>([A-Z][A-Z0-9_-]*):(.*)$/;
/** `client-kill` messages: a word such as HALT or RESTART, optionally `,reason`; no quoting needed. */
const KILL_MESSAGE = /^[A-Z_]+(,[A-Za-z0-9_.:=-]*)?$/;
/** A line this long without a line end is not the management protocol. */
const MAX_PENDING_CHARS = 1 << 20;
const QUIT_GRACE_MS = 2000;

type Phase = 'greeting' | 'password-sent' | 'ready' | 'closed';

interface Pending {
  text: string;
  timeoutMs: number;
  /** `version <n>` sets the client's protocol version and answers nothing. */
  noReply: boolean;
  lines: string[];
  resolve: (lines: string[]) => void;
  reject: (err: ManagementError) => void;
}

type Events = { notification: [ManagementNotification]; close: [ManagementError] };

export class ManagementClient extends EventEmitter<Events> {
  /** The greeting line without `>INFO:`, e.g. `OpenVPN Management Interface Version 5 -- type 'help' for more info`. */
  banner = '';
  /** N from the greeting: 1 (2.3, 2.4), 3 (2.5), 4 (2.6.0–2.6.1), 5 (2.6.2+, 2.7). */
  managementVersion: number | null = null;

  readonly #stream: Duplex;
  readonly #label: string;
  readonly #password: string | undefined;
  readonly #commandTimeoutMs: number;
  readonly #timezone: string;
  readonly #decoder = new StringDecoder('utf8');
  #buffer = '';
  #phase: Phase = 'greeting';
  #closeReason: ManagementError | undefined;
  #greetingTimer: NodeJS.Timeout;
  #replyTimer: NodeJS.Timeout | undefined;
  #queue: Pending[] = [];
  #inFlight: Pending | undefined;
  #clientBlock: ClientNotification | undefined;
  #greeted: { resolve: (c: ManagementClient) => void; reject: (e: ManagementError) => void } | undefined;
  #quitting = false;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  private constructor(stream: Duplex, opts: ManagementClientOptions) {
    super();
    this.#stream = stream;
    this.#label = opts.label ?? 'management';
    this.#password = opts.password;
    this.#commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.#timezone = opts.timezone ?? 'UTC';
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    const greetingMs = opts.greetingTimeoutMs ?? 5000;
    this.#greetingTimer = setTimeout(() => this.#finish(this.#phase === 'password-sent'
      ? new ManagementError('timeout', `${this.#label}: the management interface did not answer the password within ${greetingMs} ms`)
      : new ManagementError('busy', `${this.#label}: the management interface accepted the connection but sent no greeting within ${greetingMs} ms. ` +
        'OpenVPN serves one management client at a time: another client (a second vpnwatch, another tool, an admin\'s telnet) is probably connected')), greetingMs);
    stream.on('data', (chunk: Buffer | string) => this.#onData(chunk));
    // A stream error is followed by 'close'; the first reason recorded is the one reported.
    stream.on('error', (err) => this.#finish(new ManagementError('closed', `${this.#label}: management connection failed: ${err.message}`, undefined, { cause: err })));
    stream.on('end', () => this.#finish(this.#peerClosed()));
    stream.on('close', () => this.#finish(this.#peerClosed()));
  }

  /** Waits for the greeting (answering the password prompt) and resolves with a ready client. */
  static open(stream: Duplex, opts: ManagementClientOptions = {}): Promise<ManagementClient> {
    const client = new ManagementClient(stream, opts);
    const greeted = new Promise<ManagementClient>((resolve, reject) => {
      client.#greeted = { resolve, reject };
    });
    // A tunnel that died before we listened would otherwise look like a busy interface.
    if (stream.destroyed || stream.readableEnded) client.#finish(client.#peerClosed());
    return greeted;
  }

  get isOpen(): boolean {
    return this.#phase !== 'closed';
  }

  /**
   * Sends one command line and resolves with its reply: `['SUCCESS: …']`, or the lines of a
   * multi-line reply without the closing `END`. `ERROR: …` rejects with kind 'error-reply'.
   */
  command(text: string, opts: { timeoutMs?: number } = {}): Promise<string[]> {
    const invalid = (why: string) => Promise.reject(new ManagementError('invalid-argument', `${this.#label}: ${why}`));
    if (text.trim() === '' || /[\r\n]/.test(text)) return invalid('a management command is one non-empty line');
    const word = text.trim().split(/\s+/);
    if (['quit', 'exit'].includes(word[0]!)) return invalid('use quit() to end the session');
    // `log on all` and the like print a history after their SUCCESS line: no single reply rule delimits that.
    if (word[1] === 'on' && word[2] === 'all') return invalid(`"${text.trim()}" is not supported (a SUCCESS line followed by more lines); send "${word[0]} on" and "${word[0]} all" separately`);
    if (!this.isOpen) return Promise.reject(this.#reason());
    if (this.#quitting) return Promise.reject(new ManagementError('closed', `${this.#label}: the management session is ending (quit was called)`));
    return new Promise<string[]>((resolve, reject) => {
      this.#queue.push({
        text, timeoutMs: opts.timeoutMs ?? this.#commandTimeoutMs, noReply: word[0] === 'version' && word.length > 1, lines: [], resolve, reject,
      });
      this.#pump();
    });
  }

  /** `status <version>` parsed; a management reply always ends in END, so the snapshot is complete. */
  async status(version: 1 | 2 | 3 = 3, opts: { timeoutMs?: number } = {}): Promise<StatusSnapshot> {
    if (![1, 2, 3].includes(version)) throw new ManagementError('invalid-argument', `${this.#label}: status version must be 1, 2 or 3`);
    const lines = await this.command(`status ${version}`, opts);
    return parseStatus(`${[...lines, 'END'].join('\n')}\n`, { timezone: this.#timezone });
  }

  /**
   * `client-kill <cid> <message>`: ends one client instance. HALT makes the client exit instead of
   * reconnecting (lab-notes). Resolves with the SUCCESS line. Only a whole number is accepted as
   * the CID, so nothing user-typed can reach the command line.
   */
  clientKill(cid: number, message = 'HALT'): Promise<string> {
    if (typeof cid !== 'number' || !Number.isSafeInteger(cid) || cid < 0) {
      return Promise.reject(new ManagementError('invalid-argument', `${this.#label}: client-kill needs a Client ID (a whole number, 0 or more), not ${JSON.stringify(cid)}`));
    }
    if (!KILL_MESSAGE.test(message)) {
      return Promise.reject(new ManagementError('invalid-argument', `${this.#label}: client-kill message must look like HALT or RESTART[,reason], not ${JSON.stringify(message)}`));
    }
    return this.command(`client-kill ${cid} ${message}`).then((lines) => lines[0]!);
  }

  /**
   * Ends the session politely: `quit` goes out in its own write after the last queued reply (in the
   * same write as a command, that command's output is lost — lab-notes), so OpenVPN frees the
   * interface at once for the next client. Resolves when the connection is closed.
   */
  quit(): Promise<void> {
    if (this.isOpen && !this.#quitting) {
      this.#quitting = true;
      this.#pump();
    }
    return this.#closed;
  }

  /** Drops the connection now; queued commands reject with 'closed'. */
  close(): void {
    this.#finish(new ManagementError('closed', `${this.#label}: management connection closed by vpnwatch`));
  }

  #pump(): void {
    if (this.#phase !== 'ready' || this.#inFlight) return;
    const next = this.#queue.shift();
    if (!next) {
      if (this.#quitting) this.#sendQuit();
      return;
    }
    this.#inFlight = next;
    this.#stream.write(`${next.text}\n`);
    if (next.noReply) {
      this.#settle((p) => p.resolve([]));
      return;
    }
    this.#replyTimer = setTimeout(() => this.#finish(new ManagementError('timeout',
      `${this.#label}: no reply to "${next.text}" within ${next.timeoutMs} ms; connection closed (a late reply would be mistaken for the next one's)`)), next.timeoutMs);
  }

  #sendQuit(): void {
    this.#closeReason ??= new ManagementError('closed', `${this.#label}: management session ended by vpnwatch (quit)`);
    this.#stream.write('quit\n');
    this.#stream.end();
    // OpenVPN closes its side at once; a tunnel that never confirms must not hold quit() forever.
    setTimeout(() => this.#finish(this.#closeReason!), QUIT_GRACE_MS).unref();
  }

  #settle(outcome: (p: Pending) => void): void {
    const pending = this.#inFlight!;
    clearTimeout(this.#replyTimer);
    this.#inFlight = undefined;
    outcome(pending);
    this.#pump();
  }

  #onData(chunk: Buffer | string): void {
    if (this.#phase === 'closed') return;
    this.#buffer += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    for (;;) {
      if (this.#phase === 'greeting' || this.#phase === 'password-sent') {
        if (this.#buffer.startsWith(PROMPT)) {
          this.#buffer = this.#buffer.slice(PROMPT.length);
          this.#onPasswordPrompt();
          if (!this.isOpen) return;
          continue;
        }
        // The prompt has no line end, so a prompt cut between two chunks looks like a partial line.
        if (this.#buffer.length < PROMPT.length && PROMPT.startsWith(this.#buffer)) return;
      }
      const end = this.#buffer.indexOf('\n');
      if (end < 0) break;
      const line = this.#buffer.slice(0, end > 0 && this.#buffer[end - 1] === '\r' ? end - 1 : end);
      this.#buffer = this.#buffer.slice(end + 1);
      this.#onLine(line);
      if (!this.isOpen) return;
    }
    if (this.#buffer.length > MAX_PENDING_CHARS) {
      this.#finish(new ManagementError('protocol', `${this.#label}: over ${MAX_PENDING_CHARS} characters without a line end; is this an OpenVPN management interface?`));
    }
  }

  #onPasswordPrompt(): void {
    if (this.#phase === 'password-sent') {
      // OpenVPN 2.6 answers a wrong password with nothing but a new prompt (measured; the
      // `ERROR: bad password` line in its source does not reach the client). Retrying the same
      // password would only count towards its 3-strikes disconnect.
      this.#finish(this.#badPassword());
      return;
    }
    if (this.#password === undefined) {
      this.#finish(new ManagementError('bad-password', `${this.#label}: the management interface asks for a password, but none is configured (set management.passwordEnv in the servers file)`));
      return;
    }
    if (/[\r\n]/.test(this.#password)) {
      this.#finish(new ManagementError('bad-password', `${this.#label}: the management password contains a line break`));
      return;
    }
    this.#phase = 'password-sent';
    this.#stream.write(`${this.#password}\n`);
  }

  #badPassword(): ManagementError {
    return new ManagementError('bad-password', `${this.#label}: the management interface refused the password (check management.passwordEnv against the password file named in OpenVPN's "management" line)`);
  }

  #onLine(line: string): void {
    const notification = NOTIFICATION.exec(line);
    if (notification) {
      this.#onNotification(notification[1]!, notification[2]!);
      return;
    }
    if (this.#phase !== 'ready') {
      // `SUCCESS: password is correct` precedes the greeting; anything else before it is noise.
      if (line.startsWith('ERROR: bad password')) this.#finish(this.#badPassword());
      return;
    }
    const pending = this.#inFlight;
    // Nothing was asked: a line nobody waits for (there is no reply it could belong to).
    if (!pending) return;
    if (pending.lines.length === 0 && line.startsWith('SUCCESS:')) {
      this.#settle((p) => p.resolve([line]));
    } else if (pending.lines.length === 0 && line.startsWith('ERROR:')) {
      // Single line, no END (e.g. `status 4`, an unknown command).
      this.#settle((p) => p.reject(new ManagementError('error-reply', `${this.#label}: "${p.text}" failed: ${line}`, line)));
    } else if (line === 'END') {
      this.#settle((p) => p.resolve(p.lines));
    } else {
      pending.lines.push(line);
    }
  }

  #onNotification(type: string, text: string): void {
    if (type === 'INFO' && this.#phase !== 'ready') {
      this.banner = text;
      const version = /Management Interface Version (\d+)/.exec(text);
      this.managementVersion = version ? Number(version[1]) : null;
      this.#phase = 'ready';
      clearTimeout(this.#greetingTimer);
      this.#greeted?.resolve(this);
      this.#greeted = undefined;
      this.#pump();
    }
    if (type === 'CLIENT') {
      this.#onClientLine(text);
      return;
    }
    if (type === 'BYTECOUNT_CLI') {
      const [cid, received, sent] = text.split(',').map(Number);
      if ([cid, received, sent].every((n) => Number.isSafeInteger(n))) {
        this.#notify({ kind: 'bytecount', cid: cid!, bytesReceived: received!, bytesSent: sent! });
        return;
      }
    }
    this.#notify({ kind: 'other', type, text });
  }

  #onClientLine(text: string): void {
    if (text.startsWith('ENV,')) {
      const block = this.#clientBlock;
      if (!block) return; // an ENV line outside a block: nothing to attach it to
      const pair = text.slice(4);
      if (pair === 'END') {
        this.#clientBlock = undefined;
        this.#notify(block);
        return;
      }
      // Values are raw and may contain `=` and `,`: split at the first `=` only.
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      // CONNECT and REAUTH carry the client's cleartext password: it is never kept.
      if (key !== 'password') block.env[key] = eq < 0 ? '' : pair.slice(eq + 1);
      return;
    }
    // ENV blocks are atomic on the wire; a new event before END means the last block was cut.
    if (this.#clientBlock) this.#notify(this.#clientBlock);
    this.#clientBlock = undefined;
    const [event = '', cid = '', ...args] = text.split(',');
    const notification: ClientNotification = { kind: 'client', event, cid: Number(cid), args, env: {} };
    if (event === 'ADDRESS') this.#notify(notification);
    else this.#clientBlock = notification;
  }

  #notify(notification: ManagementNotification): void {
    this.#emitSafely('notification', notification);
  }

  #emitSafely<E extends keyof Events>(event: E, ...args: Events[E]): void {
    try {
      (this.emit as (e: E, ...a: Events[E]) => boolean)(event, ...args);
    } catch (err) {
      // A listener's bug must not break the reading of the stream (and with it every command).
      process.emitWarning(err as Error);
    }
  }

  #peerClosed(): ManagementError {
    return this.#phase === 'ready'
      ? new ManagementError('closed', `${this.#label}: the management interface closed the connection (OpenVPN stopped or restarted, or the tunnel dropped)`)
      : new ManagementError('closed', `${this.#label}: the management interface closed the connection before its greeting`);
  }

  #reason(): ManagementError {
    return this.#closeReason ?? this.#peerClosed();
  }

  #finish(reason: ManagementError): void {
    if (this.#phase === 'closed') return;
    this.#closeReason ??= reason;
    this.#phase = 'closed';
    clearTimeout(this.#greetingTimer);
    clearTimeout(this.#replyTimer);
    this.#stream.destroy();
    const final = this.#closeReason;
    const pending = [...(this.#inFlight ? [this.#inFlight] : []), ...this.#queue];
    this.#inFlight = undefined;
    this.#queue = [];
    for (const p of pending) p.reject(final);
    this.#greeted?.reject(final);
    this.#greeted = undefined;
    this.#markClosed();
    this.#emitSafely('close', final);
  }
}

export interface ConnectManagementOptions {
  greetingTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Bound for opening the SSH channel; default SshConnection's (10 s). */
  channelTimeoutMs?: number;
}

/** Where a server's management interface is, for messages. */
function managementAddress(server: ServerConfig): string {
  const m = server.management;
  if (!m) return 'none';
  return m.socket ?? `${m.host ?? '127.0.0.1'}:${m.port}`;
}

export function notConfigured(server: ServerConfig): ManagementError {
  return new ManagementError('not-configured', `${server.name} has no management interface configured; add management: { port: 7505 } to servers.yml`);
}

/**
 * Opens a tunnel through `ssh` to the server's management interface (TCP on its loopback, or a
 * unix socket), answers the password prompt, and resolves once OpenVPN greeted us.
 */
export async function connectManagement(ssh: SshConnection, server: ServerConfig, opts: ConnectManagementOptions = {}): Promise<ManagementClient> {
  const m = server.management;
  if (!m || (m.socket === undefined && m.port === undefined)) throw notConfigured(server);
  const channelOpts = opts.channelTimeoutMs === undefined ? {} : { timeoutMs: opts.channelTimeoutMs };
  let stream: Duplex;
  try {
    stream = m.socket !== undefined ? await ssh.openUnixSocket(m.socket, channelOpts) : await ssh.forwardOut(m.host ?? '127.0.0.1', m.port!, channelOpts);
  } catch (err) {
    throw new ManagementError('unreachable',
      `${server.name}: cannot reach the management interface at ${managementAddress(server)}: ${errorMessage(err)}. Is OpenVPN running with a matching "management" line?`,
      undefined, { cause: err });
  }
  const clientOpts: ManagementClientOptions = { label: server.name, timezone: server.timezone };
  if (m.password !== undefined) clientOpts.password = m.password;
  if (opts.greetingTimeoutMs !== undefined) clientOpts.greetingTimeoutMs = opts.greetingTimeoutMs;
  if (opts.commandTimeoutMs !== undefined) clientOpts.commandTimeoutMs = opts.commandTimeoutMs;
  return ManagementClient.open(stream, clientOpts);
}

const LEAVING = /^(.*)\/(\S+) (?:CC-EEN exit message received by peer|SIGTERM\[soft,remote-exit\] received, client-instance exiting)$/;

/**
 * The client a `>LOG:` line (after `log on`) says is leaving on its own: its explicit-exit-notify
 * arrived. OpenVPN 2.6 still lists it for ~5 s after (`Delayed exit in 5 seconds`); this lets a
 * monitor announce the disconnect at once. The line's prefix is `CN/real-address` as the status
 * shows them, e.g. `1795838629,N,client-0/198.19.1.1:46103 CC-EEN exit message received by peer`.
 */
export function leavingClientFromLog(text: string): Pick<VpnSession, 'commonName' | 'realAddress' | 'realPort'> | null {
  const afterTime = text.indexOf(',');
  const afterFlags = text.indexOf(',', afterTime + 1);
  if (afterTime < 0 || afterFlags < 0) return null;
  const m = LEAVING.exec(text.slice(afterFlags + 1));
  if (!m) return null;
  const real = parseRealAddress(m[2]!);
  return real ? { commonName: m[1]!, realAddress: real.host, realPort: real.port } : null;
}
