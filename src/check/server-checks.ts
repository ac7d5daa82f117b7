// What `vpnwatch check` (and `vpnwatch start`, once per server) finds out about a server, in the
// order a connection gets there. Every check says what it saw; a failed one also says, in one
// line, what to change on the server or in the servers file. A check that needs one that failed
// is not run (ok: null) and says which. The admin setting up a first server is the reader.
//
// | check      | passes when                                                    | runs after |
// |------------|----------------------------------------------------------------|------------|
// | tcp        | host:port answers with an SSH banner                           | -          |
// | hostKey    | the key the server offers matches hostKey (it is always shown) | tcp        |
// | auth       | vpnwatch logs in as username                                   | hostKey    |
// | sftp       | an SFTP session opens (the nologin symptom is named)           | auth       |
// | statusFile | statusPath reads, parses, has END, its time is within the      | sftp       |
// |            | staleness bound and not in the future                          |            |
// | management | (only where configured) a tunnel opens, OpenVPN greets, takes  | auth       |
// |            | the password and answers `version`; busy (another client holds |            |
// |            | it) is not run (ok: null), not failed                          |            |
import net from 'node:net';
import { isOnline, type ServerConfig, type StatusSnapshot } from '../domain.ts';
import { connectManagement, ManagementError } from '../openvpn/management.ts';
import type { ManagementAccess } from '../openvpn/management-access.ts';
import { StatusParseError } from '../openvpn/parse-status.ts';
import { readStatusFile, type StatusFileRead } from '../poll/read-servers.ts';
import { FUTURE_ALLOWANCE_MS, staleAfterMs } from '../poll/diff.ts';

/** The poller's allowance (diff.ts): check and polling judge a status time alike. */
export const FUTURE_ALLOWANCE_SECONDS = FUTURE_ALLOWANCE_MS / 1000;
import { hostKeyProblem, probeHostKey, SshConnection, SshError } from '../ssh.ts';

export type CheckName = 'tcp' | 'hostKey' | 'auth' | 'sftp' | 'statusFile' | 'management';

/** One check's outcome: the `checks[]` entries of `vpnwatch check --json`. */
export interface CheckResult {
  name: CheckName;
  /** true passed, false failed, null not run (an earlier check failed, or the interface is busy). */
  ok: boolean | null;
  detail: string;
  /** One line: what to change. null when the check passed or did not run. */
  fix: string | null;
}

export interface ServerCheckReport {
  server: string;
  /** No check failed. */
  ok: boolean;
  checks: CheckResult[];
}

export interface CheckOptions {
  /** Bound for each step (a connect, a read, a command). */
  timeoutMs: number;
  /** POLL_INTERVAL: part of the staleness bound. */
  pollIntervalSeconds: number;
  /**
   * How to reach the management interface. Default: a connection through the check's own SSH
   * connection. `vpnwatch start` passes its management streams, which lend their open connection.
   */
  management?: ManagementAccess;
  /** Ends the checks early (the service stopping): the SSH connection is closed. */
  signal?: AbortSignal;
  /** This machine's clock, against which the status file's time is judged. */
  now?: () => Date;
}

/**
 * A status file whose time is further ahead of this machine's clock than this is "in the
 * future": the time is written in whole seconds, and NTP keeps clocks within milliseconds, so
 * anything past a few seconds is a wrong clock or, for status-version 1, a wrong timezone.
 */

const passed = (name: CheckName, detail: string): CheckResult => ({ name, ok: true, detail, fix: null });
const failed = (name: CheckName, detail: string, fix: string | null): CheckResult => ({ name, ok: false, detail, fix });
const notRun = (name: CheckName, because: string): CheckResult => ({ name, ok: null, detail: `not run: ${because}`, fix: null });
const fromSshError = (name: CheckName, err: unknown): CheckResult =>
  err instanceof SshError ? failed(name, err.detail, err.fix ?? null) : failed(name, (err as Error).message, null);

/** A check not run because an earlier one failed: that failure says all there is. */
export function isSkippedAfterFailure(check: CheckResult): boolean {
  return check.ok === null && /^not run: \w+ failed$/.test(check.detail);
}

