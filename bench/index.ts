// `npm run bench [-- NAME...]`: the performance figures quoted in the README. Names: parse,
// ssh-connect, poll-cycle, live-latency, history, web-load (all of them when none is given). Benchmarks print numbers;
// they never fail a build, and no test asserts a time.
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
  history: async () => { const { runHistoryBench, printHistoryBench } = await import('./history.ts'); printHistoryBench(await runHistoryBench()); },
  'web-load': async () => {
    const { runWebLoadBench, printWebLoadBench } = await import('./web-load.ts');
    printWebLoadBench(await runWebLoadBench());
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !benches[n]);
if (unknown.length) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(benches).join(', ')})`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  console.log(`\n## ${name}\n`);
  await benches[name]!();
}
