// The README's "Preparing a VPN server", run as written (issue 16): its commands are read from the
// README itself, so the two cannot drift. In the OpenVPN lab, with the lab's own sshd set up as
// Debian's (SFTP through the login shell, keys in ~/.ssh with StrictModes, no PAM), a fresh
// non-root account with a unique name is prepared by bin/prepare-vpn-server.sh; vpnwatch then
// checks, polls, streams and kicks as that account. The account is removed by name at the end,
// also when something failed.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkServer } from '../src/check/server-checks.ts';
import { isOnline, type ServerConfig, type ServerRead } from '../src/domain.ts';
import { ManagementKicker } from '../src/kick/kicker.ts';
import { ManagementStream } from '../src/poll/management-stream.ts';
import { Poller } from '../src/poll/poller.ts';
import { SshPool } from '../src/ssh.ts';
import type { Store } from '../src/store/store.ts';
import { labAvailable, startLab, type Lab } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { accountsAvailable, DEBIAN_SFTP_SERVER, debianSftpServerAvailable, removeAccountAtEnd, sshdAvailable, startSshd, uniqueAccountName, type Sshd } from './harness/sshd.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { waitFor } from './support/wait.ts';
import { readWholeFiles } from './support/whole-reads.ts';

const run = promisify(execFile);
const repo = path.join(import.meta.dirname, '..');
const script = path.join(repo, 'bin', 'prepare-vpn-server.sh');
const prerequisites = [labAvailable(), sshdAvailable(), debianSftpServerAvailable(), accountsAvailable(), setfaclAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab, sshd, test accounts and setfacl',
);
const silent = pino({ level: 'silent' });
const ADMIN = { platform: 'cli' as const, userId: 'root', userName: 'root' };

function setfaclAvailable(): { ok: boolean; why?: string } {
  try {
    fs.accessSync('/usr/bin/setfacl', fs.constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, why: 'setfacl not found (apt-get install acl)' };
  }
}

/**
 * The code blocks of the README's "Preparing a VPN server" section, as lists of lines. They sit in
 * list items, so they are indented 7 or more (a list item's text is indented 3 or 5, its code 4 more).
 */
function readmeCodeBlocks(): string[][] {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Preparing a VPN server\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks: string[][] = [];
  let current: string[] | undefined;
  let indent = 0;
  for (const line of section.split('\n')) {
    const lead = line.length - line.trimStart().length;
    if (line.trim() === '') current?.push('');
    else if (lead < 7) current = undefined;
    else {
      if (!current) {
        current = [];
        blocks.push(current);
        indent = lead;
      }
      current.push(line.slice(indent));
    }
  }
  return blocks.map((b) => b.join('\n').trimEnd().split('\n'));
}

