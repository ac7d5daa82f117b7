// Loading the configuration for a CLI command: problems are printed, every one of them, and the
// command ends with exit code 1 before anything starts.
import { ConfigError, loadConfig, type Config, type LoadOptions } from '../config.ts';
import type { CliIo } from './args.ts';

export class ExitError extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}

export function configOrExit(io: CliIo, options: LoadOptions = {}): Config {
  try {
    return loadConfig(process.env, process.cwd(), options);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`vpnwatch: ${err.message}\n`);
      throw new ExitError(1);
    }
    throw err;
  }
}
