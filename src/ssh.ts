// SSH to the VPN servers: pinned host keys, SFTP reads of the status file, and tunnels to the
// OpenVPN management interface. Deliberately no exec/shell: nothing we send is ever run by a
// remote shell, so nothing user-typed can become a command line on a VPN server.
import { createHash } from 'node:crypto';
import { readFile as readLocalFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import type { ServerConfig } from './domain.ts';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

export type SshErrorKind =
  | 'host-key-mismatch'
  | 'host-key-unpinned'
  | 'auth'
  | 'timeout'
  | 'connect'
  | 'closed'
  | 'sftp'
  | 'too-large'
  /** sshd refused to open a tunnel for this user (AllowTcpForwarding, PermitOpen, AllowStreamLocalForwarding). */
  | 'forward-refused';

export class SshError extends Error {
  override readonly name = 'SshError';
  /** What went wrong, without the server's name (the message leads with it). */
  readonly detail: string;
  /**
   * One line saying what to change (on the server, or in the servers file), where the symptom
   * points at one cause. The message ends with it too, so the poll's logged error carries it.
   */
  readonly fix: string | undefined;
  /** The host key fingerprint the server offered, for host-key errors: what the admin should pin. */
  readonly offeredFingerprint: string | undefined;

  constructor(
    readonly kind: SshErrorKind,
    /** The server, as `where()` names it. */
    at: string,
    detail: string,
    options: { cause?: unknown; fix?: string; offeredFingerprint?: string } = {},
  ) {
    super(`${at}: ${detail}${options.fix ? `. Fix: ${options.fix}` : ''}`, { cause: options.cause });
    this.detail = detail;
    this.fix = options.fix;
    this.offeredFingerprint = options.offeredFingerprint;
  }
}

/** A server's host key as offered in the handshake. */
export interface OfferedHostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, ... */
  type: string;
  /** `SHA256:<base64>`, as `ssh-keygen -lf` prints it and `hostKey` takes it. */
  fingerprint: string;
}

/** `SHA256:<base64, no padding>` of the raw public key blob: the same string `ssh-keygen -lf` prints. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...). */
function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  return len > 0 && len < 64 && key.length >= 4 + len ? key.toString('latin1', 4, 4 + len) : 'unknown';
}

/** Accept what admins paste: surrounding spaces, base64 padding, a missing `SHA256:` prefix. */
function normalizeFingerprint(fp: string): string {
  const bare = fp.trim().replace(/=+$/, '');
  return bare.startsWith('SHA256:') ? bare : `SHA256:${bare}`;
}

function where(server: ServerConfig): string {
  return `${server.name} (${server.host}:${server.port})`;
}

/** How the admin reloads sshd after editing its config, in every fix that edits it. */
const RELOAD_SSHD = 'then `sshd -t && systemctl reload ssh`';

const MiB = 1024 * 1024;
/** ssh2's per-request read limit towards OpenSSH (256 KiB packet minus overhead): one request, no splitting. */
const READ_CHUNK = 254 * 1024;
const READ_ATTEMPTS = 3;
/** Idle connections are kept between polls: keepalives notice a dead peer (and keep NAT state) in ~45 s. */
const KEEPALIVE_MS = 15_000;
const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;