/** The one README line that starts with `prefix`, as words (single quotes kept together: `''` is an empty word). */
function readmeCommand(prefix: string): string[] {
  const lines = readmeCodeBlocks().flat().filter((l) => l.startsWith(prefix));
  expect(lines, `README lines starting with "${prefix}"`).toHaveLength(1);
  return [...lines[0]!.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** `words` with each `--flag value` pair in `values` replaced. */
function withValues(words: string[], values: Record<string, string>): string[] {
  return words.map((w, i) => (i > 0 && values[words[i - 1]!] !== undefined ? values[words[i - 1]!]! : w));
}

describeLab('README "Preparing a VPN server", run as written, then vpnwatch as that user', () => {
  const user = uniqueAccountName();
  const account = removeAccountAtEnd(user);
  let lab: Lab;
  let sshd: Sshd;
  let store: Store;
  let tmp: string;
  /** The vpnwatch machine's folder (where the README's ssh-keygen writes the key). */
  let vpnwatchHome: string;
  let server: ServerConfig;
  let scriptOutput: string;
  let mgmtPort: number;

  /** The README's script line, with this run's account, paths and port. */
  async function runReadmeScript(): Promise<string> {
    const words = withValues(readmeCommand('sh prepare-vpn-server.sh'), {
      '--user': user, '--status-file': lab.servers[0]!.statusPath, '--management-port': String(mgmtPort),
    });
    expect(words.slice(0, 2)).toEqual(['sh', 'prepare-vpn-server.sh']);
    // The lab's own sshd stands for /etc/ssh/sshd_config (the script's --sshd-config).
    const { stdout } = await run('sh', [script, ...words.slice(2), '--sshd-config', sshd.configPath], { cwd: vpnwatchHome });
    return stdout;
  }

  /** The lab's OpenVPN logs (ends), for a failure message: a client that left says why there. */
  async function labLogs(): Promise<string> {
    const end = async (file: string) => `--- ${path.basename(path.dirname(file))}/${path.basename(file)}\n${(await fsp.readFile(file, 'utf8').catch(() => '')).split('\n').slice(-25).join('\n')}`;
    return (await Promise.all([lab.servers[0]!.logPath, ...lab.clients.map((c) => c.logPath(0))].map(end))).join('\n');
  }

  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vpnwatch-prepare-'));
    await fsp.chmod(tmp, 0o755);
    vpnwatchHome = path.join(tmp, 'vpnwatch-host');
    // Like Debian's /run/openvpn-server: root's, and closed to others.
    const statusDir = path.join(tmp, 'openvpn-server');
    await Promise.all([fsp.mkdir(vpnwatchHome), fsp.mkdir(statusDir, { mode: 0o710 })]);
    [lab, sshd, store] = await Promise.all([
      startLab({ servers: [{ proto: 'tcp', statusVersion: 2, statusPath: path.join(statusDir, 'status-server.log') }], clients: ['alice', 'bob'].map((commonName) => ({ commonName })) }),
      startSshd({ sftpSubsystem: DEBIAN_SFTP_SERVER, authorizedKeys: 'home' }),
      openTestStore(),
    ]);
    mgmtPort = lab.servers[0]!.managementPort!;
    await Promise.all(lab.clients.map((c) => c.connect(0)));
    await lab.waitForStatus(0, (t) => t.includes('CLIENT_LIST,alice,') && t.includes('CLIENT_LIST,bob,'));

    // Step 1, on the vpnwatch machine: the README's ssh-keygen line, as written.
    const [keygen, ...args] = readmeCommand('ssh-keygen -t ');
    await run(keygen!, args, { cwd: vpnwatchHome });
    // Step 2, on the VPN server, as root.
    scriptOutput = await runReadmeScript();
    server = {
      name: 'fra-1', host: '127.0.0.1', port: sshd.port, username: user, privateKeyPath: path.join(vpnwatchHome, 'vpnwatch_ed25519'),
      hostKey: sshd.hostKeyFingerprint, insecureSkipHostKeyCheck: false, statusPath: lab.servers[0]!.statusPath, statusRefreshSeconds: 1,
      timezone: 'UTC', management: { host: '127.0.0.1', port: mgmtPort, mode: 'stream' },
    };
  });
  afterAll(async () => {
    await Promise.all([lab?.close(), sshd?.stop(), store && dropTestStore(store)]);
    await account.remove();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('the script made the account the README describes: nologin, not locked, key in ~/.ssh with its modes, ACLs', async () => {
    const [, , , , , home, shell] = (await run('getent', ['passwd', user])).stdout.trim().split(':');
    expect(shell).toBe('/usr/sbin/nologin');
    expect((await run('getent', ['shadow', user])).stdout.split(':')[1]).toBe('*');
    const mode = async (p: string) => `${((await fsp.stat(p)).mode & 0o777).toString(8)} ${(await fsp.stat(p)).uid}`;
    const uid = Number((await run('id', ['-u', user])).stdout.trim());
    expect([await mode(`${home}/.ssh`), await mode(`${home}/.ssh/authorized_keys`)]).toEqual([`700 ${uid}`, `600 ${uid}`]);
    expect(await fsp.readFile(`${home}/.ssh/authorized_keys`, 'utf8')).toBe(await fsp.readFile(path.join(vpnwatchHome, 'vpnwatch_ed25519.pub'), 'utf8'));
    const acl = (p: string) => run('getfacl', ['-p', '--omit-header', p]).then((r) => r.stdout);
    expect(await acl(path.dirname(server.statusPath))).toContain(`user:${user}:--x`);
    expect(await acl(server.statusPath)).toContain(`user:${user}:r--`);
    // Still 0600 root for everyone else: OpenVPN's own mode is kept.
    expect((await fsp.stat(server.statusPath)).mode & 0o077).toBe(0o040); // the group bits show the ACL mask (r)
  });

  it('the Match block in sshd_config is the one the README shows, and the output has the hostKey to pin', async () => {
    const config = await fsp.readFile(sshd.configPath, 'utf8');
    const readmeBlock = readmeCodeBlocks().find((b) => b[0] === 'Match User vpnwatch')!;
    expect(readmeBlock, 'the README shows the Match block').toBeDefined();
    const written = config.split('\n');
    const at = written.indexOf(`Match User ${user}`);
    expect(written.slice(at, at + readmeBlock.length)).toEqual(readmeBlock.map((l) => l.replace('vpnwatch', user).replace('127.0.0.1:7505', `127.0.0.1:${mgmtPort}`)));
    expect(scriptOutput).toContain(`    hostKey: ${sshd.hostKeyFingerprint}\n`);
    expect(scriptOutput).toContain(`+ useradd -r -m -s /usr/sbin/nologin ${user}\n`);
    expect(scriptOutput).toContain(`+ sshd -t -f ${sshd.configPath}\n`);
  });

  it('vpnwatch check passes every check as that user', async () => {
    const report = await checkServer(server, { timeoutMs: 5000, pollIntervalSeconds: 30 });
    expect(report.checks.map((c) => [c.name, c.ok, c.fix])).toEqual(
      ['tcp', 'hostKey', 'auth', 'sftp', 'statusFile', 'management'].map((name) => [name, true, null]),
    );
  });

  it('polls the status file, streams from the management interface and kicks, all as that user', async () => {
    const pool = new SshPool({ connectTimeoutMs: 5000 });
    const poller = new Poller({ store, servers: [server], pollIntervalSeconds: 30, downAfter: 3, targets: () => [], log: silent });
    await poller.start();
    const reads: ServerRead[] = [];
    const stream = new ManagementStream({
      servers: [server], sshPool: pool, statusIntervalSeconds: 1, log: silent,
      poller: { apply: (r) => { reads.push(...r); return poller.apply(r); }, noteLeaving: (s, who, ttl) => poller.noteLeaving(s, who, ttl) },
    });
    try {
      // Poll: SFTP as the account, through the ACLs.
      const [polled] = await readWholeFiles([server], new SshPool({ connectTimeoutMs: 5000 }), { concurrency: 1, timeoutMs: 5000 });
      expect(polled).toMatchObject({ ok: true, snapshot: { complete: true } });
      const names = (r: ServerRead | undefined) => (r?.ok ? r.snapshot.sessions.filter(isOnline).map((s) => s.commonName).sort() : r?.error);
      expect(names(polled), await labLogs()).toEqual(['alice', 'bob']);
      await poller.apply([polled!]);

      // Stream: the management interface through the tunnel sshd allows this account.
      stream.start();
      await waitFor(() => stream.modes()['fra-1']?.mode === 'stream' && reads.length > 0, { timeoutMs: 15_000, what: 'the management stream' });
      expect(names(reads.at(-1))).toEqual(['alice', 'bob']);

      // Kick: borrows the stream's connection; HALT ends the client; a fresh read confirms.
      const kicker = new ManagementKicker({ store, servers: [server], sshPool: pool, log: silent, access: stream });
      const outcome = await kicker.kick({ target: 'bob', server: 'fra-1', by: ADMIN });
      expect(outcome).toMatchObject({ result: 'kicked', verified: true });
      await waitFor(() => !lab.clients[1]!.isRunning, { timeoutMs: 10_000, what: 'bob\'s client to exit' });
      await waitFor(() => names(reads.at(-1))?.toString() === 'alice', { timeoutMs: 10_000, what: 'a stream read without bob' });
    } finally {
      await stream.stop();
      await pool.closeAll();
    }
  });

  it('running the script again changes nothing that was right: one key line, one Match block, and it still works', async () => {
    const before = await fsp.readFile(sshd.configPath, 'utf8');
    const output = await runReadmeScript();
    expect(output).toContain(`+ the key is already in`);
    expect(output).not.toContain('+ useradd');
    expect(await fsp.readFile(sshd.configPath, 'utf8')).toBe(before);
    const home = (await run('getent', ['passwd', user])).stdout.split(':')[5]!;
    expect((await fsp.readFile(`${home}/.ssh/authorized_keys`, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect((await checkServer(server, { timeoutMs: 5000, pollIntervalSeconds: 30 })).ok).toBe(true);
  });

  it('refuses to run without the status file, before changing anything', async () => {
    const before = await fsp.readFile(sshd.configPath, 'utf8');
    const missing = path.join(tmp, 'openvpn-server', 'nope.log');
    const failure = await run('sh', [script, '--user', user, '--pubkey', path.join(vpnwatchHome, 'vpnwatch_ed25519.pub'), '--status-file', missing, '--sshd-config', sshd.configPath])
      .then(() => undefined, (err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({ code: 1, stderr: `prepare-vpn-server: --status-file: no file at ${missing}; start OpenVPN first (it creates the file), or give the path on its "status" line\n` });
    expect(await fsp.readFile(sshd.configPath, 'utf8')).toBe(before);
  });
});
