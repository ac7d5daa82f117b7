// One pino logger for the process. Its level is set once from the config by the composition root
// (src/main.ts); modules take child loggers so every line says where it came from. On a terminal
// the lines are short and readable; anywhere else (a service manager, a file) they are JSON.
import { Writable } from 'node:stream';
import { pino } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const HIDDEN = new Set(['level', 'time', 'msg', 'component', 'module', 'err']);

/** `12:00:01 WARN  [poller] fra-1: status file is stale … server=fra-1` */
export function formatLogLine(line: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = Number(entry.level);
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const where = entry.component ?? entry.module;
  const fields = Object.entries(entry)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const err = entry.err as { message?: string; stack?: string } | undefined;
  const text = `${time} ${LEVELS[level] ?? level} ${where ? `[${String(where)}] ` : ''}${String(entry.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}${err ? `\n  ${err.stack ?? err.message}` : ''}`;
  return colour && COLOURS[level] ? `${COLOURS[level]}${text}\x1b[0m` : text;
}

function terminalDestination(out: NodeJS.WriteStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) out.write(`${formatLogLine(line, true)}\n`);
      done();
    },
  });
}

const options: pino.LoggerOptions = {
  level: 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  // Secrets that could reach a log line through an error or a config dump.
  redact: { paths: ['*.password', '*.token', '*.privateKey', 'password', 'token'], censor: '[redacted]' },
};

export const logger = process.stdout.isTTY ? pino(options, terminalDestination(process.stdout)) : pino(options);

/** The same lines on stderr, for a command whose stdout is data (`vpnwatch db` prints its address there). */
export function stderrLogger(): Logger {
  return process.stderr.isTTY ? pino(options, terminalDestination(process.stderr)) : pino(options, pino.destination(2));
}

export type Logger = typeof logger;
