// The composition root of `vpnwatch start`: builds every part from the one Config, starts them in
// dependency order, and stops them in reverse on SIGINT/SIGTERM.
import type { Config } from './config.ts';
import { openServiceDatabase, type Database } from './store/db.ts';
import type { ServerConfig } from './domain.ts';
import { startDemoFleet, type DemoFleet } from './demo/fleet.ts';
import { LiveFeed } from './poll/live-feed.ts';
import { logger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { HistoryRecorder } from './poll/history-recorder.ts';
import { HeldError, Poller } from './poll/poller.ts';
import { DatabaseWatch } from './store/database-watch.ts';
import { ReadBatcher } from './poll/read-batcher.ts';
import { readServers } from './poll/read-servers.ts';
import { RequestRunner, type PollArgs } from './request-runner.ts';
import { createPollScheduler, stopScheduler } from './poll/scheduler.ts';
import { ChatConnection } from './chat/connection.ts';
import { createSlackApp } from './chat/slack.ts';
import { createDiscordBot } from './chat/discord.ts';
import type { DispatchDeps } from './dispatch.ts';
import { ManagementKicker } from './kick/kicker.ts';
import { ManagementStream } from './poll/management-stream.ts';
import { Notifier } from './notify/notifier.ts';
import { SshPool } from './ssh.ts';
import { runStartupChecks } from './check/startup-checks.ts';
import { createWebApp } from './web/server.ts';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { HistoryJobData, HistoryJobMessage, PollJobData, PollJobMessage } from './poll/job-messages.ts';
import { LiveAlerts } from './notify/alerts.ts';
import { DAY_MS, FLEET_SERIES } from './store/history.ts';
import { logSink, noticeTargets, type NoticeSink } from './notify/targets.ts';

/** The demo fleet rewrites its files every few seconds; polling it every 30 s would look dead. */
const DEMO_POLL_SECONDS = 5;
/** The history job's interval: hours, days and top lists are this fresh (the minute samples are live). */
const HISTORY_JOB_SECONDS = 300;
/** The demo's: its charts at 7 d and 30 d (hourly) fill within a minute. */
const DEMO_HISTORY_JOB_SECONDS = 60;

export interface Service {
  db: Database;
  servers: ServerConfig[];
  poller: Poller;
  /** The port the page is served on (PORT=0 picks a free one). */
  port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** How long a Discord login waits for READY (default 30 s); for tests. */
  discordReadyTimeoutMs?: number;
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

    // What the commands and notices see: the configured servers, or the demo fleet.
    const active = { ...config, servers };

    const db = await openServiceDatabase(config, log);
    stops.push(() => db.close());
    const metrics = createMetrics();
    const database = new DatabaseWatch(db.store, log.child({ component: 'database' }), { gauge: metrics.databaseUp });
    database.start();
    stops.push(async () => database.stop());
    const live = new LiveFeed();

    // SSH connections the main thread keeps: for kicks (and the management streams).
    const sshPool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
    stops.push(() => sshPool.closeAll());

    await db.store.history.ensureRetentionIndexes(config.history);
    // A read's bytes go into its minute when the previous good read was at most two polls (and a minute) before.
    const alerts = new LiveAlerts({ config: config.alerts, history: db.store.history, targets: (server) => noticeTargets(active, server), log: log.child({ component: 'alerts' }) });
    const history = new HistoryRecorder({
      history: db.store.history, maxSpanMs: (2 * pollSeconds + 60) * 1000, minutesRetainMs: config.history.minutesDays * DAY_MS, log: log.child({ component: 'history' }), alerts,
    });
    stops.push(() => history.flush());
    const poller = new Poller({
      store: db.store, servers, pollIntervalSeconds: pollSeconds, downAfter: config.poll.downAfter,
      targets: (server) => noticeTargets(active, server), log: log.child({ component: 'poller' }), metrics, live, history,
    });
    await poller.start();
    // Stopped after the reads stop coming (the scheduler, the streams) and before the database closes.
    stops.push(() => poller.drain());
    // What the poller held while the database was away is written as soon as it answers again.
    database.onChange((state) => {
      if (state.up) void poller.flushHeld().then(() => metrics.heldBatches.set(poller.heldBatches), () => undefined);
    });

    // Management streams (issue 6): live connects/disconnects for servers with `management`; kicks borrow their connections.
    const managementStream = new ManagementStream({
      servers, sshPool, poller, statusIntervalSeconds: config.management.statusIntervalSeconds, log: log.child({ component: 'management-stream' }),
    });
    managementStream.start();
    stops.push(() => managementStream.stop());

    // The checks of `vpnwatch check`, once per configured server (not the demo fleet), failures logged.
    const startupChecks = runStartupChecks({
      servers: config.demo ? [] : servers, management: managementStream, timeoutMs: config.poll.timeoutSeconds * 1000,
      pollIntervalSeconds: pollSeconds, concurrency: config.poll.concurrency, log: log.child({ component: 'check' }),
    });
    stops.push(() => startupChecks.stop());

    const kicker = new ManagementKicker({
      store: db.store, servers, sshPool, log: log.child({ component: 'kick' }), access: managementStream,
      onKilled: (server, sessions) => poller.noteKicked(server, sessions),
    });
    const modes = () => managementStream.modes();
    // Chat connects in the background (src/chat/connection.ts): nothing below waits for it, and no
    // failure of it (a bad token, an outage) stops the service; how it stands is shown in
    // /healthz, `/vpn servers` and on the page.
    const connections: ChatConnection[] = [];
    const chat = () => connections.map((c) => c.status());
    const dispatchDeps: DispatchDeps = { store: db.store, kicker, config: active, log: log.child({ component: 'commands' }), modes, chat, database: () => database.state };

    // Chat: each platform is on when its credentials are set; without any, notices go to the log.
    const sinks: NoticeSink[] = [logSink(log.child({ component: 'notices' }))];
    let slackRouter: Router | null = null;
    if (config.slack) {
      const slack = createSlackApp({ config: config.slack, dispatch: dispatchDeps, log });
      sinks.push(slack.sink);
      slackRouter = slack.router;
      connections.push(new ChatConnection({ platform: 'slack', connect: () => slack.start(), disconnect: () => slack.stop(), log }));
      log.info({ mode: slack.mode }, 'Slack is on');
    }
    if (config.discord) {
      const discord = createDiscordBot({ config: config.discord, dispatch: dispatchDeps, log, ...(opts.discordReadyTimeoutMs ? { readyTimeoutMs: opts.discordReadyTimeoutMs } : {}) });
      sinks.push(discord.sink);
      connections.push(new ChatConnection({ platform: 'discord', connect: (slow) => discord.start(slow), disconnect: () => discord.stop(), log }));
      log.info('Discord is on');
    }
    const notifier = new Notifier({ store: db.store, config: active, sinks, log: log.child({ component: 'notifier' }), metrics, databaseUp: () => database.up });
    // The poller publishes every stored cycle; one with events is news for the outbox.
    live.subscribe((update) => { if (update.events.length) notifier.wake(); });
    notifier.start();
    stops.push(() => notifier.stop());

    // The page, the API, /metrics and /healthz; Slack's /slack/events rides on the same server.
    const web = createWebApp({ store: db.store, config: active, metrics, live, mounts: slackRouter ? [slackRouter] : [], log: log.child({ component: 'web' }), modes, chat, database: () => database.state });
    const httpServer = config.web.host ? web.listen(config.web.port, config.web.host) : web.listen(config.web.port);
    await new Promise<void>((resolve, reject) => {
      httpServer.once('listening', resolve);
      httpServer.once('error', (err) => reject(new Error(`cannot serve the page on port ${config.web.port}: ${err.message}`)));
    });
    stops.push(() => new Promise<void>((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeAllConnections(); // open /api/stream responses would keep close() waiting
    }));
    const address = httpServer.address() as AddressInfo;
    log.info({ port: address.port }, `status page on http://localhost:${address.port}/`);

    const data: PollJobData = { servers, concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 };
    let cycleStarted = performance.now();
    const batcher = new ReadBatcher(
      (reads) => poller.apply(reads).catch((err) => {
        if (err instanceof HeldError) log.debug(err.message); // the database watch logs the outage once
        else log.error({ err }, 'could not store poll results; the next cycle retries');
      }).finally(() => metrics.heldBatches.set(poller.heldBatches)),
      (applied) => void applied.then(() => metrics.cycleDuration.observe((performance.now() - cycleStarted) / 1000)),
    );
    const bree = createPollScheduler({
      intervalSeconds: pollSeconds,
      workerData: data,
      // The longest a cycle can honestly take: every server timing out, `concurrency` at a time.
      // Past that the worker is stuck (a read ignoring its timeout) and is terminated.
      closeWorkerAfterMs: (Math.ceil(servers.length / config.poll.concurrency) * config.poll.timeoutSeconds + 10) * 1000,
      log,
      onMessage: (message) => batcher.take(message as PollJobMessage),
      onError: (err) => log.error({ err }, 'poll job failed'),
      history: {
        intervalSeconds: config.demo ? DEMO_HISTORY_JOB_SECONDS : HISTORY_JOB_SECONDS,
        workerData: {
          uri: db.uri, dbName: db.store.connection.name, history: config.history,
          notices: { alerts: config.alerts, ...(config.digest ? { digest: config.digest } : {}), targets: noticeTargets(active, FLEET_SERIES) },
        } satisfies HistoryJobData,
        onMessage: (message) => {
          const { result, notices } = message as HistoryJobMessage;
          log.debug({ ...result }, 'history rolled up');
          if (notices.length) notifier.wake();
        },
      },
    });
    bree.on('worker created', () => { cycleStarted = performance.now(); });
    await bree.start();
    stops.push(() => stopScheduler(bree));
    // Requests from other processes on this database (`vpnwatch poll` beside this service).
    const runner = new RequestRunner({
      requests: db.store.requests, replicas: db.store.replicas, replicaId: config.replicaId, log: log.child({ component: 'requests' }),
      servers: () => servers.map((s) => s.name),
      handlers: {
        poll: async (request) => {
          const { server } = request.args as PollArgs;
          const chosen = server === null ? servers : servers.filter((s) => s.name === server);
          const reads = await readServers(chosen, sshPool, { concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 });
          return (await poller.apply(reads)).servers;
        },
      },
    });
    await runner.start();
    stops.push(() => runner.stop());
    // Last, so nothing above waits for chat; stopped first.
    for (const connection of connections) {
      connection.start();
      stops.push(() => connection.stop());
    }
    log.info({ servers: servers.length, pollSeconds, database: db.engine, replica: config.replicaId }, 'vpnwatch started');
    return { db, servers, poller, port: address.port, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
