// loadConfig: .env + servers file, validated, every problem at once with its file and key.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const PIN = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

function dir(files: Record<string, string> = {}): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-config-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  return d;
}

function problems(env: Record<string, string>, cwd: string): string[] {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('with nothing configured: demo mode, embedded database, defaults', () => {
    const cwd = dir();
    const c = loadConfig({}, cwd);
    expect(c).toMatchObject({
      demo: true, servers: [], dataDir: path.join(cwd, 'data'), serversFile: path.join(cwd, 'servers.yml'),
      poll: { intervalSeconds: 30, concurrency: 16, timeoutSeconds: 15, downAfter: 3 },
      web: { port: 8080, refreshSeconds: 5, showRealIps: false }, notices: { flapWindowSeconds: 60 }, logLevel: 'info',
    });
    expect(c.mongodbUri).toBeUndefined();
    expect(c.slack).toBeUndefined();
    expect(c.discord).toBeUndefined();
    expect(Object.isFrozen(c) && Object.isFrozen(c.poll)).toBe(true);
  });

  it('history, digest and alerts: defaults (alerts and the digest off), values, and what is wrong', () => {
    const off = loadConfig({}, dir());
    expect(off.history).toEqual({ minutesDays: 7, hoursDays: 400, retentionDays: 400 });
    expect(off.digest).toBeUndefined();
    expect(off.alerts).toEqual({ sharedAccountIps: null, dailyQuotaBytes: null, onlineDropPercent: null, onlineDropMinOnline: 10 });
    const on = loadConfig({ HISTORY_MINUTES_DAYS: '3', RETENTION_DAYS: '90', DIGEST_TIME: '08:30', DIGEST_TZ: 'Europe/Berlin', ALERT_SHARED_ACCOUNT_IPS: '2', ALERT_DAILY_QUOTA_GB: '1.5', ALERT_ONLINE_DROP_PERCENT: '50' }, dir());
    expect(on.history).toEqual({ minutesDays: 3, hoursDays: 400, retentionDays: 90 });
    expect(on.digest).toEqual({ time: '08:30', timezone: 'Europe/Berlin' });
    expect(on.alerts).toEqual({ sharedAccountIps: 2, dailyQuotaBytes: 1_500_000_000, onlineDropPercent: 50, onlineDropMinOnline: 10 });
    expect(problems({ DIGEST_TIME: '8.30', DIGEST_TZ: 'Mars/Olympus', ALERT_SHARED_ACCOUNT_IPS: '1', ALERT_DAILY_QUOTA_GB: '0', ALERT_ONLINE_DROP_PERCENT: '150', HISTORY_MINUTES_DAYS: '30', HISTORY_HOURS_DAYS: '10' }, dir())).toEqual([
      'environment: DIGEST_TIME: must be HH:MM (24-hour), such as 08:30',
      "environment: DIGEST_TZ: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin)",
      'environment: ALERT_SHARED_ACCOUNT_IPS: must be at least 2',
      'environment: ALERT_DAILY_QUOTA_GB: must be more than 0',
      'environment: ALERT_ONLINE_DROP_PERCENT: must be at most 100',
    ]);
    expect(problems({ HISTORY_MINUTES_DAYS: '30', HISTORY_HOURS_DAYS: '10' }, dir())).toEqual(['environment: HISTORY_HOURS_DAYS: must be at least HISTORY_MINUTES_DAYS (30): hours are rolled up from minutes']);
  });

  it('reads a servers file, resolving key paths and secrets from the environment', () => {
    const cwd = dir({
      'id_ed25519': 'key',
      'servers.yml': `servers:\n  - name: fra-1\n    host: 10.0.0.5\n    username: vpnwatch\n    privateKeyPath: id_ed25519\n    hostKey: ${PIN}\n    statusRefresh: 10\n    timezone: Europe/Berlin\n    management: { port: 7505, passwordEnv: FRA_MGMT }\n    notify: { slackChannel: C1 }\n  - name: ams-1\n    host: 10.0.0.6\n    username: root\n    passwordEnv: AMS_PW\n    insecureSkipHostKeyCheck: true\n`,
    });
    const c = loadConfig({ FRA_MGMT: 'mgmt-secret', AMS_PW: 'ssh-secret' }, cwd);
    expect(c.demo).toBe(false);
    expect(c.servers).toEqual([
      {
        name: 'fra-1', host: '10.0.0.5', port: 22, username: 'vpnwatch', privateKeyPath: path.join(cwd, 'id_ed25519'), hostKey: PIN,
        insecureSkipHostKeyCheck: false, statusPath: '/etc/openvpn/openvpn-status.log', statusRefreshSeconds: 10, timezone: 'Europe/Berlin',
        management: { mode: 'stream', host: '127.0.0.1', port: 7505, password: 'mgmt-secret' }, notify: { slackChannel: 'C1' },
      },
      {
        name: 'ams-1', host: '10.0.0.6', port: 22, username: 'root', password: 'ssh-secret', insecureSkipHostKeyCheck: true,
        statusPath: '/etc/openvpn/openvpn-status.log', statusRefreshSeconds: 60, timezone: 'UTC',
      },
    ]);
  });

  it('reports every problem at once, naming the file and the key', () => {
    const cwd = dir({
      'servers.yml': `servers:\n  - name: fra-1\n    host: 10.0.0.5\n    username: vpnwatch\n    privateKeyPath: missing_key\n    timezone: Mars/Olympus\n  - name: fra-1\n    host: ""\n    username: u\n    passwordEnv: NOT_SET\n    hostKey: SHA256:short\n    colour: blue\n`,
    });
    const file = path.join(cwd, 'servers.yml');
    const found = problems({ POLL_INTERVAL: '2', PORT: 'eighty', LOG_LEVEL: 'loud' }, cwd);
    expect(found).toEqual(expect.arrayContaining([
      'environment: POLL_INTERVAL: must be at least 5',
      'environment: PORT: must be a number',
      expect.stringMatching(/^environment: LOG_LEVEL: /),
      `${file}: servers[1].host: must not be empty`,
      expect.stringMatching(new RegExp(`^${file}: servers\\[1\\]\\.hostKey: must be a fingerprint like 'SHA256:'`)),
      expect.stringMatching(new RegExp(`^${file}: servers\\[1\\]: Unrecognized key: "colour"`)),
    ]));
    expect(found).toHaveLength(6);

    // With the schema errors fixed, the cross-field checks speak, all of them.
    const cwd2 = dir({ 'servers.yml': `servers:\n  - name: fra-1\n    host: 10.0.0.5\n    username: vpnwatch\n    privateKeyPath: missing_key\n    timezone: Mars/Olympus\n  - name: fra-1\n    host: h\n    username: u\n    passwordEnv: NOT_SET\n` });
    const file2 = path.join(cwd2, 'servers.yml');
    expect(problems({}, cwd2)).toEqual([
      `${file2}: servers[0] (fra-1).hostKey: required (pin the server's SHA256 fingerprint: run \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server, or \`vpnwatch check fra-1\` here, which shows the key the server offers), or set insecureSkipHostKeyCheck: true`,
      `${file2}: servers[0] (fra-1).timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin)`,
      `${file2}: servers[0] (fra-1).privateKeyPath: no file at ${path.join(cwd2, 'missing_key')}`,
      `${file2}: servers[1] (fra-1).name: 'fra-1' is used by another server`,
      `${file2}: servers[1] (fra-1).hostKey: required (pin the server's SHA256 fingerprint: run \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server, or \`vpnwatch check fra-1\` here, which shows the key the server offers), or set insecureSkipHostKeyCheck: true`,
      `${file2}: servers[1] (fra-1).passwordEnv: environment variable NOT_SET is not set`,
    ]);
  });

  it('refuses broken YAML, a missing file it was pointed at, and half a Slack setup', () => {
    const cwd = dir({ 'servers.yml': 'servers:\n  - name: [unclosed\n' });
    expect(problems({}, cwd)[0]).toMatch(new RegExp(`^${path.join(cwd, 'servers.yml')}: not valid YAML: `));
    expect(problems({ VPNWATCH_SERVERS_FILE: 'nope.yml' }, dir())).toEqual([expect.stringMatching(/^environment: VPNWATCH_SERVERS_FILE: no file at .*nope\.yml$/)]);
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1' }, dir())).toEqual(['environment: SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)']);
    expect(problems({ SLACK_SIGNING_SECRET: 's' }, dir())).toEqual(['environment: SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set']);
    expect(problems({ MONGODB_URI: 'http://db' }, dir())).toEqual(['environment: MONGODB_URI: must start with mongodb:// or mongodb+srv://']);
    expect(problems({}, dir({ 'servers.yml': 'servers: []\n' }))).toEqual([expect.stringMatching(/servers: lists no servers$/)]);
  });

  it('privateKeyPassphraseEnv: the passphrase comes from the named variable; unset, or without a key, is a problem', () => {
    const a = `  - { name: a, host: h, username: u, privateKeyPath: id_ed25519, privateKeyPassphraseEnv: A_KEY_PASS, hostKey: ${PIN} }\n`;
    const b = `  - { name: b, host: h, username: u, passwordEnv: PW, privateKeyPassphraseEnv: B_KEY_PASS, hostKey: ${PIN} }\n`;
    const good = dir({ 'id_ed25519': 'key', 'servers.yml': `servers:\n${a}` });
    expect(loadConfig({ A_KEY_PASS: 'sesame' }, good).servers[0]).toMatchObject({ privateKeyPath: path.join(good, 'id_ed25519'), privateKeyPassphrase: 'sesame' });
    const cwd = dir({ 'id_ed25519': 'key', 'servers.yml': `servers:\n${a}${b}` });
    const file = path.join(cwd, 'servers.yml');
    expect(problems({ PW: 'pw' }, cwd)).toEqual([
      `${file}: servers[0] (a).privateKeyPassphraseEnv: environment variable A_KEY_PASS is not set`,
      `${file}: servers[1] (b).privateKeyPassphraseEnv: only used with privateKeyPath`,
      `${file}: servers[1] (b).privateKeyPassphraseEnv: environment variable B_KEY_PASS is not set`,
    ]);
  });

  it('a server without hostKey is a problem, except for `vpnwatch check` (hostKeyOptional), which shows what to pin', () => {
    const cwd = dir({ 'servers.yml': 'servers:\n  - { name: a, host: h, username: u, passwordEnv: PW }\n' });
    expect(problems({ PW: 'pw' }, cwd)).toEqual([expect.stringContaining('servers[0] (a).hostKey: required')]);
    expect(loadConfig({ PW: 'pw' }, cwd, { hostKeyOptional: true }).servers[0]).toMatchObject({ name: 'a', insecureSkipHostKeyCheck: false });
    expect(loadConfig({ PW: 'pw' }, cwd, { hostKeyOptional: true }).servers[0]!.hostKey).toBeUndefined();
  });

  it('PUBLIC_URL: an http(s) URL, kept without its trailing slash; anything else is refused', () => {
    const cwd = dir();
    expect(loadConfig({}, cwd).web.publicUrl).toBeUndefined();
    expect(loadConfig({ PUBLIC_URL: 'https://vpn.example.com/' }, cwd).web.publicUrl).toBe('https://vpn.example.com');
    expect(loadConfig({ PUBLIC_URL: 'http://ops.example.net:8080/vpn/' }, cwd).web.publicUrl).toBe('http://ops.example.net:8080/vpn');
    expect(problems({ PUBLIC_URL: 'vpn.example.com' }, cwd)).toEqual(['environment: PUBLIC_URL: must be an http:// or https:// URL']);
    expect(problems({ PUBLIC_URL: 'ftp://vpn.example.com' }, cwd)).toEqual(['environment: PUBLIC_URL: must be an http:// or https:// URL']);
  });

  it('needs a management port or socket, not both', () => {
    const cwd = dir({ 'servers.yml': `servers:\n  - { name: a, host: h, username: u, passwordEnv: PW, hostKey: ${PIN}, management: { port: 1, socket: /s } }\n` });
    expect(problems({ PW: 'x' }, cwd)).toEqual([expect.stringMatching(/servers\[0\]\.management: needs either port .* or socket .*, not both$/)]);
  });

  it('.env fills in what the environment does not set; the environment wins', () => {
    const cwd = dir({ '.env': 'POLL_INTERVAL=45\nPORT=9000\nSLACK_ADMIN_USERS=U1, U2\nSLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s\n' });
    const c = loadConfig({ PORT: '9100' }, cwd);
    expect([c.poll.intervalSeconds, c.web.port, c.slack?.adminUsers]).toEqual([45, 9100, ['U1', 'U2']]);
  });

  it('the shipped servers.example.yml is valid apart from its placeholder keys and key file', () => {
    const example = fs.readFileSync(path.join(import.meta.dirname, '..', 'servers.example.yml'), 'utf8');
    const cwd = dir({ 'servers.yml': example });
    const found = problems({ HOME: cwd }, cwd);
    expect(found.every((p) => /privateKeyPath: no file at /.test(p))).toBe(true);
  });
});
