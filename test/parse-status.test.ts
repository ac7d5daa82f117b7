// parseStatus against real OpenVPN status files (test/fixtures, provenance in SOURCES.md).
// Each quirk the parser handles, and each rule it applies, has a test named after it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPENVPN_MAX_LINE_BYTES, parseStatus, StatusParseError } from '../src/openvpn/parse-status.ts';
import { LocalTimeReader } from '../src/openvpn/local-time.ts';
import { sessionKey, type VpnSession } from '../src/domain.ts';

const fixtureDir = path.join(import.meta.dirname, 'fixtures');
const read = (name: string) => fs.readFileSync(path.join(fixtureDir, name), 'utf8');
const parse = (name: string, timezone?: string) => parseStatus(read(name), { timezone });
const byName = (name: string) => parse(name).sessions.map((s) => s.commonName);

function refusal(text: string, timezone?: string): StatusParseError {
  try {
    parseStatus(text, { timezone });
  } catch (err) {
    if (err instanceof StatusParseError) return err;
    throw err;
  }
  throw new Error('expected the text to be refused');
}

/** The patrickjahns fixture's author removed its ROUTING TABLE section; OpenVPN always writes one. */
const withRoutingTable = (text: string) => text.replace('GLOBAL STATS', 'ROUTING TABLE\nVirtual Address,Common Name,Real Address,Last Ref\nGLOBAL STATS');
const dualstack = () => parseStatus(withRoutingTable(read('v1_ovpn2.3-dualstack_patrickjahns-openvpn_exporter_duplicate_UNDEF_edited.status')));

/** A v2 text in OpenVPN 2.6's layout around the given CLIENT_LIST rows. */
function v2(...rows: string[]): string {
  return [
    'TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu',
    'TIME,2026-11-28 10:00:00,1795860000',
    'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
    ...rows,
    'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
    'GLOBAL_STATS,Max bcast/mcast queue length,0',
    'END',
    '',
  ].join('\n');
}

/** A v1 text: an Updated line and client rows; routes as given. */
function v1(updated: string, clients: string[], routes: string[] = []): string {
  return ['OpenVPN CLIENT LIST', `Updated,${updated}`, 'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since', ...clients,
    'ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref', ...routes, 'GLOBAL STATS', 'Max bcast/mcast queue length,0', 'END', ''].join('\n');
}

