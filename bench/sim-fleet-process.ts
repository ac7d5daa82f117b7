// Child process for the benchmarks (poll-cycle, soak): hosts the simulated VPN servers, so the
// benchmark's own CPU and RSS figures are vpnwatch's alone. Speaks over the IPC channel:
//   → { servers, sessions, management?, password? }   ← { type: 'ready', configs }
//   → 'churn'                                         ← 'churned'
// With `management`, each server also serves OpenVPN's management interface and announces the
// sessions that start (>CLIENT:ESTABLISHED), as a real server does to vpnwatch's stream.
import type { VpnSession } from '../src/domain.ts';
import { generateHostKey, startSimulatedServer, type SimulatedServer } from '../src/demo/simulated-server.ts';
import { seededRandom, syntheticSession } from '../src/demo/synthetic-sessions.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';

const random = seededRandom(42);
const sims: SimulatedServer[] = [];
const sessions: VpnSession[][] = [];
const nextId: number[] = [];
const started: [number, VpnSession][] = [];

const publish = () => {
  const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  sims.forEach((sim, s) => sim.setStatus(writeStatus(2, sessions[s]!, at), writeStatus(3, sessions[s]!, at)));
};

function churn(): void {
  // 2% churn: 1% of each server's sessions end and as many new ones start; counters grow.
  for (let s = 0; s < sims.length; s++) {
    const list = sessions[s]!;
    for (const x of list) { x.bytesReceived += 1000; x.bytesSent += 5000; }
    const n = Math.max(1, Math.round(list.length * 0.01));
    list.splice(0, n);
    for (let k = 0; k < n; k++) {
      const id = nextId[s]!++;
      const fresh = syntheticSession(id + s * 1000, id, new Date(), random, s % 200);
      list.push(fresh);
      started.push([s, fresh]);
    }
  }
  publish();
  for (const [s, fresh] of started.splice(0)) sims[s]!.announceConnect(fresh.clientId!, fresh.commonName);
}

process.on('message', async (m: unknown) => {
  if (m === 'churn') {
    churn();
    process.send!('churned');
  } else if (m && typeof m === 'object' && 'servers' in m) {
    const { servers, sessions: perServer, management, password } = m as { servers: number; sessions: number; management?: boolean; password?: string };
    const hostKey = generateHostKey();
    for (let s = 0; s < servers; s++) {
      const onKill = (clientId: number) => { sessions[s] = sessions[s]!.filter((x) => x.clientId !== clientId); };
      sims.push(await startSimulatedServer({ name: `vpn-${String(s).padStart(3, '0')}`, hostKey, statusRefreshSeconds: 60, management: management ?? false, onKill, ...(password ? { password } : {}) }));
      sessions.push(Array.from({ length: perServer }, (_, i) => syntheticSession(i + s * 1000, i, new Date(), random, s % 200)));
      nextId.push(perServer);
    }
    publish();
    process.send!({ type: 'ready', configs: sims.map((x) => x.config) });
  }
});
process.on('disconnect', () => process.exit(0));
