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

  it('reads local times exactly around a clock change, and warns where the zone makes a time ambiguous', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-cli-'));
    const v1 = (updated: string) => {
      const file = path.join(dir, `${updated.replace(/\W/g, '')}.status`);
      fs.writeFileSync(file, ['OpenVPN CLIENT LIST', `Updated,${updated}`, 'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since',
        'ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref', 'GLOBAL STATS', 'Max bcast/mcast queue length,0', 'END', ''].join('\n'));
      return file;
    };
    // Berlin, 31 Mar 2024: 02:00 CET became 03:00 CEST, so 01:30 is still CET (+01:00).
    const berlin = JSON.parse((await vpnwatch('parse', v1('Sun Mar 31 01:30:00 2024'), '--tz', 'Europe/Berlin', '--json')).stdout);
    expect([berlin.updatedAt, berlin.warnings]).toEqual(['2024-03-31T00:30:00.000Z', []]);
    // New York, 3 Nov 2024: at 02:00 EDT clocks went back to 01:00 EST. 02:30 comes once, after
    // the change, in EST (-05:00): 07:30Z, no ambiguity (reading it at EDT gave the wrong 06:30Z).
    const after = JSON.parse((await vpnwatch('parse', v1('Sun Nov  3 02:30:00 2024'), '--tz', 'America/New_York', '--json')).stdout);
    expect([after.updatedAt, after.warnings]).toEqual(['2024-11-03T07:30:00.000Z', []]);
    // 01:30 came twice (05:30Z in EDT, 06:30Z in EST): the first, with a warning saying so.
    const twice = JSON.parse((await vpnwatch('parse', v1('Sun Nov  3 01:30:00 2024'), '--tz', 'America/New_York', '--json')).stdout);
    expect(twice.updatedAt).toBe('2024-11-03T05:30:00.000Z');
    expect(twice.warnings).toEqual(["line 2: Updated 'Sun Nov  3 01:30:00 2024' happened twice in America/New_York (clocks went back), at 05:30:00Z and 06:30:00Z; read as the first, 2024-11-03T05:30:00.000Z"]);
  });

  it('a file cut after its first header row exits 0, incomplete; cut before it, exits 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-cli-'));
    const text = fs.readFileSync(fixture('v1_ovpn2.3-2.4_tonyseek-openvpn-status_iroute-tap-cached-routes_augmented.status'), 'utf8');
    const inRoutes = path.join(dir, 'in-routes.status');
    fs.writeFileSync(inRoutes, text.slice(0, text.indexOf('192.168.255.126,bar') + 12));
    const cut = await vpnwatch('parse', inRoutes, '--json');
    expect(cut.code).toBe(0);
    expect(JSON.parse(cut.stdout)).toMatchObject({ complete: false });
    expect(JSON.parse(cut.stdout).sessions).toHaveLength(5);
    const beforeHeader = path.join(dir, 'before-header.status');
    fs.writeFileSync(beforeHeader, text.slice(0, text.indexOf('Bytes Received')));
    const refused = await vpnwatch('parse', beforeHeader, '--json');
    expect([refused.code, refused.stdout]).toEqual([2, '']);
    expect(refused.stderr).toBe(`vpnwatch parse: ${beforeHeader}: line 3: status-version 1 text ends without its client list header row ('Common Name,Real Address,...')\n`);
  });

  it('exits 2 for look-alike text, naming what is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-cli-'));
    const playlist = path.join(dir, 'playlist.tsv');
    fs.writeFileSync(playlist, 'TITLE\tRoad trip\n1\tHorses\tPatti Smith\nEND\n');
    const csv = path.join(dir, 'weather.csv');
    fs.writeFileSync(csv, 'TIME,temperature\n2026-11-28 10:00:00,4.5\n');
    const p = await vpnwatch('parse', playlist, '--json');
    expect([p.code, p.stdout, p.stderr]).toEqual([2, '', `vpnwatch parse: ${playlist}: line 3: status-version 3 text reaches END without a 'HEADER<TAB>CLIENT_LIST' row\n`]);
    const c = await vpnwatch('parse', csv, '--json');
    expect([c.code, c.stdout, c.stderr]).toEqual([2, '', `vpnwatch parse: ${csv}: line 2: status-version 2 text ends without a 'HEADER,CLIENT_LIST' row\n`]);
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
