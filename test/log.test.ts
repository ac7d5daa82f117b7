// Log lines on a terminal: short and readable, nothing lost from the JSON line.
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../src/log.ts';

describe('formatLogLine', () => {
  it('puts time, level, component and message first, then the other fields', () => {
    const line = JSON.stringify({ level: 40, time: '2026-11-28T10:00:01.000Z', component: 'poller', server: 'fra-1', reason: 'stale', msg: 'status file is stale' });
    expect(formatLogLine(line, false)).toBe('10:00:01 WARN  [poller] status file is stale  server=fra-1 reason=stale');
    expect(formatLogLine(line, true)).toBe('\x1b[33m10:00:01 WARN  [poller] status file is stale  server=fra-1 reason=stale\x1b[0m');
  });

  it('shows an error\'s stack under the line, and passes anything that is not JSON through', () => {
    const line = JSON.stringify({ level: 50, time: '2026-11-28T10:00:02.000Z', msg: 'poll job failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
    expect(formatLogLine(line, false)).toBe('10:00:02 ERROR poll job failed\n  Error: boom\n    at x');
    expect(formatLogLine('plain text', false)).toBe('plain text');
  });
});