describe('parseStatus', () => {
  it('columns mapped by header name (2.2, 2.3, 2.4 and 2.5 layouts put the same values in different places)', () => {
    // 2.2: no Username; 2.3: Username last; 2.4: IPv6 column inserted after Virtual Address; 2.5: cipher.
    const v22 = parse('v2_ovpn2.2.2_Plack-App-OpenVPN-Status_tap.status').sessions[0]!;
    expect(v22).toMatchObject({ commonName: 'cadvecisvo', virtualAddress: '10.6.6.10', bytesReceived: 758510, bytesSent: 7322678, username: null, clientId: null, cipher: null });
    const v23 = parse('v3_ovpn2.3.2_kumina-openvpn_exporter_server3_redacted.status').sessions[3]!;
    expect(v23).toMatchObject({ commonName: 'redacted4', bytesReceived: 24289622392, bytesSent: 70914674697, username: null, clientId: null });
    const v24 = parse('v2_ovpn2.4.7_sergentum-OpenVPN-Stats.status').sessions[1]!;
    expect(v24).toMatchObject({ commonName: 'stepy', virtualAddress: '10.8.0.4', virtualIpv6: null, bytesReceived: 164960, bytesSent: 748468, clientId: 3, peerId: 1, cipher: null });
    const v25 = parse('v2_ovpn2.5.5_netdata-go.d.plugin_status_version_2.status').sessions[0]!;
    expect(v25).toMatchObject({ commonName: 'gofle', realAddress: '192.168.122.135', realPort: 59523, clientId: 10, peerId: 0, cipher: 'AES-128-GCM' });
  });

  it('a header with its columns reordered is still read by name', () => {
    const text = [
      'TITLE,OpenVPN 2.9.0 future build',
      'TIME,2030-01-01 00:00:00,1893456000',
      'HEADER,CLIENT_LIST,Bytes Sent,Common Name,Some New Column,Bytes Received,Real Address,Connected Since (time_t),Connected Since,Client ID',
      'CLIENT_LIST,20,eve,whatever,10,198.51.100.1:1000,1893452400,2029-12-31 23:00:00,9',
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
      'END',
    ].join('\n');
    expect(parseStatus(text).sessions[0]).toMatchObject({ commonName: 'eve', bytesSent: 20, bytesReceived: 10, realAddress: '198.51.100.1', realPort: 1000, clientId: 9, connectedAt: '2029-12-31T23:00:00.000Z' });
  });

  it('commas inside common names (v1, in the client list and the routing table)', () => {
    const s = parse('handmade/v1_comma-in-common-name.status').sessions;
    expect(s.map((x) => [x.commonName, x.realAddress, x.realPort, x.virtualAddress, x.bytesReceived])).toEqual([
      ['AAA, Uwe', '195.88.116.10', 1194, '10.8.0.6', 17772500],
      ['Doe, John, Jr.', '198.51.100.7', 40001, '10.8.0.10', 1200],
    ]);
  });

  it('commas inside common names and usernames (v2)', () => {
    const s = parse('handmade/v2_comma-in-common-name-and-username.status');
    expect(s.sessions.map((x) => [x.commonName, x.username, x.realAddress, x.clientId])).toEqual([
      ['Smith, Anna', null, '203.0.113.9', 3],
      ['ops-laptop', 'Lee, Bo', '203.0.113.10', 4],
    ]);
    expect(s.warnings).toEqual([]);
  });

  it('extra commas that fit two ways: the common name takes them, with a warning', () => {
    const text = [
      'TITLE,x', 'TIME,2026-11-28 10:00:00,1795860000',
      'HEADER,CLIENT_LIST,Common Name,Bytes Received,Bytes Sent,Username,Real Address,Connected Since (time_t)',
      'CLIENT_LIST,a,1,2,3,b,203.0.113.4:5000,1795856400',
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)', 'END',
    ].join('\n');
    const s = parseStatus(text);
    expect(s.sessions.map((x) => [x.commonName, x.bytesReceived, x.bytesSent, x.username])).toEqual([['a,1', 2, 3, 'b']]);
    expect(s.warnings).toEqual(["line 4: the extra commas fit Common Name and Username in more than one way; read as Common Name 'a,1', Username 'b'"]);
  });

  it('a row whose extra commas fit no column is refused, naming the line', () => {
    const text = read('v1_ovpn2.3_bajensen-php-openvpn-status_5-clients.status').replace('fox,45.56.27.101:56845,180385', 'fox,45.56.27.101:56845,18,0385');
    const err = refusal(text);
    expect(err.code).toBe('malformed');
    expect(err.line).toBe(4);
    expect(err.message).toMatch(/^line 4: 6 fields where the header has 5/);
  });

  it('tabs in v3 (empty IPv6 column = two adjacent tabs; spaces and commas stay inside fields)', () => {
    const s = parse('v3_ovpn2.5.1_netdata-go.d.plugin_version3_no-final-newline.status');
    expect(s.format).toBe('openvpn-status-v3');
    expect(s.sessions[0]).toEqual({
      commonName: 'vpnclient2', username: null, realAddress: '10.10.10.50', realPort: 53856, protocol: null,
      virtualAddress: '10.8.0.6', virtualIpv6: null, bytesReceived: 3654, bytesSent: 3617,
      connectedAt: '2022-07-08T11:50:56.000Z', clientId: 0, peerId: 0, cipher: 'AES-256-GCM',
    });
    const withComma = read('v3_ovpn2.5.1_netdata-go.d.plugin_version3_no-final-newline.status').replace(/vpnclient2/g, 'Smith, Anna');
    expect(parseStatus(withComma).sessions[0]!.commonName).toBe('Smith, Anna');
  });

  it('v3 whose tabs were turned into spaces is refused with the reason', () => {
    const err = refusal(read('v3_ovpn2.4.4_XayOn-pivpn-docker_TABS-EXPANDED-TO-SPACES.status'));
    expect(err.code).toBe('malformed');
    expect(err.message).toBe('line 1: this looks like status-version 3 whose tabs were turned into spaces (a copy/paste?); its fields cannot be told apart');
  });

  it('IPv6 real and virtual addresses', () => {
    const mgmt = parse('mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_status3_CRLF_ipv6-and-v4mapped.txt').sessions;
    expect(mgmt[2]).toMatchObject({ realAddress: '2001:4860:4801:3::20', realPort: null, virtualAddress: '10.10.10.8' });
    const pool6 = parse('excerpts/v2_ovpn2.6.14_OpenVPN-issue963_ipv6-pool_dup-cn.status').sessions;
    expect(pool6.map((x) => [x.virtualAddress, x.virtualIpv6])).toEqual([
      [null, 'fd8f:6d53:b97a:1::100:3'], [null, 'fd8f:6d53:b97a:1::100:4'], [null, 'fd8f:6d53:b97a:1::100:2'],
    ]);
    const v27 = parse('excerpts/mgmt_ovpn2.7_OpenVPN-issue889_status3_udp6-prefix.txt').sessions[0]!;
    expect(v27).toMatchObject({ realAddress: '2001:608:4:0:c56c:9345:deeb:fa45', realPort: 55296, protocol: 'udp6', virtualIpv6: 'fd00:abcd:204:2::1000' });
  });

  it('real addresses without a port (v4-mapped and IPv6 clients before 2.7)', () => {
    expect(dualstack().sessions[0]).toMatchObject({ commonName: 'foo_foo', realAddress: '::ffff:1.1.1.1', realPort: null });
    const mgmt = parse('mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_status3_CRLF_ipv6-and-v4mapped.txt').sessions;
    expect(mgmt.map((x) => [x.realAddress, x.realPort])).toEqual([['::ffff:59.167.120.210', null], ['59.167.120.211', 12345], ['2001:4860:4801:3::20', null]]);
  });

  it('OpenVPN 2.7 protocol prefixes (udp4:, tcp4-server:, udp6:[addr]:port, udp6:v4:port)', () => {
    const s = parse('handmade/v3_ovpn2.7_protocol-prefixes.status').sessions;
    expect(s.map((x) => [x.commonName, x.protocol, x.realAddress, x.realPort, x.virtualIpv6])).toEqual([
      ['alice', 'udp4', '203.0.113.5', 52137, null],
      ['bob', 'tcp4-server', '127.0.0.1', 53188, null],
      ['carol', 'udp6', '2001:db8::7', 55296, 'fd00::1000'],
      ['dave', 'udp6', '194.97.140.5', 17399, 'fd00::1001'],
    ]);
    const tcp6 = parse('excerpts/v2_ovpn2.8git_OpenVPN-issue1063_tcp6-server-prefix_iroutes.status').sessions[0]!;
    expect(tcp6).toMatchObject({ protocol: 'tcp6-server', realAddress: '192.168.100.2', realPort: 55384 });
  });

  it('UNDEF: the common name stays UNDEF, the username becomes null', () => {
    const s = dualstack().sessions;
    expect(s.filter((x) => x.commonName === 'UNDEF').map((x) => [x.realAddress, x.bytesReceived, x.bytesSent])).toEqual([
      ['::ffff:3.3.3.3', 527, 10441], ['::ffff:4.4.4.4', 527, 8830],
    ]);
    expect(parse('v2_ovpn2.5.1_netdata-go.d.plugin_version2_no-final-newline.status').sessions.every((x) => x.username === null)).toBe(true);
    expect(parse('v2_ovpn2.4.4_patrickjahns-openvpn_exporter_version2_username.status').sessions[0]!.username).toBe('test@localhost');
  });

  it('duplicate common names kept as distinct sessions', () => {
    const v1s = parse('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status').sessions.filter((x) => x.commonName === 'mikrotik');
    expect(v1s.map((x) => [x.realAddress, x.realPort, x.virtualAddress])).toEqual([['95.66.182.68', 48645, '10.8.0.14'], ['83.220.41.124', 56333, '10.8.0.6']]);
    const v2s = parse('excerpts/v2_ovpn2.6.14_OpenVPN-issue963_ipv6-pool_dup-cn.status').sessions;
    expect(v2s.map((x) => [x.commonName, x.clientId])).toEqual([['vpn-client-0', 1], ['vpn-client-0', 2], ['vpn-client-0', 0]]);
    // Two clients behind one NAT address with one CN: told apart by port.
    const tonyseek = parse('v1_ovpn2.3-2.4_tonyseek-openvpn-status_iroute-tap-cached-routes_augmented.status').sessions.filter((x) => x.commonName === 'foo@example.com');
    expect(tonyseek.map((x) => [x.realPort, x.virtualAddress])).toEqual([[49502, '192.168.255.134'], [49503, '192.168.255.135']]);
  });

  it('an identical row repeated by hand is counted once, with a warning', () => {
    const s = parse('v2_ovpn2.3.2_kumina-openvpn_exporter_server2_redacted.status');
    expect(s.sessions.map((x) => x.commonName)).toEqual(['redacted1', 'redacted2', 'redacted3', 'redacted4', 'redacted5']);
    expect(s.warnings).toEqual(['line 9: repeats line 4 exactly; counted once']);
  });

  it('a leading space in a common name is kept', () => {
    expect(byName('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status')).toContain(' vstavrinov');
    const s = parse('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status').sessions.find((x) => x.commonName === ' vstavrinov')!;
    expect(s.virtualAddress).toBe('10.8.0.38');
  });

  it('v1 virtual addresses joined from the ROUTING TABLE by common name and real address, ignoring cached C routes and iroute subnets', () => {
    const antler = parse('v1_ovpn2.4_AntLer-24rus-ovpn-stat_6-clients_iroutes_cached-C_same-nat-ip_seconds-60.status').sessions;
    expect(Object.fromEntries(antler.map((x) => [x.commonName, x.virtualAddress]))).toEqual({
      'AntLer-Work': '10.8.0.2', AptekaGa: '10.8.0.13', 'AntLer-VXP': '10.8.0.3', AptekaAvt: '10.8.0.17', 'AntLer-Router': '10.8.0.4', AptekaKo: '10.8.0.14',
    });
    const tony = parse('v1_ovpn2.3-2.4_tonyseek-openvpn-status_iroute-tap-cached-routes_augmented.status').sessions;
    expect(Object.fromEntries(tony.map((x) => [`${x.commonName}:${x.realPort}`, [x.virtualAddress, x.virtualIpv6]]))).toEqual({
      'foo@example.com:49502': ['192.168.255.134', null],
      'foo@example.com:49503': ['192.168.255.135', null],
      'bar@example.com:64169': ['192.168.255.126', null], // its 192.168.255.126C / .16C / .1C are cached routes
      'baz@example.com:63414': ['192.168.255.118', null], // 10.200.0.0/16 and 2001:db8::1000/124 are iroutes
      'tap@example.com:55712': ['22:1d:63:bf:62:38', null], // a TAP client's own route is its MAC
    });
    // Without a routing row (authenticating, or a CIDR-only entry) there is no virtual address.
    expect(parse('v1_ovpn2.4_patrickjahns-openvpn_exporter_version1.status').sessions.map((x) => x.virtualAddress)).toEqual([null, null, '10.240.37.214', '10.240.1.222']);
  });

  it('IPv6 pool addresses: from the client list where it has that column (2.4+), else from the ROUTING TABLE (2.2/2.3)', () => {
    const route = 'ROUTING_TABLE,fd00::5,alice,203.0.113.5:40000,2026-11-28 09:59:59,1795859999';
    // A TAP client beside alice makes the routing rows be read.
    const tap = 'ROUTING_TABLE,00:ff:de:ad:be:ef,tap,203.0.113.6:40001,2026-11-28 09:59:59,1795859999';
    const v24 = parseStatus(v2(
      'CLIENT_LIST,alice,203.0.113.5:40000,10.8.0.2,,1,2,2026-11-28 09:00:00,1795856400,UNDEF,3,0,AES-256-GCM',
      'CLIENT_LIST,tap,203.0.113.6:40001,,,1,2,2026-11-28 09:00:00,1795856400,UNDEF,4,1,AES-256-GCM',
    ).replace('GLOBAL_STATS', `${route}\n${tap}\nGLOBAL_STATS`));
    // The list says alice has no IPv6 pool address; an IPv6 routing row of hers is not one.
    expect(v24.sessions.map((x) => [x.virtualAddress, x.virtualIpv6])).toEqual([['10.8.0.2', null], ['00:ff:de:ad:be:ef', null]]);
    const v23 = parseStatus(['TITLE,OpenVPN 2.3.18', 'TIME,2026-11-28 10:00:00,1795860000',
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username',
      'CLIENT_LIST,alice,203.0.113.5:40000,10.8.0.2,1,2,2026-11-28 09:00:00,1795856400,UNDEF',
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)', route, 'END'].join('\n'));
    expect([v23.sessions[0]!.virtualAddress, v23.sessions[0]!.virtualIpv6]).toEqual(['10.8.0.2', 'fd00::5']);
  });

  it('a routing row joins its client by the real address exactly as written (01.2.3.4 is not 1.2.3.4)', () => {
    const s = parseStatus(v1('2026-11-28 10:00:00', ['alice,1.2.3.4:5000,1,2,2026-11-28 09:00:00'], ['10.8.0.2,alice,01.2.3.4:5000,2026-11-28 09:59:59', '10.8.0.3,alice,1.2.3.4:05000,2026-11-28 09:59:59']));
    expect(s.sessions[0]!.virtualAddress).toBeNull();
    expect(parseStatus(v1('2026-11-28 10:00:00', ['alice,1.2.3.4:5000,1,2,2026-11-28 09:00:00'], ['10.8.0.2,alice,1.2.3.4:5000,2026-11-28 09:59:59'])).sessions[0]!.virtualAddress).toBe('10.8.0.2');
  });

  it('v2 clients without a pool address take theirs from the ROUTING TABLE, skipping iroutes and cached routes', () => {
    const s = parse('excerpts/v2_ovpn2.8git_OpenVPN-issue1063_tcp6-server-prefix_iroutes.status').sessions[0]!;
    expect([s.virtualAddress, s.virtualIpv6]).toEqual([null, 'fd8f:6d53:b97a:1::100:2']);
  });

  it('(time_t) columns preferred over text', () => {
    // Hand-made file whose text times disagree with time_t: the seconds win.
    const s = parse('v2_ovpn2.5.1_cmur2-openvpn-status-web_handmade.status', 'Europe/Berlin');
    expect(s.updatedAt).toBe('2009-04-02T19:58:50.000Z');
    expect(s.sessions[0]!.connectedAt).toBe('2009-04-02T19:58:50.000Z');
    // ...and the zone does not touch them.
    expect(parse('v2_ovpn2.5.1_cmur2-openvpn-status-web_handmade.status', 'UTC').sessions[0]!.connectedAt).toBe('2009-04-02T19:58:50.000Z');
  });

  it("local-time strings ('Thu Jun 18 04:23:03 2015', 'Feb  1', '2024-01-02 10:11:12') read in a given IANA time zone", () => {
    const berlin = new LocalTimeReader('Europe/Berlin');
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    expect(iso(berlin.toEpochMs('Thu Jun 18 04:23:03 2015'))).toBe('2015-06-18T02:23:03.000Z');
    expect(iso(berlin.toEpochMs('Wed Feb  1 16:01:42 2023'))).toBe('2023-02-01T15:01:42.000Z'); // winter: UTC+1
    expect(iso(berlin.toEpochMs('Wed Feb 1 16:01:42 2023'))).toBe('2023-02-01T15:01:42.000Z'); // single space, hand-made files
    expect(iso(berlin.toEpochMs('2024-01-02 10:11:12'))).toBe('2024-01-02T09:11:12.000Z');
    expect(iso(new LocalTimeReader('America/New_York').toEpochMs('2024-07-02 10:11:12'))).toBe('2024-07-02T14:11:12.000Z');
    expect(iso(new LocalTimeReader('Asia/Kolkata').toEpochMs('2024-01-02 10:11:12'))).toBe('2024-01-02T04:41:12.000Z');
    expect(iso(new LocalTimeReader('UTC').toEpochMs('Thu Jun 18 04:23:03 2015'))).toBe('2015-06-18T04:23:03.000Z');
    expect(berlin.toEpochMs('Thu Jun 18 04:23 2015')).toBeNull();
    // A whole v1 file read as Moscow time (UTC+3 in 2017).
    const msk = parse('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status', 'Europe/Moscow');
    expect(msk.updatedAt).toBe('2017-05-21T22:28:31.000Z');
    expect(msk.sessions[3]!.connectedAt).toBe('2017-05-05T07:38:18.000Z'); // 'Fri May  5 10:38:18 2017'
    // ISO dates (2.5+) in v1, in New York (UTC-5 in March).
    expect(parse('v1_ovpn2.5+_kogonia-openvpn_exporter_iso-date_trailing-junk-after-END.status', 'America/New_York').sessions[0]!.connectedAt).toBe('2022-03-05T22:34:22.000Z');
  });

  it('an unknown time zone is refused with a clear message', () => {
    expect(() => parse('v1_ovpn2.4_LSK-01-rpi-vpn_empty.status', 'Mars/Olympus')).toThrow("unknown time zone 'Mars/Olympus'");
  });

  it('seconds = 60 in a timestamp are accepted (seen in a real file)', () => {
    expect(parse('v1_ovpn2.4_AntLer-24rus-ovpn-stat_6-clients_iroutes_cached-C_same-nat-ip_seconds-60.status').updatedAt).toBe('2019-07-11T13:41:00.000Z');
  });

  it('counters beyond 2^32', () => {
    const s = parse('v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status').sessions[0]!;
    expect([s.bytesReceived, s.bytesSent]).toEqual([2640853425, 21555952983]);
    expect(parse('v2_ovpn2.5.1_cmur2-openvpn-status-web_handmade.status').sessions[0]!.bytesReceived).toBe(11811160064);
  });

  it('junk before the first header or after END', () => {
    const prompt = parse('v2_ovpn2.4.11_albandes-openvpn_shell-prompt-first-line.status');
    expect(prompt.sessions.map((x) => x.commonName)).toEqual(['quintana', 'server-mysql', 'albandes']);
    expect(prompt.warnings).toEqual(['ignored 1 line(s) before the status header (line 2)']);
    expect(prompt.complete).toBe(true);
    // The fixture's name promises pasted Go code after END, but the copy ends at END: add some.
    const trailing = parseStatus(`${read('v1_ovpn2.5+_kogonia-openvpn_exporter_iso-date_trailing-junk-after-END.status')}\nfunc main() {\n\tfmt.Println("x")\n}\n`);
    expect(trailing.sessions.map((x) => [x.commonName, x.virtualAddress, x.bytesReceived])).toEqual([
      ['cn_1', '172.21.110.42', 1], ['cn_2', '172.21.110.38', 10], ['cn_3', '172.21.110.26', 100],
    ]);
    expect(trailing.complete).toBe(true);
    expect(trailing.warnings).toEqual(['ignored 3 line(s) after END']);
  });

  it('END without a final newline is complete', () => {
    for (const f of ['v1_ovpn2.5.1_netdata-go.d.plugin_version1_no-final-newline.status', 'v2_ovpn2.5.1_netdata-go.d.plugin_version2_no-final-newline.status', 'v3_ovpn2.5.1_netdata-go.d.plugin_version3_no-final-newline.status']) {
      const s = parse(f);
      expect([s.complete, s.sessions.length, s.warnings]).toEqual([true, 2, []]);
    }
  });

  it("client-mode 'OpenVPN STATISTICS' files recognised and refused with a clear message", () => {
    for (const f of ['clientmode_ovpn2.x_kumina-openvpn_exporter_client.status', 'clientmode_ovpn2.5+_rsdenck-nux_iso-date.status', 'clientmode_ovpn2.5.1_netdata-go.d.plugin_static-key.status']) {
      const err = refusal(read(f));
      expect(err.code).toBe('client-mode');
      expect(err.message).toMatch(/^line 1: this is an OpenVPN client or peer-to-peer statistics file \('OpenVPN STATISTICS'\), not a server status file/);
    }
  });

  it('anything that is not a status file refused with an error naming the line', () => {
    expect(refusal('<html>\n<body>502 Bad Gateway</body>\n').message).toBe("line 1: not an OpenVPN status file: expected 'OpenVPN CLIENT LIST' (status-version 1) or 'TITLE,'/'TITLE<TAB>' (2/3), found '<html>'");
    expect(refusal('\n\n{"clients": []}\n').line).toBe(3);
    expect(refusal('').code).toBe('empty');
    expect(refusal('   \n\n').code).toBe('empty');
    const version = refusal(read('mgmt_ovpn2.3.4_netdata-go.d.plugin_version.txt'));
    expect([version.code, version.line]).toEqual(['not-status', 1]);
    // Binary garbage: no stack trace, a printable snippet.
    expect(refusal('\u0000\u0001\u0002PK\u0003\u0004').message).toMatch(/found '\?\?\?PK\?\?'$/);
  });

  it('a broken header or a row in the wrong separator is refused, naming the line', () => {
    const broken = refusal(read('v3_ovpn2.5.5_netdata-go.d.plugin_status_version_3_HAND-EDITED-broken.status'));
    expect([broken.code, broken.message]).toEqual(['malformed', 'line 4: 12 fields where the header has 11']);
    const noCn = refusal('OpenVPN CLIENT LIST\nUpdated,Thu Jun 18 08:12:15 2015\nName,Real Address,Bytes Received,Bytes Sent,Connected Since\nEND\n');
    expect(noCn.message).toBe("line 3: the CLIENT LIST header has no 'Common Name' column");
  });

  it('management-interface text: CRLF line ends, >INFO lines and >CLIENT notification blocks interleaved', () => {
    const netdata = parse('mgmt_ovpn2.3.4_netdata-go.d.plugin_status3_with-interleaved-CLIENT-ESTABLISHED.txt');
    expect(netdata.sessions).toEqual([{
      commonName: 'pepehome', username: 'pepe', realAddress: '1.2.3.4', realPort: 44347, protocol: null, virtualAddress: '10.9.0.5', virtualIpv6: null,
      bytesReceived: 6043, bytesSent: 5661, connectedAt: '2019-04-16T18:31:05.000Z', clientId: null, peerId: null, cipher: null,
    }]);
    expect(netdata.warnings).toEqual([]);
    const crlf = parse('mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_status3_CRLF_ipv6-and-v4mapped.txt');
    expect([crlf.complete, crlf.updatedAt, crlf.sessions[0]!.commonName, crlf.sessions[0]!.username]).toEqual([true, '2016-03-23T10:42:22.000Z', 'furlongm', 'furlongm']);
    const interleaved = '>INFO:OpenVPN Management Interface Version 5 -- type \'help\' for more info\r\n' +
      read('v2_ovpn2.5.5_netdata-go.d.plugin_status_version_2.status').replace(/\n/g, '\r\n').replace('HEADER,ROUTING_TABLE', '>CLIENT:ESTABLISHED,11\r\n>CLIENT:ENV,common_name=x\r\n>CLIENT:ENV,END\r\n>BYTECOUNT_CLI:10,1,2\r\nHEADER,ROUTING_TABLE');
    const s = parseStatus(interleaved);
    expect([s.complete, s.sessions.length, s.warnings]).toEqual([true, 2, []]);
    expect(parse('mgmt_ovpn2.6.9_jkroepke-openvpn-auth-oauth2_status2_empty_dco-line.txt')).toMatchObject({ format: 'openvpn-status-v2', complete: true, sessions: [] });
  });
});

