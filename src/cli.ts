// bin/vpnwatch: one entry point, one small module per subcommand. Exit codes: 0 ok, 1 runtime or
// config error, 2 usage error or input that is not what the command reads.
import { UsageError, type CliIo, type Subcommand } from './cli/args.ts';

const subcommands: Record<string, () => Promise<Subcommand>> = {
  parse: async () => (await import('./cli/parse.ts')).parseCommand,
};

const usage = `usage: vpnwatch <command> [options]

commands:
  parse FILE [--tz ZONE] [--json]   read an OpenVPN status file and print what it says
`;

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage);
    return name ? 0 : 2;
  }
  const load = subcommands[name];
  if (!load) {
    io.err(`vpnwatch: unknown command '${name}'\n${usage}`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`vpnwatch ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
process.exitCode = await runCli(process.argv.slice(2), io);
