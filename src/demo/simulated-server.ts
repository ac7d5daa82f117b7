// A simulated VPN server: an in-process SSH server (ssh2's Server) that serves one OpenVPN status
// file over SFTP, exactly the way vpnwatch reads a real one. Used by the demo fleet and by the
// poll-cycle benchmark (200 of them in one process). Read-only SFTP; no shell, no exec.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { ServerConfig } from '../domain.ts';
import { fingerprintOf } from '../ssh.ts';

const { Server, utils } = ssh2;
const { STATUS_CODE, OPEN_MODE } = utils.sftp;

export interface SimulatedServer {
  name: string;
  port: number;
  statusPath: string;
  /** A ServerConfig that reaches this server, host key pinned. */
  config: ServerConfig;
  /** Replaces the status file (each SFTP open sees one whole version, like a rename-based writer). */
  setStatus(text: string): void;
  close(): Promise<void>;
}

export interface SimulatedServerOptions {
  name: string;
  /** One host key can be shared by many simulated servers (generating 200 is slow). */
  hostKey?: string;
  statusPath?: string;
  statusRefreshSeconds?: number;
}

export function generateHostKey(): string {
  return utils.generateKeyPairSync('ed25519').private;
}

export async function startSimulatedServer(opts: SimulatedServerOptions): Promise<SimulatedServer> {
  const hostKey = opts.hostKey ?? generateHostKey();
  const parsed = utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  const fingerprint = fingerprintOf((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH());
  const statusPath = opts.statusPath ?? '/run/openvpn-server/status-server.log';
  const username = 'vpnwatch';
  const password = randomBytes(18).toString('base64url');
  let status = Buffer.from('');

  const connections = new Set<ssh2.Connection>();
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => { /* a client that goes away mid-handshake is not our problem */ });
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === username && ctx.password === password) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const open = new Map<string, Buffer>();
          let nextHandle = 0;
          sftp.on('OPEN', (reqId, filename, flags) => {
            if (filename !== statusPath) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
            if (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED);
            const handle = Buffer.alloc(4);
            handle.writeUInt32BE(nextHandle++);
            open.set(handle.toString('hex'), status);
            sftp.handle(reqId, handle);
          });
          sftp.on('FSTAT', (reqId, handle) => {
            const data = open.get(handle.toString('hex'));
            if (!data) return sftp.status(reqId, STATUS_CODE.FAILURE);
            const now = Math.floor(Date.now() / 1000);
            sftp.attrs(reqId, { mode: 0o100640, uid: 0, gid: 0, size: data.length, atime: now, mtime: now });
          });
          sftp.on('READ', (reqId, handle, offset, length) => {
            const data = open.get(handle.toString('hex'));
            if (!data) return sftp.status(reqId, STATUS_CODE.FAILURE);
            if (offset >= data.length) return sftp.status(reqId, STATUS_CODE.EOF);
            sftp.data(reqId, data.subarray(offset, offset + length));
          });
          sftp.on('CLOSE', (reqId, handle) => {
            open.delete(handle.toString('hex'));
            sftp.status(reqId, STATUS_CODE.OK);
          });
          for (const op of ['STAT', 'LSTAT', 'OPENDIR', 'READDIR', 'REMOVE', 'RMDIR', 'MKDIR', 'RENAME', 'SETSTAT', 'FSETSTAT', 'WRITE', 'REALPATH', 'READLINK', 'SYMLINK'] as const) {
            sftp.on(op as 'STAT', (reqId: number) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED));
          }
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name: opts.name,
    port,
    statusPath,
    config: {
      name: opts.name, host: '127.0.0.1', port, username, password, hostKey: fingerprint, insecureSkipHostKeyCheck: false,
      statusPath, statusRefreshSeconds: opts.statusRefreshSeconds ?? 5, timezone: 'UTC',
    },
    setStatus(text: string) { status = Buffer.from(text); },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of connections) c.end();
    }),
  };
}
