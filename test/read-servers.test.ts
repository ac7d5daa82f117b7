// readServers over real SSH/SFTP (vpnwatch's SshPool and SshConnection against an ssh2 server in
// this process): what a read reports when the file kept changing underneath it, and the file's
// modification time next to every read. The server is scripted because "changed during all three
// attempts" is a race a real sshd only loses sometimes; here each READ at offset 0 returns the
// next version, as if OpenVPN rewrote the file between every request.
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/domain.ts';
import { readServers } from '../src/poll/read-servers.ts';
import { fingerprintOf, SshPool } from '../src/ssh.ts';
import { generateHostKey } from '../src/demo/simulated-server.ts';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

/** 2026-11-28T10:00:00Z: the mtime the server reports for every file. */
const MTIME = 1795860000;

/** A complete v2 status text whose only client has received `bytes` (same length for 1000..9999). */
function statusText(bytes: number): string {
  return [
    'TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu',
    'TIME,2026-11-28 10:00:00,1795860000',
    'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
    `CLIENT_LIST,alice,203.0.113.5:40000,10.8.0.2,,${bytes},2000,2026-11-28 09:00:00,1795856400,UNDEF,3,0,AES-256-GCM`,
    'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
    'ROUTING_TABLE,10.8.0.2,alice,203.0.113.5:40000,2026-11-28 09:59:59,1795859999',
    'GLOBAL_STATS,Max bcast/mcast queue length,0',
    'END',
    '',
  ].join('\n');
}

/**
 * Path → the versions successive reads see (one version: a file that holds still), or a function
 * giving the text at the moment of each request (a file rewritten on its own clock).
 */
type Files = Record<string, string[] | (() => string)>;

async function startServer(files: Files): Promise<{ config: (path: string) => ServerConfig; readsOf: (path: string) => number; close: () => Promise<void> }> {
  const hostKey = generateHostKey();
  const parsed = utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  const fingerprint = fingerprintOf((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH());
  const reads = new Map<string, number>();
  const connections = new Set<ssh2.Connection>();
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => {});
    client.on('authentication', (ctx) => (ctx.method === 'password' && ctx.password === 'pw' ? ctx.accept() : ctx.reject(['password'])));
    client.on('ready', () => client.on('session', (accept) => accept().on('sftp', (acceptSftp) => {
      const sftp = acceptSftp();
      const handles = new Map<string, string>();
      const current = (path: string) => {
        const versions = files[path]!;
        return typeof versions === 'function' ? versions() : versions[(reads.get(path) ?? 0) % versions.length]!;
      };
      sftp.on('OPEN', (reqId, filename) => {
        if (!files[filename]) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
        const handle = Buffer.from(String(handles.size));
        handles.set(handle.toString(), filename);
        sftp.handle(reqId, handle);
      });
      sftp.on('FSTAT', (reqId, handle) => {
        const path = handles.get(handle.toString())!;
        sftp.attrs(reqId, { mode: 0o100600, uid: 0, gid: 0, size: Buffer.byteLength(current(path)), atime: MTIME, mtime: MTIME });
      });
      sftp.on('READ', (reqId, handle, offset, length) => {
        const path = handles.get(handle.toString())!;
        if (offset === 0) reads.set(path, (reads.get(path) ?? 0) + 1);
        const data = Buffer.from(current(path));
        if (offset >= data.length) return sftp.status(reqId, STATUS_CODE.EOF);
        sftp.data(reqId, data.subarray(offset, offset + length));
      });
      sftp.on('CLOSE', (reqId) => sftp.status(reqId, STATUS_CODE.OK));
    })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    config: (statusPath) => ({
      name: statusPath.slice(1), host: '127.0.0.1', port, username: 'vpnwatch', password: 'pw', hostKey: fingerprint,
      insecureSkipHostKeyCheck: false, statusPath, statusRefreshSeconds: 10, timezone: 'UTC',
    }),
    readsOf: (path) => reads.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      for (const c of connections) c.end();
      server.close(() => resolve());
    }),
  };
}

