// One poll of many servers: per server, read the status file over SFTP and parse it, with bounded
// concurrency and a per-server time limit. Runs inside the Bree worker (jobs/poll-servers.ts) and,
// for `vpnwatch poll`, in the main thread. Returns plain data only (it crosses a thread boundary).
import type { ServerConfig, ServerRead, StatusSnapshot } from '../domain.ts';
import { parseStatus, StatusParseError } from '../openvpn/parse-status.ts';
import type { ReadResult as FileRead, SshConnection, SshPool } from '../ssh.ts';
import { errorMessage } from '../log.ts';

export interface ReadOptions {
  concurrency: number;
  /** Per server: connect + read + parse must finish within this. */
  timeoutMs: number;
  now?: () => Date;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms); });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/**
 * The snapshot of a text whose SFTP read never came out the same twice (OpenVPN rewrites the file
 * in place): incomplete whatever its END says, since a half-rewritten file can end with the old END.
 */
function changedDuringRead(snapshot: StatusSnapshot, attempts: number): StatusSnapshot {
  const why = `the file changed during the read (${attempts} attempts each saw it change): treated as incomplete, whatever its END line says`;
  return { ...snapshot, complete: false, warnings: [...snapshot.warnings, why] };
}

/** A status file as read (whole seconds mtime, attempts) and what it says. */
export interface StatusFileRead {
  file: FileRead;
  snapshot: StatusSnapshot;
  readAt: Date;
}

/** Reads of a part-written status file before the last one is returned as it is. */
const WHOLE_READ_ATTEMPTS = 3;
/** OpenVPN rewrites the whole file in milliseconds: after this pause a new read nearly always gets all of it. */
const REWRITE_PAUSE_MS = 150;

/**
 * Reads and parses a server's status file over an open connection; the poll and `vpnwatch check`
 * both read through here. A text caught part-written (no END, or the file changing under the read)
 * is read again after a pause, up to 3 reads: OpenVPN rewrites the file in place (lseek, a write()
 * per line, ftruncate), and a read can land inside that, most often on a loaded machine. Left to the
 * next cycle it would count as a failed read against the server and hold back its changes a cycle;
 * reading again costs 150 ms. The last read is returned even when still incomplete: callers judge
 * it. Throws SshError, or StatusParseError (saying when the file changed during the read).
 */
export async function readStatusFile(
  conn: SshConnection,
  server: ServerConfig,
  opts: { timeoutMs: number; now: () => Date; onFile?: (file: FileRead) => void },
): Promise<StatusFileRead> {
  for (let attempt = 1; ; attempt++) {
    const last = attempt === WHOLE_READ_ATTEMPTS;
    const file = await conn.readFile(server.statusPath, { timeoutMs: opts.timeoutMs });
    opts.onFile?.(file);
    const readAt = opts.now();
    let snapshot: StatusSnapshot | undefined;
    try {
      // The reader's clock settles an Updated time in the hour clocks went back (see parseStatus).
      snapshot = parseStatus(file.text, { timezone: server.timezone, now: readAt });
    } catch (err) {
      if (file.stable || !(err instanceof StatusParseError)) throw err;
      if (last) throw new StatusParseError(err.code, `the file changed during the read (${file.attempts} attempts each saw it change), and what was read is not a whole status file: ${err.message}`);
    }
    if (snapshot) {
      if (!file.stable) snapshot = changedDuringRead(snapshot, file.attempts);
      if (snapshot.complete || last) return { file, snapshot, readAt };
    }
    await new Promise((resolve) => setTimeout(resolve, REWRITE_PAUSE_MS));
  }
}

/** Reads one server's status file; never throws (a failure is a ServerRead with ok: false). */
async function readServer(server: ServerConfig, pool: SshPool, opts: ReadOptions): Promise<ServerRead> {
  const now = opts.now ?? (() => new Date());
  const started = performance.now();
  const base = { server: server.name, source: 'status-file' as const };
  let fileModifiedAt: string | null = null;
  try {
    const { snapshot, readAt } = await withTimeout((async () => {
      const conn = await pool.get(server);
      // The file's time is kept when it does not parse, too (diff.ts names it in the error).
      return readStatusFile(conn, server, { timeoutMs: opts.timeoutMs, now, onFile: (f) => { fileModifiedAt = f.mtime.toISOString(); } });
    })(), opts.timeoutMs, `${server.name} (${server.host}:${server.port})`);
    return { ...base, ok: true, snapshot, readAt: readAt.toISOString(), durationMs: Math.round(performance.now() - started), fileModifiedAt };
  } catch (err) {
    const message = errorMessage(err);
    // Parse errors name a line but not the file: say which.
    const error = err instanceof StatusParseError ? `${server.name}: ${server.statusPath}: ${message}` : message;
    return { ...base, ok: false, error, readAt: now().toISOString(), durationMs: Math.round(performance.now() - started), fileModifiedAt };
  }
}

/**
 * Reads every server, at most `concurrency` at a time, handing each read to `onRead` as it
 * completes and keeping none: the poll job streams them, so its memory does not grow with the fleet.
 */
export async function streamReads(servers: ServerConfig[], pool: SshPool, opts: ReadOptions, onRead: (read: ServerRead) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < servers.length) onRead(await readServer(servers[next++]!, pool, opts));
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, servers.length) }, worker));
}

/** Reads every server (see streamReads); results in the servers' order. */
export async function readServers(servers: ServerConfig[], pool: SshPool, opts: ReadOptions): Promise<ServerRead[]> {
  const order = new Map(servers.map((s, i) => [s.name, i]));
  const results: ServerRead[] = [];
  await streamReads(servers, pool, opts, (read) => { results[order.get(read.server)!] = read; });
  return results;
}