describe('what a status file is: the structure its version requires', () => {
  it('a tab-separated playlist starting TITLE and ending END is refused: no HEADER<TAB>CLIENT_LIST row', () => {
    const playlist = 'TITLE\tRoad trip\n1\tHorses\tPatti Smith\t5:28\n2\tMarquee Moon\tTelevision\t10:40\nEND\n';
    const err = refusal(playlist);
    expect([err.code, err.message]).toEqual(['not-status', "line 4: status-version 3 text reaches END without a 'HEADER<TAB>CLIENT_LIST' row"]);
  });

  it("a CSV starting 'TIME,temperature' is refused: no HEADER,CLIENT_LIST row", () => {
    const csv = 'TIME,temperature\n2026-11-28 10:00:00,4.5\n2026-11-28 10:05:00,4.7\n';
    const err = refusal(csv);
    expect([err.code, err.message]).toEqual(['not-status', "line 3: status-version 2 text ends without a 'HEADER,CLIENT_LIST' row"]);
  });

  it('a v1 text that reaches END without its ROUTING TABLE is refused (nobody would look online)', () => {
    // The real file this fixture comes from had one; its author removed it.
    const err = refusal(read('v1_ovpn2.3-dualstack_patrickjahns-openvpn_exporter_duplicate_UNDEF_edited.status'));
    expect([err.code, err.message]).toEqual(['not-status', "line 11: status-version 1 text reaches END without its 'ROUTING TABLE' section and header row ('Virtual Address,Common Name,...')"]);
  });

  it('a v2 or v3 text that reaches END without its ROUTING_TABLE header is refused', () => {
    const v2text = read('v2_ovpn2.5.5_netdata-go.d.plugin_status_version_2.status').split('\n').filter((l) => !l.startsWith('HEADER,ROUTING_TABLE') && !l.startsWith('ROUTING_TABLE')).join('\n');
    expect(refusal(v2text).message).toMatch(/status-version 2 text reaches END without a 'HEADER,ROUTING_TABLE' row$/);
    const v3text = read('v3_ovpn2.5.1_netdata-go.d.plugin_version3_no-final-newline.status').split('\n').filter((l) => !l.includes('ROUTING_TABLE')).join('\n');
    expect(refusal(v3text).message).toMatch(/status-version 3 text reaches END without a 'HEADER<TAB>ROUTING_TABLE' row$/);
  });

  it("a v1 text without its 'Updated,' line or its client header row is refused", () => {
    const noUpdated = refusal('OpenVPN CLIENT LIST\nCommon Name,Real Address,Bytes Received,Bytes Sent,Connected Since\nROUTING TABLE\nEND\n');
    expect([noUpdated.code, noUpdated.message]).toEqual(['not-status', "line 2: expected the 'Updated,<time>' line after 'OpenVPN CLIENT LIST', found 'Common Name,Real Address,Bytes Received,Bytes Sent,Connec...'"]);
    const noHeader = refusal('OpenVPN CLIENT LIST\nUpdated,Thu Jun 18 08:12:15 2015\n');
    expect([noHeader.code, noHeader.message]).toEqual(['not-status', "line 2: status-version 1 text ends without its client list header row ('Common Name,Real Address,...')"]);
  });

  it('TITLE and TIME are optional in v2/v3; without TIME there is no updatedAt, with a warning', () => {
    const s = parse('excerpts/mgmt_ovpn2.7_OpenVPN-issue889_status3_udp6-prefix.txt');
    expect([s.complete, s.updatedAt, s.sessions.length, s.warnings]).toEqual([true, null, 2, ['no TIME line: when this text was written is unknown']]);
  });
});

