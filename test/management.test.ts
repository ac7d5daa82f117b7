// src/openvpn/management.ts: the protocol rules on a stream fed byte by byte, then the real thing:
// OpenVPN 2.6 management interfaces of the lab (test/harness/openvpn-lab.ts), reached through a
// real sshd (test/harness/sshd.ts) exactly as in production, over TCP and a unix socket.
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/domain.ts';
import { connectManagement, ManagementClient, ManagementError, type ManagementErrorKind, type ManagementNotification } from '../src/openvpn/management.ts';
import { SshConnection } from '../src/ssh.ts';
import { labAvailable, startLab, type Lab, type LabClient, type LabServer } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';
import { freePort, sshdAvailable, startSshd, type Sshd } from './harness/sshd.ts';

/** A stream standing in for the tunnel: what the client writes is recorded, what we feed it is read. */
function fakeTunnel() {
  const written: string[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    written,
    /** Pushes the bytes one chunk each, one event-loop turn apart: every split a network can make. */
    async feedBytewise(text: string) {
      for (const byte of Buffer.from(text)) {
        stream.push(Buffer.from([byte]));
        await nextTurn();
      }
    },
    feed(text: string) {
      stream.push(text);
    },
  };
}

const BANNER = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";

/** Resolves with the ManagementError a promise rejects with, checking its kind. */
async function managementError(promise: Promise<unknown>, kind: ManagementErrorKind): Promise<ManagementError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a ManagementError '${kind}', but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ManagementError);
  expect((err as ManagementError).kind, (err as Error).message).toBe(kind);
  return err as ManagementError;
}

/** `status 3` text as OpenVPN 2.6.14 sends it over the interface: tabs, CRLF. */
const STATUS3 = [
  'TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
  'TIME\t2026-11-28 02:33:55\t1795833235',
  'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher',
  'CLIENT_LIST\trené\t198.19.1.1:41234\t198.18.0.10\t\t3120\t2988\t2026-11-28 02:33:50\t1795833230\tUNDEF\t7\t0\tAES-256-GCM',
  'HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)',
  'ROUTING_TABLE\t198.18.0.10\trené\t198.19.1.1:41234\t2026-11-28 02:33:54\t1795833234',
  'GLOBAL_STATS\tMax bcast/mcast queue length\t0',
  'GLOBAL_STATS\tdco_enabled\t0',
  'END',
  '',
].join('\r\n');

const ESTABLISHED_BLOCK = [
  '>CLIENT:ESTABLISHED,7',
  '>CLIENT:ENV,common_name=rené',
  '>CLIENT:ENV,password=hunter2',
  '>CLIENT:ENV,tls_id_0=C=DE, CN=rené, name=a=b',
  '>CLIENT:ENV,ifconfig_pool_remote_ip=198.18.0.10',
  '>CLIENT:ENV,END',
  '',
].join('\r\n');

