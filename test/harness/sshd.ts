// A real OpenSSH sshd for tests: its own config, keys and authorized_keys in a temp folder, bound
// to 127.0.0.1 on a free port, stopped by pid. SSH is the part of vpnwatch that breaks in the
// field (host keys, auth, dropped sessions), so it is tested against the real thing, not a fake.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ServerConfig } from '../../src/domain.ts';
import type { Prerequisite } from './prereq.ts';
import { freePort } from '../support/free-port.ts';
export { freePort };

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  /** `SHA256:...` of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  userKeyPath: string;
  username: string;
  dir: string;
  /** This sshd's sshd_config (its PidFile is `dir`/sshd.pid): what an admin's script edits and reloads. */
  configPath: string;
  /** The listening sshd; it changes on restart(). */
  readonly pid: number;
  logPath: string;
  /** A ServerConfig for this sshd: host key pinned, the test user's key, statusPath in `dir`. */
  serverConfig(overrides?: Partial<ServerConfig>): ServerConfig;
  /** Pids of the per-connection sshd processes (sshd forks one or two per connection, each in its own session). */
  sessionPids(): number[];
  /** Sends `signal` to the listener and every per-connection process; for a fatal signal, waits until they are gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills everything and removes the temp folder. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Like the host rebooting: every process dies (existing sessions included) and sshd starts again on
   * the same port with the same host key. A real `systemctl restart ssh` keeps existing sessions.
   */
  restart(): Promise<void>;
}

export function sshdAvailable(): Prerequisite {
  try {
    fs.accessSync(SSHD, fs.constants.X_OK);
  } catch {
    return { ok: false, why: `${SSHD} not found (apt-get install openssh-server)` };
  }
  const keygen = spawnSync('ssh-keygen', ['-V'], { stdio: 'ignore' });
  if (keygen.error) return { ok: false, why: `ssh-keygen not runnable: ${keygen.error.message}` };
  if (process.getuid?.() === 0) {
    // sshd refuses to start as root without its privilege-separation directory.
    try {
      fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    } catch (err) {
      return { ok: false, why: `cannot create /run/sshd: ${(err as Error).message}` };
    }
  }
  return { ok: true };
}

