// The simulated VPN server the demo and the benchmarks run: its management interface speaks
// enough of OpenVPN's protocol for vpnwatch's real client and stream (through real SSH port
// forwarding), serves one client at a time, announces connects and carries out client-kill.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { generateHostKey, startSimulatedServer, type SimulatedServer } from '../src/demo/simulated-server.ts';
import { startDemoFleet } from '../src/demo/fleet.ts';
import { connectManagement, ManagementError } from '../src/openvpn/management.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';
import { SshConnection } from '../src/ssh.ts';
import { vpnSession } from './support/data.ts';

describe('simulated server: host key', () => {
  // ssh2's ed25519 generator makes about 1 key in 256 that its own parser refuses (a demo start
  // failed on one); 2,000 keys in a row meet one with a probability of 99.96 %.
  it('every generated host key is one ssh2 reads back', () => {
    for (let i = 0; i < 2000; i++) {
      const key = generateHostKey();
      expect(ssh2.utils.parseKey(key) instanceof Error, `key ${i}`).toBe(false);
    }
  });
});

describe('simulated server: management interface', () => {
  let sim: SimulatedServer;
  let ssh: SshConnection;
  const killed: number[] = [];
  const sessions = [vpnSession('alice', 1), vpnSession('bob', 2)];
  const updated = '2026-11-28T10:00:00.000Z';

  beforeAll(async () => {
    sim = await startSimulatedServer({ name: 'sim-m', management: true, onKill: (cid) => killed.push(cid) });
    sim.setStatus(writeStatus(2, sessions, updated), writeStatus(3, sessions, updated));
    ssh = await SshConnection.connect(sim.config, { timeoutMs: 5000 });
  });
  afterAll(async () => {
    ssh?.close();
    await sim?.close();
  });

  it('greets, answers version and status 3 as OpenVPN does, and kills a client', async () => {
    const client = await connectManagement(ssh, sim.config);
    try {
      expect(client.managementVersion).toBe(5);
      const snapshot = await client.status();
      expect(snapshot.sessions.map((s) => [s.commonName, s.clientId, s.virtualAddress])).toEqual([['alice', 1, '10.8.0.1'], ['bob', 2, '10.8.0.2']]);
      expect(snapshot.updatedAt).toBe(updated);
      expect(await client.clientKill(2)).toBe("SUCCESS: client-kill command succeeded");
      expect(killed).toEqual([2]);
    } finally {
      await client.quit();
    }
  });

  it('serves one client at a time: a second one is told the interface is busy', async () => {
    const holder = await connectManagement(ssh, sim.config);
    try {
      const second = connectManagement(ssh, sim.config, { greetingTimeoutMs: 500 });
      await expect(second).rejects.toBeInstanceOf(ManagementError);
      await expect(second).rejects.toMatchObject({ kind: 'busy' });
    } finally {
      await holder.quit();
    }
    const next = await connectManagement(ssh, sim.config);
    await next.quit();
  });
});

describe('the demo fleet', () => {
  it('one server offers a management interface, so the demo shows live mode', async () => {
    const fleet = await startDemoFleet({ stepSeconds: 3600, seed: 7 });
    try {
      expect(fleet.servers.map((s) => [s.name, s.management?.mode ?? null])).toEqual([['demo-fra', 'stream'], ['demo-ams', null], ['demo-nyc', null]]);
      const ssh = await SshConnection.connect(fleet.servers[0]!, { timeoutMs: 5000 });
      try {
        const client = await connectManagement(ssh, fleet.servers[0]!);
        expect((await client.status()).sessions).toHaveLength(14);
        await client.quit();
      } finally {
        ssh.close();
      }
    } finally {
      await fleet.stop();
    }
  });
});
