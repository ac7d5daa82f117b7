// Bree job, run in a worker thread every few minutes: roll minute samples up into hours and users
// into days and top lists, and delete what is past its retention (src/store/history.ts rollUp).
// It opens its own connection to the service's database and closes it at the end.
import { parentPort, workerData } from 'node:worker_threads';
import type { HistoryJobData, HistoryJobMessage } from '../src/poll/job-messages.ts';
import { Store } from '../src/store/store.ts';

const data = workerData as HistoryJobData;
const store = await Store.open(data.uri, data.dbName);
try {
  const result = await store.history.rollUp(new Date(), data.history);
  parentPort?.postMessage({ type: 'history-rollup', result } satisfies HistoryJobMessage);
} finally {
  await store.close();
}
parentPort?.postMessage('done');
