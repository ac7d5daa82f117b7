// `npm run bench [-- NAME...]`: the performance figures quoted in the README. Names: parse,
// ssh-connect, poll-cycle, live-latency, lab-stream, history, web-load, notices, replicas (all of
// them when none is given). Benchmarks print numbers; they never fail a build, and no test asserts a time.
const benches: Record<string, () => Promise<void>> = {
  parse: async () => {
    const { runParseBench, printParseBench } = await import('./parse.ts');
    printParseBench(runParseBench());
  },
  'ssh-connect': async () => {
    const { runSshConnectBench, printSshConnectBench } = await import('./ssh-connect.ts');
    printSshConnectBench(await runSshConnectBench());
  },
  'poll-cycle': async () => {
    const { runPollCycleBenchIsolated, printPollCycleBench } = await import('./poll-cycle.ts');
    printPollCycleBench(await runPollCycleBenchIsolated());
  },
  'live-latency': async () => { const { runLiveLatencyBench, printLiveLatencyBench } = await import('./live-latency.ts'); printLiveLatencyBench(await runLiveLatencyBench()); },
  replicas: async () => { const { runReplicasBench, printReplicasBench } = await import('./replicas.ts'); printReplicasBench(await runReplicasBench()); },
  history: async () => { const { runHistoryBench, printHistoryBench } = await import('./history.ts'); printHistoryBench(await runHistoryBench()); },
  // 30 minutes by default: run it on its own (`npm run bench -- soak`); `npm run bench` skips it.
  soak: async () => {
    const { runSoakBench, printSoakBench } = await import('./soak.ts');
    const n = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
    printSoakBench(await runSoakBench({ minutes: n('SOAK_MINUTES', 30), servers: n('SOAK_SERVERS', 200), sessions: n('SOAK_SESSIONS', 100), warmupFraction: 1 / 6 }));
  },
  'lab-stream': async () => {
    const { runLabStreamBench, printLabStreamBench } = await import('./lab-stream.ts');
    printLabStreamBench(await runLabStreamBench());
  },
  'web-load': async () => {
    const { runWebLoadBench, printWebLoadBench } = await import('./web-load.ts');
    printWebLoadBench(await runWebLoadBench());
  },
  notices: async () => {
    const { runNoticesBench, printNoticesBench } = await import('./notices.ts');
    printNoticesBench(await runNoticesBench());
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !benches[n]);
if (unknown.length) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(benches).join(', ')})`);
  process.exit(2);
}
const LONG = new Set(['soak', 'replicas']);
for (const name of wanted.length ? wanted : Object.keys(benches).filter((n) => !LONG.has(n))) {
  console.log(`\n## ${name}\n`);
  await benches[name]!();
}
