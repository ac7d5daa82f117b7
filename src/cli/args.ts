// What every subcommand shares: its output streams and one way to report bad flags.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '../log.ts';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export type Subcommand = (args: string[], io: CliIo) => Promise<number>;

/** A mistake in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

export function readArgs<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}
