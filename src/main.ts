// The composition root of `vpnwatch start`: builds every part from the one Config, starts them in
// dependency order, and stops them in reverse on SIGINT/SIGTERM.
import type { Config } from './config.ts';
import { openServiceDatabase, type Database } from './db.ts';
import type { ServerConfig } from './domain.ts';
import { startDemoFleet, type DemoFleet } from './demo/fleet.ts';
import { LiveFeed } from './live.ts';
import { logger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { Poller } from './poller.ts';
import { createPollScheduler, stopScheduler } from './scheduler.ts';
import type { PollJobData, PollJobMessage } from '../jobs/poll-servers.ts';

/** The demo fleet rewrites its files every few seconds; polling it every 30 s would look dead. */
const DEMO_POLL_SECONDS = 5;

export interface Service {
  db: Database;
  servers: ServerConfig[];
  poller: Poller;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

export async function startService(config: Config, opts: StartOptions = {}): Promise<Service> {
  const log = opts.log ?? logger;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try { await stop(); } catch (err) { log.error({ err }, 'error while stopping'); }
    }
  };
  try {
    for (const s of config.servers) {
      if (s.insecureSkipHostKeyCheck) log.warn({ server: s.name }, `${s.name}: insecureSkipHostKeyCheck is on: its SSH host key is not verified, so a machine in the middle could feed vpnwatch false data. Pin hostKey instead.`);
    }

    let servers = config.servers;
    let pollSeconds = config.poll.intervalSeconds;
    if (config.demo) {
      const fleet: DemoFleet = await startDemoFleet({ stepSeconds: DEMO_POLL_SECONDS });
      stops.push(() => fleet.stop());
      servers = fleet.servers;
      pollSeconds = DEMO_POLL_SECONDS;
      log.warn(`DEMO MODE: no servers file at ${config.serversFile}, so vpnwatch watches ${servers.length} simulated servers (${servers.map((s) => s.name).join(', ')}). Copy servers.example.yml to servers.yml to watch your own.`);
    }

    const db = await openServiceDatabase(config, log);
    stops.push(() => db.close());
    const metrics = createMetrics();
    const live = new LiveFeed();

    const poller = new Poller({
      store: db.store, servers, pollIntervalSeconds: pollSeconds, downAfter: config.poll.downAfter,
      targets: () => ['log'], log: log.child({ component: 'poller' }), metrics, live,
    });
    await poller.start();

    const data: PollJobData = { servers, concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 };
    let cycleStarted = performance.now();
    const scheduler = createPollScheduler({
      intervalSeconds: pollSeconds,
      workerData: data,
      closeWorkerAfterMs: (config.poll.timeoutSeconds + pollSeconds) * 1000,
      log,
      onMessage: (message) => {
        const m = message as PollJobMessage;
        if (m?.type !== 'reads') return;
        poller.apply(m.reads).then(
          () => metrics.cycleDuration.observe((performance.now() - cycleStarted) / 1000),
          (err) => log.error({ err }, 'could not store a poll cycle; the next one retries'),
        );
      },
      onError: (err) => log.error({ err }, 'poll job failed'),
      });
    const bree = scheduler;
    bree.on('worker created', () => { cycleStarted = performance.now(); });
    await bree.start();
    stops.push(() => stopScheduler(bree));
    log.info({ servers: servers.length, pollSeconds, database: db.engine }, 'vpnwatch started');
    return { db, servers, poller, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
