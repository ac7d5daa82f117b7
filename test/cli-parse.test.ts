// The `vpnwatch parse FILE [--tz ZONE] --json` contract, as an outside check calls it: the real
// executable, its stdout, stderr and exit code.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

async function vpnwatch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(bin, args);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('vpnwatch parse --json', () => {
  it('prints the contract object for a v1 file read in a time zone', async () => {
    const r = await vpnwatch('parse', fixture('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status'), '--tz', 'Europe/Moscow', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['format', 'updatedAt', 'complete', 'sessions', 'warnings']);
    expect(out).toMatchObject({ format: 'openvpn-status-v1', updatedAt: '2017-05-21T22:28:31.000Z', complete: true, warnings: [] });
    expect(out.sessions[0]).toEqual({
      commonName: 'mikrotik', username: null, realAddress: '95.66.182.68', realPort: 48645, protocol: null,
      virtualAddress: '10.8.0.14', virtualIpv6: null, bytesReceived: 2640853425, bytesSent: 21555952983,
      connectedAt: '2017-05-10T21:46:10.000Z', clientId: null, peerId: null, cipher: null,
    });
  });

  it('defaults --tz to UTC', async () => {
    const r = await vpnwatch('parse', fixture('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status'), '--json');
    expect(JSON.parse(r.stdout).updatedAt).toBe('2017-05-22T01:28:31.000Z');
  });

  it('exits 0 for an incomplete file and says so', async () => {
    const r = await vpnwatch('parse', fixture('v1_synthetic_tonyseek-openvpn-status_broken7_truncated-midline.status'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: false, sessions: [] });
  });

  it('exits 2 with one line on stderr for a file that is not a status file', async () => {
    const r = await vpnwatch('parse', fixture('clientmode_ovpn2.x_kumina-openvpn_exporter_client.status'), '--json');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("line 1: this is an OpenVPN client or peer-to-peer statistics file ('OpenVPN STATISTICS')");
    const junk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-cli-')), 'page.html');
    fs.writeFileSync(junk, '<!doctype html>\n<title>nope</title>\n');
    const html = await vpnwatch('parse', junk, '--json');
    expect([html.code, html.stderr.trimEnd().split('\n').length]).toEqual([2, 1]);
    expect(html.stderr).toMatch(/line 1: not an OpenVPN status file/);
  });

  it('exits 2 for a missing file or an unknown zone, without a stack trace', async () => {
    const missing = await vpnwatch('parse', '/nonexistent/status.log', '--json');
    expect([missing.code, missing.stderr]).toEqual([2, 'vpnwatch parse: cannot read /nonexistent/status.log: ENOENT\n']);
    const zone = await vpnwatch('parse', fixture('v1_ovpn2.4_LSK-01-rpi-vpn_empty.status'), '--tz', 'Mars/Olympus', '--json');
    expect(zone.code).toBe(2);
    expect(zone.stderr).toMatch(/unknown time zone 'Mars\/Olympus'/);
    expect(zone.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
