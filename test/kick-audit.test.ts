// Every kick attempt by an admin is audited the same way (issue 11 item 8), decided and recorded in
// one place, the kicker (src/kick/kicker.ts): usage errors (no name, an unknown server, a choice
// that is not `all`, a Client ID that is not listed) as `invalid`, a non-admin as `refused`, next
// to the kicks themselves. Through dispatch with the real ManagementKicker and a real store (no
// management interface is reached: these attempts stop before one is needed), and through the
// real `vpnwatch kick` executable.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dispatch, type DispatchDeps } from '../src/dispatch.ts';
import type { Actor } from '../src/domain.ts';
import { ManagementKicker } from '../src/kick/kicker.ts';
import { SshPool } from '../src/ssh.ts';
import { Store } from '../src/store/store.ts';
import { noticeServer, noticeSession, storeRead } from './support/notices.ts';
import { dropTestStore } from './support/store.ts';

const run = promisify(execFile);
const bin = path.join(import.meta.dirname, '..', 'bin', 'vpnwatch');
const admin: Actor = { platform: 'slack', userId: 'UADMIN', userName: 'ada' };
const member: Actor = { platform: 'slack', userId: 'UMEMBER', userName: 'mel' };
const servers = [noticeServer('fra-1'), noticeServer('ams-1')];

let store: Store;
let database: string;
let deps: DispatchDeps;
const pool = new SshPool({ connectTimeoutMs: 1000 });

beforeAll(async () => {
  database = `vpnwatch_kick_audit_${process.pid}_${Date.now()}`;
  store = await Store.open(inject('mongoUri'), database);
  const cfg = { servers };
  await storeRead(store, 'fra-1', '10:00:00', [noticeSession('alice', 101)], cfg);
  deps = {
    store, config: { servers, slack: { botToken: 'xoxb-t', adminUsers: ['UADMIN'] } }, now: () => new Date('2026-11-28T10:05:00.000Z'),
    kicker: new ManagementKicker({ store, servers, sshPool: pool, log: pino({ level: 'silent' }), now: () => new Date('2026-11-28T10:05:00.000Z') }),
  };
});
afterAll(async () => {
  await pool.closeAll();
  await dropTestStore(store);
});

/** The newest audit record, in the fields every record has. */
async function lastRecord() {
  const [r] = await store.audit.kicks(undefined, 1);
  return r && { result: r.result, target: r.target, server: r.server, by: r.by.userId, where: r.where, clientIds: r.clientIds, verified: r.verified, message: r.message };
}

describe('every kick attempt is recorded by the kicker, the same way', () => {
  it('a non-admin: refused', async () => {
    const reply = await dispatch('kick alice fra-1', member, deps, 'C0OPS');
    expect(reply).toMatchObject({ title: 'Only VPN admins can use kick', tone: 'error', private: true });
    expect(await lastRecord()).toEqual({ result: 'refused', target: 'alice', server: 'fra-1', by: 'UMEMBER', where: 'C0OPS', clientIds: [], verified: false, message: 'not an admin' });
  });

  const usageErrors: [string, string, { target: string; server: string | null; message: string }][] = [
    ['no name', 'kick', { target: '(none)', server: null, message: 'Say whose sessions to end: /vpn kick <name> [server] [all|CID]' }],
    ['an unknown server', 'kick alice zz-9', { target: 'alice', server: 'zz-9', message: "No server 'zz-9'. Known: fra-1, ams-1" }],
    ['a choice that is neither all nor a Client ID', 'kick alice fra-1 first', { target: 'alice', server: 'fra-1', message: "'first' is not a Client ID. Give the number from the list, or all." }],
    ['a Client ID that is not listed', 'kick alice 999', {
      target: 'alice', server: 'fra-1',
      message: "'alice' has no session with Client ID 999. Sessions: fra-1 Client ID 101 from 203.0.113.101. Nothing was done.",
    }],
  ];
  for (const [what, text, expected] of usageErrors) {
    it(`${what}: invalid, answered privately with what to change`, async () => {
      const reply = await dispatch(text, admin, deps, 'C0OPS');
      expect(reply).toMatchObject({ title: expected.message, tone: 'warn', private: true });
      expect(await lastRecord()).toEqual({ result: 'invalid', ...expected, by: 'UADMIN', where: 'C0OPS', clientIds: [], verified: false });
    });
  }

  it('a kick that is tried: recorded with its result, beside the others', async () => {
    const reply = await dispatch('kick alice', admin, deps, 'C0OPS');
    expect(reply.title).toBe('Could not kick alice');
    expect(await lastRecord()).toMatchObject({ result: 'failed', target: 'alice', server: 'fra-1', by: 'UADMIN', clientIds: [101] });
    expect((await store.audit.kicks(undefined, 10)).map((r) => r.result)).toEqual(['failed', 'invalid', 'invalid', 'invalid', 'invalid', 'refused']);
  });
});

describe('vpnwatch kick', () => {
  it('usage errors exit 2 and are recorded too, when a database is there', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpnwatch-kick-audit-'));
    try {
      fs.writeFileSync(path.join(dir, 'servers.yml'), 'servers:\n  - { name: fra-1, host: 127.0.0.1, username: vpnwatch, passwordEnv: FRA_PW, insecureSkipHostKeyCheck: true }\n');
      const uri = new URL(inject('mongoUri'));
      uri.pathname = `/${database}`;
      const vpnwatch = async (...args: string[]) => {
        try {
          const { stdout, stderr } = await run(bin, args, { cwd: dir, env: { ...process.env, MONGODB_URI: uri.toString(), FRA_PW: 'x' } });
          return { code: 0, stdout, stderr };
        } catch (err) {
          const e = err as { code: number; stdout: string; stderr: string };
          return { code: e.code, stdout: e.stdout, stderr: e.stderr };
        }
      };
      const who = os.userInfo().username;
      // The terminal's usage message (the same words as before), and the kicker's record of it.
      expect(await vpnwatch('kick')).toEqual({ code: 2, stdout: '', stderr: 'vpnwatch kick: Missing <name>. Usage: kick <name> [server] [which]\n' });
      expect(await lastRecord()).toMatchObject({
        result: 'invalid', target: '(none)', by: who, where: `terminal (${os.hostname()})`, message: 'Say whose sessions to end: vpnwatch kick <name> [server] [all|CID]',
      });
      expect(await vpnwatch('kick', 'bob', 'srv1')).toEqual({ code: 2, stdout: '', stderr: "vpnwatch kick: No server 'srv1'. Known: fra-1\n" });
      expect(await lastRecord()).toMatchObject({ result: 'invalid', target: 'bob', server: 'srv1', by: who });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
