// Every /vpn command. A new command is one file beside this one and one line here.
import type { Command } from '../src/command.ts';
import { help } from './help.ts';
import { kick } from './kick.ts';
import { online } from './online.ts';
import { recent } from './recent.ts';
import { servers } from './servers.ts';
import { stats } from './stats.ts';
import { top } from './top.ts';
import { user } from './user.ts';

export const commands: readonly Command[] = [online, user, kick, servers, recent, stats, top, help];

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name.toLowerCase());
}
