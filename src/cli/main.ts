// bin/vpnwatch: one entry point, one small module per subcommand. Exit codes: 0 ok, 1 runtime or
// config error, 2 usage error or input that is not what the command reads.
import { UsageError, type CliIo, type Subcommand } from './args.ts';
import { ExitError } from './config.ts';

/** The long-running commands: they log to stdout, where service managers collect it. */
const SERVICES = new Set(['start', 'demo']);
import { errorMessage, logToStderr } from '../log.ts';

const subcommands: Record<string, () => Promise<Subcommand>> = {
  parse: async () => (await import('./parse.ts')).parseCommand,
  start: async () => (await import('./start.ts')).startCommand,
  poll: async () => (await import('./poll.ts')).pollCommand,
  online: async () => (await import('./online.ts')).onlineCommand,
  user: async () => (await import('./reply-command.ts')).replyCommand('user'),
  kick: async () => (await import('./reply-command.ts')).replyCommand('kick'),
  servers: async () => (await import('./reply-command.ts')).replyCommand('servers'),
  recent: async () => (await import('./reply-command.ts')).replyCommand('recent'),
  stats: async () => (await import('./reply-command.ts')).replyCommand('stats'),
  top: async () => (await import('./top.ts')).topCommand,
  demo: async () => (await import('./start.ts')).demoCommand,
  check: async () => (await import('./check.ts')).checkCommand,
  db: async () => (await import('./db.ts')).dbCommand,
  'discord-register': async () => (await import('./discord-register.ts')).discordRegisterCommand,
};

const usage = `usage: vpnwatch <command> [options]

commands:
  start                             run the service: polling, chat bots, status page
  demo                              the same, against a built-in fleet of simulated servers
  db [--port N]                     run the embedded database alone; prints MONGODB_URI=...
  poll [--server NAME] [--json]     poll now, store the result, print what changed
  online [SERVER] [--json]          who is online (from the database the service writes)
  user NAME [--json]                a user: online or not, sessions, last seen, traffic
  kick NAME [SERVER] [all|CID]      disconnect a user's sessions (management interface)
  servers | recent [N] | stats [24h|7d]   server health, recent disconnects, totals (and a period's)
  top [--range 24h|7d|30d] [--by bytes|time] [--json]   the users with the most traffic (or time online)
  check [SERVER] [--json]           check a server's setup: SSH, host key, SFTP, status file, management
  discord-register                  register the /vpn command with Discord
  parse FILE [--tz ZONE] [--json]   read an OpenVPN status file and print what it says

The terminal is trusted: kick needs no admin list here. Configuration: .env and servers.yml
(see .env.example and servers.example.yml).
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
  // The service logs to stdout; every other command answers there, so its log lines go to stderr.
  if (!SERVICES.has(name)) logToStderr();
  try {
    return await (await load())(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`vpnwatch ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ExitError) return err.code;
    io.err(`vpnwatch ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
}

// `vpnwatch online | head` closes our stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
process.exitCode = await runCli(process.argv.slice(2), io);
