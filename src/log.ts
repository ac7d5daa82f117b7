// One pino logger for the process. Its level is set once from the config by the composition root
// (src/main.ts); modules take child loggers so every line says where it came from.
import { pino } from 'pino';

export const logger = pino({
  level: 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  // Secrets that could reach a log line through an error or a config dump.
  redact: { paths: ['*.password', '*.token', '*.privateKey', 'password', 'token'], censor: '[redacted]' },
});

export type Logger = typeof logger;