/** Turns whatever ssh2 or the socket threw into an SshError a server admin can act on. */
function toSshError(server: ServerConfig, err: unknown, phase: 'connect' | 'session'): SshError {
  if (err instanceof SshError) return err;
  const e = err as Error & { code?: unknown; level?: string };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const make = (kind: SshErrorKind, detail: string, fix?: string) => new SshError(kind, where(server), detail, { cause: err, ...(fix ? { fix } : {}) });
  if (e.level === 'client-authentication') {
    const how = [server.privateKeyPath && `key ${server.privateKeyPath}`, server.password && 'password'].filter(Boolean).join(', ');
    const fix = server.privateKeyPath
      ? `put the public key (${server.privateKeyPath}.pub) in ~${server.username}/.ssh/authorized_keys on the server, owned by ${server.username} with modes 700 (~/.ssh) and 600 (the file); on an sshd without PAM also unlock the account: usermod -p '*' ${server.username} (the server's auth log says which)`
      : 'check the password, and that sshd allows PasswordAuthentication for this user';
    return make('auth', `authentication failed for user "${server.username}" (tried ${how || 'nothing'})`, fix);
  }
  if (e.level === 'client-timeout') {
    return make('timeout', e.message === 'Keepalive timeout' ? 'the server stopped answering keepalives' : 'no SSH handshake in time');
  }
  if (code === 'ECONNREFUSED') return make('connect', `connection refused; is sshd listening on port ${server.port}?`);
  if (code === 'ETIMEDOUT') return make('timeout', 'TCP connect timed out');
  if (code && ['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'].includes(code)) {
    return make('connect', `cannot reach the host (${code})`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return make(phase === 'connect' ? 'connect' : 'closed', `connection dropped (${code}): sshd or the host went away`);
  }
  if (e.level === 'client-dns') return make('connect', e.message);
  return make(phase === 'connect' ? 'connect' : 'closed', `${phase === 'connect' ? 'SSH handshake failed' : 'SSH error'}: ${e.message}`);
}

function sftpError(server: ServerConfig, path: string, what: string, err: unknown): SshError {
  const e = err as Error & { code?: unknown };
  const at = where(server);
  // Status codes from SFTP v3: 2 no such file, 3 permission denied.
  if (e.code === 2) {
    return new SshError('sftp', at, `cannot ${what} ${path}: no such file`, {
      cause: err, fix: `set statusPath to the file named on OpenVPN's "status" line (grep -r '^status ' /etc/openvpn/)`,
    });
  }
  if (e.code === 3) {
    const dir = posixDirname(path);
    return new SshError('sftp', at, `cannot ${what} ${path}: permission denied for user "${server.username}" (OpenVPN creates status files 0600 root)`, {
      cause: err, fix: `on the server: setfacl -m u:${server.username}:x ${dir} && setfacl -m u:${server.username}:r ${path} (apt install acl)`,
    });
  }
  return new SshError('sftp', at, `cannot ${what} ${path}: ${e.message}`, { cause: err });
}

function posixDirname(p: string): string {
  const cut = p.replace(/\/+$/, '').lastIndexOf('/');
  return cut <= 0 ? '/' : p.slice(0, cut);
}

/**
 * Why the server would not start SFTP, read from ssh2's error. Debian's sshd runs
 * `Subsystem sftp /usr/lib/openssh/sftp-server` through the user's login shell: nologin prints
 * "This account is currently not available." and exits, and ssh2 takes the first four bytes
 * of that text for an SFTP packet length ("This" = 1416128883). A shell that prints nothing
 * (/bin/false) just exits.
 */
function sftpRefused(server: ServerConfig, err: Error): SshError {
  const at = where(server);
  const forceCommand = `add "ForceCommand internal-sftp" to a "Match User ${server.username}" block in sshd_config (${RELOAD_SSHD})`;
  const length = /Packet length (\d+) exceeds max length/.exec(err.message);
  const bytes = length ? Buffer.alloc(4) : undefined;
  if (length && bytes) bytes.writeUInt32BE(Number(length[1]) >>> 0);
  if (bytes && /^[\x20-\x7e]{4}$/.test(bytes.toString('latin1'))) {
    return new SshError('sftp', at, `the server answered the SFTP request with text ("${bytes.toString('latin1')}…") instead of SFTP: sshd ran the SFTP server through the login shell of "${server.username}", and the shell printed something (nologin prints "This account is currently not available.")`, { cause: err, fix: forceCommand });
  }
  const exit = /Received exit code (\d+) while establishing SFTP session/.exec(err.message);
  if (exit) {
    return new SshError('sftp', at, `the SFTP server exited at once with code ${exit[1]}: sshd ran it through the login shell of "${server.username}", which refused (a nologin or /bin/false shell does)`, { cause: err, fix: forceCommand });
  }
  if (/Unable to start subsystem/.test(err.message)) {
    return new SshError('sftp', at, 'sshd has no SFTP subsystem', { cause: err, fix: `add "Subsystem sftp internal-sftp" to the global part of sshd_config (${RELOAD_SSHD})` });
  }
  return new SshError('sftp', at, `the server refused an SFTP session: ${err.message}`, { cause: err });
}

/**
 * Reads the private key and checks that it can be used: an encrypted key needs its passphrase,
 * and ssh2 reads OpenSSH-format keys and the older PEM ones, not PKCS#8.
 */
async function readPrivateKey(server: ServerConfig, keyPath: string): Promise<Buffer> {
  const at = where(server);
  let key: Buffer;
  try {
    key = await readLocalFile(keyPath);
  } catch (err) {
    throw new SshError('auth', at, `cannot read privateKeyPath ${keyPath}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(key, server.privateKeyPassphrase);
  if (!(parsed instanceof Error)) return key;
  if (/no passphrase given/i.test(parsed.message)) {
    throw new SshError('auth', at, `the private key ${keyPath} is encrypted (it has a passphrase) and no passphrase is configured`, {
      cause: parsed,
      fix: `set privateKeyPassphraseEnv for ${server.name} in the servers file to the name of an environment variable holding the passphrase, or remove the passphrase: ssh-keygen -p -N '' -f ${keyPath}`,
    });
  }
  if (/bad passphrase/i.test(parsed.message)) {
    throw new SshError('auth', at, `the passphrase from privateKeyPassphraseEnv does not decrypt the private key ${keyPath}`, {
      cause: parsed, fix: `put the key's passphrase in the environment variable named by privateKeyPassphraseEnv (ssh-keygen -y -f ${keyPath} asks for it and tests it)`,
    });
  }
  const pkcs8 = key.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || key.includes('-----BEGIN PRIVATE KEY-----');
  throw new SshError('auth', at, `cannot use the private key ${keyPath}: ${parsed.message}`, {
    cause: parsed, ...(pkcs8 ? { fix: `rewrite it in OpenSSH format: ssh-keygen -p -f ${keyPath}` } : {}),
  });
}

