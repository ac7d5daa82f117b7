// `vpnwatch discord-register`: registers the /vpn slash command with Discord (guild-scoped when
// DISCORD_GUILD_ID is set: instant; else global: up to an hour to appear).
import { registerDiscordCommands } from '../chat/discord.ts';
import { readArgs, UsageError, type CliIo } from './args.ts';
import { configOrExit } from './config.ts';

export async function discordRegisterCommand(args: string[], io: CliIo): Promise<number> {
  readArgs(args, {}, false);
  const config = configOrExit(io);
  if (!config.discord) throw new UsageError('DISCORD_TOKEN is not set');
  const result = await registerDiscordCommands(config.discord);
  io.out(`registered /${result.names.join(', /')} for application ${result.applicationId} (${result.scope === 'guild' ? `guild ${config.discord.guildId}` : 'global: may take up to an hour to appear'})\n`);
  return 0;
}
