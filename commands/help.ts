// /vpn help: every command with its arguments, written for where it was asked (chat or terminal).
import { invocation, usage, type Command } from '../src/command.ts';

export const help: Command = {
  name: 'help',
  description: 'This list',
  options: [],
  adminOnly: false,
  private: true,
  async run(_input, ctx) {
    return {
      title: 'VPN commands',
      lines: ctx.commands.map((c) => `${invocation(ctx.actor, usage(c))}: ${c.description}${c.adminOnly ? ' (admins)' : ''}`),
      footer: 'Quote names that contain spaces: "John Smith".',
      tone: 'info',
      private: true,
    };
  },
};
