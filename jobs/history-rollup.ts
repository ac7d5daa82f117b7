// Bree job, run in a worker thread every few minutes: roll minute samples up into hours and users
// into days and top lists, delete what is past its retention (src/store/history.ts rollUp), and
// store the daily digest and quota alerts when due (src/notify/digest.ts).
// It opens its own connection to the service's database and closes it at the end.
import { parentPort, workerData } from 'node:worker_threads';
import type { HistoryJobData, HistoryJobMessage } from '../src/poll/job-messages.ts';
import { dailyNotices } from '../src/notify/digest.ts';
import { Store } from '../src/store/store.ts';

const data = workerData as HistoryJobData;
const store = await Store.open(data.uri, data.dbName);
try {
  const now = new Date();
  const result = await store.history.rollUp(now, data.history);
  const notices = await dailyNotices(store.history, data.notices, now);
  parentPort?.postMessage({ type: 'history-rollup', result, notices } satisfies HistoryJobMessage);
} finally {
  await store.close();
}
parentPort?.postMessage('done');