export interface SshdOptions {
  /** The account the tests log in as (default: the current user; another account only works when running as root). */
  username?: string;
  /** More sshd_config lines, appended last (so `Match` blocks go here). */
  extraConfig?: string[];
  /**
   * The `Subsystem sftp` command: `internal-sftp` (default), Debian's `/usr/lib/openssh/sftp-server`
   * (which sshd runs through the user's login shell), or null for no Subsystem line at all.
   */
  sftpSubsystem?: string | null;
  /**
   * Where sshd looks for keys: the default is this sshd's own file in `dir` (holding the test key).
   * `home` also reads each user's `~/.ssh/authorized_keys`, with StrictModes on: for tests that
   * prepare a real account as an admin would, owner and modes included.
   */
  authorizedKeys?: 'dir' | 'home';
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const check = sshdAvailable();
  if (!check.ok) throw new Error(`cannot start sshd: ${check.why}`);
  const username = opts.username ?? os.userInfo().username;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'vpnwatch-sshd-'));
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const userKeyPath = path.join(dir, 'id_ed25519');
  await Promise.all([generateKey(hostKey), generateKey(userKeyPath)]);
  await fsp.copyFile(`${userKeyPath}.pub`, path.join(dir, 'authorized_keys'));
  const hostKeyFingerprint = await fingerprintWithSshKeygen(`${hostKey}.pub`);
  const configPath = path.join(dir, 'sshd_config');
  const logPath = path.join(dir, 'sshd.log');
  const writeConfig = (port: number) =>
    fsp.writeFile(
      configPath,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        ...(opts.authorizedKeys === 'home'
          ? [`AuthorizedKeysFile .ssh/authorized_keys ${path.join(dir, 'authorized_keys')}`, 'StrictModes yes']
          // The temp folder's owner and modes are not what StrictModes wants for a home directory.
          : [`AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'StrictModes no']),
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // Tests run as root here; sshd ignores this for other users.
        'PermitRootLogin prohibit-password',
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        ...(opts.sftpSubsystem === null ? [] : [`Subsystem sftp ${opts.sftpSubsystem ?? 'internal-sftp'}`]),
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'LogLevel ERROR',
        // OpenSSH 9.8+ would otherwise lock 127.0.0.1 out after the tests' deliberate auth failures and kills.
        ...(sshdVersion() >= 9.8 ? ['PerSourcePenalties no'] : []),
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'),
    );

  // A free port can be taken by someone else before sshd binds it (test files run in parallel): retry.
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    await writeConfig(port);
    try {
      child = await spawnSshd(configPath, logPath, port);
    } catch (err) {
      if (attempt === 3) {
        await fsp.rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  let stopped: Promise<void> | undefined;
  const killTree = async (signal: NodeJS.Signals) => {
    // Sessions first, while the listener is still there to reap them.
    const listener = child!;
    const pids = [...descendantsOf(listener.pid!), listener.pid!];
    for (const pid of pids) signalQuietly(pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await waitGone(pids, listener);
  };
  // A crashed test run must not leave sshd behind: kill it synchronously on exit.
  const onExit = () => {
    for (const pid of [...descendantsOf(child!.pid!), child!.pid!]) signalQuietly(pid, 'SIGKILL');
  };
  process.on('exit', onExit);

  const sshd: Sshd = {
    host: '127.0.0.1',
    port,
    hostKeyFingerprint,
    userKeyPath,
    username,
    dir,
    configPath,
    logPath,
    get pid() {
      return child!.pid!;
    },
    serverConfig: (overrides = {}) => ({
      name: 'test',
      host: '127.0.0.1',
      port,
      username,
      privateKeyPath: userKeyPath,
      hostKey: hostKeyFingerprint,
      insecureSkipHostKeyCheck: false,
      statusPath: path.join(dir, 'status.log'),
      statusRefreshSeconds: 60, // OpenVPN's default
      timezone: 'UTC',
      ...overrides,
    }),
    sessionPids: () => descendantsOf(child!.pid!),
    kill: (signal = 'SIGKILL') => killTree(signal),
    stop: () =>
      (stopped ??= (async () => {
        await killTree('SIGKILL');
        process.off('exit', onExit);
        await fsp.rm(dir, { recursive: true, force: true });
      })()),
    restart: async () => {
      if (stopped) throw new Error('sshd was stopped');
      await killTree('SIGKILL');
      child = await spawnSshd(configPath, logPath, port);
    },
  };
  return sshd;
}

/** Debian's external SFTP server, which sshd runs through the user's login shell. */
export const DEBIAN_SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export function debianSftpServerAvailable(): Prerequisite {
  try {
    fs.accessSync(DEBIAN_SFTP_SERVER, fs.constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, why: `${DEBIAN_SFTP_SERVER} not found (apt-get install openssh-sftp-server)` };
  }
}

// ---- accounts -----------------------------------------------------------------------------------
// vpnwatch logs in as a non-root monitoring user on a real server, and sshd treats such a user
// differently from root (its login shell runs the SFTP subsystem, ~/.ssh modes are checked, a
// locked account is refused without PAM). Tests that need that create a real account.

/** A unique account name per call (`vwt` + 8 hex digits): parallel runs on one machine never collide. */
export function uniqueAccountName(): string {
  return `vwt${randomBytes(4).toString('hex')}`;
}

/** Whether tests may create accounts here: root, with useradd and userdel. */
export function accountsAvailable(): Prerequisite {
  if (process.getuid?.() !== 0) return { ok: false, why: 'creating a test account needs root' };
  for (const tool of ['/usr/sbin/useradd', '/usr/sbin/userdel']) {
    try {
      fs.accessSync(tool, fs.constants.X_OK);
    } catch {
      return { ok: false, why: `${tool} not found (apt-get install passwd)` };
    }
  }
  return { ok: true };
}

const accountsToRemove = new Set<string>();
let accountExitHook = false;

function userdelSync(name: string): void {
  // -f: even while a (killed) session of it lingers; -r: with its home and mail spool.
  spawnSync('/usr/sbin/userdel', ['-f', '-r', name], { stdio: 'ignore' });
}

/**
 * Makes sure the account `name` is removed (userdel -r) by remove(), or when the test process
 * exits without calling it (a failed or crashed run leaves no account behind). The account
 * itself may be created later, by whatever the test runs.
 */
export function removeAccountAtEnd(name: string): { remove(): Promise<void> } {
  if (!/^vwt[0-9a-f]{8}$/.test(name)) throw new Error(`not a test account name: ${name}`);
  accountsToRemove.add(name);
  if (!accountExitHook) {
    accountExitHook = true;
    process.on('exit', () => {
      for (const n of accountsToRemove) userdelSync(n);
    });
  }
  return {
    remove: async () => {
      accountsToRemove.delete(name);
      userdelSync(name);
      const { stdout } = await run('getent', ['passwd', name]).catch(() => ({ stdout: '' }));
      if (stdout) throw new Error(`account ${name} still exists after userdel`);
    },
  };
}

export interface TestAccount {
  name: string;
  home: string;
  uid: number;
  gid: number;
  remove(): Promise<void>;
}

/**
 * A system account with a unique name, a home directory and `shell` (default nologin, as the
 * README prescribes), its password field set to `*` (no password, not locked: sshd without PAM
 * refuses a locked account even with a key).
 */
export async function createAccount(opts: { shell?: string } = {}): Promise<TestAccount> {
  const name = uniqueAccountName();
  const handle = removeAccountAtEnd(name);
  await run('/usr/sbin/useradd', ['-r', '-m', '-s', opts.shell ?? '/usr/sbin/nologin', '-p', '*', name]);
  const [, , uid, gid, , home] = (await run('getent', ['passwd', name])).stdout.split(':');
  return { name, home: home!, uid: Number(uid), gid: Number(gid), remove: handle.remove };
}

/**
 * Adds a public key to the account's ~/.ssh/authorized_keys as sshd's StrictModes wants it: owned
 * by the account, ~/.ssh 700, the file 600. (sshd reads the file as the account, so a key file in a
 * root-only folder, like this harness's default, does not work for it.)
 */
export async function authorizeKey(account: TestAccount, publicKeyFile: string): Promise<void> {
  const dotSsh = path.join(account.home, '.ssh');
  const file = path.join(dotSsh, 'authorized_keys');
  await fsp.mkdir(dotSsh, { recursive: true, mode: 0o700 });
  await fsp.appendFile(file, await fsp.readFile(publicKeyFile), { mode: 0o600 });
  for (const p of [dotSsh, file]) await fsp.chown(p, account.uid, account.gid);
}

async function generateKey(file: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vpnwatch-test', '-f', file]);
}

/** `ssh-keygen -lf` prints `256 SHA256:... comment (ED25519)`. */
export async function fingerprintWithSshKeygen(pubKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', pubKeyFile]);
  const fp = stdout.split(/\s+/)[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return fp;
}

/** A fresh ed25519 key pair in `dir` that no authorized_keys lists. */
export async function generateUserKey(dir: string, name = 'other_ed25519'): Promise<string> {
  const file = path.join(dir, name);
  await generateKey(file);
  return file;
}

function sshdVersion(): number {
  const out = spawnSync(SSHD, ['-V'], { encoding: 'utf8' });
  const m = /OpenSSH_(\d+\.\d+)/.exec(`${out.stderr}${out.stdout}`);
  return m ? Number(m[1]) : 0;
}


async function spawnSshd(configPath: string, logPath: string, port: number): Promise<ChildProcess> {
  // stdout/stderr go to a log file: a daemon holding the test runner's pipes makes the runner hang.
  const log = fs.openSync(logPath, 'a');
  const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
  child.on('error', (err) => (exited = err.message));
  const deadline = Date.now() + 10_000;
  // Ready means the port answers with an SSH banner, not merely that something accepts.
  while (!(await speaksSsh(port))) {
    if (exited || Date.now() > deadline) {
      const why = exited ?? 'did not answer within 10 s';
      child.kill('SIGKILL');
      throw new Error(`sshd ${why}; log:\n${fs.readFileSync(logPath, 'utf8')}`);
    }
    await sleep(20);
  }
  return child;
}

function speaksSsh(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let seen = '';
    const finish = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => finish(false));
    sock.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.includes('SSH-2.0-')) finish(true);
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(seen.includes('SSH-2.0-')));
  });
}

/** Every process below `root`, from /proc. sshd's per-connection children call setsid(), so a process-group kill misses them. */
function descendantsOf(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.state !== 'Z') parentOf.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." and comm may contain spaces or parentheses.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pids: number[], listener: ChildProcess): Promise<void> {
  const deadline = Date.now() + 5000;
  // Reparented children may linger as zombies (PID 1 in a container may not reap): they count as gone.
  const alive = () => pids.filter((pid) => (pid === listener.pid ? listener.exitCode === null && listener.signalCode === null : procStat(pid)?.state !== undefined && procStat(pid)?.state !== 'Z'));
  while (alive().length) {
    if (Date.now() > deadline) {
      for (const pid of alive()) signalQuietly(pid, 'SIGKILL');
      if (Date.now() > deadline + 2000) throw new Error(`sshd processes ${alive().join(', ')} did not exit`);
    }
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes a status file the way its writer would. `atomic`: a temp file renamed over (a reader
 * sees old or new). `in-place`: what OpenVPN does (lseek 0, a write() per line, ftruncate), so a
 * concurrent reader can see a mix.
 */
export async function writeStatusFile(file: string, text: string, mode: 'atomic' | 'in-place' = 'atomic'): Promise<void> {
  if (mode === 'atomic') {
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await fsp.writeFile(tmp, text);
    await fsp.rename(tmp, file);
    return;
  }
  const fh = await fsp.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    let pos = 0;
    for (const line of text.split(/(?<=\n)/)) {
      const buf = Buffer.from(line);
      await fh.write(buf, 0, buf.length, pos);
      pos += buf.length;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

/**
 * Rewrites `file` over and over, cycling through `texts`, from a separate process (so the
 * rewrites really run concurrently with the test's reads), pausing `pauseMs` between rewrites.
 * `in-place` writes like OpenVPN (lseek 0, one write() per line, ftruncate); `atomic` renames a
 * temp file over it. stop() resolves to the number of rewrites done.
 */
export function startRewriteLoop(file: string, texts: string[], opts: { pauseMs: number; mode: 'atomic' | 'in-place' }): { stop(): Promise<number> } {
  const script = `
    const fs = require('node:fs');
    const [file, pause, mode, ...sources] = process.argv.slice(1);
    const texts = sources.map((f) => fs.readFileSync(f, 'utf8'));
    let n = 0, stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    (async function loop() {
      while (!stop) {
        const text = texts[n % texts.length];
        if (mode === 'atomic') {
          fs.writeFileSync(file + '.tmp', text);
          fs.renameSync(file + '.tmp', file);
        } else {
          let pos = 0;
          for (const line of text.split(/(?<=\\n)/)) pos += fs.writeSync(fd, line, pos);
          fs.ftruncateSync(fd, pos);
        }
        n++;
        await new Promise((r) => setTimeout(r, Number(pause)));
      }
      fs.closeSync(fd);
      process.stdout.write(String(n));
    })();`;
  // The texts travel as files: a status file can be larger than one argv string may be.
  const sources = texts.map((text, i) => {
    const source = `${file}.source-${i}`;
    fs.writeFileSync(source, text);
    return source;
  });
  const child = spawn(process.execPath, ['-e', script, file, String(opts.pauseMs), opts.mode, ...sources], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  // A loop that died (say, a syntax error) must fail the test, not look like zero rewrites.
  const exited = new Promise<number>((resolve, reject) =>
    child.on('exit', (code, signal) => (code === 0 ? resolve(Number(out)) : reject(new Error(`rewrite loop exited with ${signal ?? code}`)))),
  );
  exited.catch(() => {});
  return {
    stop: () => {
      signalQuietly(child.pid!, 'SIGTERM');
      return exited;
    },
  };
}