describe('readServers', () => {
  let sim: Awaited<ReturnType<typeof startServer>>;
  const pool = new SshPool({ connectTimeoutMs: 5000 });
  /** The whole text up to alice's row: where a rewrite caught mid-way stops (no END). */
  const cut = statusText(1000).slice(0, statusText(1000).indexOf('CLIENT_LIST,alice'));
  /** When '/rewriting' holds its whole text (set by its test; before that it reads as cut). */
  let wholeFrom = Infinity;
  beforeAll(async () => {
    sim = await startServer({
      '/rewriting': () => (Date.now() >= wholeFrom ? statusText(1000) : cut),
      '/cut': [cut],
      '/steady': [statusText(1000)],
      '/changing': [statusText(1000), statusText(2000), statusText(3000)],
      '/changing-garbage': ['x'.repeat(50), 'y'.repeat(50)],
      '/not-status': ['temperature,4.5\n'],
    });
  });
  afterAll(async () => {
    await pool.closeAll();
    await sim?.close();
  });
  const read = async (path: string) => (await readServers([sim.config(path)], pool, { concurrency: 1, timeoutMs: 5000, now: () => new Date('2026-11-28T10:00:05Z') }))[0]!;

  it('a file that held still: a complete read, with the file modification time', async () => {
    const r = await read('/steady');
    expect(r).toMatchObject({ ok: true, fileModifiedAt: '2026-11-28T10:00:00.000Z', readAt: '2026-11-28T10:00:05.000Z' });
    expect(r.ok && [r.snapshot.complete, r.snapshot.sessions.map((s) => s.bytesReceived), r.snapshot.warnings]).toEqual([true, [1000], []]);
  });

  it('a file that changed during every attempt is an incomplete read, whatever its END says', async () => {
    const r = await read('/changing');
    expect(r).toMatchObject({ ok: true, fileModifiedAt: '2026-11-28T10:00:00.000Z' });
    if (!r.ok) throw new Error(r.error);
    // The text itself ends with END and parses: only the SFTP layer knows it is not one moment.
    expect(r.snapshot.complete).toBe(false);
    expect(r.snapshot.warnings).toEqual(['the file changed during the read (3 attempts each saw it change): treated as incomplete, whatever its END line says']);
  });

  it('a changing file whose text does not parse: a failed read that says the file was changing', async () => {
    const r = await read('/changing-garbage');
    expect(r).toMatchObject({ ok: false, fileModifiedAt: '2026-11-28T10:00:00.000Z' });
    expect(!r.ok && r.error).toMatch(/^changing-garbage: \/changing-garbage: the file changed during the read \(3 attempts each saw it change\), and what was read is not a whole status file: line 1: not an OpenVPN status file/);
  });

  it('a steady file that is not a status file: a failed read naming the file, with its modification time', async () => {
    const r = await read('/not-status');
    expect(r).toMatchObject({ ok: false, fileModifiedAt: '2026-11-28T10:00:00.000Z' });
    expect(!r.ok && r.error).toMatch(/^not-status: \/not-status: line 1: not an OpenVPN status file/);
  });

  it('a file caught part-written is read again after a pause, and the whole text is what the read says', async () => {
    wholeFrom = Date.now() + 50;
    const r = await read('/rewriting');
    expect(r.ok && [r.snapshot.complete, r.snapshot.sessions.map((s) => s.commonName), r.snapshot.warnings]).toEqual([true, ['alice'], []]);
    // A first attempt (two passes) that saw the cut text, then one or two more that saw it whole.
    expect(sim.readsOf('/rewriting')).toBeGreaterThanOrEqual(4);
  });

  it('a file that stays without END through three reads is an incomplete read (the poller sets it aside)', async () => {
    const r = await read('/cut');
    expect(r.ok && [r.snapshot.complete, r.snapshot.sessions, r.snapshot.warnings.at(-1)])
      .toEqual([false, [], 'no END line: the text was cut off, or caught while OpenVPN was rewriting the file']);
    expect(sim.readsOf('/cut')).toBe(3 * 2); // three reads, each of two passes
  });

  it('no file: a failed read without a modification time', async () => {
    const r = await read('/missing');
    expect(r).toMatchObject({ ok: false, fileModifiedAt: null });
    expect(!r.ok && r.error).toMatch(/no such file/);
  });
});