describe('ManagementClient protocol (a stream fed byte by byte)', () => {
  it('answers the password prompt, and a reply in one-byte chunks with a CLIENT block in front parses; the block is one notification', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream, { password: 's3cret', label: 'fra-1' });
    await tunnel.feedBytewise('ENTER PASSWORD:');
    expect(tunnel.written).toEqual(['s3cret\n']);
    await tunnel.feedBytewise(`SUCCESS: password is correct\r\n${BANNER}`);
    const client = await opening;
    expect(client.managementVersion).toBe(5);
    expect(client.banner).toBe("OpenVPN Management Interface Version 5 -- type 'help' for more info");

    const notes: ManagementNotification[] = [];
    client.on('notification', (n) => notes.push(n));
    const status = client.status(3);
    await nextTurn();
    expect(tunnel.written).toEqual(['s3cret\n', 'status 3\n']);
    // What netdata captured: a notification block queued before the reply arrives first.
    await tunnel.feedBytewise(`${ESTABLISHED_BLOCK}>BYTECOUNT_CLI:7,3120,2988\r\n${STATUS3}`);
    const snapshot = await status;
    expect(snapshot).toMatchObject({ format: 'openvpn-status-v3', complete: true, updatedAt: '2026-11-28T02:33:55.000Z' });
    expect(snapshot.sessions).toEqual([{
      commonName: 'rené', username: null, realAddress: '198.19.1.1', realPort: 41234, protocol: null, virtualAddress: '198.18.0.10', virtualIpv6: null,
      bytesReceived: 3120, bytesSent: 2988, connectedAt: '2026-11-28T02:33:50.000Z', clientId: 7, peerId: 0, cipher: 'AES-256-GCM',
    }]);
    expect(notes).toEqual([
      // The client's password is never kept; values are split at the first `=` only.
      { kind: 'client', event: 'ESTABLISHED', cid: 7, args: [], env: { common_name: 'rené', tls_id_0: 'C=DE, CN=rené, name=a=b', ifconfig_pool_remote_ip: '198.18.0.10' } },
      { kind: 'bytecount', cid: 7, bytesReceived: 3120, bytesSent: 2988 },
    ]);
    client.close();
  });

  it('an ERROR line with no END (status 4) rejects that command, and the next command gets its own reply', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream);
    tunnel.feed(BANNER);
    const client = await opening;
    const bad = managementError(client.command('status 4'), 'error-reply');
    const pid = client.command('pid');
    await nextTurn();
    expect(tunnel.written).toEqual(['status 4\n']); // one command in flight at a time
    await tunnel.feedBytewise('ERROR: bad status format version number\r\n');
    const err = await bad;
    expect(err.reply).toBe('ERROR: bad status format version number');
    expect(tunnel.written).toEqual(['status 4\n', 'pid\n']);
    tunnel.feed('SUCCESS: pid=4242\r\n');
    expect(await pid).toEqual(['SUCCESS: pid=4242']);
    client.close();
  });

  it('client-kill refuses a Client ID that is not a whole number, and an odd message, before anything is sent', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream);
    tunnel.feed(BANNER);
    const client = await opening;
    for (const cid of [Number.NaN, -1, 1.5, Infinity, '3', '3\nkill alice', ' 3'] as unknown[]) {
      const err = await managementError(client.clientKill(cid as number), 'invalid-argument');
      expect(err.message).toContain('whole number');
    }
    for (const message of ['HALT kill alice', 'HALT\nkill alice', '"HALT"', '']) {
      await managementError(client.clientKill(3, message), 'invalid-argument');
    }
    for (const command of ['status 3\nkill alice', 'quit', 'log on all', '']) {
      await managementError(client.command(command), 'invalid-argument');
    }
    await nextTurn();
    expect(tunnel.written).toEqual([]);
    expect(client.isOpen).toBe(true);
    client.close();
  });

  it('version <n> (answered with nothing) resolves at once instead of hanging', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream);
    tunnel.feed(BANNER);
    const client = await opening;
    expect(await client.command('version 3')).toEqual([]);
    client.close();
  });

  it('a command without a reply times out, closes the client and rejects what was queued behind it', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream, { commandTimeoutMs: 100 });
    tunnel.feed(BANNER);
    const client = await opening;
    const closed = new Promise<ManagementError>((resolve) => client.on('close', resolve));
    const first = client.command('status 3');
    const second = client.command('pid');
    tunnel.feed('TITLE\tOpenVPN 2.6.14\r\n'); // a reply that stops half-way
    const err = await managementError(first, 'timeout');
    expect(err.message).toContain('"status 3"');
    await managementError(second, 'timeout');
    expect((await closed).kind).toBe('timeout');
    expect(client.isOpen).toBe(false);
    await managementError(client.command('pid'), 'timeout');
  });

  it('a wrong password (OpenVPN 2.6 just prompts again) fails at once and is not retried', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream, { password: 'wrong', label: 'fra-1' });
    tunnel.feed('ENTER PASSWORD:');
    await nextTurn();
    tunnel.feed('ENTER PASSWORD:');
    const err = await managementError(opening, 'bad-password');
    expect(err.message).toMatch(/^fra-1: the management interface refused the password/);
    expect(tunnel.written).toEqual(['wrong\n']);
  });

  it('the connection dropping mid-reply rejects the command with closed and emits close', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream, { label: 'fra-1' });
    tunnel.feed(BANNER);
    const client = await opening;
    const closed = new Promise<ManagementError>((resolve) => client.on('close', resolve));
    const status = client.status(3);
    tunnel.feed(STATUS3.slice(0, 200));
    tunnel.stream.push(null);
    const err = await managementError(status, 'closed');
    expect(err.message).toBe('fra-1: the management interface closed the connection (OpenVPN stopped or restarted, or the tunnel dropped)');
    expect(await closed).toBe(err);
  });

  it('quit() waits for the last reply and goes out in a write of its own', async () => {
    const tunnel = fakeTunnel();
    const opening = ManagementClient.open(tunnel.stream);
    tunnel.feed(BANNER);
    const client = await opening;
    const pid = client.command('pid');
    const quitting = client.quit();
    await managementError(client.command('status 3'), 'closed'); // nothing new once quit was asked for
    await nextTurn();
    expect(tunnel.written).toEqual(['pid\n']);
    tunnel.feed('SUCCESS: pid=4242\r\n');
    expect(await pid).toEqual(['SUCCESS: pid=4242']);
    expect(tunnel.written).toEqual(['pid\n', 'quit\n']);
    tunnel.stream.push(null); // OpenVPN closes its end
    await quitting;
    expect(client.isOpen).toBe(false);
  });
});

