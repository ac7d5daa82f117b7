// Child process for bench/poll-cycle.ts: hosts the simulated VPN servers, so the benchmark's own
// CPU and RSS figures are vpnwatch's alone. Speaks over the IPC channel:
//   → { servers, sessions }   ← { type: 'ready', configs }
//   → 'churn'                 ← 'churned'
import type { VpnSession } from '../src/domain.ts';
import { generateHostKey, startSimulatedServer, type SimulatedServer } from '../src/demo/simulated-server.ts';
import { seededRandom, syntheticSession } from '../src/demo/synthetic-sessions.ts';
import { writeStatus } from '../src/openvpn/write-status.ts';

const random = seededRandom(42);
const sims: SimulatedServer[] = [];
const sessions: VpnSession[][] = [];
const nextId: number[] = [];

const publish = () => sims.forEach((sim, s) => sim.setStatus(writeStatus(2, sessions[s]!, new Date(Math.floor(Date.now() / 1000) * 1000).toISOString())));

function churn(): void {
  // 2% churn: 1% of each server's sessions end and as many new ones start; counters grow.
  for (let s = 0; s < sims.length; s++) {
    const list = sessions[s]!;
    for (const x of list) { x.bytesReceived += 1000; x.bytesSent += 5000; }
    const n = Math.max(1, Math.round(list.length * 0.01));
    list.splice(0, n);
    for (let k = 0; k < n; k++) {
      const id = nextId[s]!++;
      list.push(syntheticSession(id + s * 1000, id, new Date(), random, s % 200));
    }
  }
  publish();
}

process.on('message', async (m: unknown) => {
  if (m === 'churn') {
    churn();
    process.send!('churned');
  } else if (m && typeof m === 'object' && 'servers' in m) {
    const { servers, sessions: perServer } = m as { servers: number; sessions: number };
    const hostKey = generateHostKey();
    for (let s = 0; s < servers; s++) {
      sims.push(await startSimulatedServer({ name: `vpn-${String(s).padStart(3, '0')}`, hostKey, statusRefreshSeconds: 60 }));
      sessions.push(Array.from({ length: perServer }, (_, i) => syntheticSession(i + s * 1000, i, new Date(), random, s % 200)));
      nextId.push(perServer);
    }
    publish();
    process.send!({ type: 'ready', configs: sims.map((x) => x.config) });
  }
});
process.on('disconnect', () => process.exit(0));
