// A simulated VPN server: an in-process SSH server (ssh2's Server) that serves one OpenVPN status
// file over SFTP, exactly the way vpnwatch reads a real one, and optionally OpenVPN's management
// interface on the server's "loopback" (reached through SSH port forwarding, as in production):
// the greeting, `status 3`, `log on`, `version`, `client-kill`, `>CLIENT:ESTABLISHED`, one client
// at a time. Used by the demo fleet and the benchmarks (hundreds of them in one process).
// Read-only SFTP; no shell, no exec.
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
  /**
   * Replaces the status file (each SFTP open sees one whole version, like a rename-based writer)
   * and, with a management interface, what `status 3` answers (status-version 3 text).
   */
  setStatus(text: string, statusV3?: string): void;
  /** Tells the management client that a client connected (`>CLIENT:ESTABLISHED`), as OpenVPN does. */
  announceConnect(clientId: number, commonName: string): void;
  close(): Promise<void>;
}

export interface SimulatedServerOptions {
  name: string;
  /** One host key can be shared by many simulated servers (generating 200 is slow). */
  hostKey?: string;
  statusPath?: string;
  statusRefreshSeconds?: number;
  /** Serve a management interface at 127.0.0.1:MANAGEMENT_PORT through SSH forwarding. */
  management?: boolean;
  /** Called for `client-kill CID`: the simulation ends that session. */
  onKill?: (clientId: number) => void;
  /** The SSH password (default: a random one); a fleet can share one, so its servers file names one variable. */
  password?: string;
}

/** The port the simulated management interface listens on, on the server's side of SSH. */
export const MANAGEMENT_PORT = 7505;

/**
 * A fresh ed25519 host key. ssh2's generator strips leading zero bytes from the public key, so
 * about 1 key in 256 is one its own parser then refuses ("Malformed OpenSSH private key",
 * mscdex/ssh2#1513): such a key is thrown away and another one made.
 */
export function generateHostKey(): string {
  for (let attempt = 1; ; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair.private;
    if (attempt >= 32) throw new Error('could not generate an ed25519 host key that ssh2 can read');
  }
}

export async function startSimulatedServer(opts: SimulatedServerOptions): Promise<SimulatedServer> {
  const hostKey = opts.hostKey ?? generateHostKey();
  const parsed = utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  const fingerprint = fingerprintOf((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH());
  const statusPath = opts.statusPath ?? '/run/openvpn-server/status-server.log';
  const username = 'vpnwatch';
  const password = opts.password ?? randomBytes(18).toString('base64url');
  let status = Buffer.from('');
  let statusV3 = '';
  const management = opts.management ? new SimulatedManagement(() => statusV3, opts.onKill) : undefined;

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
      client.on('tcpip', (accept, reject, info) => {
        if (!management || info.destIP !== '127.0.0.1' || info.destPort !== MANAGEMENT_PORT) return reject();
        management.serve(accept());
      });
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
      ...(management ? { management: { host: '127.0.0.1', port: MANAGEMENT_PORT, mode: 'stream' as const } } : {}),
    },
    setStatus(text: string, v3?: string) {
      status = Buffer.from(text);
      if (v3 !== undefined) statusV3 = v3;
    },
    announceConnect: (clientId, commonName) => management?.announce(clientId, commonName),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of connections) c.end();
    }),
  };
}

/**
 * OpenVPN's management interface as the simulation needs it. One client at a time: a second
 * connection waits, ungreeted, until the first leaves (the behaviour vpnwatch's stream and kicks
 * are built around). Lines end in CRLF, as OpenVPN writes them.
 */
class SimulatedManagement {
  #holder: ssh2.ServerChannel | undefined;
  readonly #waiting: ssh2.ServerChannel[] = [];

  constructor(private readonly statusV3: () => string, private readonly onKill?: (clientId: number) => void) {}

  serve(channel: ssh2.ServerChannel): void {
    channel.on('error', () => { /* the client went away */ });
    channel.on('close', () => this.#release(channel));
    if (this.#holder) this.#waiting.push(channel);
    else this.#greet(channel);
  }

  announce(clientId: number, commonName: string): void {
    this.#holder?.write(`>CLIENT:ESTABLISHED,${clientId}\r\n>CLIENT:ENV,common_name=${commonName}\r\n>CLIENT:ENV,END\r\n`);
  }

  #release(channel: ssh2.ServerChannel): void {
    const i = this.#waiting.indexOf(channel);
    if (i >= 0) this.#waiting.splice(i, 1);
    if (this.#holder !== channel) return;
    this.#holder = undefined;
    const next = this.#waiting.shift();
    if (next) this.#greet(next);
  }

  #greet(channel: ssh2.ServerChannel): void {
    this.#holder = channel;
    channel.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n");
    let pending = '';
    channel.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '').trim();
        pending = pending.slice(nl + 1);
        this.#answer(channel, line);
      }
    });
  }

  #answer(channel: ssh2.ServerChannel, line: string): void {
    const kill = /^client-kill (\d+)/.exec(line);
    if (line === 'status 3' || line === 'status') channel.write(this.statusV3().replace(/\r?\n/g, '\r\n'));
    else if (line === 'log on') channel.write('SUCCESS: real-time log notification set to ON\r\n');
    else if (line === 'version') channel.write('OpenVPN Version: OpenVPN 2.6.14 (simulated)\r\nManagement Version: 5\r\nEND\r\n');
    else if (line === 'pid') channel.write('SUCCESS: pid=4242\r\n');
    else if (/^bytecount \d+$/.test(line)) channel.write('SUCCESS: bytecount interval changed\r\n');
    else if (kill) {
      this.onKill?.(Number(kill[1]));
      channel.write('SUCCESS: client-kill command succeeded\r\n');
    } else if (line === 'quit') channel.end();
    else if (line) channel.write("ERROR: unknown command, enter 'help' for more options\r\n");
  }
}
