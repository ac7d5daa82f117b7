// Smoke test for the real OpenVPN lab (test/harness/openvpn-lab.ts): proves that servers,
// namespaced clients, status files, both management transports, disconnects and restarts behave
// as the monitor's own tests will rely on, and that close() leaves nothing behind.
// Skips with the reason where the lab cannot run (not root, no openvpn …), fails instead on CI.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { expect, it } from 'vitest';
import { labAvailable, startLab, type Lab, type LabClient, type LabOptions, type LabServer } from './harness/openvpn-lab.ts';
import { requirePrerequisite } from './harness/prereq.ts';

const describeLab = requirePrerequisite(labAvailable(), 'OpenVPN lab');

/** True when the status text routes `vaddr` to `cn` (the ROUTING_TABLE decides "online"). */
function routes(text: string, version: 1 | 2 | 3, vaddr: string, cn: string): boolean {
  const line = version === 1 ? `${vaddr},${cn},` : version === 2 ? `ROUTING_TABLE,${vaddr},${cn},` : `ROUTING_TABLE\t${vaddr}\t${cn}\t`;
  return text.split(/\r?\n/).some((l) => l.startsWith(line));
}

/** Any client-list or routing row naming the CN (status-version 2/3 text). */
function mentions(text: string, cn: string): boolean {
  return text.split(/\r?\n/).some((l) => /^(CLIENT_LIST|ROUTING_TABLE)[,\t]/.test(l) && l.includes(cn));
}

function routesAll(server: LabServer, clients: LabClient[]) {
  return (text: string) => clients.every((c) => routes(text, server.statusVersion, c.expectedVirtualAddress(server.index), c.statusCommonName));
}

/**
 * One management command over TCP or a unix socket: answers `ENTER PASSWORD:` (sent without a
 * newline) when a password is set, sends the command, reads until the `END` line, then sends
 * `quit` in a separate write (sent together with the command, its output would be lost —
 * lab-notes). Bounded by timeoutMs.
 */
async function management(server: LabServer, command: string, timeoutMs = 5_000): Promise<string> {
  const sock = server.managementPort !== undefined
    ? net.connect({ host: '127.0.0.1', port: server.managementPort })
    : net.connect({ path: server.managementSocket as string });
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      let sent = false;
      const timer = setTimeout(() => reject(new Error(`management "${command}" timed out; got:\n${buf}`)), timeoutMs);
      sock.setEncoding('utf8');
      sock.on('error', (err) => { clearTimeout(timer); reject(err); });
      sock.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.endsWith('ENTER PASSWORD:')) {
          buf = '';
          sock.write(`${server.managementPassword ?? ''}\n`);
          return;
        }
        if (!sent && /(^|\n)>INFO:[^\n]*\r\n/.test(buf)) {
          sent = true;
          buf = '';
          sock.write(`${command}\n`);
          return;
        }
        if (sent && /(^|\r\n)END\r\n/.test(buf)) {
          clearTimeout(timer);
          sock.write('quit\n');
          resolve(buf);
        }
      });
    });
  } finally {
    sock.end();
    sock.destroy();
  }
}

/** Everything a lab may leave behind, for the leak check after close(). */
function leftovers(lab: Lab, pids: number[]): string[] {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(lab.prefix));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(lab.prefix));
  const alive = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  return [...netns.map((n) => `netns ${n}`), ...links.map((n) => `link ${n}`), ...alive.map((p) => `pid ${p}`), ...(fs.existsSync(lab.dir) ? [`dir ${lab.dir}`] : [])];
}

/** Runs body with a fresh lab; always closes it and checks that nothing is left behind. */
async function withLab(opts: LabOptions, body: (lab: Lab, pids: Set<number>) => Promise<void>): Promise<void> {
  const lab = await startLab(opts);
  const pids = new Set<number>(); // every openvpn pid seen, for the leak check
  let failure: unknown;
  try {
    await body(lab, pids);
  } catch (err) {
    failure = err;
  }
  for (const s of lab.servers) if (s.pid) pids.add(s.pid);
  for (const c of lab.clients) if (c.pid) pids.add(c.pid);
  try {
    await lab.close();
    expect(leftovers(lab, [...pids])).toEqual([]);
  } catch (err) {
    if (!failure) throw err;
    console.error('lab close after a failed test:', err);
  }
  if (failure) throw failure;
}

const ms = (t0: number) => Date.now() - t0;

