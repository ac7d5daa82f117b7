// The composition root of `vpnwatch start`: builds every part from the one Config, starts them in
// dependency order, and stops them in reverse on SIGINT/SIGTERM.
import type { Config } from './config.ts';
import { openServiceDatabase, type Database } from './store/db.ts';
import type { ChatStatus, KickRequest, LiveModeInfo, ServerConfig, ServerRead } from './domain.ts';
import { startDemoFleet, type DemoFleet } from './demo/fleet.ts';
import { LiveFeed } from './poll/live-feed.ts';
import { logger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { HistoryRecorder } from './poll/history-recorder.ts';
import { HeldError, Poller } from './poll/poller.ts';
import { DatabaseWatch } from './store/database-watch.ts';
import { ReadBatcher } from './poll/read-batcher.ts';
import { readServers, streamReads } from './poll/read-servers.ts';
import { HEARTBEAT_MS, RequestRunner, type PollArgs } from './request-runner.ts';
import { ChangeFeed } from './poll/change-feed.ts';
import { LeasedConnection, LeaseKeeper, leaseServer, leaseTiming, serverLease } from './poll/leases.ts';
import { createPollScheduler, stopScheduler } from './poll/scheduler.ts';
import { ChatConnection } from './chat/connection.ts';
import { createSlackApp } from './chat/slack.ts';
import { createDiscordBot } from './chat/discord.ts';
import type { DispatchDeps } from './dispatch.ts';
import { ManagementKicker } from './kick/kicker.ts';
import { kickFinishMs, ServiceKicker } from './kick/service-kicker.ts';
import { configuredMode, ManagementStream } from './poll/management-stream.ts';
import { Notifier } from './notify/notifier.ts';
import { SshPool } from './ssh.ts';
import { runStartupChecks } from './check/startup-checks.ts';
import { createWebApp } from './web/server.ts';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { HistoryJobData, HistoryJobMessage } from './poll/job-messages.ts';
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
    db.store.connection.getClient().on('commandStarted', (e) => metrics.mongoCommands.inc({ command: e.commandName }));
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
      // Other replicas may poll some servers: the fleet's minutes are summed from every server's stored minutes.
      fleetServers: () => servers.map((s) => s.name),
    });
    stops.push(() => history.flush());
    const poller = new Poller({
      store: db.store, servers, pollIntervalSeconds: pollSeconds, downAfter: config.poll.downAfter,
      targets: (server) => noticeTargets(active, server), log: log.child({ component: 'poller' }), metrics, live, history,
    });
    // Stopped after the reads stop coming (the scheduler, the streams) and before the database closes.
    stops.push(() => poller.drain());
    // What the poller held while the database was away is written as soon as it answers again.
    database.onChange((state) => {
      if (state.up) void poller.flushHeld().then(() => metrics.heldBatches.set(poller.heldBatches), () => undefined);
    });
    const applyReads = (reads: ServerRead[]) => poller.apply(reads).catch((err) => {
      if (err instanceof HeldError) log.debug(err.message); // the database watch logs the outage once
      else log.error({ err }, 'could not store poll results; the next cycle retries');
    }).finally(() => metrics.heldBatches.set(poller.heldBatches));
    const readOptions = { concurrency: config.poll.concurrency, timeoutMs: config.poll.timeoutSeconds * 1000 };

    // Management streams (issue 6): live connects/disconnects for servers with `management`; kicks borrow their connections.
    const managementStream = new ManagementStream({
      servers, sshPool, poller, statusIntervalSeconds: config.management.statusIntervalSeconds, log: log.child({ component: 'management-stream' }),
    });
    stops.push(() => managementStream.stop());

    // Replicas (issue 14): this process polls and streams the servers whose leases it holds
    // (src/poll/leases.ts). A server it takes starts from the stored baseline, and is read at once
    // when the scheduler is already running (a takeover); one it loses is let go of first.
    const timing = leaseTiming(pollSeconds);
    const leaseDefaults = { store: db.store, replicaId: config.replicaId, ...timing, liveWithinMs: 3 * HEARTBEAT_MS, databaseUp: () => database.up };
    let scheduled = false;
    const serverLeases = new LeaseKeeper({
      ...leaseDefaults, names: servers.map((s) => serverLease(s.name)), balance: true, log: log.child({ component: 'leases' }),
      onTaken: async (taken) => {
        const names = taken.map((t) => leaseServer(t.name));
        await poller.adopt(taken.map((t) => ({ name: leaseServer(t.name), handover: t.handover })));
        managementStream.hold(names);
        if (scheduled) void readNow(names);
      },
      onLost: async (leases) => {
        const names = leases.map(leaseServer);
        await managementStream.drop(names);
        await poller.forget(names);
        await history.forget(names);
      },
      // What the other replicas show for a server held here: its management mode (not each read's time).
      info: (lease) => {
        const { lastReadAt: _perRead, ...mode } = managementStream.modes()[leaseServer(lease)] ?? { lastReadAt: undefined };
        return mode;
      },
    });
    const holdsServer = (server: string) => serverLeases.holds(serverLease(server));
    /** A takeover's first read, in this thread, on connections of its own, without waiting for the next cycle. */
    const readNow = async (names: string[]) => {
      const pool = new SshPool({ connectTimeoutMs: readOptions.timeoutMs });
      const batcher = new ReadBatcher(applyReads);
      try {
        const chosen = servers.filter((s) => names.includes(s.name));
        await streamReads(chosen, pool, readOptions, (read) => batcher.take({ type: 'read', read }));
        batcher.take({ type: 'cycle-end', reads: chosen.length });
      } finally {
        await pool.closeAll();
      }
    };
    /** How each server is followed, and by which replica: held here from the streams, elsewhere from what its holder published. */
    const startedAt = new Date().toISOString();
    const modes = (): Record<string, LiveModeInfo> => {
      const local = managementStream.modes();
      const holders = serverLeases.holders();
      return Object.fromEntries(servers.map((s) => {
        const published = serverLeases.published(serverLease(s.name));
        const info: LiveModeInfo = local[s.name] ?? (published ? JSON.parse(published) as LiveModeInfo : { mode: configuredMode(s), since: startedAt });
        return [s.name, { ...info, heldBy: holders[serverLease(s.name)] ?? null }];
      }));
    };

    // Kicks through the management connections this replica holds (the streams'); a kick about a
    // server another replica holds goes to that replica as a request (src/kick/service-kicker.ts).
    const kicker = new ManagementKicker({
      store: db.store, servers, sshPool, log: log.child({ component: 'kick' }), access: managementStream,
      onKilled: (server, sessions) => poller.noteKicked(server, sessions),
    });

    // Requests from other processes on this database (`vpnwatch poll` and `vpnwatch kick` beside
    // this service, and the other replicas' kicks about servers held here); its heartbeat is also
    // how the other replicas know this one is live.
    const runner = new RequestRunner({
      requests: db.store.requests, replicas: db.store.replicas, replicaId: config.replicaId, log: log.child({ component: 'requests' }),
      servers: () => servers.filter((s) => holdsServer(s.name)).map((s) => s.name),
      handlers: {
        poll: async (request) => {
          const { server } = request.args as PollArgs;
          const chosen = servers.filter((s) => holdsServer(s.name) && (server === null || s.name === server));
          return (await poller.apply(await readServers(chosen, sshPool, readOptions))).servers;
        },
        kick: (request) => kicker.kick(request.args as KickRequest),
      },
    });
    await runner.start();
    stops.push(() => runner.stop());
    await serverLeases.start();
    stops.push(() => serverLeases.stop());

    // The other replicas' changes reach this one's page and notifier, and this one's reach theirs.
    const changeFeed = new ChangeFeed({ changes: db.store.changes, live, replicaId: config.replicaId, log: log.child({ component: 'changes' }) });
    await changeFeed.start();
    stops.push(() => changeFeed.stop());

    // The checks of `vpnwatch check`, once per server held at the start (not the demo fleet), failures logged.
    const startupChecks = runStartupChecks({
      servers: config.demo ? [] : servers.filter((s) => holdsServer(s.name)), management: managementStream, timeoutMs: readOptions.timeoutMs,
      pollIntervalSeconds: pollSeconds, concurrency: config.poll.concurrency, log: log.child({ component: 'check' }),
    });
    stops.push(() => startupChecks.stop());

    // Chat connects in the background (src/chat/connection.ts): nothing below waits for it, and no
    // failure of it (a bad token, an outage) stops the service; how it stands is shown in
    // /healthz, `/vpn servers` and on the page. Notices go out over HTTP from any replica; the
    // connections only one replica may keep (the Discord gateway, Slack's Socket Mode) are kept by
    // whichever holds their lease, and the others show the status it publishes.
    const connections: ChatConnection[] = [];
    const leased: { platform: ChatStatus['platform']; connection: LeasedConnection<ChatStatus> }[] = [];
    const chat = (): ChatStatus[] => [
      ...connections.map((c) => c.status()),
      ...leased.map(({ platform, connection }) => {
        const { status, heldBy } = connection.status();
        return { ...(status ?? { platform, state: 'connecting' as const, since: startedAt, error: 'no replica keeps the connection yet' }), heldBy };
      }),
    ];
    // Chat kicks: here for the servers held here, else through the replica that holds the server.
    const chatKicker = new ServiceKicker({
      store: db.store, servers, local: kicker, requestedBy: `replica ${config.replicaId}`, log: log.child({ component: 'kick' }),
      finishWithinMs: kickFinishMs(config.poll.timeoutSeconds),
      holders: { self: config.replicaId, of: (server) => serverLeases.holders()[serverLease(server)] ?? null },
    });
    const dispatchDeps: DispatchDeps = { store: db.store, kicker: chatKicker, config: active, log: log.child({ component: 'commands' }), modes, chat, database: () => database.state };

    // Chat: each platform is on when its credentials are set; without any, notices go to the log.
    // Notices go out over HTTP from any replica; the connections only one replica may keep (the
    // Discord gateway, Slack's Socket Mode) are kept by whichever holds their lease.
    const sinks: NoticeSink[] = [logSink(log.child({ component: 'notices' }))];
    let slackRouter: Router | null = null;
    if (config.slack) {
      const slack = createSlackApp({ config: config.slack, dispatch: dispatchDeps, log });
      sinks.push(slack.sink);
      slackRouter = slack.router;
      const open = () => new ChatConnection({ platform: 'slack', connect: () => slack.start(), disconnect: () => slack.stop(), log });
      if (slack.mode === 'http') connections.push(open());
      else leased.push({ platform: 'slack', connection: new LeasedConnection({ ...leaseDefaults, name: 'slack-socket', log: log.child({ component: 'slack-socket' }), open }) });
      log.info({ mode: slack.mode }, 'Slack is on');
    }
    if (config.discord) {
      const discord = createDiscordBot({ config: config.discord, dispatch: dispatchDeps, log, ...(opts.discordReadyTimeoutMs ? { readyTimeoutMs: opts.discordReadyTimeoutMs } : {}) });
      sinks.push(discord.sink);
      const open = () => new ChatConnection({ platform: 'discord', connect: (slow) => discord.start(slow), disconnect: () => discord.stop(), log });
      leased.push({ platform: 'discord', connection: new LeasedConnection({ ...leaseDefaults, name: 'discord-gateway', log: log.child({ component: 'discord-gateway' }), open }) });
      log.info('Discord is on');
    }
    // One sender per notice channel across the replicas on this database: its id holds the targets it sends to.
    const notifier = new Notifier({ store: db.store, config: active, sinks, id: config.replicaId, log: log.child({ component: 'notifier' }), metrics, databaseUp: () => database.up });
    // Every stored cycle is published (this replica's, and the others' through the change feed); one with events is news for the outbox.
    live.subscribe((update) => { if (update.events.length) notifier.wake(); });
    notifier.start();
    stops.push(() => notifier.stop());

    // The page, the API, /metrics and /healthz; Slack's /slack/events rides on the same server.
    const web = createWebApp({
      store: db.store, config: active, metrics, live, mounts: slackRouter ? [slackRouter] : [], log: log.child({ component: 'web' }), modes, chat, database: () => database.state,
      replica: { id: config.replicaId, holds: holdsServer },
    });
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

    let cycleStarted = performance.now();
    const batcher = new ReadBatcher(applyReads, (applied) => void applied.then(() => metrics.cycleDuration.observe((performance.now() - cycleStarted) / 1000)));
    const bree = createPollScheduler({
      intervalSeconds: pollSeconds,
      // Each cycle polls the servers held as it starts; the worker leaves out what the baselines already say.
      order: () => ({ servers: servers.filter((s) => holdsServer(s.name)), ...readOptions }),
      baseline: (server) => poller.online(server),
      // The longest a cycle can honestly take: every server timing out, `concurrency` at a time.
      // Past that the worker is stuck (a read ignoring its timeout) and is terminated.
      closeWorkerAfterMs: (Math.ceil(servers.length / config.poll.concurrency) * config.poll.timeoutSeconds + 10) * 1000,
      log,
      onMessage: (message) => batcher.take(message),
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
    bree.on('worker created', (name: string) => { if (name === 'poll-servers') cycleStarted = performance.now(); });
    await bree.start();
    scheduled = true;
    // Stopped first: no new reads, then the leases are let go (the other replicas take over at once).
    stops.push(() => stopScheduler(bree));

    // Last, so nothing above waits for chat; stopped first.
    for (const connection of connections) {
      connection.start();
      stops.push(() => connection.stop());
    }
    for (const { connection } of leased) {
      await connection.start();
      stops.push(() => connection.stop());
    }
    log.info({ servers: servers.length, held: serverLeases.held().length, pollSeconds, database: db.engine, replica: config.replicaId, leaseSeconds: timing.leaseMs / 1000 }, 'vpnwatch started');
    return { db, servers, poller, port: address.port, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
