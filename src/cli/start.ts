// `vpnwatch start`: the long-running service. The first SIGINT/SIGTERM stops it cleanly: the poll
// cycle in flight finishes its writes, the notice being posted is recorded, SSH and management
// connections are closed; if that takes more than STOP_WITHIN_MS, it exits anyway (the writes are
// idempotent, so the next start is correct). A second signal exits at once.
import { errorMessage, logger } from '../log.ts';
import { keepHeapNearLive } from '../heap.ts';
import { startService } from '../main.ts';
import { readArgs, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

export function startCommand(args: string[], io: CliIo): Promise<number> {
  return run(args, io, false);
}

/** `vpnwatch demo`: start, watching the built-in simulated fleet whatever the servers file says. */
export function demoCommand(args: string[], io: CliIo): Promise<number> {
  return run(args, io, true);
}

async function run(args: string[], io: CliIo, demo: boolean): Promise<number> {
  readArgs(args, {}, false);
  const config = configOrExit(io);
  logger.level = config.logLevel;
  keepHeapNearLive();
  let service;
  try {
    service = await startService(demo ? { ...config, demo: true } : config);
  } catch (err) {
    logger.fatal({ err }, `vpnwatch could not start: ${errorMessage(err)}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      logger.info(`${signal}: stopping (a second signal stops at once)`);
      const now = (again: NodeJS.Signals) => {
        logger.warn(`${again}: stopping at once`);
        process.exit(130);
      };
      process.once('SIGINT', now);
      process.once('SIGTERM', now);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const deadline = setTimeout(() => {
    logger.error(`not stopped within ${STOP_WITHIN_MS / 1000} s: exiting anyway`);
    process.exit(1);
  }, STOP_WITHIN_MS);
  deadline.unref();
  await service.stop();
  clearTimeout(deadline);
  logger.info('stopped');
  // Everything is closed; a library handle that would not let go (discord.js's gateway, destroyed
  // while it waited for READY) must not keep the process alive.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

/** A stop takes at most this long (a service manager's own timeout is usually 10 s or more). */
const STOP_WITHIN_MS = 9_000;