describeLab('OpenVPN lab', () => {
  it('runs servers and namespaced clients; status files and management show them; disconnects and restarts are seen', async () => {
    const timings: Record<string, number> = {};
    let t0 = Date.now();
    await withLab({
      servers: [
        { statusVersion: 2, management: 'tcp', managementPassword: 'lab-secret' },
        { statusVersion: 3, proto: 'tcp', management: 'unix' },
      ],
      clients: 2,
    }, async (lab, pids) => {
      timings.labUp = ms(t0);
      const [s0, s1] = lab.servers as [LabServer, LabServer];
      const [c0, c1] = lab.clients as [LabClient, LabClient];
      expect(c0.commonName).toBe('client-0');
      if (lab.block === 0) {
        // The documented addresses (lab-notes); another lab running at the same time moves us
        // to another block, which the harness reports through expectedVirtualAddress().
        expect([c0.expectedVirtualAddress(0), c1.expectedVirtualAddress(0)]).toEqual(['198.18.0.10', '198.18.0.11']);
        expect(s0.subnet).toBe('198.18.0.0/24');
      }

      t0 = Date.now();
      await Promise.all(lab.clients.flatMap((c) => [c.connect(0), c.connect(1)]));
      timings.connect2x2 = ms(t0);
      for (const c of lab.clients) {
        for (const s of [0, 1]) {
          const pid = c.sessionPid(s) as number;
          pids.add(pid);
          // The recorded pid is openvpn itself (ip netns exec execs, does not fork).
          expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('openvpn');
        }
      }

      t0 = Date.now();
      const text0 = await lab.waitForStatus(0, routesAll(s0, lab.clients), 10_000);
      const text1 = await lab.waitForStatus(1, routesAll(s1, lab.clients), 10_000);
      timings.statusShowsBoth = ms(t0);
      expect(text0.startsWith('TITLE,OpenVPN')).toBe(true);
      expect(text1.startsWith('TITLE\tOpenVPN')).toBe(true);
      // v2 client list: CN, real address (the client's namespace address), virtual address.
      expect(text0).toContain(`CLIENT_LIST,client-0,${c0.address}:`);
      expect(text0).toMatch(new RegExp(`\\nCLIENT_LIST,client-1,${c1.address.replace(/\./g, '\\.')}:\\d+,${c1.expectedVirtualAddress(0).replace(/\./g, '\\.')},`));

      // Management over TCP with a password, and over a unix socket without one.
      const m0 = await management(s0, 'status 3');
      for (const c of lab.clients) {
        expect(m0).toContain(`\nROUTING_TABLE\t${c.expectedVirtualAddress(0)}\t${c.commonName}\t`);
        expect(m0).toContain(`\nCLIENT_LIST\t${c.commonName}\t`);
      }
      expect(m0).toMatch(/\r\nEND\r\n$/);
      const m1 = await management(s1, 'status 3');
      for (const c of lab.clients) expect(m1).toContain(`\nROUTING_TABLE\t${c.expectedVirtualAddress(1)}\t${c.commonName}\t`);

      // Disconnect client-1 from the UDP server only. OpenVPN keeps the instance for a 5 s
      // "delayed exit" after the client's exit notification, so allow ~10 s.
      t0 = Date.now();
      await c1.disconnect(0);
      timings.disconnectCall = ms(t0);
      expect(c1.isRunningOn(0)).toBe(false);
      expect(c1.isRunningOn(1)).toBe(true);
      await lab.waitForStatus(0, (t) => !mentions(t, 'client-1') && routes(t, 2, c0.expectedVirtualAddress(0), 'client-0'), 12_000);
      timings.udpDisconnectSeen = ms(t0);
      // Still on the TCP server.
      expect(routes(lab.readStatus(1) ?? '', 3, c1.expectedVirtualAddress(1), 'client-1')).toBe(true);

      // Reconnect (same log file, appended) and restart both servers: clients must come back.
      await c1.connect(0);
      pids.add(c1.sessionPid(0) as number);
      await lab.waitForStatus(0, routesAll(s0, lab.clients), 10_000);
      pids.add(s0.pid as number).add(s1.pid as number);
      t0 = Date.now();
      await Promise.all([s0.restart(), s1.restart()]);
      timings.restartCall = ms(t0);
      expect(s0.isRunning && s1.isRunning).toBe(true);
      pids.add(s0.pid as number).add(s1.pid as number);
      await Promise.all([
        lab.waitForStatus(0, routesAll(s0, lab.clients), 20_000),
        lab.waitForStatus(1, routesAll(s1, lab.clients), 20_000),
      ]);
      timings.restartRecovered = ms(t0);
      t0 = Date.now();
    });
    timings.close = ms(t0);
    console.log('lab timings (ms):', JSON.stringify(timings));
  }, 60_000);

  it('issues and routes hostile common names (fixed addresses via ccd)', async () => {
    const names = ['<script>alert(1)</script>', '@everyone', 'a/b,c=d+e <x> "q" \\z é', 'tab\there'];
    await withLab({ servers: [{ statusVersion: 3, management: 'none' }], clients: names.map((commonName) => ({ commonName })) }, async (lab) => {
      const [s0] = lab.servers as [LabServer];
      expect(s0.managementPort).toBeUndefined();
      expect(lab.clients.map((c) => c.commonName)).toEqual(names);
      // OpenVPN prints control characters as `_`; everything else (UTF-8 too) is kept.
      expect(lab.clients.map((c) => c.statusCommonName)).toEqual([...names.slice(0, 3), 'tab_here']);
      await Promise.all(lab.clients.map((c) => c.connect(0)));
      // Deterministic addresses prove the ccd file names (`/` → `_`) matched OpenVPN's lookup.
      const text = await lab.waitForStatus(0, routesAll(s0, lab.clients), 10_000);
      for (const c of lab.clients) expect(text).toContain(`\nCLIENT_LIST\t${c.statusCommonName}\t${c.address}:`);
    });
  }, 40_000);
});