describe('a text cut off or caught mid-rewrite', () => {
  it('a missing END (a file caught mid-rewrite) reported as incomplete', () => {
    const cut = parse('v1_synthetic_tonyseek-openvpn-status_broken7_truncated-midline.status');
    expect(cut.complete).toBe(false);
    expect(cut.sessions).toEqual([]);
    expect(cut.warnings).toEqual([
      "line 4: cut off (Connected Since 'Thu Jun 18 04:' is not a time OpenVPN writes); ignored",
      'no END line: the text was cut off, or caught while OpenVPN was rewriting the file',
    ]);
    // Cut right after a complete row: the rows read so far are returned, flagged incomplete.
    const full = read('v2_ovpn2.5.1_netdata-go.d.plugin_version2_no-final-newline.status');
    const head = parseStatus(full.slice(0, full.indexOf('HEADER,ROUTING_TABLE')));
    expect([head.complete, head.sessions.length]).toEqual([false, 2]);
  });

  it('the unfinished last line is dropped even where it still reads', () => {
    // 2.2's layout ends with Connected Since (time_t): cut inside it, the row would still read, at a 1970 time.
    const full = read('v2_ovpn2.2.2_Plack-App-OpenVPN-Status_tap.status');
    const cut = parseStatus(full.slice(0, full.indexOf(',1354727397') + 6));
    expect([cut.complete, cut.sessions]).toEqual([false, []]);
    expect(cut.warnings).toEqual(['line 4: cut off (the text ends inside it); ignored', 'no END line: the text was cut off, or caught while OpenVPN was rewriting the file']);
  });

  it('a cut routing-table row that ends in a line break is the cut, not a broken file', () => {
    const full = read('v1_ovpn2.3-2.4_tonyseek-openvpn-status_iroute-tap-cached-routes_augmented.status');
    const s = parseStatus(`${full.slice(0, full.indexOf('192.168.255.126,bar') + 9)}\n`);
    expect(s.complete).toBe(false);
    expect(s.sessions.map((x) => x.virtualAddress)).toEqual(['192.168.255.134', '192.168.255.135', null, '192.168.255.118', null]);
    expect(s.warnings).toEqual(['no END line: the text was cut off, or caught while OpenVPN was rewriting the file', 'line 16: cut off (1 fields where the header has 4); ignored']);
  });
});

describe('fields that identify a session fail the read; fields that only inform keep the row', () => {
  const row = (real: string, bytes = '100', clientId = '7', peerId = '0', virtual = '10.8.0.2') =>
    `CLIENT_LIST,alice,${real},${virtual},,${bytes},200,2026-11-28 09:00:00,1795856400,UNDEF,${clientId},${peerId},AES-256-GCM`;

  it('a real address in a form vpnwatch does not know: kept as written, with a warning, under a stable key', () => {
    // A future protocol prefix, and an address someone wrapped in brackets.
    const first = parseStatus(v2(row('quic4:203.0.113.5:52137'), row('[203.0.113.5]:4000'), row('198.51.100.9:1')));
    expect(first.sessions.map((s) => [s.realAddress, s.realPort, s.protocol, s.virtualAddress])).toEqual([
      ['quic4:203.0.113.5:52137', null, null, '10.8.0.2'], ['[203.0.113.5]:4000', null, null, '10.8.0.2'], ['198.51.100.9', 1, null, '10.8.0.2'],
    ]);
    expect(first.warnings).toEqual([
      "line 4: Real Address 'quic4:203.0.113.5:52137' is not an address form vpnwatch knows; kept as written",
      "line 5: Real Address '[203.0.113.5]:4000' is not an address form vpnwatch knows; kept as written",
    ]);
    // The next read, counters grown: the same sessions.
    const next = parseStatus(v2(row('quic4:203.0.113.5:52137', '900'), row('[203.0.113.5]:4000', '900'), row('198.51.100.9:1', '900')));
    expect(next.sessions.map(sessionKey)).toEqual(first.sessions.map(sessionKey));
  });

  it('username and cipher are read per row (UNDEF is none)', () => {
    const s = parseStatus(v2(
      'CLIENT_LIST,a,198.51.100.9:1,10.8.0.2,,1,2,2026-11-28 09:00:00,1795856400,alice,7,0,AES-256-GCM',
      'CLIENT_LIST,b,198.51.100.9:2,10.8.0.3,,1,2,2026-11-28 09:00:00,1795856400,UNDEF,8,1,AES-128-GCM',
      'CLIENT_LIST,c,198.51.100.9:3,10.8.0.4,,1,2,2026-11-28 09:00:00,1795856400,undef,9,2,',
    ));
    expect(s.sessions.map((x) => [x.username, x.cipher])).toEqual([['alice', 'AES-256-GCM'], [null, 'AES-128-GCM'], ['undef', null]]);
  });

  it('an unreadable Client ID or Peer ID: none, with a warning', () => {
    const s = parseStatus(v2(row('198.51.100.9:1', '100', 'x7', '-1')));
    expect([s.sessions[0]!.clientId, s.sessions[0]!.peerId]).toEqual([null, null]);
    expect(s.warnings).toEqual(["line 4: Client ID 'x7' is not a number; read as none", "line 4: Peer ID '-1' is not a number; read as none"]);
  });

  it('an unreadable virtual address, a short row or an unreadable byte counter fails the read, naming the line', () => {
    expect(refusal(v2(row('198.51.100.9:1', '100', '7', '0', '10.8.0.two'))).message).toBe("line 4: Virtual Address '10.8.0.two' is not an address");
    expect(refusal(v2('CLIENT_LIST,alice,198.51.100.9:1,10.8.0.2,,100,200,2026-11-28 09:00:00,1795856400,UNDEF,7,0')).message).toBe('line 4: 11 fields where the header has 12');
    // Counters are the diff's evidence that an instance is the same one (they never go back): no guessing.
    expect(refusal(v2(row('198.51.100.9:1', '1e6'))).message).toBe("line 4: Bytes Received '1e6' is not a number");
  });

  it('connected-since identifies the instance: time_t, else the text with a warning, else the read fails', () => {
    const textOnly = parseStatus(v2('CLIENT_LIST,alice,198.51.100.9:1,10.8.0.2,,1,2,2026-11-28 09:00:00,17958564OO,UNDEF,7,0,AES-256-GCM'), { timezone: 'Europe/Berlin' });
    expect(textOnly.sessions[0]!.connectedAt).toBe('2026-11-28T08:00:00.000Z');
    expect(textOnly.warnings).toEqual(["line 4: Connected Since (time_t) '17958564OO' is not a number; read from Connected Since"]);
    expect(refusal(v2('CLIENT_LIST,alice,198.51.100.9:1,10.8.0.2,,1,2,yesterday,17958564OO,UNDEF,7,0,AES-256-GCM')).message).toBe("line 4: Connected Since 'yesterday' is not a time OpenVPN writes");
    expect(refusal(v1('2026-11-28 10:00:00', ['alice,198.51.100.9:1,1,2,2026-11-28 09:00'])).message).toBe("line 4: Connected Since '2026-11-28 09:00' is not a time OpenVPN writes");
  });
});

