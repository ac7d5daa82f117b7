// A real OpenVPN lab for tests: OpenVPN 2.6 servers in the root namespace, each lab client in its
// own network namespace, all wired through a private bridge. Tests read the servers' status files
// and talk to their management interfaces exactly as vpnwatch does in production.
//
// Topology (block k is chosen per lab, normally 0 — see "Address block" below):
//
//   root netns:  bridge <prefix>br 198.19.(16k).1/20   ← OpenVPN servers bind here
//                 ├─ veth <prefix>h<i>  ⇄  netns <prefix>-c<i>: <prefix>n<i> 198.19.(16k+1).(i+1)/20
//                 └─ …
//   server s:    tun <prefix>s<s>, VPN subnet 198.18.(16k+s).0/24, server .1
//   client i:    ccd/ifconfig-push 198.18.(16k+s).(10+i) on every server s
//
// Safety rules this file keeps (see /work/shared/design/lab-notes.md):
//  * Traffic only to 127.0.0.0/8 and 198.18.0.0/15 inside namespaces/devices created here.
//    Clients use `route-nopull`; the root namespace's routes are never changed (the only routes
//    added are the kernel's own connected routes for the bridge and the servers' tun devices).
//  * Every name (netns, bridge, veth, tun) starts with a random per-lab prefix `vw<4 hex>`;
//    everything is removed by close(), by a process 'exit' hook if the test process ends without
//    close(), and by a sweep of dead labs at the next startLab() if the process was killed.
//  * Child processes are started without a shell, never daemonized, with stdio going to log files
//    (a child holding the test runner's pipe makes the runner hang), and stopped by pid.
//  * Every wait is bounded.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePki, type Pki } from './pki.ts';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface LabServerOptions {
  /** `status-version`; default 2. */
  statusVersion?: 1 | 2 | 3;
  /** Status file rewrite period in seconds; default 1. */
  statusIntervalSeconds?: number;
  /** default 'udp' */
  proto?: 'udp' | 'tcp';
  /** Management interface: TCP on 127.0.0.1 (default), a unix socket in the lab dir, or none. */
  management?: 'tcp' | 'unix' | 'none';
  /** When set, the management interface asks `ENTER PASSWORD:` first. */
  managementPassword?: string;
  /** `duplicate-cn`; default off. */
  duplicateCn?: boolean;
  /** Extra raw config lines appended to the server config (tests that need an odd option). */
  extraConfig?: string[];
  /**
   * Where OpenVPN writes its status file; default `<lab dir>/s<i>/status.log`, inside the lab's
   * 0700 folder. A test that reads it as a non-root user, as an admin sets it up (an ACL on the
   * file and its folder), picks a folder of its own; the folder must exist, and the test removes it.
   */
  statusPath?: string;
}

export interface LabClientSpec {
  /** Certificate CN; default `client-<index>`. Any text openssl accepts (1–64 characters). */
  commonName?: string;
}

export interface LabOptions {
  /** One entry per server; default one server with default options. At most 16. */
  servers?: LabServerOptions[];
  /** A count (CNs `client-0` … `client-<n-1>`) or one spec per client. At most 244. */
  clients: number | LabClientSpec[];
  /** Bound for each server's start-up; default 20 s. */
  startTimeoutMs?: number;
}

export interface LabServer {
  readonly index: number;
  /** `server-<index>` (for messages). */
  readonly name: string;
  readonly proto: 'udp' | 'tcp';
  readonly statusVersion: 1 | 2 | 3;
  readonly statusPath: string;
  readonly logPath: string;
  readonly configPath: string;
  /** Address the server listens on (the lab bridge). */
  readonly host: string;
  readonly port: number;
  /** Management TCP port on 127.0.0.1 when `management: 'tcp'`. */
  readonly managementPort?: number;
  /** Management unix socket path when `management: 'unix'`. */
  readonly managementSocket?: string;
  readonly managementPassword?: string;
  /** e.g. `198.18.0.0/24` */
  readonly subnet: string;
  /** The server's own VPN address, e.g. `198.18.0.1`. */
  readonly serverVirtualAddress: string;
  /** openvpn's pid while running. */
  readonly pid: number | undefined;
  readonly isRunning: boolean;
  /** Starts openvpn with this server's config; resolves at "Initialization Sequence Completed". */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after a bound; resolves when the process has exited. */
  stop(): Promise<void>;
  /**
   * stop() + start() with the same config and status path, then SIGUSR1 to every lab client
   * session attached to this server so it reconnects at once (a UDP client would otherwise wait
   * up to 64 s for a PUSH_REPLY from the dead instance — lab-notes). With `waitForClients` it
   * also waits until each of those sessions logged a new "Initialization Sequence Completed".
   */
  restart(opts?: { waitForClients?: boolean; timeoutMs?: number }): Promise<void>;
}

export interface LabClient {
  readonly index: number;
  /** The CN in the certificate, exactly as requested. */
  readonly commonName: string;
  /**
   * The CN as OpenVPN prints it in status output and logs: control characters (bytes < 0x20
   * and 0x7f) become `_` (OpenVPN's `string_mod_remap_name`); everything else, UTF-8 included,
   * is kept. Equal to `commonName` unless the CN holds control characters.
   */
  readonly statusCommonName: string;
  /** The network namespace the client's openvpn processes run in. */
  readonly namespace: string;
  /** The client's address on the lab bridge network (its "real address" as servers see it). */
  readonly address: string;
  /**
   * The VPN address server `serverIndex` assigns via client-config-dir (`198.18.S.(10+i)` in
   * the usual block). Throws for clients whose CN is shared with another lab client (no ccd
   * file is written for those; they get a dynamic pool address).
   */
  expectedVirtualAddress(serverIndex?: number): string;
  /**
   * Starts an openvpn client session to server `serverIndex` inside the namespace and resolves
   * when its log says "Initialization Sequence Completed". One client may hold sessions to
   * several servers at once (one openvpn process each). Rejects (and kills the process) on
   * timeout (default 20 s), AUTH_FAILED or early exit.
   */
  connect(serverIndex?: number, opts?: { timeoutMs?: number }): Promise<void>;
  /** SIGTERM the session to `serverIndex` (or all sessions) and wait for exit (bounded). */
  disconnect(serverIndex?: number): Promise<void>;
  /** True while any session process runs. */
  readonly isRunning: boolean;
  /** pid of the most recently started session's openvpn process (undefined when none runs). */
  readonly pid: number | undefined;
  isRunningOn(serverIndex: number): boolean;
  sessionPid(serverIndex: number): number | undefined;
  /** Log file of the session to `serverIndex` (appended to across connects). */
  logPath(serverIndex?: number): string;
}

