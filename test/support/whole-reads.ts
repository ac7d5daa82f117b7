// One poll of real OpenVPN status files, as a test can assert on it. OpenVPN rewrites its status
// file in place every status interval (1 s in the lab), so a read can land while it is part
// written. readServers reads such a file again (three reads, 150 ms apart); one still cut comes back
// with complete: false, which the poller sets aside until its next cycle. Seen in CI under load
// before those re-reads: a read listing no one, or only the first of two connected clients. A test
// that asserts on one read does what the next cycle does: reads again, a bounded number of times.
import type { ServerConfig, ServerRead } from '../../src/domain.ts';
import { readServers, type ReadOptions } from '../../src/poll/read-servers.ts';
import type { SshPool } from '../../src/ssh.ts';

const ATTEMPTS = 10;
const PAUSE_MS = 200;

/** readServers, with each part-written read (ok, complete: false) read again, a bounded number of times. */
export async function readWholeFiles(servers: ServerConfig[], pool: SshPool, opts: ReadOptions): Promise<ServerRead[]> {
  const reads = await readServers(servers, pool, opts);
  const partWritten = () => reads.flatMap((r, i) => (r.ok && !r.snapshot.complete ? [i] : []));
  for (let attempt = 1; attempt < ATTEMPTS && partWritten().length > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    const again = partWritten();
    const fresh = await readServers(again.map((i) => servers[i]!), pool, opts);
    again.forEach((i, k) => { reads[i] = fresh[k]!; });
  }
  return reads;
}
