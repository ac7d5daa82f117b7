// `vpnwatch check` (src/check/server-checks.ts, src/cli/check.ts) against what goes wrong when an
// admin sets up a first server: a real OpenSSH sshd configured like Debian's (SFTP through the
// user's login shell), real non-root accounts with a nologin shell, a real OpenVPN server whose
// status file and management interface they reach. Each failure is asserted with the exact fix
// line vpnwatch prints.
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { checkServer, FUTURE_ALLOWANCE_SECONDS, type CheckResult, type ServerCheckReport } from '../src/check/server-checks.ts';
import { checkLogLine, runStartupChecks } from '../src/check/startup-checks.ts';
import { loadConfig } from '../src/config.ts';
import type { ServerConfig } from '../src/domain.ts';
import { startService } from '../src/main.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';
import { ManagementStream } from '../src/poll/management-stream.ts';
import { Poller } from '../src/poll/poller.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { SshPool } from '../src/ssh.ts';
import { Store } from '../src/store/store.ts';
import { syntheticSessions } from '../src/demo/synthetic-sessions.ts';
import { labAvailable, startLab, type Lab } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { accountsAvailable, DEBIAN_SFTP_SERVER, debianSftpServerAvailable, authorizeKey, createAccount, sshdAvailable, startSshd, type Sshd, type TestAccount } from './harness/sshd.ts';
import { dropTestStore, openTestStore } from './support/store.ts';
import { waitFor } from './support/wait.ts';

const run = promisify(execFile);
const prerequisites = [labAvailable(), sshdAvailable(), debianSftpServerAvailable(), accountsAvailable()];
const describeSetup = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab, sshd and test accounts',
);

const PASSWORD = 'check-Secret';
const PASSPHRASE = 'key-Passphrase';
const POLL = 30;
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const RELOAD = 'then `sshd -t && systemctl reload ssh`';

