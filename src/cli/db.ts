// `vpnwatch db`: the embedded database on its own, so that several `vpnwatch start` processes (or
// any MongoDB client) can share it on one machine. The first line of stdout is
// `MONGODB_URI=mongodb://127.0.0.1:PORT/vpnwatch` and nothing else is written there (the log goes
// to stderr), so `vpnwatch db > db.env &` or reading one line from a pipe gets the address.
// Runs until SIGINT or SIGTERM, then stops the engine (which closes its data file) and exits 0.
// If the engine dies on its own, it exits 1, so that a supervisor restarts it.
// `--port N` serves on a fixed port (default: a free one), so the address can go into .env once.
import { errorMessage, logger, logToStderr } from '../log.ts';
import { serveEmbeddedDatabase } from '../store/db.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

export async function dbCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = readArgs(args, { port: { type: 'string' } }, false);
  const portText = values.port ?? '0';
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new UsageError(`--port: not a port number (0-65535): ${portText}`);
  const config = configOrExit(io);
  // Its log goes to stderr (stdout is the address), at the configured level: it runs like a service.
  logToStderr();
  logger.level = config.logLevel;
  const log = logger;
  // Likely the address a previous `vpnwatch db` printed, copied into .env: serve anyway.
  if (config.mongodbUri) log.warn('MONGODB_URI is set: `vpnwatch start` and CLI commands use that database, whatever this one serves');
  // Listening before the engine starts: a signal during its start stops it once it is up.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  let server;
  try {
    server = await serveEmbeddedDatabase(config, log, port);
  } catch (err) {
    log.fatal(`vpnwatch db could not start: ${errorMessage(err)}`);
    return 1;
  }
  io.out(`MONGODB_URI=${server.uri}\n`);
  log.info({ engine: server.engine, data: server.dataPath ?? 'in memory' }, `serving the embedded database at ${server.uri}; stop with Ctrl-C or SIGTERM`);
  const engineDied = server.exited.then(() => null);
  const signal = await Promise.race([stopped, engineDied]);
  if (signal === null) {
    log.error({ pid: server.pid }, `the database engine (${server.engine}, pid ${server.pid}) exited on its own; vpnwatch db stops too`);
    await server.stop();
    return 1;
  }
  log.info(`${signal}: stopping the database`);
  await server.stop();
  log.info('stopped');
  return 0;
}
