// The demo fleet: three simulated OpenVPN servers whose status files change over time (users
// connect and disconnect, traffic grows), one per status-version. `vpnwatch demo`, and
// `vpnwatch start` without a servers file, run the real pipeline and page against them.
import type { ServerConfig, VpnSession } from '../domain.ts';
import { writeStatus, type StatusVersion } from '../openvpn/write-status.ts';
import { generateHostKey, startSimulatedServer, type SimulatedServer } from './simulated-server.ts';
import { seededRandom, syntheticSession } from './synthetic-sessions.ts';

interface DemoServer {
  sim: SimulatedServer;
  version: StatusVersion;
  pool: number;
  sessions: VpnSession[];
  nextClientId: number;
}

export interface DemoFleet {
  servers: ServerConfig[];
  /** Advances the simulation one step and rewrites every status file. */
  step(): void;
  stop(): Promise<void>;
}

/** demo-fra also has a management interface, so the demo shows live mode (connects within a second) and kicks. */
const PLAN: { name: string; version: StatusVersion; users: number; management?: boolean }[] = [
  { name: 'demo-fra', version: 2, users: 14, management: true },
  { name: 'demo-ams', version: 3, users: 9 },
  { name: 'demo-nyc', version: 1, users: 5 },
];

/** Starts the fleet and rewrites its status files every `stepSeconds` (as `status FILE n` would). */
export async function startDemoFleet(opts: { stepSeconds?: number; seed?: number; now?: () => Date } = {}): Promise<DemoFleet> {
  const now = opts.now ?? (() => new Date());
  const random = seededRandom(opts.seed ?? Date.now());
  const hostKey = generateHostKey();
  const stepSeconds = opts.stepSeconds ?? 5;
  const servers: DemoServer[] = [];
  for (const [i, plan] of PLAN.entries()) {
    const onKill = (clientId: number) => {
      const s = servers[i]!;
      s.sessions = s.sessions.filter((x) => x.clientId !== clientId);
      write();
    };
    const sim = await startSimulatedServer({ name: plan.name, hostKey, statusRefreshSeconds: stepSeconds, management: plan.management ?? false, onKill });
    const pool = i * 4;
    const sessions = Array.from({ length: plan.users }, (_, n) => syntheticSession(n + i * 20, n, now(), random, pool));
    servers.push({ sim, version: plan.version, pool, sessions, nextClientId: plan.users });
  }

  const write = () => {
    const at = now();
    const updated = new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString();
    for (const s of servers) s.sim.setStatus(writeStatus(s.version, s.sessions, updated), writeStatus(3, s.sessions, updated));
  };

  const step = () => {
    const announced: [DemoServer, VpnSession][] = [];
    for (const s of servers) {
      for (const session of s.sessions) {
        session.bytesReceived += Math.floor(random() * 2e6);
        session.bytesSent += Math.floor(random() * 2e7);
      }
      const roll = random();
      if (roll < 0.25 && s.sessions.length > 2) {
        s.sessions.splice(Math.floor(random() * s.sessions.length), 1); // someone disconnects
      } else if (roll < 0.5) {
        const n = Math.floor(random() * 60) + (s.pool * 20);
        const fresh = syntheticSession(n, s.nextClientId++, now(), random, s.pool);
        fresh.connectedAt = new Date(Math.floor(now().getTime() / 1000) * 1000).toISOString();
        fresh.bytesReceived = 0;
        fresh.bytesSent = 0;
        if (!s.sessions.some((x) => x.commonName === fresh.commonName && x.realAddress === fresh.realAddress)) {
          s.sessions.push(fresh);
          announced.push([s, fresh]);
        }
      }
    }
    write();
    for (const [s, fresh] of announced) s.sim.announceConnect(fresh.clientId!, fresh.commonName);
  };

  write();
  const timer = setInterval(step, stepSeconds * 1000);
  timer.unref();
  return {
    servers: servers.map((s) => s.sim.config),
    step,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(servers.map((s) => s.sim.close()));
    },
  };
}
