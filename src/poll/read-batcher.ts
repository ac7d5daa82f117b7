// Collects the reads a poll job streams in and hands them to the poller in batches: one store
// round per batch rather than per server (fewer round trips), and never the whole fleet at once
// (memory stays flat as the fleet grows).
import type { ServerRead } from '../domain.ts';
import type { PollJobMessage } from './job-messages.ts';

const READ_BATCH_SIZE = 25;

export class ReadBatcher {
  private batch: ServerRead[] = [];
  /** The latest apply: the poller serialises them, so this settles after all earlier ones. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly apply: (reads: ServerRead[]) => Promise<unknown>,
    private readonly onCycleEnd: (applied: Promise<unknown>) => void = () => {},
    private readonly batchSize = READ_BATCH_SIZE,
  ) {}

  /** Feed every message the poll job posts. */
  take(message: PollJobMessage): void {
    if (message.type === 'read') {
      this.batch.push(message.read);
      if (this.batch.length >= this.batchSize) void this.flush();
    } else if (message.type === 'cycle-end') {
      this.onCycleEnd(this.flush());
    }
  }

  private flush(): Promise<unknown> {
    if (this.batch.length === 0) return this.last;
    const reads = this.batch;
    this.batch = [];
    this.last = this.apply(reads);
    return this.last;
  }
}
