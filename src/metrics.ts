// Prometheus metrics (prom-client), one registry per process, named as Prometheus asks: units as
// suffixes (_seconds, _bytes), _total on counters only. The poller and the notifier record what
// happens; gauges about current state are read from the store at scrape time (web/server.ts).
// Node's own process metrics keep their standard names (process_*, nodejs_*), which every Node
// dashboard expects.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    pollDuration: new Histogram({
      name: 'vpnwatch_poll_duration_seconds', help: 'Time to read and parse one server\'s status, by server and source',
      labelNames: ['server', 'source'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    }),
    pollFailures: new Counter({
      name: 'vpnwatch_poll_failures_total', help: 'Reads that could not be used: error, incomplete, stale or future, by server',
      labelNames: ['server', 'reason'] as const, registers: [registry],
    }),
    readsSuperseded: new Counter({
      name: 'vpnwatch_reads_superseded_total', help: 'Good reads older than the status already applied from the other source, by server and source',
      labelNames: ['server', 'source'] as const, registers: [registry],
    }),
    cycleDuration: new Histogram({
      name: 'vpnwatch_poll_cycle_duration_seconds', help: 'One poll cycle over all servers, read to stored',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
    }),
    noticeDeliveries: new Counter({
      name: 'vpnwatch_notice_deliveries_total', help: 'Notice messages posted to chat, by target and result (sent, edited, retry, failed)',
      labelNames: ['target', 'result'] as const, registers: [registry],
    }),
    // Traffic is counted as the increases of OpenVPN's per-session counters seen by this process
    // (src/poll/traffic.ts): a counter that only goes up, so rate() gives bytes per second.
    trafficReceived: new Counter({
      name: 'vpnwatch_traffic_received_bytes_total', help: 'Bytes received from the VPN clients (increases of OpenVPN\'s per-session counters, ended sessions included), by server',
      labelNames: ['server'] as const, registers: [registry],
    }),
    trafficSent: new Counter({
      name: 'vpnwatch_traffic_sent_bytes_total', help: 'Bytes sent to the VPN clients (increases of OpenVPN\'s per-session counters, ended sessions included), by server',
      labelNames: ['server'] as const, registers: [registry],
    }),
    sessionsOnline: new Gauge({ name: 'vpnwatch_sessions_online', help: 'Online sessions at the last good read, by server', labelNames: ['server'] as const, registers: [registry] }),
    databaseUp: new Gauge({ name: 'vpnwatch_database_up', help: '1 while the database answers, else 0', registers: [registry] }),
    heldBatches: new Gauge({ name: 'vpnwatch_poll_held_batches', help: 'Poll results diffed but not yet written (the database is unreachable)', registers: [registry] }),
    serverUp: new Gauge({ name: 'vpnwatch_server_up', help: '1 when the last read of the server was good, else 0', labelNames: ['server'] as const, registers: [registry] }),
    streamClients: new Gauge({ name: 'vpnwatch_stream_clients', help: 'Open live streams (GET /api/stream)', registers: [registry] }),
    streamDropped: new Counter({
      name: 'vpnwatch_stream_dropped_total', help: 'Live streams refused or cut: full (the connection cap), slow (the client stopped reading)',
      labelNames: ['reason'] as const, registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