describeSetup('vpnwatch check: each way a first server goes wrong, and the fix it prints', () => {
  let lab: Lab;
  let sshd: Sshd;
  let store: Store;
  /** Prepared as the README says: nologin, ForceCommand internal-sftp, forwarding to the management port only, ACLs. */
  let good: TestAccount;
  /** nologin and nothing else: Debian's sshd runs sftp-server through its shell. */
  let bare: TestAccount;
  /** Prepared, but sshd allows it no forwarding. */
  let noForward: TestAccount;
  let tmp: string;
  /** The status file's folder, as /run/openvpn-server is on Debian: root's, 0700, with an ACL entry per account. */
  let statusDir: string;
  let mgmtPort: number;
  let encryptedKey: string;
  let fingerprint: string;

  /** The good account's server: everything passes. */
  const server = (overrides: Partial<ServerConfig> = {}): ServerConfig => sshd.serverConfig({
    name: 'fra-1', username: good.name, statusPath: lab.servers[0]!.statusPath, statusRefreshSeconds: 1,
    management: { host: '127.0.0.1', port: mgmtPort, password: PASSWORD, mode: 'stream' }, ...overrides,
  });
  const check = (s: ServerConfig, now?: Date) => checkServer(s, { timeoutMs: 5000, pollIntervalSeconds: POLL, ...(now ? { now: () => now } : {}) });
  const result = (report: ServerCheckReport, name: CheckResult['name']) => report.checks.find((c) => c.name === name);
  const statuses = (report: ServerCheckReport) => Object.fromEntries(report.checks.map((c) => [c.name, c.ok]));

  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vpnwatch-check-'));
    statusDir = path.join(tmp, 'openvpn-server');
    await fsp.mkdir(statusDir, { mode: 0o700 });
    await fsp.chmod(tmp, 0o755);
    [good, bare, noForward] = await Promise.all([createAccount(), createAccount(), createAccount()]);
    [lab, store] = await Promise.all([
      startLab({
        servers: [
          { statusVersion: 2, managementPassword: PASSWORD, statusPath: path.join(statusDir, 'status-server.log') },
          { statusVersion: 3, managementPassword: PASSWORD }, // a second VPN server: its interface is not the first one's
        ],
        clients: 1,
      }),
      openTestStore(),
    ]);
    mgmtPort = lab.servers[0]!.managementPort!;
    const prepared = (name: string, forwarding: string[]) => [`Match User ${name}`, '  ForceCommand internal-sftp', ...forwarding];
    // Keys in each account's ~/.ssh with StrictModes on, as on a real server.
    sshd = await startSshd({
      sftpSubsystem: DEBIAN_SFTP_SERVER,
      authorizedKeys: 'home',
      extraConfig: [
        ...prepared(good.name, ['  AllowTcpForwarding local', `  PermitOpen 127.0.0.1:${mgmtPort} 127.0.0.1:${lab.servers[1]!.managementPort}`]),
        ...prepared(noForward.name, ['  AllowTcpForwarding no']),
      ],
    });
    fingerprint = sshd.hostKeyFingerprint;
    await lab.clients[0]!.connect(0);
    await lab.waitForStatus(0, (t) => t.includes('CLIENT_LIST,client-0,'));
    for (const account of [good, noForward]) {
      await run('setfacl', ['-m', `u:${account.name}:x`, statusDir]);
      await run('setfacl', ['-m', `u:${account.name}:r`, lab.servers[0]!.statusPath]);
    }
    encryptedKey = path.join(tmp, 'encrypted_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', encryptedKey]);
    for (const account of [good, bare, noForward]) await authorizeKey(account, `${sshd.userKeyPath}.pub`);
    await authorizeKey(good, `${encryptedKey}.pub`);
  });
  afterAll(async () => {
    await Promise.all([lab?.close(), sshd?.stop(), store && dropTestStore(store)]);
    // The accounts go after sshd, whose sessions ran as them.
    await Promise.all([good, bare, noForward].map((a) => a?.remove()));
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  /** A status file of our own in the status folder, readable by the accounts. */
  async function statusFile(name: string, text: string, mode = 0o644): Promise<string> {
    const file = path.join(statusDir, name);
    await fsp.writeFile(file, text, { mode });
    await fsp.chmod(file, mode);
    return file;
  }

  it('a server prepared as the README says passes every check, and each check says what it saw', async () => {
    const report = await check(server());
    expect(report).toEqual({
      server: 'fra-1', ok: true,
      checks: [
        { name: 'tcp', ok: true, detail: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${sshd.port} answers: SSH-2\\.0-OpenSSH_`)), fix: null },
        { name: 'hostKey', ok: true, detail: `ssh-ed25519 key matches the pin (hostKey: ${fingerprint})`, fix: null },
        { name: 'auth', ok: true, detail: `logged in as ${good.name} with key ${sshd.userKeyPath}`, fix: null },
        { name: 'sftp', ok: true, detail: 'the SFTP session opens', fix: null },
        { name: 'statusFile', ok: true, detail: expect.stringMatching(/^status-version 2 from OpenVPN 2\.\d+\.\d+, 1 client listed, 1 online, written [0-9] s ago$/), fix: null },
        { name: 'management', ok: true, detail: expect.stringMatching(new RegExp(`^OpenVPN 2\\.\\d+\\.\\d+ answers at 127\\.0\\.0\\.1:${mgmtPort} \\(management interface version \\d+\\), password accepted$`)), fix: null },
      ],
    });
  });

  it('shell printing text: the nologin symptom is named, with ForceCommand internal-sftp as the fix; the poll says the same', async () => {
    const s = server({ username: bare.name });
    const report = await check(s);
    expect(statuses(report)).toEqual({ tcp: true, hostKey: true, auth: true, sftp: false, statusFile: null, management: true });
    expect(result(report, 'sftp')).toEqual({
      name: 'sftp', ok: false,
      detail: `the server answered the SFTP request with text ("This…") instead of SFTP: sshd ran the SFTP server through the login shell of "${bare.name}", and the shell printed something (nologin prints "This account is currently not available.")`,
      fix: `add "ForceCommand internal-sftp" to a "Match User ${bare.name}" block in sshd_config (${RELOAD})`,
    });
    expect(result(report, 'statusFile')).toEqual({ name: 'statusFile', ok: null, detail: 'not run: sftp failed', fix: null });
    // What the poller logs and stores as the server's error carries the same cause and fix.
    const pool = new SshPool({ connectTimeoutMs: 5000 });
    try {
      const [read] = await readServers([s], pool, { concurrency: 1, timeoutMs: 5000 });
      expect(read).toMatchObject({ ok: false, error: `fra-1 (127.0.0.1:${sshd.port}): ${result(report, 'sftp')!.detail}. Fix: ${result(report, 'sftp')!.fix}` });
    } finally {
      await pool.closeAll();
    }
  });

  it('a shell that prints nothing and exits (/bin/false) gets the same fix', async () => {
    await run('usermod', ['-s', '/bin/false', bare.name]);
    try {
      const report = await check(server({ username: bare.name }));
      expect(result(report, 'sftp')).toEqual({
        name: 'sftp', ok: false,
        detail: `the SFTP server exited at once with code 1: sshd ran it through the login shell of "${bare.name}", which refused (a nologin or /bin/false shell does)`,
        fix: `add "ForceCommand internal-sftp" to a "Match User ${bare.name}" block in sshd_config (${RELOAD})`,
      });
    } finally {
      await run('usermod', ['-s', '/usr/sbin/nologin', bare.name]);
    }
  });

  it('any text a login shell prints (a .bashrc greeting) is recognised the same way, quoting what it printed', async () => {
    await run('usermod', ['-s', '/bin/bash', bare.name]);
    await fsp.writeFile(path.join(bare.home, '.bashrc'), 'echo "Welcome to fra-1"\n');
    try {
      const report = await check(server({ username: bare.name }));
      expect(result(report, 'sftp')).toMatchObject({ ok: false, detail: expect.stringMatching(/^the server answered the SFTP request with text \("Welc…"\) instead of SFTP/) });
    } finally {
      await fsp.rm(path.join(bare.home, '.bashrc'));
      await run('usermod', ['-s', '/usr/sbin/nologin', bare.name]);
    }
  });

  it('an encrypted key without a passphrase: auth fails naming privateKeyPassphraseEnv; the host key is still shown', async () => {
    const report = await check(server({ privateKeyPath: encryptedKey }));
    expect(statuses(report)).toEqual({ tcp: true, hostKey: true, auth: false, sftp: null, statusFile: null, management: null });
    expect(result(report, 'auth')).toEqual({
      name: 'auth', ok: false,
      detail: `the private key ${encryptedKey} is encrypted (it has a passphrase) and no passphrase is configured`,
      fix: `set privateKeyPassphraseEnv for fra-1 in the servers file to the name of an environment variable holding the passphrase, or remove the passphrase: ssh-keygen -p -N '' -f ${encryptedKey}`,
    });
    expect(result(report, 'management')).toEqual({ name: 'management', ok: null, detail: 'not run: auth failed', fix: null });
  });

  it('an encrypted key with its passphrase passes; with a wrong one, auth says so', async () => {
    expect((await check(server({ privateKeyPath: encryptedKey, privateKeyPassphrase: PASSPHRASE }))).ok).toBe(true);
    expect(result(await check(server({ privateKeyPath: encryptedKey, privateKeyPassphrase: 'wrong' })), 'auth')).toEqual({
      name: 'auth', ok: false,
      detail: `the passphrase from privateKeyPassphraseEnv does not decrypt the private key ${encryptedKey}`,
      fix: `put the key's passphrase in the environment variable named by privateKeyPassphraseEnv (ssh-keygen -y -f ${encryptedKey} asks for it and tests it)`,
    });
  });

  it('a key the server does not accept: auth names authorized_keys, its modes and the locked account', async () => {
    const other = path.join(tmp, 'other_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    expect(result(await check(server({ privateKeyPath: other })), 'auth')).toEqual({
      name: 'auth', ok: false,
      detail: `authentication failed for user "${good.name}" (tried key ${other})`,
      fix: `put the public key (${other}.pub) in ~${good.name}/.ssh/authorized_keys on the server, owned by ${good.name} with modes 700 (~/.ssh) and 600 (the file); on an sshd without PAM also unlock the account: usermod -p '*' ${good.name} (the server's auth log says which)`,
    });
  });

  it('no ACL on the status file: permission denied, with the setfacl lines as the fix', async () => {
    const file = await statusFile('no-acl.log', writeStatus(2, [], new Date().toISOString()), 0o600);
    const report = await check(server({ statusPath: file }));
    expect(statuses(report)).toEqual({ tcp: true, hostKey: true, auth: true, sftp: true, statusFile: false, management: true });
    expect(result(report, 'statusFile')).toEqual({
      name: 'statusFile', ok: false,
      detail: `cannot open ${file}: permission denied for user "${good.name}" (OpenVPN creates status files 0600 root)`,
      fix: `on the server: setfacl -m u:${good.name}:x ${statusDir} && setfacl -m u:${good.name}:r ${file} (apt install acl)`,
    });
  });

  it('a statusPath that does not exist, and one that is not a status file, name the "status" line', async () => {
    const fix = `set statusPath to the file named on OpenVPN's "status" line (grep -r '^status ' /etc/openvpn/)`;
    const missing = path.join(statusDir, 'missing.log');
    expect(result(await check(server({ statusPath: missing })), 'statusFile')).toEqual({ name: 'statusFile', ok: false, detail: `cannot open ${missing}: no such file`, fix });
    const client = await statusFile('client.status', 'OpenVPN STATISTICS\nUpdated,2026-11-28 10:00:00\nTUN/TAP read bytes,1\nEND\n');
    expect(result(await check(server({ statusPath: client })), 'statusFile')).toEqual({
      name: 'statusFile', ok: false, detail: expect.stringMatching(new RegExp(`^${client}: line 1: .*client`)), fix,
    });
  });

  it('a wrong pin: refused, the offered key shown ready to paste; nothing logs in', async () => {
    const wrong = `SHA256:${'A'.repeat(43)}`;
    const report = await check(server({ hostKey: wrong }));
    expect(report.ok).toBe(false);
    expect(report.checks.slice(1)).toEqual([
      {
        name: 'hostKey', ok: false,
        detail: `host key ${fingerprint} (ssh-ed25519) does not match the pinned ${wrong}`,
        fix: `if the server's key was changed on purpose, pin the new one ("hostKey: ${fingerprint}", after comparing it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the server); otherwise someone may be intercepting the connection`,
      },
      ...['auth', 'sftp', 'statusFile', 'management'].map((name) => ({ name, ok: null, detail: 'not run: hostKey failed', fix: null })),
    ]);
  });

  it('no pin: the offered key, ready to paste, is the fix', async () => {
    const report = await check(server({ hostKey: undefined }));
    expect(result(report, 'hostKey')).toEqual({
      name: 'hostKey', ok: false,
      detail: `no hostKey pinned; the server offers ssh-ed25519 key ${fingerprint}`,
      fix: `add "hostKey: ${fingerprint}" to fra-1 in the servers file, after comparing it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the server (or set insecureSkipHostKeyCheck: true)`,
    });
    expect(result(report, 'auth')!.ok).toBeNull();
    // insecureSkipHostKeyCheck passes, and still shows what to pin.
    expect(result(await check(server({ hostKey: undefined, insecureSkipHostKeyCheck: true })), 'hostKey')).toEqual({
      name: 'hostKey', ok: true, detail: `not verified (insecureSkipHostKeyCheck: true); the server offers ssh-ed25519, pin it with hostKey: ${fingerprint}`, fix: null,
    });
  });

  it('forwarding refused: the management check names AllowTcpForwarding and PermitOpen', async () => {
    const report = await check(server({ username: noForward.name }));
    expect(statuses(report)).toEqual({ tcp: true, hostKey: true, auth: true, sftp: true, statusFile: true, management: false });
    expect(result(report, 'management')).toEqual({
      name: 'management', ok: false,
      detail: `sshd refused to open a tunnel to 127.0.0.1:${mgmtPort} for user "${noForward.name}"`,
      fix: `allow it in a "Match User ${noForward.name}" block of sshd_config: "AllowTcpForwarding local" and "PermitOpen 127.0.0.1:${mgmtPort}" (${RELOAD})`,
    });
  });

  it('PermitOpen on another host name: management.host localhost is refused where PermitOpen says 127.0.0.1', async () => {
    const report = await check(server({ management: { host: 'localhost', port: mgmtPort, password: PASSWORD, mode: 'stream' } }));
    expect(result(report, 'management')).toEqual({
      name: 'management', ok: false,
      detail: `sshd refused to open a tunnel to localhost:${mgmtPort} for user "${good.name}"`,
      fix: `PermitOpen compares host names literally, so "localhost" passes only "PermitOpen localhost:${mgmtPort}": set management.host: 127.0.0.1 for fra-1 to match "PermitOpen 127.0.0.1:${mgmtPort}" in the "Match User ${good.name}" block of sshd_config`,
    });
  });

  it('management password wrong, or none configured where OpenVPN asks for one', async () => {
    expect(result(await check(server({ management: { host: '127.0.0.1', port: mgmtPort, password: 'wrong', mode: 'stream' } })), 'management')).toEqual({
      name: 'management', ok: false,
      detail: 'the management interface refused the password (check management.passwordEnv against the password file named in OpenVPN\'s "management" line)',
      fix: 'put the password from OpenVPN\'s management password file (the file named on its "management" line) in the environment variable named by management.passwordEnv',
    });
    expect(result(await check(server({ management: { host: '127.0.0.1', port: mgmtPort, mode: 'stream' } })), 'management')).toMatchObject({
      ok: false, fix: 'set management.passwordEnv for fra-1 to an environment variable holding the password from OpenVPN\'s management password file',
    });
  });

  it('a management port nobody listens on names OpenVPN\'s "management" line', async () => {
    // Allowed by PermitOpen, so sshd tries it and finds nothing there.
    const check2 = await checkServer(server({ management: { host: '127.0.0.1', port: mgmtPort, password: PASSWORD, mode: 'stream' } }), { timeoutMs: 5000, pollIntervalSeconds: POLL });
    expect(check2.ok).toBe(true);
    await lab.servers[0]!.stop();
    try {
      expect(result(await check(server()), 'management')).toEqual({
        name: 'management', ok: false,
        detail: `nothing answers at 127.0.0.1:${mgmtPort} on the server (the server could not open 127.0.0.1:${mgmtPort} for us: (SSH) Channel open failure: Connection refused)`,
        fix: `check that OpenVPN runs with "management 127.0.0.1 ${mgmtPort}" in its config, or set management.port to the port on that line`,
      });
    } finally {
      await lab.servers[0]!.start();
    }
  });

  it('another client holding the management interface: not run (busy), not failed', async () => {
    const holder = await holdManagement(mgmtPort);
    try {
      const report = await check(server());
      expect(report.ok).toBe(true);
      expect(result(report, 'management')).toEqual({
        name: 'management', ok: null, fix: null,
        detail: 'not run: another client holds the management interface (OpenVPN serves one at a time): another vpnwatch, a dashboard, or a telnet session; with management.mode: short they take turns',
      });
    } finally {
      holder.destroy();
    }
  });

  it('a stale file: the age, the limit and how it is made up; the fix names the status line', async () => {
    const written = new Date('2026-11-28T10:00:00Z');
    const file = await statusFile('stale.log', writeStatus(2, syntheticSessions(2, written), written.toISOString()));
    const s = server({ statusPath: file, statusRefreshSeconds: 10 });
    const limit = 2 * 10 + POLL + 10;
    expect(result(await check(s, new Date(written.getTime() + limit * 1000)), 'statusFile')!.ok).toBe(true);
    expect(result(await check(s, new Date(written.getTime() + (limit + 1) * 1000)), 'statusFile')).toEqual({
      name: 'statusFile', ok: false,
      detail: `${file} is stale: written 2026-11-28T10:00:00.000Z, ${limit + 1} s ago (limit ${limit} s: 2 × statusRefresh 10 + POLL_INTERVAL ${POLL} + 10)`,
      fix: 'start OpenVPN if it is stopped; if it runs, set statusRefresh to the seconds on its "status" line (e.g. "status FILE 10" → statusRefresh: 10)',
    });
  });

  it(`a time in the future (more than ${FUTURE_ALLOWANCE_SECONDS} s): the clock for time_t files, the timezone for status-version 1`, async () => {
    const written = new Date('2026-11-28T10:00:00Z');
    const v2 = await statusFile('future-v2.log', writeStatus(2, [], written.toISOString()));
    const justAhead = new Date(written.getTime() - FUTURE_ALLOWANCE_SECONDS * 1000);
    expect(result(await check(server({ statusPath: v2 }), justAhead), 'statusFile')!.ok).toBe(true);
    expect(result(await check(server({ statusPath: v2 }), new Date(justAhead.getTime() - 1000)), 'statusFile')).toEqual({
      name: 'statusFile', ok: false,
      detail: `${v2} says it was written 2026-11-28T10:00:00.000Z, ${FUTURE_ALLOWANCE_SECONDS + 1} s in the future (allowance ${FUTURE_ALLOWANCE_SECONDS} s)`,
      fix: 'the server\'s clock (or this machine\'s) is wrong: turn on NTP (`timedatectl set-ntp true`)',
    });
    // Version 1 writes local times: a server in UTC read as Honolulu (UTC-10) looks 10 h ahead.
    const v1 = await statusFile('future-v1.log', writeStatus(1, [], written.toISOString()));
    expect(result(await check(server({ statusPath: v1, timezone: 'Pacific/Honolulu' }), written), 'statusFile')).toEqual({
      name: 'statusFile', ok: false,
      detail: `${v1} says it was written 2026-11-28T20:00:00.000Z, 36000 s in the future (allowance ${FUTURE_ALLOWANCE_SECONDS} s)`,
      fix: 'set timezone for fra-1 to the server\'s zone (`timedatectl` on the server shows it; status-version 1 writes local times), and keep its clock right (NTP)',
    });
  });

  it('a file without END (cut off) fails; one without a time line passes and says its age is not checked', async () => {
    const cut = await statusFile('cut.log', writeStatus(2, [], new Date().toISOString()).replace(/END\n$/, ''));
    expect(result(await check(server({ statusPath: cut })), 'statusFile')).toEqual({
      name: 'statusFile', ok: false, detail: `${cut} (status-version 2) has no END line: OpenVPN did not finish writing it`,
      fix: 'if this repeats, check that the server\'s disk is not full (df) and that nothing but OpenVPN writes statusPath',
    });
    // status-version 2 and 3 may lack a TIME line (version 1 always has its Updated line).
    const untimed = await statusFile('untimed.log', writeStatus(2, [], new Date().toISOString()).split('\n').filter((l) => !l.startsWith('TIME,')).join('\n'));
    expect(result(await check(server({ statusPath: untimed })), 'statusFile')).toEqual({
      name: 'statusFile', ok: true, detail: 'status-version 2 from OpenVPN 2.6.14, 0 clients listed, 0 online; it has no time line, so its age is not checked', fix: null,
    });
  });

  it('nothing listening on the SSH port: tcp fails with the fix, nothing else runs', async () => {
    const port = await closedPort();
    const report = await check(server({ port }));
    expect(report.checks).toEqual([
      { name: 'tcp', ok: false, detail: `127.0.0.1:${port} refused the connection`, fix: `start sshd on the server, or set port for fra-1 to the port sshd listens on (\`ss -tlnp | grep sshd\` on the server)` },
      ...['hostKey', 'auth', 'sftp', 'statusFile', 'management'].map((name) => ({ name, ok: null, detail: 'not run: tcp failed', fix: null })),
    ]);
  });

  it('a port that speaks something else than SSH', async () => {
    const smtp = net.createServer((sock) => sock.write('220 mail.example.com ESMTP\r\n'));
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.address() as net.AddressInfo).port;
    try {
      expect(result(await checkServer(server({ port }), { timeoutMs: 500, pollIntervalSeconds: POLL }), 'tcp')).toEqual({
        name: 'tcp', ok: false, detail: `127.0.0.1:${port} answers, but not with SSH (it sent "220 mail.example.com ESMTP\\r\\n")`,
        fix: `set port for fra-1 to the port sshd listens on (\`ss -tlnp | grep sshd\` on the server)`,
      });
    } finally {
      smtp.close();
    }
  });

  it('vpnwatch start: the same checks once per server, failures logged in the same words; its own stream never looks busy', async () => {
    const servers = [server({ name: 'good-1' }), server({ name: 'pw-wrong', management: { host: '127.0.0.1', port: lab.servers[1]!.managementPort!, password: 'wrong', mode: 'short' } })];
    const pool = new SshPool({ connectTimeoutMs: 5000 });
    const poller = new Poller({ store, servers, pollIntervalSeconds: POLL, downAfter: 3, targets: () => [], log: pino({ level: 'silent' }) });
    await poller.start();
    const stream = new ManagementStream({ servers: [servers[0]!], sshPool: pool, poller, statusIntervalSeconds: 2, log: pino({ level: 'silent' }) });
    stream.start();
    const lines: { level: number; msg: string; server?: string; check?: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    try {
      await waitFor(() => stream.modes()['good-1']?.mode === 'stream', { timeoutMs: 10_000, what: 'the management stream' });
      const checks = runStartupChecks({ servers, management: stream, timeoutMs: 5000, pollIntervalSeconds: POLL, concurrency: 2, log });
      await waitFor(() => lines.length >= 2, { timeoutMs: 20_000, what: 'start-up check logs' });
      await checks.stop();
      const expected = result(await check(servers[1]!), 'management')!;
      expect(lines.map(({ level, msg, server, check }) => ({ level, msg, server, check })).sort((a, b) => a.msg.localeCompare(b.msg))).toEqual([
        { level: 30, msg: 'good-1: start-up checks passed (tcp, hostKey, auth, sftp, statusFile, management)', server: 'good-1', check: undefined },
        { level: 40, msg: checkLogLine('pw-wrong', expected), server: 'pw-wrong', check: 'management' },
      ]);
      expect(checkLogLine('pw-wrong', expected)).toBe(`pw-wrong: management failed: ${expected.detail}. Fix: ${expected.fix}`);
      expect(stream.modes()['good-1']?.mode).toBe('stream');
    } finally {
      await stream.stop();
      await pool.closeAll();
    }
  });

  it('vpnwatch start: an interface another process holds is logged as busy, not as a failure', async () => {
    const holder = await holdManagement(mgmtPort);
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const pool = new SshPool({ connectTimeoutMs: 5000 });
    try {
      const idle = new ManagementStream({ servers: [], sshPool: pool, poller: { apply: async () => { throw new Error('no reads'); }, noteLeaving: () => false }, statusIntervalSeconds: 2, log });
      const checks = runStartupChecks({ servers: [server()], management: idle, timeoutMs: 5000, pollIntervalSeconds: POLL, concurrency: 1, log });
      await waitFor(() => lines.length >= 2, { timeoutMs: 20_000, what: 'start-up check logs' });
      await checks.stop();
      expect(lines.map(({ level, msg }) => ({ level, msg }))).toEqual([
        { level: 30, msg: 'fra-1: management not checked: not run: another client holds the management interface (OpenVPN serves one at a time): another vpnwatch, a dashboard, or a telnet session; with management.mode: short they take turns' },
        { level: 30, msg: 'fra-1: start-up checks passed (tcp, hostKey, auth, sftp, statusFile)' },
      ]);
    } finally {
      holder.destroy();
      await pool.closeAll();
    }
  });

  it('vpnwatch start runs them once per server and logs what failed, in the words vpnwatch check prints', async () => {
    const cwd = await fsp.mkdtemp(path.join(tmp, 'start-'));
    const noAcl = await statusFile('start-no-acl.log', writeStatus(2, [], new Date().toISOString()), 0o600);
    await fsp.writeFile(path.join(cwd, 'servers.yml'), [
      'servers:', '  - name: fra-1', '    host: 127.0.0.1', `    port: ${sshd.port}`, `    username: ${good.name}`, `    privateKeyPath: ${sshd.userKeyPath}`,
      `    hostKey: ${fingerprint}`, `    statusPath: ${noAcl}`, '',
    ].join('\n'));
    const uri = new URL(inject('mongoUri'));
    uri.pathname = `/vpnwatch_start_${path.basename(cwd).replace(/\W/g, '')}`;
    const config = loadConfig({ MONGODB_URI: uri.toString(), PORT: '0', HOST: '127.0.0.1', POLL_INTERVAL: '3600' }, cwd);
    const lines: { level: number; msg: string; component?: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const service = await startService(config, { log });
    try {
      const warning = await waitFor(() => lines.find((l) => l.component === 'check'), { timeoutMs: 20_000, what: 'a start-up check line' });
      const expected = result(await check(server({ statusPath: noAcl, management: undefined })), 'statusFile')!;
      expect(warning).toMatchObject({ level: 40, msg: `fra-1: statusFile failed: ${expected.detail}. Fix: ${expected.fix}` });
    } finally {
      await service.stop();
      await dropTestStore(await Store.open(uri.toString()));
    }
  });

  describeCli();

  function describeCli() {
    /** Runs bin/vpnwatch in `cwd` with a servers file listing `servers`. */
    async function vpnwatch(servers: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const cwd = await fsp.mkdtemp(path.join(tmp, 'cli-'));
      if (servers) await fsp.writeFile(path.join(cwd, 'servers.yml'), servers);
      try {
        const { stdout, stderr } = await run(bin, args, { cwd, env: { ...process.env, FRA_KEY_PASSPHRASE: PASSPHRASE, FRA_MGMT_PASSWORD: PASSWORD } });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    }
    const yaml = (name: string, extra: string[] = []) => [
      `  - name: ${name}`, '    host: 127.0.0.1', `    port: ${sshd.port}`, `    username: ${good.name}`, `    statusPath: ${lab.servers[0]!.statusPath}`,
      '    statusRefresh: 1', `    management: { port: ${mgmtPort}, passwordEnv: FRA_MGMT_PASSWORD }`, ...extra,
    ].join('\n');
    const file = (...servers: string[]) => `servers:\n${servers.join('\n')}\n`;

    it('CLI: every server in order, text with the fix lines; exit 1 when one fails; SERVER picks one; --json has the issue\'s shape', async () => {
      const servers = file(
        yaml('fra-1', [`    privateKeyPath: ${encryptedKey}`, '    privateKeyPassphraseEnv: FRA_KEY_PASSPHRASE', `    hostKey: ${fingerprint}`]),
        yaml('ams-1', [`    privateKeyPath: ${sshd.userKeyPath}`]), // no pin: the config error `start` gives is not one for check
      );
      const all = await vpnwatch(servers, 'check');
      expect(all.code).toBe(1);
      const blocks = all.stdout.split('\n\n');
      expect(blocks).toHaveLength(2);
      expect(blocks[0]).toMatch(new RegExp(`^fra-1: ${good.name}@127\\.0\\.0\\.1:${sshd.port}\n  ok    tcp         127\\.0\\.0\\.1:${sshd.port} answers: SSH-2\\.0-OpenSSH_.*\n  ok    hostKey     ssh-ed25519 key matches the pin \\(hostKey: ${escape(fingerprint)}\\)\n  ok    auth        logged in as ${good.name} with key ${escape(encryptedKey)}\n  ok    sftp        the SFTP session opens\n  ok    statusFile  status-version 2 .*\n  ok    management  OpenVPN .*, password accepted\nfra-1: all 6 checks passed$`));
      const ams = blocks[1]!.split('\n');
      expect(ams[0]).toBe(`ams-1: ${good.name}@127.0.0.1:${sshd.port}`);
      expect(ams[1]).toMatch(/^  ok    tcp         127\.0\.0\.1:\d+ answers: SSH-2\.0-/);
      expect(ams.slice(2)).toEqual([
        `  FAIL  hostKey     no hostKey pinned; the server offers ssh-ed25519 key ${fingerprint}`,
        `                    fix: add "hostKey: ${fingerprint}" to ams-1 in the servers file, after comparing it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the server (or set insecureSkipHostKeyCheck: true)`,
        '  --    auth        not run: hostKey failed',
        '  --    sftp        not run: hostKey failed',
        '  --    statusFile  not run: hostKey failed',
        '  --    management  not run: hostKey failed',
        'ams-1: 1 failed, 4 not run, 1 passed',
        '',
      ]);

      const one = await vpnwatch(servers, 'check', 'FRA-1');
      expect([one.code, one.stdout.split('\n')[0]]).toEqual([0, `fra-1: ${good.name}@127.0.0.1:${sshd.port}`]);

      const json = await vpnwatch(servers, 'check', '--json', 'ams-1');
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual([{
        server: 'ams-1', ok: false,
        checks: [
          { name: 'tcp', ok: true, detail: expect.any(String), fix: null },
          { name: 'hostKey', ok: false, detail: `no hostKey pinned; the server offers ssh-ed25519 key ${fingerprint}`, fix: expect.stringContaining(`"hostKey: ${fingerprint}"`) },
          ...['auth', 'sftp', 'statusFile', 'management'].map((name) => ({ name, ok: null, detail: 'not run: hostKey failed', fix: null })),
        ],
      }]);
    });

    it('CLI: an unknown SERVER, and no servers file, are usage errors (exit 2)', async () => {
      const servers = file(yaml('fra-1', [`    privateKeyPath: ${sshd.userKeyPath}`, `    hostKey: ${fingerprint}`]));
      expect(await vpnwatch(servers, 'check', 'srv1')).toEqual({ code: 2, stdout: '', stderr: "vpnwatch check: No server 'srv1'. Known: fra-1\n" });
      const none = await vpnwatch('', 'check');
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/^vpnwatch check: no servers file at .*servers\.yml \(copy servers\.example\.yml to servers\.yml, or set VPNWATCH_SERVERS_FILE\)\n$/);
    });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A raw management client that answers the password and stays connected: OpenVPN serves nobody else meanwhile. */
async function holdManagement(port: number): Promise<net.Socket> {
  const sock = net.connect({ host: '127.0.0.1', port });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no greeting; got ${JSON.stringify(seen)}`)), 5000);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.endsWith('ENTER PASSWORD:')) sock.write(`${PASSWORD}\n`);
      if (/>INFO:OpenVPN Management Interface/.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return sock;
}