export interface ReadResult {
  text: string;
  /** Modification time from SFTP: whole seconds. */
  mtime: Date;
  /** Bytes read. */
  size: number;
  /** 1 when the first read was consistent; up to 3. */
  attempts: number;
  /** false when the file was still changing during the last attempt (the text may be torn). */
  stable: boolean;
}

export class SshConnection {
  readonly server: ServerConfig;
  #client: Ssh2Client;
  #open = true;
  #closeReason: SshError | undefined;
  #closeListeners = new Set<(reason: SshError) => void>();
  #sftp: Promise<SFTPWrapper> | undefined;

  private constructor(server: ServerConfig, client: Ssh2Client) {
    this.server = server;
    this.#client = client;
    // A listener must always be attached: an unhandled 'error' from ssh2 would crash the process.
    client.on('error', (err) => {
      this.#closeReason ??= toSshError(server, err, 'session');
    });
    client.on('close', () => this.#markClosed());
  }

  /** Connects, verifies the pinned host key and authenticates; rejects with an SshError (also when `signal` aborts). */
  static async connect(server: ServerConfig, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<SshConnection> {
    const at = where(server);
    const auth: Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'password'> = {};
    if (server.privateKeyPath) {
      auth.privateKey = await readPrivateKey(server, server.privateKeyPath);
      if (server.privateKeyPassphrase !== undefined) auth.passphrase = server.privateKeyPassphrase;
    }
    if (server.password) auth.password = server.password;
    if (!auth.privateKey && !auth.password) throw new SshError('auth', at, 'no privateKeyPath or password configured');

    return new Promise<SshConnection>((resolve, reject) => {
      const client = new Client();
      // The verifier runs inside ssh2; it records why it refused so the generic "Host denied" error
      // that follows can be replaced by one that shows the offered fingerprint.
      let hostKeyError: SshError | undefined;
      let settled = false;
      const onAbort = () => fail(new SshError('closed', at, 'connect abandoned: vpnwatch is stopping'));
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        client.destroy();
        reject(hostKeyError ?? err);
      };
      // One timer for TCP connect, key exchange and auth (ssh2's readyTimeout is off: this error says more).
      const timer = setTimeout(
        () => fail(new SshError('timeout', at, `no SSH session within ${opts.timeoutMs} ms (the port accepts but the handshake or login did not finish)`)),
        opts.timeoutMs,
      );
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const hostVerifier = (key: Buffer): boolean => {
        hostKeyError = hostKeyProblem(server, { type: keyTypeOf(key), fingerprint: fingerprintOf(key) });
        return hostKeyError === undefined;
      };
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(new SshConnection(server, client));
      });
      client.on('error', (err) => fail(toSshError(server, err, 'connect')));
      client.on('close', () => fail(new SshError('closed', at, 'the server closed the connection during the SSH handshake')));
      try {
        client.connect({
          host: server.host,
          port: server.port,
          username: server.username,
          ...auth,
          hostVerifier,
          readyTimeout: 0,
          keepaliveInterval: KEEPALIVE_MS,
          keepaliveCountMax: 3,
        });
        // Without this, Nagle holds our pipelined SFTP requests behind the server's delayed ACK:
        // measured, about 40 ms on some reads and handshakes, even on loopback.
        client.setNoDelay(true);
      } catch (err) {
        // readPrivateKey has vetted the key; this is what ssh2 still refuses synchronously.
        fail(new SshError('auth', at, `cannot use the private key ${server.privateKeyPath ?? ''}: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Called once when the connection drops or is closed (at once if it already has). Returns an unsubscribe. */
  onClose(listener: (reason: SshError) => void): () => void {
    if (!this.#open) {
      const reason = this.#reason();
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  close(): void {
    if (!this.#open) return;
    this.#closeReason ??= new SshError('closed', where(this.server), 'connection closed by vpnwatch');
    this.#client.end();
    // end() waits for the peer; a dead peer must not keep the socket (and the process) alive.
    setTimeout(() => this.#client.destroy(), 1000).unref();
    this.#markClosed();
  }

  /**
   * Reads a whole file over SFTP. OpenVPN rewrites its status file in place (lseek 0, a write()
   * per line, ftruncate), so a read can land mid-rewrite: an attempt that saw the file change is
   * repeated (up to 3 attempts). `stable` is false when the last attempt still saw a change; the
   * text is returned anyway and the parser's END check is the next guard.
   */
  async readFile(path: string, opts: { timeoutMs: number; maxBytes?: number }): Promise<ReadResult> {
    const maxBytes = opts.maxBytes ?? 64 * MiB;
    return this.#bounded(`reading ${path}`, opts.timeoutMs, async () => {
      const sftp = await this.#sftpChannel();
      const handle = await call<Buffer>((cb) => sftp.open(path, 'r', cb)).catch((err) => {
        throw sftpError(this.server, path, 'open', err);
      });
      try {
        let last: ReadResult | undefined;
        for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
          last = { ...(await this.#readOnce(sftp, handle, path, maxBytes)), attempts: attempt };
          if (last.stable) break;
        }
        return last!;
      } finally {
        // Not awaited: the reply costs a round trip and nothing depends on it.
        sftp.close(handle, () => {});
      }
    });
  }

  /**
   * One attempt: the file is read twice and fstat'ed before and after. Both passes must agree
   * byte for byte: the fstat bracket alone misses a read that falls inside one rewrite (OpenVPN's
   * write()s keep the size until its ftruncate, and SFTP mtimes have 1 s resolution); measured
   * here, that let torn texts through as "unchanged". The second pass doubles the bytes, not the
   * round trips.
   */
  async #readOnce(sftp: SFTPWrapper, handle: Buffer, path: string, maxBytes: number) {
    const fail = (what: string) => (err: unknown) => {
      throw sftpError(this.server, path, what, err);
    };
    const fstat = () => call<Stats>((cb) => sftp.fstat(handle, cb)).catch(fail('stat'));
    const read = (position: number) =>
      call<Buffer>((cb) => {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        sftp.read(handle, buf, 0, READ_CHUNK, position, (err, n) => cb(err, buf.subarray(0, n)));
      }).catch(fail('read'));
    // A full chunk, or less than fstat said (a server may return short reads), means read on; 0 bytes is EOF.
    const more = (n: number, total: number, size: number) => n > 0 && (n === READ_CHUNK || total < size);

    // Pipelined: sftp-server handles requests in order, so for a file that fits one chunk (the
    // usual status file) fstat, read, read, fstat run back to back on the server in one round trip.
    const [before, first, firstAgain, pipelinedAfter] = await Promise.all([fstat(), read(0), read(0), fstat()]);
    if (before.size > maxBytes) throw this.#tooLarge(path, before.size, maxBytes);
    const pass1 = [first];
    const offsets = [0];
    let pass2 = [firstAgain];
    let after = pipelinedAfter;
    let total = first.length;
    if (more(first.length, total, before.size)) {
      for (let n = first.length; more(n, total, before.size); total += n) {
        if (total > maxBytes) throw this.#tooLarge(path, total, maxBytes);
        offsets.push(total);
        const chunk = await read(total);
        pass1.push(chunk);
        n = chunk.length;
      }
      // The second pass must start after the first ends, or both could share a chunk read mid-rewrite.
      const again = await Promise.all([...offsets.map(read), fstat()]);
      after = again.pop() as Stats;
      pass2 = again as Buffer[];
    }
    if (total > maxBytes) throw this.#tooLarge(path, total, maxBytes);
    const data = Buffer.concat(pass1, total);
    const stable =
      before.size === after.size && before.mtime === after.mtime && total === after.size && data.equals(Buffer.concat(pass2));
    return { text: data.toString('utf8'), size: total, mtime: new Date(after.mtime * 1000), stable };
  }

  #tooLarge(path: string, size: number, maxBytes: number): SshError {
    return new SshError('too-large', where(this.server), `${path} is ${size} bytes, over the ${maxBytes}-byte limit; is statusPath the OpenVPN status file?`);
  }

  /** A TCP connection from the server to host:port (usually its own loopback: the management interface). */
  forwardOut(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<Duplex> {
    return this.#bounded(`opening a tunnel to ${host}:${port}`, opts.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS, () =>
      call<ClientChannel>((cb) => this.#client.forwardOut('127.0.0.1', 0, host, port, cb)).catch((err) => {
        const user = this.server.username;
        if (openRefusedBySshd(err)) {
          // sshd gives the client no reason; AllowTcpForwarding and PermitOpen look the same from here.
          const fix = isIP(host)
            ? `allow it in a "Match User ${user}" block of sshd_config: "AllowTcpForwarding local" and "PermitOpen ${host}:${port}" (${RELOAD_SSHD})`
            : `PermitOpen compares host names literally, so "${host}" passes only "PermitOpen ${host}:${port}": set management.host: 127.0.0.1 for ${this.server.name} to match "PermitOpen 127.0.0.1:${port}" in the "Match User ${user}" block of sshd_config`;
          throw new SshError('forward-refused', where(this.server), `sshd refused to open a tunnel to ${host}:${port} for user "${user}"`, { cause: err, fix });
        }
        throw new SshError('connect', where(this.server), `the server could not open ${host}:${port} for us: ${(err as Error).message}`, { cause: err });
      }),
    );
  }

  /** A connection to a unix socket on the server (OpenVPN's `management PATH unix`). */
  openUnixSocket(path: string, opts: { timeoutMs?: number } = {}): Promise<Duplex> {
    return this.#bounded(`opening unix socket ${path}`, opts.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS, () =>
      call<ClientChannel>((cb) => this.#client.openssh_forwardOutStreamLocal(path, cb)).catch((err) => {
        if (openRefusedBySshd(err)) {
          throw new SshError('forward-refused', where(this.server), `sshd refused to open unix socket ${path} for user "${this.server.username}"`, {
            cause: err, fix: `add "AllowStreamLocalForwarding local" to a "Match User ${this.server.username}" block of sshd_config (${RELOAD_SSHD})`,
          });
        }
        throw new SshError('connect', where(this.server), `the server could not open unix socket ${path} for us (needs AllowStreamLocalForwarding): ${(err as Error).message}`, { cause: err });
      }),
    );
  }

  /** Opens the SFTP session that reads use (or finds it open): for checks that want the SSH-level answer alone. */
  openSftp(opts: { timeoutMs: number }): Promise<void> {
    return this.#bounded('opening an SFTP session', opts.timeoutMs, async () => {
      await this.#sftpChannel();
    });
  }

  /** The SFTP channel is opened once and reused: opening one costs a round trip and a server process. */
  #sftpChannel(): Promise<SFTPWrapper> {
    if (!this.#sftp) {
      const pending = call<SFTPWrapper>((cb) => this.#client.sftp(cb));
      this.#sftp = pending;
      const forget = () => {
        if (this.#sftp === pending) this.#sftp = undefined;
      };
      pending.then((sftp) => sftp.once('close', forget), forget);
      pending.catch(() => {});
      return pending.catch((err) => {
        throw sftpRefused(this.server, err as Error);
      });
    }
    return this.#sftp;
  }

  /**
   * Runs an operation that must settle: it loses the race to a timer or to the connection
   * dropping. After a timeout the connection is closed, because its channel state is unknown and
   * an unresponsive server should be reconnected rather than reused.
   */
  #bounded<T>(what: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
    if (!this.#open) return Promise.reject(this.#reason());
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
      };
      const timer = setTimeout(() => {
        done();
        reject(new SshError('timeout', where(this.server), `${what} took longer than ${timeoutMs} ms`));
        this.#closeReason ??= new SshError('timeout', where(this.server), `closed after ${what} timed out`);
        this.close();
      }, timeoutMs);
      const unsubscribe = this.onClose((reason) => {
        done();
        reject(reason);
      });
      run().then(
        (value) => {
          done();
          resolve(value);
        },
        (err) => {
          done();
          reject(this.#open ? toSshError(this.server, err, 'session') : this.#reason());
        },
      );
    });
  }

  #reason(): SshError {
    return this.#closeReason ?? new SshError('closed', where(this.server), 'the connection was closed by the server or the network');
  }

  #markClosed(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#sftp = undefined;
    const reason = this.#reason();
    for (const listener of this.#closeListeners) listener(reason);
    this.#closeListeners.clear();
  }
}

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254): sshd's configuration forbids the channel. */
function openRefusedBySshd(err: unknown): boolean {
  return (err as { reason?: unknown }).reason === 1;
}

/** Node-style callback → promise, for ssh2's callback API. */
function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * Why vpnwatch refuses the host key a server offers, or undefined when it accepts it (it matches
 * the pin, or the check is switched off).
 */
export function hostKeyProblem(server: ServerConfig, offered: OfferedHostKey): SshError | undefined {
  if (server.insecureSkipHostKeyCheck) return undefined;
  const at = where(server);
  const { type, fingerprint } = offered;
  const compare = 'after comparing it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the server';
  if (!server.hostKey) {
    return new SshError('host-key-unpinned', at, `no hostKey pinned; the server offers ${type} key ${fingerprint}`, {
      offeredFingerprint: fingerprint,
      fix: `add "hostKey: ${fingerprint}" to ${server.name} in the servers file, ${compare} (or set insecureSkipHostKeyCheck: true)`,
    });
  }
  const pinned = normalizeFingerprint(server.hostKey);
  if (pinned === fingerprint) return undefined;
  return new SshError('host-key-mismatch', at, `host key ${fingerprint} (${type}) does not match the pinned ${pinned}`, {
    offeredFingerprint: fingerprint,
    fix: `if the server's key was changed on purpose, pin the new one ("hostKey: ${fingerprint}", ${compare}); otherwise someone may be intercepting the connection`,
  });
}

/**
 * The host key a server offers, without logging in: the handshake is abandoned as soon as the key
 * arrives, so nothing (no key signature, no password) is sent to a server that is not trusted yet.
 */
export function probeHostKey(server: ServerConfig, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<OfferedHostKey> {
  return new Promise<OfferedHostKey>((resolve, reject) => {
    const client = new Client();
    let offered: OfferedHostKey | undefined;
    let settled = false;
    const onAbort = () => finish(new SshError('closed', where(server), 'abandoned: vpnwatch is stopping'));
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      client.destroy();
      if (offered) resolve(offered);
      else reject(err instanceof SshError ? err : toSshError(server, err, 'connect'));
    };
    const timer = setTimeout(() => finish(new SshError('timeout', where(server), `no SSH key exchange within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', finish);
    client.on('close', () => finish(new SshError('closed', where(server), 'the server closed the connection during the SSH handshake')));
    client.connect({
      host: server.host, port: server.port, username: server.username, readyTimeout: 0,
      hostVerifier: (key: Buffer) => {
        offered = { type: keyTypeOf(key), fingerprint: fingerprintOf(key) };
        finish();
        return false;
      },
    });
  });
}

/**
 * One live connection per server, reused across poll cycles. Concurrent get()s for the same server
 * share one connect; a dropped connection is forgotten and the next get() reconnects. Keyed by
 * server name: after a config reload, closeAll() so changed hosts or keys take effect.
 */
export class SshPool {
  #connections = new Map<string, Promise<SshConnection>>();
  readonly #connectTimeoutMs: number;

  constructor(opts: { connectTimeoutMs: number }) {
    this.#connectTimeoutMs = opts.connectTimeoutMs;
  }

  async get(server: ServerConfig): Promise<SshConnection> {
    const cached = this.#connections.get(server.name);
    if (cached) {
      const conn = await cached; // a pending connect's failure reaches every caller that shared it
      if (conn.isOpen) return conn;
      if (this.#connections.get(server.name) === cached) this.#connections.delete(server.name);
      return this.#connections.get(server.name) ?? this.#connect(server);
    }
    return this.#connect(server);
  }

  #connect(server: ServerConfig): Promise<SshConnection> {
    const pending = SshConnection.connect(server, { timeoutMs: this.#connectTimeoutMs });
    const forget = () => {
      if (this.#connections.get(server.name) === pending) this.#connections.delete(server.name);
    };
    this.#connections.set(server.name, pending);
    pending.then((conn) => conn.onClose(forget), forget);
    return pending;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map((p) => p.then((conn) => conn.close(), () => {})));
  }
}
