// Exit codes of the /vpn commands in a terminal (src/cli/reply-command.ts), run as bin/vpnwatch:
// a SERVER that names no configured server is a usage error (exit 2), decided before a database
// is opened, with or without a servers file (issue 16 item 6).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Store } from '../src/store/store.ts';
import { dropTestStore } from './support/store.ts';

const run = promisify(execFile);
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const PIN = `SHA256:${'A'.repeat(43)}`;

describe('vpnwatch kick / online with a server that is not configured', () => {
  let empty: string;
  let configured: string;
  let mongodbUri: string;

  /** A port just released, where nothing listens: a kick that is tried fails at once, on loopback. */
  let closedPort: number;

  beforeAll(async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-usage-'));
    configured = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-usage-'));
    fs.writeFileSync(path.join(configured, 'servers.yml'), `servers:\n  - { name: fra-1, host: 127.0.0.1, port: ${closedPort}, username: vpnwatch, passwordEnv: FRA_PW, hostKey: ${PIN}, management: { port: 7505 } }\n`);
    // A database is there, as in the report: the usage error must not depend on it either way.
    const uri = new URL(inject('mongoUri'));
    uri.pathname = `/vpnwatch_usage_${path.basename(configured).replace(/\W/g, '')}`;
    mongodbUri = uri.toString();
  });
  afterAll(async () => {
    await dropTestStore(await Store.open(mongodbUri));
    for (const dir of [empty, configured]) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function vpnwatch(cwd: string, env: Record<string, string>, ...args: string[]) {
    try {
      const { stdout, stderr } = await run(bin, args, { cwd, env: { ...process.env, FRA_PW: 'x', LOG_LEVEL: 'silent', ...env } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('no servers file: kick carol srv1 exits 2 and says why, with a database and without one', async () => {
    const expected = {
      code: 2, stdout: '',
      stderr: `vpnwatch kick: No server 'srv1': no servers are configured (no servers file at ${path.join(empty, 'servers.yml')}: copy servers.example.yml to servers.yml, or set VPNWATCH_SERVERS_FILE)\n`,
    };
    expect(await vpnwatch(empty, { MONGODB_URI: mongodbUri }, 'kick', 'carol', 'srv1')).toEqual(expected);
    expect(await vpnwatch(empty, {}, 'kick', 'carol', 'srv1')).toEqual(expected);
  });

  it('a servers file without that server: exit 2 naming the known ones; online SERVER too', async () => {
    expect(await vpnwatch(configured, { MONGODB_URI: mongodbUri }, 'kick', 'carol', 'srv1', 'all'))
      .toEqual({ code: 2, stdout: '', stderr: "vpnwatch kick: No server 'srv1'. Known: fra-1\n" });
    expect(await vpnwatch(configured, {}, 'online', 'srv1'))
      .toEqual({ code: 2, stdout: '', stderr: "vpnwatch online: No server 'srv1'. Known: fra-1\n" });
  });

  it('a configured server (any letter case), or a choice in the server\'s place, is no usage error: the kick is tried', async () => {
    const known = await vpnwatch(configured, { MONGODB_URI: mongodbUri }, 'kick', 'carol', 'FRA-1');
    expect(known).toMatchObject({ code: 1, stderr: '' });
    expect(known.stdout).toContain(`✘ Could not kick carol\nfra-1 (127.0.0.1:${closedPort}): connection refused`);
    for (const choice of ['all', '17']) {
      const r = await vpnwatch(configured, { MONGODB_URI: mongodbUri }, 'kick', 'carol', choice);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain('carol is not connected');
    }
  });

  it('what the person can fix is a usage error too (exit 2), with a database and without one', async () => {
    for (const env of [{ MONGODB_URI: mongodbUri }, {}] as Record<string, string>[]) {
      expect(await vpnwatch(configured, env, 'kick')).toEqual({ code: 2, stdout: '', stderr: 'vpnwatch kick: Missing <name>. Usage: kick <name> [server] [which]\n' });
      expect(await vpnwatch(configured, env, 'recent', '0')).toEqual({ code: 2, stdout: '', stderr: "vpnwatch recent: <n> must be a whole number from 1 to 50, not '0'\n" });
    }
    // Known only once the database is asked: nobody by that name was ever seen.
    const nobody = await vpnwatch(configured, { MONGODB_URI: mongodbUri }, 'user', 'nobody');
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toBe("vpnwatch user: No VPN user 'nobody' has been seen.\n");
  });
});