describe('one common name at one address without a port (OpenVPN 2.4.0-2.4.6 v4-mapped, IPv6 before 2.7)', () => {
  it('v1: both sessions, distinct keys; routes assigned in order with a warning', () => {
    const s = parse('handmade/v1_ovpn2.4.0-2.4.6_dup-cn-without-port.status');
    expect(s.sessions.map((x) => [x.commonName, x.realAddress, x.realPort, x.virtualAddress, x.connectedAt])).toEqual([
      ['bob', '198.51.100.20', null, '10.8.0.10', '2019-03-12T09:01:44.000Z'],
      ['alice', '2001:db8:5::17', null, '10.8.0.6', '2019-03-12T09:30:00.000Z'],
      ['bob', '198.51.100.20', null, '10.8.0.14', '2019-03-12T10:02:19.000Z'],
      ['alice', '2001:db8:5::17', null, null, '2019-03-12T10:14:58.000Z'], // no route yet: not online
      ['carol', '198.51.100.21', null, '10.8.0.18', '2019-03-12T10:10:00.000Z'],
    ]);
    expect(new Set(s.sessions.map(sessionKey)).size).toBe(5);
    expect(s.warnings).toEqual([
      "lines 4, 6: 2 sessions of 'bob' at 198.51.100.20 without a port; the ROUTING TABLE cannot tell whose address is whose: assigned in order (10.8.0.10 to line 4, 10.8.0.14 to line 6)",
      "lines 5, 7: 2 sessions of 'alice' at 2001:db8:5::17 without a port; the ROUTING TABLE cannot tell whose address is whose: assigned in order (10.8.0.6 to line 5, none to line 7)",
    ]);
  });

  it('v3: each session keeps the addresses its own row lists; nothing to guess, no warning', () => {
    const s = parse('handmade/v3_ovpn2.4.0-2.4.6_dup-cn-without-port.status');
    expect(s.sessions.map((x) => [x.commonName, x.clientId, x.virtualAddress, x.virtualIpv6])).toEqual([
      ['bob', 4, '10.8.0.10', null], ['alice', 5, null, 'fd00:8::1000'], ['bob', 9, '10.8.0.14', null], ['alice', 11, null, null],
    ]);
    expect(new Set(s.sessions.map(sessionKey)).size).toBe(4);
    expect(s.warnings).toEqual([]);
  });

  it("v2: a routing row of a session that lists its address itself is not given to its twin", () => {
    // bob's second session is still authenticating (no address yet); the row for 10.8.0.10 is the first's.
    const text = v2(
      'CLIENT_LIST,bob,198.51.100.20,10.8.0.10,,1,2,2019-03-12 09:01:44,1552381304,UNDEF,4,0,AES-256-GCM',
      'CLIENT_LIST,bob,198.51.100.20,,,3,4,2019-03-12 10:14:58,1552385698,UNDEF,11,1,AES-256-GCM',
    ).replace('GLOBAL_STATS', 'ROUTING_TABLE,10.8.0.10,bob,198.51.100.20,2019-03-12 10:15:01,1552385701\nGLOBAL_STATS');
    const s = parseStatus(text);
    expect(s.sessions.map((x) => x.virtualAddress)).toEqual(['10.8.0.10', null]);
    expect(s.warnings).toEqual([]);
  });

  it('the key tells them apart by when they connected; rows alike in that too are named', () => {
    const s = parseStatus(v1('2019-03-12 10:15:02', ['bob,198.51.100.20,1,2,2019-03-12 09:01:44', 'bob,198.51.100.20,3,4,2019-03-12 09:01:44']));
    expect(s.sessions).toHaveLength(2);
    expect(s.warnings).toEqual(['line 5: same common name, real address and connected-since as line 4; vpnwatch cannot tell these sessions apart and counts them as one']);
  });
});

describe('a byte-order mark', () => {
  const files = ['', 'excerpts/', 'handmade/'].flatMap((dir) => fs.readdirSync(path.join(fixtureDir, dir)).filter((f) => /\.(status|txt)$/.test(f)).map((f) => dir + f));
  it.each(files)('changes nothing in %s', (file) => {
    const text = read(file);
    let plain: unknown;
    let bom: unknown;
    try { plain = parseStatus(text); } catch (err) { plain = (err as Error).message; }
    try { bom = parseStatus(`\uFEFF${text}`); } catch (err) { bom = (err as Error).message; }
    expect(bom).toEqual(plain);
  });
});

describe('lines longer than OpenVPN can write', () => {
  const withName = (name: string) => v2(`CLIENT_LIST,${name},198.51.100.9:1,10.8.0.2,,1,2,2026-11-28 09:00:00,1795856400,UNDEF,7,0,AES-256-GCM`);
  const rowLength = (name: string) => Buffer.byteLength(withName(name).split('\n')[3]!);

  it(`are refused: OpenVPN writes at most ${OPENVPN_MAX_LINE_BYTES} bytes per line`, () => {
    const base = rowLength('');
    const fits = 'a'.repeat(OPENVPN_MAX_LINE_BYTES - base);
    expect(parseStatus(withName(fits)).sessions[0]!.commonName).toBe(fits);
    const over = `${fits}b`;
    expect(refusal(withName(over)).message).toBe(`line 4: 512 bytes long; OpenVPN writes at most 511 bytes per status line, so this is not its output`);
    // Bytes, not characters: 'é' is two bytes in UTF-8.
    const accented = 'é'.repeat(Math.ceil((OPENVPN_MAX_LINE_BYTES - base + 1) / 2));
    expect(refusal(withName(accented)).code).toBe('malformed');
  });

  it('a row of 20,000 commas is refused at once', () => {
    const err = refusal(withName(`x${','.repeat(20_000)}y`));
    expect(err.message).toMatch(/^line 4: 20\d{3} bytes long; OpenVPN writes at most 511 bytes/);
  });

  it('commas up to the limit, in the common name and the username, are placed', () => {
    const name = Array.from({ length: 50 }, (_, i) => `n${i}`).join(',');
    const user = Array.from({ length: 50 }, (_, i) => `u${i}`).join(',');
    const s = parseStatus(v2(`CLIENT_LIST,${name},198.51.100.9:1,10.8.0.2,,1,2,2026-11-28 09:00:00,1795856400,${user},7,0,AES-256-GCM`));
    expect([s.sessions[0]!.commonName, s.sessions[0]!.username, s.sessions[0]!.clientId]).toEqual([name, user, 7]);
  });
});

describe('local times in a status file', () => {
  it("a repeated Updated time (clocks went back): the occurrence nearest the reader's clock, with a warning", () => {
    const text = v1('Sun Nov  3 01:30:00 2024', ['alice,198.51.100.9:1,1,2,Sun Nov  3 01:10:00 2024', 'bob,198.51.100.10:1,1,2,Sun Nov  3 02:30:00 2024'], ['10.8.0.2,alice,198.51.100.9:1,Sun Nov  3 01:29:00 2024']);
    const second = parseStatus(text, { timezone: 'America/New_York', now: new Date('2024-11-03T06:30:04Z') });
    expect(second.updatedAt).toBe('2024-11-03T06:30:00.000Z');
    const first = parseStatus(text, { timezone: 'America/New_York', now: new Date('2024-11-03T05:30:04Z') });
    expect(first.updatedAt).toBe('2024-11-03T05:30:00.000Z');
    expect(second.warnings[0]).toBe("line 2: Updated 'Sun Nov  3 01:30:00 2024' happened twice in America/New_York (clocks went back), at 05:30:00Z and 06:30:00Z; read as the one nearest the reader's clock, 2024-11-03T06:30:00.000Z");
    // Connected Since: the first occurrence, whatever the clock (a session's key must not change
    // when the file's own time moves on). 02:30 exists once: 07:30Z.
    expect(second.sessions.map((s) => s.connectedAt)).toEqual(['2024-11-03T05:10:00.000Z', '2024-11-03T07:30:00.000Z']);
    expect(second.warnings[1]).toBe("line 4: Connected Since 'Sun Nov  3 01:10:00 2024' happened twice in America/New_York (clocks went back), at 05:10:00Z and 06:10:00Z; read as the first, 2024-11-03T05:10:00.000Z");
    expect(second.warnings).toHaveLength(2);
    // Without a clock (vpnwatch parse): the first.
    expect(parseStatus(text, { timezone: 'America/New_York' }).updatedAt).toBe('2024-11-03T05:30:00.000Z');
  });

  it('a time that never happened (clocks went forward) is read at the offset before, with a warning asking about the zone', () => {
    const s = parseStatus(v1('Sun Mar 31 03:10:00 2024', ['alice,198.51.100.9:1,1,2,Sun Mar 31 02:30:00 2024']), { timezone: 'Europe/Berlin' });
    expect([s.updatedAt, s.sessions[0]!.connectedAt]).toEqual(['2024-03-31T01:10:00.000Z', '2024-03-31T01:30:00.000Z']);
    expect(s.warnings).toEqual(["line 4: Connected Since 'Sun Mar 31 02:30:00 2024' never happened in Europe/Berlin (clocks jumped from +01:00 to +02:00); read at +01:00 as 2024-03-31T01:30:00.000Z: is the server's timezone right?"]);
  });

  it('a TIME line without its seconds is read from its text', () => {
    const s = parseStatus(v2().replace('TIME,2026-11-28 10:00:00,1795860000', 'TIME,2026-11-28 10:00:00'), { timezone: 'Asia/Kathmandu' });
    expect(s.updatedAt).toBe('2026-11-28T04:15:00.000Z');
  });
});