const prerequisites = [labAvailable(), sshdAvailable()];
const describeLab = requirePrerequisite(
  { ok: prerequisites.every((p) => p.ok), why: prerequisites.flatMap((p) => (p.why ? [p.why] : [])).join('; ') },
  'OpenVPN lab and sshd',
);

describeLab('ManagementClient against OpenVPN 2.6 through a real sshd', () => {
  const PASSWORD = 'lab-Secret';
  let sshd: Sshd;
  let lab: Lab;
  let ssh: SshConnection;
  let tcpServer: LabServer;
  let unixServer: LabServer;
  let c0: LabClient;
  let c1: LabClient;
  let c2: LabClient;
  /** A servers-file entry for lab server `s`, reached through the test sshd. */
  let config: (s: LabServer, management?: ServerConfig['management']) => ServerConfig;

  beforeAll(async () => {
    [sshd, lab] = await Promise.all([
      startSshd(),
      startLab({
        servers: [{ proto: 'tcp', statusVersion: 3, managementPassword: PASSWORD }, { proto: 'tcp', management: 'unix' }, { proto: 'tcp', management: 'none' }],
        clients: 3,
      }),
    ]);
    [tcpServer, unixServer] = lab.servers as [LabServer, LabServer];
    [c0, c1, c2] = lab.clients as [LabClient, LabClient, LabClient];
    await Promise.all([c0.connect(0), c1.connect(0), c0.connect(1), c1.connect(1)]);
    ssh = await SshConnection.connect(sshd.serverConfig(), { timeoutMs: 5000 });
    config = (s, management) => sshd.serverConfig({ name: `lab-${s.index}`, ...(management ? { management } : {}) });
  });
  afterAll(async () => {
    ssh?.close();
    await Promise.all([lab?.close(), sshd?.stop()]);
  });

  /** The TCP server's management block; `null`: no password configured. */
  const tcp = (password: string | null = PASSWORD): ServerConfig['management'] =>
    ({ host: '127.0.0.1', port: tcpServer.managementPort!, mode: 'short', ...(password === null ? {} : { password }) });

  /** The online sessions as [CN, virtual address, real address], sorted. */
  const rows = (sessions: { commonName: string; virtualAddress: string | null; realAddress: string }[]) =>
    sessions.map((s) => [s.commonName, s.virtualAddress, s.realAddress]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  it('greets through an SSH tunnel with the password; status 3 lists the lab clients with their Client IDs; quit frees the interface', async () => {
    const client = await connectManagement(ssh, config(tcpServer, tcp()));
    expect(client.banner).toMatch(/^OpenVPN Management Interface Version \d+ -- type 'help' for more info$/);
    expect(client.managementVersion).toBe(5); // OpenVPN 2.6.2 and later
    const snapshot = await client.status();
    expect(snapshot.format).toBe('openvpn-status-v3');
    expect(snapshot.complete).toBe(true);
    expect(rows(snapshot.sessions)).toEqual([
      ['client-0', c0.expectedVirtualAddress(0), c0.address],
      ['client-1', c1.expectedVirtualAddress(0), c1.address],
    ]);
    expect(snapshot.sessions.map((s) => typeof s.clientId)).toEqual(['number', 'number']);
    await client.quit();
    expect(client.isOpen).toBe(false);
    // The interface serves one client at a time: the next one is greeted only because we left.
    const again = await connectManagement(ssh, config(tcpServer, tcp()), { greetingTimeoutMs: 2000 });
    await again.quit();
  });

  it('a wrong password is a clear error, and so is a password prompt with none configured', async () => {
    const wrong = await managementError(connectManagement(ssh, config(tcpServer, tcp('not-it'))), 'bad-password');
    expect(wrong.message).toMatch(/^lab-0: the management interface refused the password \(check management\.passwordEnv/);
    const missing = await managementError(connectManagement(ssh, config(tcpServer, tcp(null))), 'bad-password');
    expect(missing.message).toContain('asks for a password, but none is configured');
  });

  it('unix-socket management through the tunnel lists the clients of that server', async () => {
    const client = await connectManagement(ssh, config(unixServer, { socket: unixServer.managementSocket!, mode: 'short' }));
    expect(rows((await client.status(3)).sessions)).toEqual([
      ['client-0', c0.expectedVirtualAddress(1), c0.address],
      ['client-1', c1.expectedVirtualAddress(1), c1.address],
    ]);
    await client.quit();
  });

  it('ERROR replies without END (status 4, an unknown CID) reject at once and the session carries on; version 3 answers nothing', async () => {
    const client = await connectManagement(ssh, config(tcpServer, tcp()), { commandTimeoutMs: 3000 });
    const status4 = await managementError(client.command('status 4'), 'error-reply');
    expect(status4.reply).toBe('ERROR: bad status format version number');
    const unknownCid = await managementError(client.clientKill(99_999), 'error-reply');
    expect(unknownCid.reply).toBe('ERROR: client-kill command failed');
    expect(await client.command('version 3')).toEqual([]);
    expect(await client.command('pid')).toEqual([`SUCCESS: pid=${tcpServer.pid}`]);
    await client.quit();
  });

  it('a client connecting while we are connected arrives as one ESTABLISHED notification carrying its ENV block', async () => {
    const client = await connectManagement(ssh, config(tcpServer, tcp()));
    const notes: ManagementNotification[] = [];
    const established = new Promise<ManagementNotification>((resolve) => client.on('notification', (n) => {
      notes.push(n);
      if (n.kind === 'client' && n.event === 'ESTABLISHED') resolve(n);
    }));
    await c2.connect(0);
    const note = await established;
    expect(note).toMatchObject({ kind: 'client', event: 'ESTABLISHED', args: [] });
    if (note.kind !== 'client') throw new Error('unreachable');
    expect(note.env).toMatchObject({ common_name: 'client-2', trusted_ip: c2.address, ifconfig_pool_remote_ip: c2.expectedVirtualAddress(0) });
    expect(Object.keys(note.env).length).toBeGreaterThan(20); // the whole block, in one object
    // The ENV lines were consumed by the block, not passed on one by one.
    expect(notes.filter((n) => n.kind === 'other' && n.type === 'CLIENT')).toEqual([]);
    const listed = (await client.status(3)).sessions.find((s) => s.commonName === 'client-2');
    expect(listed?.clientId).toBe(note.cid);
    await client.quit();
    await c2.disconnect(0);
  });

  it('while another client holds the interface, a connect is told it is busy (one management client at a time)', async () => {
    // TCP: on a unix socket, OpenVPN 2.6.14 then fails to greet the client after the abandoned one
    // about a third of the time (measured; the one after that is served again).
    const holder = await connectManagement(ssh, config(tcpServer, tcp()));
    const busy = await managementError(connectManagement(ssh, config(tcpServer, tcp()), { greetingTimeoutMs: 1000 }), 'busy');
    expect(busy.message).toContain('sent no greeting within 1000 ms');
    expect(busy.message).toContain('one management client at a time');
    expect(await holder.command('pid')).toEqual([`SUCCESS: pid=${tcpServer.pid}`]); // the holder is undisturbed
    await holder.quit();
    const next = await connectManagement(ssh, config(tcpServer, tcp()), { greetingTimeoutMs: 2000 });
    await next.quit();
  });

  it('no management configured, or nothing listening: errors that say what to fix', async () => {
    const none = await managementError(connectManagement(ssh, config(lab.servers[2]!)), 'not-configured');
    expect(none.message).toBe('lab-2 has no management interface configured; add management: { port: 7505 } to servers.yml');
    const port = await freePort();
    const closed = await managementError(connectManagement(ssh, config(tcpServer, { host: '127.0.0.1', port, mode: 'short' })), 'unreachable');
    expect(closed.message).toContain(`lab-0: cannot reach the management interface at 127.0.0.1:${port}`);
    expect(ssh.isOpen).toBe(true);
  });
});

describe('leavingClientFromLog', () => {
  it('reads the client behind an explicit-exit-notify log line (as OpenVPN 2.6 logs it in the lab)', async () => {
    const { leavingClientFromLog } = await import('../src/openvpn/management.ts');
    expect(leavingClientFromLog('1795838629,N,client-0/198.19.1.1:46103 CC-EEN exit message received by peer'))
      .toEqual({ commonName: 'client-0', realAddress: '198.19.1.1', realPort: 46103 });
    expect(leavingClientFromLog('1795838629,,Doe, John/x/203.0.113.9:5000 SIGTERM[soft,remote-exit] received, client-instance exiting'))
      .toEqual({ commonName: 'Doe, John/x', realAddress: '203.0.113.9', realPort: 5000 });
    expect(leavingClientFromLog('1795838629,,client-0/198.19.1.1:46103 Delayed exit in 5 seconds')).toBeNull();
    expect(leavingClientFromLog('1795838631,N,read UDPv4 [ECONNREFUSED]: Connection refused (fd=6,code=111)')).toBeNull();
  });
});