/** Runs every check for one server, in order; never throws. */
export async function checkServer(server: ServerConfig, opts: CheckOptions): Promise<ServerCheckReport> {
  const checks: CheckResult[] = [];
  const names: CheckName[] = ['tcp', 'hostKey', 'auth', 'sftp', 'statusFile', ...(server.management ? ['management' as const] : [])];
  const report = () => ({ server: server.name, ok: checks.every((c) => c.ok !== false), checks });
  /** Records `result`; when it did not pass, the checks after it are not run. */
  const gate = (result: CheckResult, blocks: CheckName[]): boolean => {
    checks.push(result);
    if (result.ok) return true;
    for (const name of names.filter((n) => blocks.includes(n))) checks.push(notRun(name, `${result.name} failed`));
    return false;
  };
  const after = (name: CheckName) => names.slice(names.indexOf(name) + 1);

  const bounds = { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) };
  if (!gate(await checkTcp(server, bounds), after('tcp'))) return report();
  if (!gate(await checkHostKey(server, bounds), after('hostKey'))) return report();
  let conn: SshConnection;
  try {
    conn = await SshConnection.connect(server, bounds);
  } catch (err) {
    gate(fromSshError('auth', err), after('auth'));
    return report();
  }
  const abort = () => conn.close();
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    checks.push(passed('auth', `logged in as ${server.username} with ${server.privateKeyPath ? `key ${server.privateKeyPath}` : 'a password'}`));
    let sftpOk: boolean;
    try {
      await conn.openSftp({ timeoutMs: opts.timeoutMs });
      sftpOk = gate(passed('sftp', 'the SFTP session opens'), []);
    } catch (err) {
      sftpOk = gate(fromSshError('sftp', err), ['statusFile']);
    }
    if (sftpOk) checks.push(await checkStatusFile(conn, server, opts));
    if (server.management) {
      const access = opts.management ?? throughConnection(conn, opts.timeoutMs);
      checks.push(await checkManagement(server, access, opts.timeoutMs));
    }
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    conn.close();
  }
  return report();
}