describe('warnings', () => {
  it('per-row warnings are bounded: the first 50, then a count', () => {
    const rows = Array.from({ length: 200 }, (_, i) => `CLIENT_LIST,c${i},odd-${i},10.8.${i >> 8}.${i & 255},,1,2,2026-11-28 09:00:00,1795856400,UNDEF,${i},0,AES-256-GCM`);
    const s = parseStatus(v2(...rows));
    expect(s.sessions).toHaveLength(200);
    expect(s.warnings).toHaveLength(51);
    expect(s.warnings[50]).toBe('and 150 more warning(s) like the above');
  });
});

const FIELDS = ['commonName', 'username', 'realAddress', 'realPort', 'protocol', 'virtualAddress', 'virtualIpv6', 'bytesReceived', 'bytesSent', 'connectedAt', 'clientId', 'peerId', 'cipher'] as const;
type Row = [string, string | null, string, number | null, string | null, string | null, string | null, number, number, string, number | null, number | null, string | null];
const session = (row: Row): VpnSession => Object.fromEntries(FIELDS.map((f, i) => [f, f === 'connectedAt' ? (row[i] as string).replace('Z', '.000Z') : row[i]])) as unknown as VpnSession;

// Every OpenVPN fixture either parses to what a reader of it sees (in UTC), or is refused for a stated reason.
const refused: Record<string, string> = {
  'clientmode_ovpn2.5+_rsdenck-nux_iso-date.status': 'client-mode',
  'clientmode_ovpn2.5.1_netdata-go.d.plugin_static-key.status': 'client-mode',
  'clientmode_ovpn2.x_kumina-openvpn_exporter_client.status': 'client-mode',
  'mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_load-stats_CRLF.txt': 'not-status',
  'mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_state_CRLF.txt': 'not-status',
  'mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_version_CRLF.txt': 'not-status',
  'mgmt_ovpn2.3.4_netdata-go.d.plugin_load-stats.txt': 'not-status',
  'mgmt_ovpn2.3.4_netdata-go.d.plugin_version.txt': 'not-status',
  'mgmt_ovpn2.6.9_jkroepke-openvpn-auth-oauth2_help.txt': 'not-status',
  'mgmt_ovpn2.x_sivansha-OpenVPN-Daeom_README_telnet-kill-by-cn-transcript.txt': 'not-status',
  'v1_ovpn2.3-dualstack_patrickjahns-openvpn_exporter_duplicate_UNDEF_edited.status': 'not-status', // its ROUTING TABLE was removed by hand
  'v3_ovpn2.4.4_XayOn-pivpn-docker_TABS-EXPANDED-TO-SPACES.status': 'malformed',
  'v3_ovpn2.5.5_netdata-go.d.plugin_status_version_3_HAND-EDITED-broken.status': 'malformed',
};
const empty: Record<string, string> = {
  'mgmt_ovpn2.6.9_jkroepke-openvpn-auth-oauth2_status-default-v1_empty.txt': 'openvpn-status-v1',
  'mgmt_ovpn2.6.9_jkroepke-openvpn-auth-oauth2_status2_empty_dco-line.txt': 'openvpn-status-v2',
  'mgmt_ovpn2.6.9_jkroepke-openvpn-auth-oauth2_status3_empty_dco-line.txt': 'openvpn-status-v3',
  'v1_ovpn2.4_LSK-01-rpi-vpn_empty.status': 'openvpn-status-v1',
  'v1_ovpn2.5+_ignaciograsso-redes-openvpn_empty_iso-date.status': 'openvpn-status-v1',
  'v1_ovpn2.5.1_netdata-go.d.plugin_empty.status': 'openvpn-status-v1',
  'v2_ovpn2.4.7_Remyis-autoscript_empty.status': 'openvpn-status-v2',
  'v2_ovpn2.5.1_netdata-go.d.plugin_empty.status': 'openvpn-status-v2',
  'v3_ovpn2.5.1_netdata-go.d.plugin_empty.status': 'openvpn-status-v3',
  'v1_synthetic_tonyseek-openvpn-status_broken7_truncated-midline.status': 'openvpn-status-v1', // cut inside its only row: no END
};
const incomplete = new Set(['v1_synthetic_tonyseek-openvpn-status_broken7_truncated-midline.status']);
// Fields: commonName, username, realAddress, realPort, protocol, virtualAddress, virtualIpv6,
// bytesReceived, bytesSent, connectedAt, clientId, peerId, cipher. Checked against each file by eye.
const sessions: Record<string, Row[]> = {
  'excerpts/mgmt_ovpn2.7_OpenVPN-issue889_status3_udp6-prefix.txt': [
    ['cron2-freebsd-tc-amd64', 'MyTokenUser', '2001:608:4:0:c56c:9345:deeb:fa45', 55296, 'udp6', '10.204.2.6', 'fd00:abcd:204:2::1000', 27413, 25963, '2025-10-31T09:56:32Z', 47, 1, 'AES-256-GCM'],
    ['freebsd-14-amd64', 'MyTokenUser', '194.97.140.5', 17399, 'udp6', '10.204.2.46', 'fd00:abcd:204:2::100a', 30076, 28777, '2025-10-31T09:24:39Z', 46, 0, 'AES-256-GCM'],
  ],
  'excerpts/v2_ovpn2.6.14_OpenVPN-issue963_ipv6-pool_dup-cn.status': [
    ['vpn-client-0', null, '192.168.100.3', 52956, null, null, 'fd8f:6d53:b97a:1::100:3', 4167, 6158, '2026-01-24T14:47:28Z', 1, 1, 'AES-256-GCM'],
    ['vpn-client-0', null, '10.10.0.2', 38492, null, null, 'fd8f:6d53:b97a:1::100:4', 4081, 5862, '2026-01-24T14:47:28Z', 2, 2, 'AES-256-GCM'],
    ['vpn-client-0', null, '192.168.100.2', 49434, null, null, 'fd8f:6d53:b97a:1::100:2', 4073, 6502, '2026-01-24T14:47:27Z', 0, 0, 'AES-256-GCM'],
  ],
  'excerpts/v2_ovpn2.8git_OpenVPN-issue1063_tcp6-server-prefix_iroutes.status': [
    ['vpn-client-0', null, '192.168.100.2', 55384, 'tcp6-server', null, 'fd8f:6d53:b97a:1::100:2', 4801, 6571, '2026-06-25T08:54:52Z', 0, 0, 'AES-256-GCM'],
  ],
  'handmade/v1_comma-in-common-name.status': [
    ['AAA, Uwe', null, '195.88.116.10', 1194, null, '10.8.0.6', null, 17_772_500, 45_501_199, '2018-03-09T05:41:16Z', null, null, null],
    ['Doe, John, Jr.', null, '198.51.100.7', 40001, null, '10.8.0.10', null, 1200, 3400, '2018-03-09T05:50:00Z', null, null, null],
  ],
  'handmade/v1_ovpn2.4.0-2.4.6_dup-cn-without-port.status': [
    ['bob', null, '198.51.100.20', null, null, '10.8.0.10', null, 10250, 8830, '2019-03-12T09:01:44Z', null, null, null],
    ['alice', null, '2001:db8:5::17', null, null, '10.8.0.6', null, 5120, 9001, '2019-03-12T09:30:00Z', null, null, null],
    ['bob', null, '198.51.100.20', null, null, '10.8.0.14', null, 52001, 43122, '2019-03-12T10:02:19Z', null, null, null],
    ['alice', null, '2001:db8:5::17', null, null, null, null, 880, 760, '2019-03-12T10:14:58Z', null, null, null],
    ['carol', null, '198.51.100.21', null, null, '10.8.0.18', null, 100, 200, '2019-03-12T10:10:00Z', null, null, null],
  ],
  'handmade/v2_comma-in-common-name-and-username.status': [
    ['Smith, Anna', null, '203.0.113.9', 50000, null, '10.8.0.2', null, 100, 200, '2026-11-28T09:00:00Z', 3, 0, 'AES-256-GCM'],
    ['ops-laptop', 'Lee, Bo', '203.0.113.10', 50001, null, '10.8.0.3', null, 300, 400, '2026-11-28T09:30:00Z', 4, 1, 'AES-256-GCM'],
  ],
  'handmade/v3_ovpn2.4.0-2.4.6_dup-cn-without-port.status': [
    ['bob', null, '198.51.100.20', null, null, '10.8.0.10', null, 10250, 8830, '2019-03-12T09:01:44Z', 4, 0, null],
    ['alice', null, '2001:db8:5::17', null, null, null, 'fd00:8::1000', 5120, 9001, '2019-03-12T09:30:00Z', 5, 1, null],
    ['bob', null, '198.51.100.20', null, null, '10.8.0.14', null, 52001, 43122, '2019-03-12T10:02:19Z', 9, 2, null],
    ['alice', null, '2001:db8:5::17', null, null, null, null, 880, 760, '2019-03-12T10:14:58Z', 11, 3, null],
  ],
  'handmade/v3_ovpn2.7_protocol-prefixes.status': [
    ['alice', null, '203.0.113.5', 52137, 'udp4', '10.8.0.2', null, 1000, 2000, '2026-02-22T01:00:00Z', 5, 0, 'AES-256-GCM'],
    ['bob', null, '127.0.0.1', 53188, 'tcp4-server', '10.8.0.3', null, 1001, 2001, '2026-02-22T01:00:01Z', 6, 1, 'AES-256-GCM'],
    ['carol', null, '2001:db8::7', 55296, 'udp6', '10.8.0.4', 'fd00::1000', 1002, 2002, '2026-02-22T01:00:02Z', 7, 2, 'CHACHA20-POLY1305'],
    ['dave', null, '194.97.140.5', 17399, 'udp6', '10.8.0.5', 'fd00::1001', 1003, 2003, '2026-02-22T01:00:03Z', 8, 3, 'AES-128-GCM'],
  ],
  'mgmt_ovpn2.3.10_furlongm-openvpn-monitor_listen-py_status3_CRLF_ipv6-and-v4mapped.txt': [
    ['furlongm', 'furlongm', '::ffff:59.167.120.210', null, null, '10.10.10.6', null, 369_528, 1_216_150, '2016-03-23T10:40:15Z', null, null, null],
    ['furlongm', 'furlongm', '59.167.120.211', 12345, null, '10.10.10.7', null, 12345, 11615, '2016-03-23T10:41:55Z', null, null, null],
    ['furlongm', 'furlongm', '2001:4860:4801:3::20', null, null, '10.10.10.8', null, 12345, 11615, '2016-03-23T10:43:35Z', null, null, null],
  ],
  'mgmt_ovpn2.3.4_netdata-go.d.plugin_status3_with-interleaved-CLIENT-ESTABLISHED.txt': [
    ['pepehome', 'pepe', '1.2.3.4', 44347, null, '10.9.0.5', null, 6043, 5661, '2019-04-16T18:31:05Z', null, null, null],
  ],
  'v1_ovpn2.1-2.2_leosat-gwctl_tap-mac-route.status': [
    ['srv1.xlhost', null, '173.45.69.194', 1208, null, '00:ff:f6:e4:83:19', null, 8_604_376, 1_420_392, '2011-02-21T09:34:45Z', null, null, null],
  ],
  'v1_ovpn2.2.2_Plack-App-OpenVPN-Status_tap.status': [
    ['cadvecisvo', null, '1.2.3.4', 4751, null, '00:ff:de:ad:be:ef', null, 1_182_181, 21_248_731, '2012-12-04T11:00:41Z', null, null, null],
  ],
  'v1_ovpn2.3-2.4_technick333-open_vpn_leading-space-cn_dup-cn_64bit-counters.status': [
    ['mikrotik', null, '95.66.182.68', 48645, null, '10.8.0.14', null, 2_640_853_425, 21_555_952_983, '2017-05-11T00:46:10Z', null, null, null],
    [' vstavrinov', null, '83.220.41.124', 50254, null, '10.8.0.38', null, 528_824_245, 4_518_126_108, '2017-05-11T10:31:27Z', null, null, null],
    ['abudik', null, '78.107.162.5', 8233, null, '10.8.0.10', null, 558_044, 458_169, '2017-05-22T01:02:19Z', null, null, null],
    ['mikrotik', null, '83.220.41.124', 56333, null, '10.8.0.6', null, 3_472_230_480, 21_118_504_133, '2017-05-05T10:38:18Z', null, null, null],
    ['pbobrovnikov', null, '95.31.40.180', 55760, null, '10.8.0.18', null, 10_349_133, 10_837_529, '2017-05-18T14:03:53Z', null, null, null],
    ['nlebedenko', null, '83.220.41.124', 48660, null, '10.8.0.30', null, 570_869_207, 2_064_294_205, '2017-05-08T13:45:27Z', null, null, null],
  ],
  'v1_ovpn2.3-2.4_tonyseek-openvpn-status_iroute-tap-cached-routes_augmented.status': [
    ['foo@example.com', null, '10.10.10.10', 49502, null, '192.168.255.134', null, 334_948, 1_973_012, '2015-06-18T04:23:03Z', null, null, null],
    ['foo@example.com', null, '10.10.10.10', 49503, null, '192.168.255.135', null, 334_948, 1_973_012, '2015-06-18T04:23:03Z', null, null, null],
    ['bar@example.com', null, '10.10.10.10', 64169, null, '192.168.255.126', null, 1_817_262, 28_981_224, '2015-06-18T04:08:39Z', null, null, null],
    ['baz@example.com', null, '10.10.10.10', 63414, null, '192.168.255.118', null, 111_183, 1_202_203, '2015-06-18T07:57:25Z', null, null, null],
    ['tap@example.com', null, '10.0.0.100', 55712, null, '22:1d:63:bf:62:38', null, 0, 0, '2017-10-19T20:14:19Z', null, null, null],
  ],
  'v1_ovpn2.3_bajensen-php-openvpn-status_5-clients.status': [
    ['fox', null, '45.56.27.101', 56845, null, '192.168.250.16', null, 180_385, 203_781, '2016-07-25T03:19:10Z', null, null, null],
    ['piii', null, '75.162.210.48', 50048, null, '192.168.250.2', null, 1_018_035, 660_587, '2016-07-24T20:13:33Z', null, null, null],
    ['giraffe', null, '45.56.27.101', 49580, null, '192.168.250.4', null, 11704, 21964, '2016-07-25T12:10:59Z', null, null, null],
    ['aws', null, '54.186.235.15', 42003, null, '192.168.250.8', null, 535_713, 543_220, '2016-07-24T12:37:07Z', null, null, null],
    ['zebra', null, '75.162.210.48', 49716, null, '192.168.250.12', null, 75_198_601, 7_380_369, '2016-07-24T12:37:08Z', null, null, null],
  ],
  'v1_ovpn2.3_dannluciano-vpnweb_same-ip-two-clients.status': [
    ['dl-iphone', null, '200.217.145.198', 56455, null, '10.8.0.14', null, 6360, 9017, '2016-06-26T11:36:26Z', null, null, null],
    ['dl-macbook', null, '200.217.145.198', 55673, null, '10.8.0.10', null, 96453, 174_110, '2016-06-26T11:32:07Z', null, null, null],
  ],
  'v1_ovpn2.4_AntLer-24rus-ovpn-stat_6-clients_iroutes_cached-C_same-nat-ip_seconds-60.status': [
    ['AntLer-Work', null, '171.33.249.181', 20707, null, '10.8.0.2', null, 84_070_103, 379_390_071, '2019-07-04T14:37:00Z', null, null, null],
    ['AptekaGa', null, '212.188.44.38', 16025, null, '10.8.0.13', null, 4_020_640, 9_212_019, '2019-07-11T07:43:19Z', null, null, null],
    ['AntLer-VXP', null, '193.218.138.77', 32286, null, '10.8.0.3', null, 203_938, 306_655, '2019-07-11T13:23:21Z', null, null, null],
    ['AptekaAvt', null, '212.188.44.38', 16026, null, '10.8.0.17', null, 5_242_996, 1_870_002, '2019-07-11T07:45:18Z', null, null, null],
    ['AntLer-Router', null, '194.186.248.187', 13555, null, '10.8.0.4', null, 33_769_649, 10_067_708, '2019-07-04T14:37:00Z', null, null, null],
    ['AptekaKo', null, '212.188.44.38', 13555, null, '10.8.0.14', null, 4_049_039, 2_227_707, '2019-07-11T07:20:25Z', null, null, null],
  ],
  'v1_ovpn2.4_patrickjahns-openvpn_exporter_version1.status': [
    ['user1', null, '1.2.3.4', 60102, null, null, null, 7_883_858, 7_762_340, '2020-04-22T12:36:42Z', null, null, null],
    ['user2', null, '1.2.3.5', 50976, null, null, null, 1_673_200, 2_065_632, '2020-04-22T12:36:52Z', null, null, null],
    ['user3@test.de', null, '1.2.3.6', 57688, null, '10.240.37.214', null, 19_602_844, 23_599_532, '2020-04-22T12:42:45Z', null, null, null],
    ['user4', null, '1.2.3.7', 40832, null, '10.240.1.222', null, 582_207, 575_193, '2020-04-22T12:36:54Z', null, null, null],
  ],
  'v1_ovpn2.5+_kogonia-openvpn_exporter_iso-date_trailing-junk-after-END.status': [
    ['cn_1', null, '192.168.0.1', 62211, null, '172.21.110.42', null, 1, 2, '2022-03-05T17:34:22Z', null, null, null],
    ['cn_2', null, '192.168.0.2', 7609, null, '172.21.110.38', null, 10, 20, '2022-03-05T17:19:48Z', null, null, null],
    ['cn_3', null, '192.168.0.3', 31681, null, '172.21.110.26', null, 100, 200, '2022-03-05T14:51:18Z', null, null, null],
  ],
  'v1_ovpn2.5.1_netdata-go.d.plugin_version1_no-final-newline.status': [
    ['vpnclient', null, '10.10.10.107', 46195, null, '10.8.0.10', null, 3084, 3185, '2022-07-08T15:14:42Z', null, null, null],
    ['vpnclient2', null, '10.10.10.50', 51275, null, '10.8.0.6', null, 3084, 3184, '2022-07-08T15:14:41Z', null, null, null],
  ],
  'v1_ovpn2.5.5_netdata-go.d.plugin_status_version_1.status': [
    ['gofle', null, '192.168.122.135', 58999, null, '10.8.0.2', null, 19265, 261_631, '2022-04-17T00:33:19Z', null, null, null],
    ['client_bsd2', null, '192.168.122.136', 11445, null, '10.8.0.3', null, 2752, 3545, '2022-04-17T00:33:04Z', null, null, null],
  ],
  'v2_ovpn2.2.2_Plack-App-OpenVPN-Status_tap.status': [
    ['cadvecisvo', null, '1.2.3.4', 4449, null, '10.6.6.10', null, 758_510, 7_322_678, '2012-12-05T17:09:57Z', null, null, null],
  ],
  'v2_ovpn2.3.2_kumina-openvpn_exporter_server2_redacted.status': [
    ['redacted1', null, '0.0.0.0', 19021, null, '0.0.0.0', null, 693_438_277, 228_390_856, '2017-03-16T16:09:03Z', null, null, null],
    ['redacted2', null, '0.0.0.0', 60536, null, '0.0.0.0', null, 2_925_752, 3_145_665, '2017-03-16T16:08:57Z', null, null, null],
    ['redacted3', null, '0.0.0.0', 28331, null, '0.0.0.0', null, 57_316_467, 611_736_741, '2017-03-16T16:08:57Z', null, null, null],
    ['redacted4', null, '0.0.0.0', 52335, null, '0.0.0.0', null, 24_289_622_392, 70_914_674_697, '2017-03-17T10:16:29Z', null, null, null],
    ['redacted5', null, '0.0.0.0', 51865, null, '0.0.0.0', null, 277_017_840, 1_544_465_106, '2017-03-16T16:09:01Z', null, null, null],
  ],
  'v2_ovpn2.4.11_albandes-openvpn_shell-prompt-first-line.status': [
    ['quintana', null, '177.22.164.125', 37285, null, '10.8.0.4', null, 174_545, 185_957, '2022-05-04T23:22:35Z', 0, 0, null],
    ['server-mysql', null, '172.31.59.150', 45954, null, '10.8.0.50', null, 250_127, 263_801, '2022-05-04T23:22:40Z', 2, 0, null],
    ['albandes', null, '179.189.138.0', 59214, null, '10.8.0.2', null, 34948, 35690, '2022-05-05T00:01:42Z', 3, 0, null],
  ],
  'v2_ovpn2.4.4_patrickjahns-openvpn_exporter_version2_username.status': [
    ['test@localhost', 'test@localhost', '1.2.3.4', 54190, null, '10.80.0.65', null, 3860, 3688, '2020-04-30T13:55:38Z', 0, 0, null],
    ['test1@localhost', 'test1@localhost', '1.2.3.5', 51053, null, '10.68.0.25', null, 3871, 3924, '2020-04-30T13:55:40Z', 1, 1, null],
  ],
  'v2_ovpn2.4.7_sergentum-OpenVPN-Stats.status': [
    ['rasim', null, '109.197.207.161', 14790, null, '10.8.0.6', null, 104_767, 174_078, '2023-02-01T15:27:30Z', 0, 0, null],
    ['stepy', null, '94.25.228.59', 48592, null, '10.8.0.4', null, 164_960, 748_468, '2023-02-01T15:59:06Z', 3, 1, null],
  ],
  'v2_ovpn2.5.1_cmur2-openvpn-status-web_handmade.status': [
    ['foo', null, '1.2.3.4', 1234, null, '192.168.66.2', null, 11_811_160_064, 4_194_304, '2009-04-02T19:58:50Z', 1, 0, 'AES-256-GCM'],
  ],
  'v2_ovpn2.5.1_netdata-go.d.plugin_version2_no-final-newline.status': [
    ['vpnclient2', null, '10.10.10.50', 38535, null, '10.8.0.6', null, 3157, 3184, '2022-07-08T12:05:09Z', 0, 0, 'AES-256-GCM'],
    ['vpnclient', null, '10.10.10.107', 50026, null, '10.8.0.10', null, 3084, 3185, '2022-07-08T12:05:10Z', 1, 1, 'AES-256-GCM'],
  ],
  'v2_ovpn2.5.5_netdata-go.d.plugin_status_version_2.status': [
    ['gofle', null, '192.168.122.135', 59523, null, '10.8.0.2', null, 19265, 261_631, '2022-03-31T08:47:34Z', 10, 0, 'AES-128-GCM'],
    ['client_bsd2', null, '192.168.122.136', 20053, null, '10.8.0.3', null, 2752, 3545, '2022-04-16T21:02:39Z', 0, 0, 'AES-128-GCM'],
  ],
  'v3_ovpn2.2.2_Plack-App-OpenVPN-Status_tap.status': [
    ['cadvecisvo', null, '1.2.3.4', 4944, null, '10.6.6.10', null, 1_266_504, 24_260_488, '2012-12-05T17:16:58Z', null, null, null],
  ],
  'v3_ovpn2.3.2_kumina-openvpn_exporter_server3_redacted.status': [
    ['redacted1', null, '0.0.0.0', 19021, null, '0.0.0.0', null, 693_438_277, 228_390_856, '2017-03-16T16:09:03Z', null, null, null],
    ['redacted2', null, '0.0.0.0', 60536, null, '0.0.0.0', null, 2_925_752, 3_145_665, '2017-03-16T16:08:57Z', null, null, null],
    ['redacted3', null, '0.0.0.0', 28331, null, '0.0.0.0', null, 57_316_467, 611_736_741, '2017-03-16T16:08:57Z', null, null, null],
    ['redacted4', null, '0.0.0.0', 52335, null, '0.0.0.0', null, 24_289_622_392, 70_914_674_697, '2017-03-17T10:16:29Z', null, null, null],
    ['redacted5', null, '0.0.0.0', 51865, null, '0.0.0.0', null, 277_017_840, 1_544_465_106, '2017-03-16T16:09:01Z', null, null, null],
  ],
  'v3_ovpn2.4.4_patrickjahns-openvpn_exporter_version3_username.status': [
    ['test@localhost', 'test@localhost', '1.2.3.4', 54190, null, '10.80.0.65', null, 3860, 3688, '2020-04-30T13:55:38Z', 0, 0, null],
    ['test1@localhost', 'test1@localhost', '1.2.3.5', 51053, null, '10.68.0.25', null, 3871, 3924, '2020-04-30T13:55:40Z', 1, 1, null],
  ],
  'v3_ovpn2.5.1_netdata-go.d.plugin_version3_no-final-newline.status': [
    ['vpnclient2', null, '10.10.10.50', 53856, null, '10.8.0.6', null, 3654, 3617, '2022-07-08T11:50:56Z', 0, 0, 'AES-256-GCM'],
    ['vpnclient', null, '10.10.10.107', 42132, null, '10.8.0.10', null, 3654, 3618, '2022-07-08T11:50:58Z', 1, 1, 'AES-256-GCM'],
  ],
};