export interface Lab {
  /** Temp folder holding PKI, configs, logs, status files. Removed by close(). */
  readonly dir: string;
  /** Random per-lab name prefix, `vw` + 4 hex digits. */
  readonly prefix: string;
  /** Address block k (0–15) this lab uses; 0 unless another lab held it. */
  readonly block: number;
  readonly bridge: { name: string; address: string };
  readonly pki: Pki;
  readonly servers: LabServer[];
  readonly clients: LabClient[];
  /**
   * Polls server `serverIndex`'s status file (every 100 ms) until a *complete* rewrite (one
   * ending in the `END` line — OpenVPN rewrites the file in place, so a read can catch it half
   * written) satisfies `predicate`; resolves with that text. Rejects after `timeoutMs`
   * (default 15 s) with the last complete text in the message.
   */
  waitForStatus(serverIndex: number, predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Reads the status file once; undefined if it is missing or not complete. */
  readStatus(serverIndex: number): string | undefined;
  /**
   * Stops all processes (clients, then servers), deletes veths, namespaces and the bridge,
   * removes the temp dir. Idempotent. Rejects if something the lab created is still there.
   */
  close(): Promise<void>;
}

/** Largest client count: ifconfig-push hands out .10 … .253 of each server's /24. */
export const MAX_LAB_CLIENTS = 244;
/** Largest server count: one /24 per server inside the lab's /20 of 198.18.0.0/16. */
export const MAX_LAB_SERVERS = 16;

// ---------------------------------------------------------------------------------------------
// Prerequisites
// ---------------------------------------------------------------------------------------------

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** Absolute path of an executable; the sbin dirs are searched too (a non-login PATH may lack them). */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

interface Binaries {
  openvpn: string;
  ip: string;
  openssl: string;
}
let binaries: Binaries | undefined;
let availability: { ok: boolean; why?: string } | undefined;

/**
 * Whether this machine can run the lab: Linux, root, a usable /dev/net/tun, the openvpn, ip and
 * openssl binaries, and the ability to create a network namespace and a bridge (both are tried
 * for real, then removed). VPNWATCH_LAB_DISABLE=1 reports it unavailable. Cached per process.
 */
export function labAvailable(): { ok: boolean; why?: string } {
  availability ??= checkAvailability();
  return availability;
}

function checkAvailability(): { ok: boolean; why?: string } {
  // Lets a developer (or a test of the skip path) turn the lab off on a machine that could run it.
  if (process.env.VPNWATCH_LAB_DISABLE) return { ok: false, why: 'disabled by VPNWATCH_LAB_DISABLE' };
  if (process.platform !== 'linux') return { ok: false, why: `OpenVPN lab needs Linux (platform is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, why: 'OpenVPN lab needs root (network namespaces, tun devices)' };
  try {
    fs.accessSync('/dev/net/tun', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return { ok: false, why: '/dev/net/tun is missing or not accessible' };
  }
  const found: Partial<Binaries> = {};
  for (const name of ['openvpn', 'ip', 'openssl'] as const) {
    const p = findBinary(name);
    if (!p) {
      return { ok: false, why: `${name} not found (apt-get install -y --no-install-recommends openvpn openssl iproute2)` };
    }
    found[name] = p;
  }
  const ip = found.ip as string;
  const probe = `vwchk${crypto.randomBytes(3).toString('hex')}`;
  const run = (args: string[]) => spawnSync(ip, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const add = run(['netns', 'add', probe]);
    if (add.status !== 0) return { ok: false, why: `cannot create a network namespace: ${(add.stderr || add.error?.message || '').trim()}` };
    const exec = run(['netns', 'exec', probe, ip, 'link', 'set', 'lo', 'up']);
    if (exec.status !== 0) return { ok: false, why: `cannot run a command in a network namespace: ${(exec.stderr || exec.error?.message || '').trim()}` };
    const br = run(['link', 'add', probe, 'type', 'bridge']);
    if (br.status !== 0) return { ok: false, why: `cannot create a bridge: ${(br.stderr || br.error?.message || '').trim()}` };
  } finally {
    run(['link', 'del', probe]);
    run(['netns', 'del', probe]);
  }
  binaries = found as Binaries;
  return { ok: true };
}

function bins(): Binaries {
  const a = labAvailable();
  if (!a.ok || !binaries) throw new Error(`OpenVPN lab unavailable: ${a.why}`);
  return binaries;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const LAB_DIR_PREFIX = 'vpnwatch-lab-'; // temp dir name prefix
const INIT_DONE = /Initialization Sequence Completed/;
// Lines after which waiting for INIT_DONE is pointless.
const FATAL_LINE = /AUTH_FAILED|Exiting due to fatal error|Options error:|Cannot load certificate|Cannot open TUN\/TAP/;

function execIp(args: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bins().ip, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && !opts.allowFail) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Runs `ip [-n ns] [-force] -batch file`; with force it keeps going after an error (cleanup). */
async function ipBatch(dir: string, lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const file = path.join(dir, `ip-batch-${crypto.randomBytes(4).toString('hex')}.txt`);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
  try {
    const args = [...(opts.netns ? ['-n', opts.netns] : []), ...(opts.force ? ['-force'] : []), '-batch', file];
    await execIp(args, { allowFail: opts.force });
  } finally {
    await fsp.rm(file, { force: true });
  }
}

/** openvpn config-file quoting: double quotes, with `\` and `"` escaped. */
function q(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * What OpenVPN prints for a CN: string_mod(CC_PRINT, CC_CRLF, '_') byte by byte, where CC_PRINT
 * is "c >= 32 && c != 127" (not isprint()): control bytes become `_`, UTF-8 bytes stay
 * (measured: `tab\there é` is printed as `tab_here é`).
 */
export function openvpnPrintedName(cn: string): string {
  const bytes = Buffer.from(cn, 'utf8').map((b) => (b < 0x20 || b === 0x7f ? 0x5f : b));
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The file name OpenVPN looks up in client-config-dir for a CN (platform_gen_path on Linux: the
 * printed name with `/` replaced by `_`), or undefined when OpenVPN refuses to build one
 * (`.` and `..`).
 */
export function openvpnCcdFileName(cn: string): string | undefined {
  const name = openvpnPrintedName(cn).replace(/\//g, '_');
  return name === '.' || name === '..' ? undefined : name;
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch {
    return 0;
  }
}

async function readFrom(p: string, offset: number): Promise<string> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(p, 'r');
    const { size } = await fh.stat();
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function freePort(kind: 'udp' | 'tcp', host: string, avoid: Set<number>): Promise<number> {
  // Bind port 0 and release it. Racy in principle (someone could take it before openvpn binds),
  // but every port here is on the lab's private bridge address or on 127.0.0.1.
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      if (kind === 'udp') {
        const s = dgram.createSocket('udp4');
        s.once('error', reject);
        s.bind(0, host, () => {
          const p = s.address().port;
          s.close(() => resolve(p));
        });
      } else {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, host, () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      }
    });
    if (!avoid.has(port)) {
      avoid.add(port);
      return port;
    }
  }
  throw new Error(`no free ${kind} port on ${host}`);
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/** A child process whose stdout/stderr go to a log file (appended). */
class LoggedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private spawnError: Error | undefined;

  constructor(command: string, args: string[], logPath: string) {
    // The log fd is handed to the child and closed here at once: the child must not share any
    // pipe with the test runner (lab-notes: a child holding the runner's pipe hangs the caller).
    const fd = fs.openSync(logPath, 'a', 0o600);
    try {
      this.child = spawn(command, args, { stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', (err) => {
        this.spawnError = err;
        resolve();
      });
    });
    // Do not keep the test process alive because of a lab process; close() or the exit hook
    // stops them.
    this.child.unref();
  }

  get pid(): number | undefined {
    return this.alive ? this.child.pid : undefined;
  }

  get alive(): boolean {
    return !this.spawnError && this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  describeExit(): string {
    if (this.spawnError) return `failed to start: ${this.spawnError.message}`;
    return this.child.signalCode ? `killed by ${this.child.signalCode}` : `exited with code ${this.child.exitCode}`;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig);
  }

  /** SIGTERM, wait up to graceMs, then SIGKILL and wait up to 3 s more. */
  async stop(graceMs = 6_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    if (await settlesWithin(this.exited, graceMs)) return;
    this.child.kill('SIGKILL');
    if (!(await settlesWithin(this.exited, 3_000))) {
      throw new Error(`pid ${this.child.pid} did not exit after SIGKILL`);
    }
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits until the log (read from `offset` on) matches `done`. Fails early when the process exits
 * or a fatal line appears, and after `timeoutMs`, with the log's tail in the error.
 */
async function waitForLogLine(what: string, logPath: string, offset: number, proc: LoggedProcess, timeoutMs: number, done = INIT_DONE): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFrom(logPath, offset);
    if (done.test(text)) return;
    const fatal = FATAL_LINE.exec(text);
    if (fatal) throw new Error(`${what}: "${fatal[0]}" in ${logPath}:\n${tail(text)}`);
    if (!proc.alive) throw new Error(`${what}: openvpn ${proc.describeExit()} before "${done.source}" (${logPath}):\n${tail(text)}`);
    if (Date.now() >= deadline) throw new Error(`${what}: no "${done.source}" within ${timeoutMs} ms (${logPath}):\n${tail(text)}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Address block: which /20 of 198.19.0.0/16 and 198.18.0.0/16 this lab uses
// ---------------------------------------------------------------------------------------------
// Two labs running at once (vitest runs test files in parallel) must not both put 198.19.0.1/16
// on their bridges: the root namespace would then have two connected routes for the same
// prefix, and a server's replies could leave through the other lab's bridge. So each lab takes
// one of 16 /20 blocks, preferring block 0 (= the addresses in lab-notes: bridge 198.19.0.1,
// client i at 198.19.1.(i+1), server s subnet 198.18.s.0/24) and claims it by putting its
// address on its bridge, then re-checking that no other interface holds an address in the block.

const BLOCKS = 16;
const blockBase = (block: number) => block * 16;
const bridgeAddress = (block: number) => `198.19.${blockBase(block)}.1`;
const clientBridgeAddress = (block: number, i: number) => `198.19.${blockBase(block) + 1}.${i + 1}`;
const vpnNetwork = (block: number, s: number) => `198.18.${blockBase(block) + s}.0`;
const vpnServerAddress = (block: number, s: number) => `198.18.${blockBase(block) + s}.1`;
const vpnClientAddress = (block: number, s: number, i: number) => `198.18.${blockBase(block) + s}.${10 + i}`;

/** Interfaces (root namespace) holding an IPv4 address in 198.18/198.19, by block. */
async function blockHolders(): Promise<Map<number, Set<string>>> {
  const out = await execIp(['-o', '-4', 'addr', 'show']);
  const holders = new Map<number, Set<string>>();
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+198\.(18|19)\.(\d+)\.\d+\/(\d+)/.exec(line);
    if (!m) continue;
    const ifname = (m[1] as string).replace(/@.*$/, '');
    const third = Number(m[3]);
    // An address with a prefix shorter than /20 (e.g. another harness's 198.19.0.1/16) is
    // counted only in its own block: longest-prefix match keeps our /20 routes ours.
    const block = Math.floor(third / 16);
    if (!holders.has(block)) holders.set(block, new Set());
    holders.get(block)?.add(ifname);
  }
  return holders;
}

async function claimBlock(bridge: string): Promise<number> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const holders = await blockHolders();
    const free = Array.from({ length: BLOCKS }, (_, b) => b).filter((b) => !holders.has(b));
    if (free.length === 0) throw new Error('all 16 lab address blocks in 198.18.0.0/15 are in use');
    // First try the lowest free block (predictable addresses); after a collision pick at random
    // so two labs that collided do not collide again.
    const block = attempt === 0 ? (free[0] as number) : (free[Math.floor(Math.random() * free.length)] as number);
    const cidr = `${bridgeAddress(block)}/20`;
    await execIp(['addr', 'add', cidr, 'dev', bridge]);
    const after = await blockHolders();
    const others = [...(after.get(block) ?? [])].filter((n) => n !== bridge);
    if (others.length === 0) return block;
    await execIp(['addr', 'del', cidr, 'dev', bridge], { allowFail: true });
    await sleep(20 + Math.random() * 200);
  }
  throw new Error('could not claim a lab address block (too many collisions)');
}

// ---------------------------------------------------------------------------------------------
// Cleanup shared by close(), the exit hook and the stale-lab sweep
// ---------------------------------------------------------------------------------------------

/**
 * One file per live lab, `<registry>/<prefix>.json`. It sits at a fixed path, not under
 * os.tmpdir() (TMPDIR may differ between processes), so that every process sweeping for orphans
 * sees every lab. /run is a tmpfs cleared at boot, like the namespaces themselves. Creating the
 * file with O_EXCL also reserves the prefix.
 */
interface LabRecord {
  ownerPid: number;
  prefix: string;
  dir: string;
  createdAt: string;
}

let registry: string | undefined;
function registryDir(): string {
  if (registry) return registry;
  for (const d of ['/run/vpnwatch-lab', path.join(os.tmpdir(), 'vpnwatch-lab-registry')]) {
    try {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      fs.accessSync(d, fs.constants.W_OK);
      registry = d;
      return d;
    } catch {
      /* next */
    }
  }
  throw new Error('no writable directory for the lab registry');
}
const recordPath = (prefix: string) => path.join(registryDir(), `${prefix}.json`);

/** Names this harness creates for a prefix: netns `P-c<i>`, links `Pbr`, `Ph<i>`, `Pn<i>`, `Ps<i>`. */
function isOurName(name: string, prefix: string): boolean {
  return name.startsWith(prefix) && /^(br|h\d+|n\d+|s\d+|c\d+s\d+|-c\d+)$/.test(name.slice(prefix.length));
}
const ANY_LAB_NAME = /^vw[0-9a-f]{4}(br|h\d+|n\d+|s\d+|c\d+s\d+|-c\d+)$/;

function listNetnsSync(ip: string): string[] {
  const r = spawnSync(ip, ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

function listLinksSync(ip: string): string[] {
  const r = spawnSync(ip, ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter(Boolean);
}

/** Pids recorded by openvpn `writepid` files under dir, if they still run openvpn from dir. */
function labPidsSync(dir: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.pid'));
  } catch {
    return pids;
  }
  for (const rel of entries) {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, rel), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      // Guard against pid reuse: only a process whose command line names this lab's dir.
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) pids.push(pid);
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Synchronous best-effort removal of everything a lab with `prefix` created, and its record. */
function cleanupSync(prefix: string, dir: string | undefined, pids: number[]): void {
  const ip = binaries?.ip ?? findBinary('ip');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (ip) {
    // Host-side veths first (deleting one end removes the pair at once, instead of waiting for
    // the kernel's asynchronous netns teardown), then namespaces, then remaining links/bridge.
    const links = listLinksSync(ip).filter((n) => isOurName(n, prefix));
    const lines = [
      ...links.filter((n) => n !== `${prefix}br`).map((n) => `link del ${n}`),
      ...listNetnsSync(ip).filter((n) => isOurName(n, prefix)).map((n) => `netns del ${n}`),
      `link del ${prefix}br`,
    ];
    spawnSync(ip, ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 20_000 });
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(recordPath(prefix), { force: true });
}

let sweptThisProcess = false;

/**
 * Removes labs whose owning test process died without cleaning up (SIGKILL, OOM, a crashed
 * worker): registered labs whose owner pid is gone (their processes, kernel objects and temp
 * dir), plus namespaces/links that follow this harness's naming but belong to no registered lab.
 * Runs once per process, from startLab().
 */
export function sweepStaleLabs(): void {
  if (sweptThisProcess) return;
  sweptThisProcess = true;
  const ip = binaries?.ip ?? findBinary('ip');
  if (!ip) return;
  // Read the kernel objects *before* the records: a lab writes its record before creating
  // anything, so every object seen here whose lab is alive has a record by the time we read it.
  const names = [...listNetnsSync(ip), ...listLinksSync(ip)].filter((n) => ANY_LAB_NAME.test(n));
  const livePrefixes = new Set<string>();
  let files: string[] = [];
  try {
    files = fs.readdirSync(registryDir()).filter((f) => /^vw[0-9a-f]{4}\.json$/.test(f));
  } catch {
    /* no registry yet */
  }
  for (const f of files) {
    const prefix = f.slice(0, 6);
    let rec: LabRecord;
    try {
      rec = JSON.parse(fs.readFileSync(path.join(registryDir(), f), 'utf8')) as LabRecord;
    } catch {
      livePrefixes.add(prefix); // being written right now: treat as alive
      continue;
    }
    if (isPidAlive(rec.ownerPid)) {
      livePrefixes.add(prefix);
      continue;
    }
    cleanupSync(prefix, rec.dir, labPidsSync(rec.dir));
  }
  const orphanPrefixes = new Set(names.map((n) => n.slice(0, 6)).filter((p) => !livePrefixes.has(p)));
  for (const p of orphanPrefixes) cleanupSync(p, undefined, []);
}

// ---------------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------------

interface LabContext {
  dir: string;
  prefix: string;
  block: number;
  pki: Pki;
  ports: Set<number>;
  clients: ClientImpl[];
}

class ServerImpl implements LabServer {
  readonly name: string;
  readonly proto: 'udp' | 'tcp';
  readonly statusVersion: 1 | 2 | 3;
  readonly statusPath: string;
  readonly logPath: string;
  readonly configPath: string;
  readonly host: string;
  readonly subnet: string;
  readonly serverVirtualAddress: string;
  readonly managementPort?: number;
  readonly managementSocket?: string;
  readonly managementPassword?: string;
  private proc: LoggedProcess | undefined;

  constructor(
    private readonly ctx: LabContext,
    readonly index: number,
    readonly port: number,
    readonly opts: LabServerOptions,
    mgmt: { port?: number; socket?: string },
    private readonly startTimeoutMs: number,
  ) {
    const dir = path.join(ctx.dir, `s${index}`);
    this.name = `server-${index}`;
    this.proto = opts.proto ?? 'udp';
    this.statusVersion = opts.statusVersion ?? 2;
    this.statusPath = opts.statusPath ?? path.join(dir, 'status.log');
    this.logPath = path.join(dir, 'openvpn.log');
    this.configPath = path.join(dir, 'server.conf');
    this.host = bridgeAddress(ctx.block);
    this.subnet = `${vpnNetwork(ctx.block, index)}/24`;
    this.serverVirtualAddress = vpnServerAddress(ctx.block, index);
    if (mgmt.port !== undefined) this.managementPort = mgmt.port;
    if (mgmt.socket !== undefined) this.managementSocket = mgmt.socket;
    if (opts.managementPassword !== undefined && opts.management !== 'none') this.managementPassword = opts.managementPassword;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get isRunning(): boolean {
    return this.proc?.alive ?? false;
  }

  /** Writes config, ccd files and password file (once, at lab start). */
  async writeFiles(): Promise<void> {
    const dir = path.dirname(this.configPath);
    const ccd = path.join(dir, 'ccd');
    await fsp.mkdir(ccd, { recursive: true, mode: 0o700 });
    const { pki, block, prefix } = this.ctx;

    // client-config-dir: fixed addresses make assertions deterministic. The file name is what
    // OpenVPN derives from the CN (non-printable bytes and `/` become `_`). CNs shared by several
    // lab clients get no file (they would all be pushed the same address); they take pool
    // addresses, which start at .2 and so do not meet the .10+ range before 8 of them connect.
    const byCcd = new Map<string, number>();
    for (const c of this.ctx.clients) {
      const f = openvpnCcdFileName(c.commonName);
      if (f !== undefined) byCcd.set(f, (byCcd.get(f) ?? 0) + 1);
    }
    for (const c of this.ctx.clients) {
      const f = openvpnCcdFileName(c.commonName);
      if (f === undefined || byCcd.get(f) !== 1) continue;
      await fsp.writeFile(path.join(ccd, f), `ifconfig-push ${vpnClientAddress(block, this.index, c.index)} 255.255.255.0\n`);
    }

    let mgmtLine: string | undefined;
    if (this.managementPort !== undefined || this.managementSocket !== undefined) {
      let pw = '';
      if (this.managementPassword !== undefined) {
        const pwFile = path.join(dir, 'management.pw');
        await fsp.writeFile(pwFile, `${this.managementPassword}\n`, { mode: 0o600 });
        pw = ` ${q(pwFile)}`;
      }
      mgmtLine = this.managementPort !== undefined
        ? `management 127.0.0.1 ${this.managementPort}${pw}`
        : `management ${q(this.managementSocket as string)} unix${pw}`;
    }

    const lines = [
      `# vpnwatch test lab, ${this.name} (generated by test/harness/openvpn-lab.ts)`,
      `local ${this.host}`,
      `port ${this.port}`,
      `proto ${this.proto === 'udp' ? 'udp' : 'tcp-server'}`,
      // Device names must be unique in the root namespace (parallel labs): prefixed.
      `dev ${prefix}s${this.index}`,
      'dev-type tun',
      'topology subnet',
      `server ${vpnNetwork(block, this.index)} 255.255.255.0`,
      `ca ${q(pki.ca.cert)}`,
      `cert ${q(pki.server.cert)}`,
      `key ${q(pki.server.key)}`,
      'dh none',
      'remote-cert-tls client',
      `client-config-dir ${q(ccd)}`,
      'keepalive 2 10',
      `status ${q(this.statusPath)} ${this.opts.statusIntervalSeconds ?? 1}`,
      `status-version ${this.statusVersion}`,
      ...(mgmtLine ? [mgmtLine] : []),
      ...(this.opts.duplicateCn ? ['duplicate-cn'] : []),
      `writepid ${q(path.join(dir, 'openvpn.pid'))}`,
      // No kernel data-channel offload: same behaviour on every kernel (and the DCO module is
      // absent on these machines anyway).
      'disable-dco',
      'verb 3',
      ...(this.opts.extraConfig ?? []),
    ];
    await fsp.writeFile(this.configPath, `${lines.join('\n')}\n`, { mode: 0o600 });
  }

  async start(): Promise<void> {
    if (this.isRunning) throw new Error(`${this.name} is already running`);
    const offset = await fileSize(this.logPath);
    const proc = new LoggedProcess(bins().openvpn, ['--config', this.configPath], this.logPath);
    this.proc = proc;
    try {
      await waitForLogLine(`${this.name} start`, this.logPath, offset, proc, this.startTimeoutMs);
    } catch (err) {
      await proc.stop(2_000).catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  async restart(opts: { waitForClients?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await this.stop();
    await this.start();
    const sessions = this.ctx.clients.flatMap((c) => c.sessionsOn(this.index));
    const offsets = await Promise.all(sessions.map((s) => fileSize(s.logPath)));
    for (const s of sessions) s.proc.signal('SIGUSR1');
    if (opts.waitForClients) {
      await Promise.all(sessions.map((s, k) =>
        waitForLogLine(`client-${s.clientIndex} reconnect to ${this.name}`, s.logPath, offsets[k] ?? 0, s.proc, opts.timeoutMs ?? 20_000)));
    }
  }

  /** pid of the running openvpn, for the exit hook. */
  livePids(): number[] {
    const pid = this.proc?.pid;
    return pid === undefined ? [] : [pid];
  }
}

interface Session {
  clientIndex: number;
  serverIndex: number;
  proc: LoggedProcess;
  logPath: string;
  startedAt: number;
}

class ClientImpl implements LabClient {
  readonly statusCommonName: string;
  readonly namespace: string;
  readonly address: string;
  /** Set after all clients exist: whether another lab client has the same ccd file name. */
  sharedCn = false;
  servers: ServerImpl[] = [];
  private readonly sessions = new Map<number, Session>();
  private readonly dir: string;

  constructor(
    private readonly ctx: LabContext,
    readonly index: number,
    readonly commonName: string,
  ) {
    this.statusCommonName = openvpnPrintedName(commonName);
    this.namespace = `${ctx.prefix}-c${index}`;
    this.address = clientBridgeAddress(ctx.block, index);
    this.dir = path.join(ctx.dir, `c${index}`);
  }

  expectedVirtualAddress(serverIndex = 0): string {
    if (serverIndex < 0 || serverIndex >= this.servers.length) throw new Error(`no server ${serverIndex}`);
    if (this.sharedCn || openvpnCcdFileName(this.commonName) === undefined) {
      throw new Error(`client ${this.index} (${JSON.stringify(this.commonName)}) has no fixed address: its CN is shared or unusable as a ccd file name`);
    }
    return vpnClientAddress(this.ctx.block, serverIndex, this.index);
  }

  logPath(serverIndex = 0): string {
    return path.join(this.dir, `s${serverIndex}.log`);
  }

  private configPath(serverIndex: number): string {
    return path.join(this.dir, `s${serverIndex}.conf`);
  }

  private pidPath(serverIndex: number): string {
    return path.join(this.dir, `s${serverIndex}.pid`);
  }

  get isRunning(): boolean {
    return [...this.sessions.values()].some((s) => s.proc.alive);
  }

  get pid(): number | undefined {
    const live = [...this.sessions.values()].filter((s) => s.proc.alive).sort((a, b) => b.startedAt - a.startedAt);
    return live[0]?.proc.pid;
  }

  isRunningOn(serverIndex: number): boolean {
    return this.sessions.get(serverIndex)?.proc.alive ?? false;
  }

  sessionPid(serverIndex: number): number | undefined {
    return this.sessions.get(serverIndex)?.proc.pid;
  }

  /** Live sessions attached to a server (used by restart()). */
  sessionsOn(serverIndex: number): Session[] {
    const s = this.sessions.get(serverIndex);
    return s && s.proc.alive ? [s] : [];
  }

  livePids(): number[] {
    return [...this.sessions.values()].map((s) => s.proc.pid).filter((p): p is number => p !== undefined);
  }

  async connect(serverIndex = 0, opts: { timeoutMs?: number } = {}): Promise<void> {
    const server = this.servers[serverIndex];
    if (!server) throw new Error(`no server ${serverIndex}`);
    if (this.isRunningOn(serverIndex)) throw new Error(`client ${this.index} already has a session to ${server.name}`);
    const { pki, prefix } = this.ctx;
    const cert = pki.clients[this.index];
    if (!cert) throw new Error(`no certificate for client ${this.index}`);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lines = [
      `# vpnwatch test lab, client-${this.index} → ${server.name} (generated)`,
      'client',
      // One tun per session, named per lab (the namespace is private, but names in logs are
      // easier to follow when unique).
      `dev ${prefix}c${this.index}s${serverIndex}`,
      'dev-type tun',
      `proto ${server.proto === 'udp' ? 'udp' : 'tcp-client'}`,
      `remote ${server.host} ${server.port}`,
      'nobind',
      // Never let the server push routes: only the tun's own connected /24 appears, and that is
      // inside the client's namespace anyway.
      'route-nopull',
      // Retry fast and do not back off for long (tests wait with short bounds).
      'connect-retry 1 2',
      'remote-cert-tls server',
      `ca ${q(pki.ca.cert)}`,
      `cert ${q(cert.cert)}`,
      `key ${q(cert.key)}`,
      // UDP has no connection: without this the server only notices a stopped client at
      // ping-restart. With it the client tells the server on SIGTERM (TCP: the FIN does that).
      ...(server.proto === 'udp' ? ['explicit-exit-notify 1'] : []),
      `writepid ${q(this.pidPath(serverIndex))}`,
      'disable-dco',
      'verb 3',
    ];
    await fsp.writeFile(this.configPath(serverIndex), `${lines.join('\n')}\n`, { mode: 0o600 });

    const logPath = this.logPath(serverIndex);
    const offset = await fileSize(logPath);
    // `ip netns exec` enters the namespace and execs openvpn without forking, so the child's pid
    // *is* openvpn's (checked below against openvpn's own writepid file).
    const proc = new LoggedProcess(bins().ip, ['netns', 'exec', this.namespace, bins().openvpn, '--config', this.configPath(serverIndex)], logPath);
    const session: Session = { clientIndex: this.index, serverIndex, proc, logPath, startedAt: Date.now() };
    this.sessions.set(serverIndex, session);
    try {
      await waitForLogLine(`client-${this.index} connect to ${server.name}`, logPath, offset, proc, opts.timeoutMs ?? 20_000);
      const written = Number((await fsp.readFile(this.pidPath(serverIndex), 'utf8')).trim());
      if (written !== proc.child.pid) {
        throw new Error(`client-${this.index}: openvpn pid ${written} differs from spawned pid ${proc.child.pid} (ip netns exec forked?)`);
      }
    } catch (err) {
      await proc.stop(2_000).catch(() => undefined);
      throw err;
    }
  }

  async disconnect(serverIndex?: number): Promise<void> {
    const targets = serverIndex === undefined ? [...this.sessions.values()] : [this.sessions.get(serverIndex)].filter((s): s is Session => !!s);
    // explicit-exit-notify makes a UDP client linger ~1 s after SIGTERM; stop all in parallel.
    await Promise.all(targets.map((s) => s.proc.stop()));
  }
}

class LabImpl implements Lab {
  readonly servers: ServerImpl[] = [];
  readonly clients: ClientImpl[] = [];
  readonly bridge: { name: string; address: string };
  private closing: Promise<void> | undefined;
  private readonly exitHook = () => this.cleanupOnExit();

  constructor(private readonly ctx: LabContext) {
    this.bridge = { name: `${ctx.prefix}br`, address: bridgeAddress(ctx.block) };
    process.on('exit', this.exitHook);
  }

  get dir(): string {
    return this.ctx.dir;
  }
  get prefix(): string {
    return this.ctx.prefix;
  }
  get block(): number {
    return this.ctx.block;
  }
  get pki(): Pki {
    return this.ctx.pki;
  }

  readStatus(serverIndex: number): string | undefined {
    const server = this.servers[serverIndex];
    if (!server) throw new Error(`no server ${serverIndex}`);
    let text: string;
    try {
      text = fs.readFileSync(server.statusPath, 'utf8');
    } catch {
      return undefined;
    }
    // The file is rewritten in place (seek 0, write, truncate): only a text that ends with the
    // END line is a whole snapshot.
    return /(^|\n)END\n?$/.test(text) ? text : undefined;
  }

  async waitForStatus(serverIndex: number, predicate: (text: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    for (;;) {
      const text = this.readStatus(serverIndex);
      if (text !== undefined) {
        last = text;
        if (predicate(text)) return text;
      }
      if (Date.now() >= deadline) {
        throw new Error(`waitForStatus(server ${serverIndex}): condition not met within ${timeoutMs} ms; last complete status:\n${last ?? '(none)'}`);
      }
      await sleep(100);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const problems: string[] = [];
    const note = (what: string) => (err: unknown) => {
      problems.push(`${what}: ${(err as Error).message}`);
    };
    // Clients first, so servers are not left with half-dead sessions; then servers.
    await Promise.all(this.clients.map((c) => c.disconnect().catch(note(`client-${c.index}`))));
    await Promise.all(this.servers.map((s) => s.stop().catch(note(s.name))));

    const { prefix, dir } = this.ctx;
    const ip = bins().ip;
    const links = listLinksSync(ip).filter((n) => isOurName(n, prefix));
    const namespaces = listNetnsSync(ip).filter((n) => isOurName(n, prefix));
    // Host-side veths first (removes each pair synchronously), then namespaces, then the bridge
    // last: the bridge name is what makes this prefix "taken" for other labs.
    await ipBatch(dir, links.filter((n) => n !== this.bridge.name).map((n) => `link del ${n}`), { force: true }).catch(note('veths'));
    await ipBatch(dir, namespaces.map((n) => `netns del ${n}`), { force: true }).catch(note('netns'));

    // A server's tun device disappears when its openvpn process has exited; allow the kernel a
    // moment, bounded, before declaring leftovers.
    const deadline = Date.now() + 5_000;
    let leftovers: string[] = [];
    for (;;) {
      leftovers = [
        ...listLinksSync(ip).filter((n) => isOurName(n, prefix) && n !== this.bridge.name).map((n) => `link ${n}`),
        ...listNetnsSync(ip).filter((n) => isOurName(n, prefix)).map((n) => `netns ${n}`),
      ];
      if (leftovers.length === 0 || Date.now() >= deadline) break;
      await sleep(100);
    }
    await execIp(['link', 'del', this.bridge.name], { allowFail: true });
    if (listLinksSync(ip).includes(this.bridge.name)) leftovers.push(`link ${this.bridge.name}`);
    const livePids = [...this.clients.flatMap((c) => c.livePids()), ...this.servers.flatMap((s) => s.livePids())];
    await fsp.rm(dir, { recursive: true, force: true }).catch(note('rm dir'));
    await fsp.rm(recordPath(prefix), { force: true }).catch(note('rm record'));
    process.off('exit', this.exitHook);
    if (leftovers.length || livePids.length) problems.push(`left behind: ${[...leftovers, ...livePids.map((p) => `pid ${p}`)].join(', ')}`);
    if (problems.length) throw new Error(`lab ${prefix} close: ${problems.join('; ')}`);
  }

  /** process 'exit' hook: synchronous, best effort, only if close() did not run. */
  private cleanupOnExit(): void {
    if (this.closing) return;
    const pids = [...this.clients.flatMap((c) => c.livePids()), ...this.servers.flatMap((s) => s.livePids())];
    cleanupSync(this.ctx.prefix, this.ctx.dir, pids);
  }

  /** Used when startLab fails half-way. */
  abortSync(): void {
    process.off('exit', this.exitHook);
    this.cleanupOnExit();
  }
}

/**
 * Builds the PKI, the bridge, one namespace + veth per client, and starts every server
 * (clients are not connected: call `lab.clients[i].connect(s)`). On any failure everything
 * created so far is removed before the error propagates.
 */
export async function startLab(opts: LabOptions): Promise<Lab> {
  const b = bins();
  sweepStaleLabs();

  const serverOpts = opts.servers ?? [{}];
  const clientSpecs: LabClientSpec[] = typeof opts.clients === 'number'
    ? Array.from({ length: opts.clients }, () => ({}))
    : opts.clients;
  if (serverOpts.length < 1 || serverOpts.length > MAX_LAB_SERVERS) throw new Error(`servers: 1..${MAX_LAB_SERVERS}`);
  if (clientSpecs.length > MAX_LAB_CLIENTS) throw new Error(`clients: at most ${MAX_LAB_CLIENTS}`);
  for (const [s, o] of serverOpts.entries()) {
    if (o.managementPassword !== undefined && /[\r\n]/.test(o.managementPassword)) throw new Error(`server ${s}: managementPassword must be one line`);
  }
  const commonNames = clientSpecs.map((c, i) => c.commonName ?? `client-${i}`);

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), LAB_DIR_PREFIX));
  let lab: LabImpl | undefined;
  let prefix = '';
  let ownsPrefix = false; // only then may a failure path delete objects named with it
  try {
    // Prefix: reserved by creating its registry record exclusively, *before* any kernel object
    // (so a concurrent sweep never takes our objects for orphans), then confirmed by creating
    // the bridge (fails with "File exists" if some leftover already has the name).
    for (let attempt = 0; ; attempt++) {
      if (attempt >= 20) throw new Error('could not reserve a lab name prefix');
      const candidate = `vw${crypto.randomBytes(2).toString('hex')}`;
      const record: LabRecord = { ownerPid: process.pid, prefix: candidate, dir, createdAt: new Date().toISOString() };
      try {
        fs.writeFileSync(recordPath(candidate), JSON.stringify(record), { flag: 'wx', mode: 0o600 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      try {
        await execIp(['link', 'add', `${candidate}br`, 'type', 'bridge']);
      } catch (err) {
        fs.rmSync(recordPath(candidate), { force: true });
        if (/File exists/.test((err as Error).message)) continue;
        throw err;
      }
      prefix = candidate;
      ownsPrefix = true;
      break;
    }
    // From here on the exit hook / abort can clean up by prefix even before LabImpl exists.
    // The PKI (openssl, CPU) is built while the network (ip, kernel) is set up.
    const pkiPromise = makePki(path.join(dir, 'pki'), commonNames.map((commonName) => ({ commonName })), { opensslPath: b.openssl });
    pkiPromise.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
    await execIp(['link', 'set', `${prefix}br`, 'up']);
    const block = await claimBlock(`${prefix}br`);

    const ctx: LabContext = { dir, prefix, block, pki: undefined as unknown as Pki, ports: new Set(), clients: [] };
    lab = new LabImpl(ctx);

    // Namespaces and veth pairs: one ip batch in the root namespace (the peer end is created
    // directly inside the namespace), then one batch per namespace for addresses and links.
    const rootLines: string[] = [];
    commonNames.forEach((_, i) => {
      rootLines.push(`netns add ${prefix}-c${i}`);
      rootLines.push(`link add ${prefix}h${i} type veth peer name ${prefix}n${i} netns ${prefix}-c${i}`);
      rootLines.push(`link set ${prefix}h${i} master ${prefix}br up`);
    });
    await ipBatch(dir, rootLines);
    await runLimited(commonNames.map((_, i) => () => ipBatch(dir, [
      'link set lo up',
      `addr add ${clientBridgeAddress(block, i)}/20 dev ${prefix}n${i}`,
      `link set ${prefix}n${i} up`,
    ], { netns: `${prefix}-c${i}` })), 8);

    ctx.pki = await pkiPromise;
    const clients = commonNames.map((cn, i) => new ClientImpl(ctx, i, cn));
    const ccdNames = clients.map((c) => openvpnCcdFileName(c.commonName));
    for (const c of clients) c.sharedCn = ccdNames.filter((n) => n === openvpnCcdFileName(c.commonName)).length > 1;
    ctx.clients = clients;
    lab.clients.push(...clients);

    for (const [s, o] of serverOpts.entries()) {
      const proto = o.proto ?? 'udp';
      const port = await freePort(proto, bridgeAddress(block), ctx.ports);
      const mgmtKind = o.management ?? 'tcp';
      const mgmt = mgmtKind === 'tcp'
        ? { port: await freePort('tcp', '127.0.0.1', ctx.ports) }
        : mgmtKind === 'unix' ? { socket: path.join(dir, `s${s}`, 'management.sock') } : {};
      const server = new ServerImpl(ctx, s, port, o, mgmt, opts.startTimeoutMs ?? 20_000);
      await server.writeFiles();
      lab.servers.push(server);
    }
    for (const c of clients) c.servers = lab.servers;
    await Promise.all(lab.servers.map((s) => s.start()));
    return lab;
  } catch (err) {
    if (lab) {
      // Stop whatever started, then remove everything synchronously.
      await Promise.all(lab.servers.map((s) => s.stop().catch(() => undefined)));
      lab.abortSync();
    } else if (ownsPrefix) {
      cleanupSync(prefix, dir, []);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    throw err;
  }
}

async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
}