/** The port answers, and with SSH: a line `SSH-2.0-…` (RFC 4253 allows other lines before it). */
export function checkTcp(server: ServerConfig, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }): Promise<CheckResult> {
  const at = `${server.host}:${server.port}`;
  const wrongPort = `set port for ${server.name} to the port sshd listens on (\`ss -tlnp | grep sshd\` on the server)`;
  const unreachable = `check host and port, and that a firewall lets this machine reach port ${server.port}`;
  return new Promise((resolve) => {
    const sock = net.connect({ host: server.host, port: server.port });
    let seen = '';
    let connected = false;
    const onAbort = () => done(failed('tcp', 'abandoned: vpnwatch is stopping', null));
    const done = (result: CheckResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(result);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const notSsh = () => failed('tcp', seen
      ? `${at} answers, but not with SSH (it sent ${JSON.stringify(seen.slice(0, 60))})`
      : `${at} accepts connections but sent no SSH banner within ${timeoutMs} ms`, wrongPort);
    const timer = setTimeout(() => done(connected ? notSsh() : failed('tcp', `no answer from ${at} within ${timeoutMs} ms`, unreachable)), timeoutMs);
    sock.on('connect', () => (connected = true));
    sock.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const lines = seen.split('\n').slice(0, -1).map((l) => l.replace(/\r$/, ''));
      const banner = lines.find((l) => l.startsWith('SSH-'));
      if (banner) done(passed('tcp', `${at} answers: ${banner}`));
      else if (seen.length > 8192) done(notSsh());
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done(failed('tcp', `${at} refused the connection`, `start sshd on the server, or ${wrongPort}`));
      else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') done(failed('tcp', `cannot resolve ${server.host} (${err.code})`, `set host for ${server.name} to the server's name or address`));
      else done(failed('tcp', `cannot reach ${at} (${err.code ?? err.message})`, unreachable));
    });
    sock.on('close', () => done(notSsh()));
  });
}

/** Shows the key the server offers, ready to paste, and whether vpnwatch accepts it. */
export async function checkHostKey(server: ServerConfig, bounds: { timeoutMs: number; signal?: AbortSignal }): Promise<CheckResult> {
  let offered;
  try {
    offered = await probeHostKey(server, bounds);
  } catch (err) {
    return fromSshError('hostKey', err);
  }
  const paste = `hostKey: ${offered.fingerprint}`;
  const problem = hostKeyProblem(server, offered);
  if (problem) return failed('hostKey', problem.detail, problem.fix ?? null);
  return server.insecureSkipHostKeyCheck
    ? passed('hostKey', `not verified (insecureSkipHostKeyCheck: true); the server offers ${offered.type}, pin it with ${paste}`)
    : passed('hostKey', `${offered.type} key matches the pin (${paste})`);
}

/** Reads statusPath over the open connection, as the poll does (a part-written file is read again), and judges what it says. */
export async function checkStatusFile(conn: SshConnection, server: ServerConfig, opts: Pick<CheckOptions, 'timeoutMs' | 'pollIntervalSeconds' | 'now'>): Promise<CheckResult> {
  const now = opts.now ?? (() => new Date());
  let read: StatusFileRead;
  try {
    read = await readStatusFile(conn, server, { timeoutMs: opts.timeoutMs, now });
  } catch (err) {
    if (!(err instanceof StatusParseError)) return fromSshError('statusFile', err);
    return failed('statusFile', `${server.statusPath}: ${err.message}`, `set statusPath to the file named on OpenVPN's "status" line (grep -r '^status ' /etc/openvpn/)`);
  }
  return judgeStatus(server, read.snapshot, { readAt: read.readAt, title: titleOf(read.file.text), pollIntervalSeconds: opts.pollIntervalSeconds });
}

/** `OpenVPN 2.6.14` from a status-version 2/3 TITLE line; version 1 names no version. */
function titleOf(text: string): string | null {
  return /^TITLE[,\t ]+(OpenVPN \S+)/m.exec(text)?.[1] ?? null;
}

/**
 * The verdict on a status text that parsed: complete (END), within the staleness bound the
 * poller uses (diff.ts staleAfterMs), not in the future. Pure, for any caller holding a snapshot.
 */
export function judgeStatus(
  server: ServerConfig,
  snapshot: StatusSnapshot,
  opts: { readAt: Date; title: string | null; pollIntervalSeconds: number },
): CheckResult {
  const version = `status-version ${snapshot.format.slice(-1)}`;
  const localTimes = snapshot.format === 'openvpn-status-v1';
  if (!snapshot.complete) {
    return failed('statusFile', `${server.statusPath} (${version}) has no END line: OpenVPN did not finish writing it`,
      'if this repeats, check that the server\'s disk is not full (df) and that nothing but OpenVPN writes statusPath');
  }
  const online = snapshot.sessions.filter(isOnline).length;
  const listed = snapshot.sessions.length;
  const what = `${version}${opts.title ? ` from ${opts.title}` : ''}, ${listed} client${listed === 1 ? '' : 's'} listed, ${online} online`;
  if (snapshot.updatedAt === null) return passed('statusFile', `${what}; it has no time line, so its age is not checked`);
  const ageMs = opts.readAt.getTime() - Date.parse(snapshot.updatedAt);
  const ageSeconds = Math.round(ageMs / 1000);
  const limitMs = staleAfterMs(server.statusRefreshSeconds, opts.pollIntervalSeconds);
  const clock = localTimes
    ? `set timezone for ${server.name} to the server's zone (\`timedatectl\` on the server shows it; status-version 1 writes local times), and keep its clock right (NTP)`
    : 'the server\'s clock (or this machine\'s) is wrong: turn on NTP (`timedatectl set-ntp true`)';
  if (ageMs < -FUTURE_ALLOWANCE_SECONDS * 1000) {
    return failed('statusFile', `${server.statusPath} says it was written ${snapshot.updatedAt}, ${-ageSeconds} s in the future (allowance ${FUTURE_ALLOWANCE_SECONDS} s)`, clock);
  }
  if (ageMs > limitMs) {
    const slack = limitMs / 1000 - 2 * server.statusRefreshSeconds - opts.pollIntervalSeconds;
    return failed('statusFile',
      `${server.statusPath} is stale: written ${snapshot.updatedAt}, ${ageSeconds} s ago (limit ${limitMs / 1000} s: 2 × statusRefresh ${server.statusRefreshSeconds} + POLL_INTERVAL ${opts.pollIntervalSeconds} + ${slack})`,
      `start OpenVPN if it is stopped; if it runs, set statusRefresh to the seconds on its "status" line (e.g. "status FILE 10" → statusRefresh: 10)${localTimes ? `, and check timezone (${server.timezone})` : ''}`);
  }
  return passed('statusFile', `${what}, written ${Math.max(0, ageSeconds)} s ago`);
}

/** A ManagementAccess over an SSH connection the caller holds: one management connection per acquire. */
function throughConnection(conn: SshConnection, timeoutMs: number): ManagementAccess {
  return {
    acquire: async (server) => {
      const client = await connectManagement(conn, server, { channelTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs });
      return { client, release: () => client.quit() };
    },
  };
}

/** Tunnel, greeting, password and `version`, through `access`. */
export async function checkManagement(server: ServerConfig, access: ManagementAccess, timeoutMs: number): Promise<CheckResult> {
  let lease;
  try {
    lease = await access.acquire(server);
  } catch (err) {
    return managementFailure(server, err);
  }
  try {
    const lines = await lease.client.command('version', { timeoutMs });
    const openvpn = lines.map((l) => /^OpenVPN Version: (OpenVPN \S+)/.exec(l)?.[1]).find(Boolean) ?? 'OpenVPN';
    const where = server.management?.socket ?? `${server.management?.host ?? '127.0.0.1'}:${server.management?.port}`;
    return passed('management', `${openvpn} answers at ${where} (management interface version ${lease.client.managementVersion ?? '?'})${server.management?.password ? ', password accepted' : ''}`);
  } catch (err) {
    return managementFailure(server, err);
  } finally {
    await lease.release().catch(() => {});
  }
}

/**
 * What a failed management connection means for the admin. Busy is not a failure: OpenVPN serves
 * one management client at a time, and a running `vpnwatch start` (stream mode) holds it for good.
 */
export function managementFailure(server: ServerConfig, err: unknown): CheckResult {
  const m = server.management;
  const where = m?.socket ?? `${m?.host ?? '127.0.0.1'}:${m?.port}`;
  const detail = (e: Error) => (e.message.startsWith(`${server.name}: `) ? e.message.slice(server.name.length + 2) : e.message);
  if (!(err instanceof ManagementError)) return fromSshError('management', err);
  const ssh = err.cause instanceof SshError ? err.cause : undefined;
  switch (err.kind) {
    case 'busy':
      return notRun('management', 'another client holds the management interface (OpenVPN serves one at a time): another vpnwatch, a dashboard, or a telnet session; with management.mode: short they take turns');
    case 'bad-password':
      return failed('management', detail(err), m?.password === undefined
        ? `set management.passwordEnv for ${server.name} to an environment variable holding the password from OpenVPN's management password file`
        : 'put the password from OpenVPN\'s management password file (the file named on its "management" line) in the environment variable named by management.passwordEnv');
    case 'unreachable':
      if (ssh?.kind === 'forward-refused') return failed('management', ssh.detail, ssh.fix ?? null);
      if (ssh?.kind !== 'connect') return failed('management', detail(err), null);
      return failed('management', `nothing answers at ${where} on the server (${ssh.detail})`, m?.socket
        ? `check that OpenVPN runs with "management ${m.socket} unix" and that ${server.username} may read and write the socket`
        : `check that OpenVPN runs with "management ${m?.host ?? '127.0.0.1'} ${m?.port}" in its config, or set management.port to the port on that line`);
    default:
      return failed('management', detail(err), `check that management points at OpenVPN's management interface (its "management" line), not another service`);
  }
}