describe('every fixture', () => {
  const files = ['', 'excerpts/', 'handmade/'].flatMap((dir) => fs.readdirSync(path.join(fixtureDir, dir)).filter((f) => /\.(status|txt)$/.test(f)).map((f) => dir + f)).sort();

  it('has an expectation here', () => {
    expect(files).toEqual([...Object.keys(refused), ...Object.keys(empty), ...Object.keys(sessions)].sort());
  });

  it.each(files)('%s', (file) => {
    if (refused[file]) {
      const err = refusal(read(file));
      expect(err.code).toBe(refused[file]);
      expect(err.line).toBeGreaterThan(0);
      return;
    }
    const s = parse(file);
    const name = path.basename(file);
    const format = empty[file] ?? (name.startsWith('mgmt_') ? 'openvpn-status-v3' : `openvpn-status-${name.slice(0, 2)}`);
    expect(s.format).toBe(format);
    expect(s.complete).toBe(!incomplete.has(file));
    expect(s.sessions).toEqual((sessions[file] ?? []).map(session));
  });
});

describe('isoFromEpochMs', () => {
  it('matches Date#toISOString across days, years and sub-second times', async () => {
    const { isoFromEpochMs } = await import('../src/openvpn/iso-time.ts');
    for (const ms of [0, 1000, 86_399_000, 86_400_000, 951_782_400_000 /* 2000-02-29 */, 1_700_000_000_000, 4_102_444_799_000, 1_700_000_000_123, -1000]) {
      expect(isoFromEpochMs(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
