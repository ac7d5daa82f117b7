// `vpnwatch start`: the long-running service. Stops cleanly on SIGINT/SIGTERM.
import { errorMessage, logger } from '../log.ts';
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
  let service;
  try {
    service = await startService(demo ? { ...config, demo: true } : config);
  } catch (err) {
    logger.fatal({ err }, `vpnwatch could not start: ${errorMessage(err)}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info(`${signal}: stopping`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await service.stop();
  logger.info('stopped');
  return 0;
}
