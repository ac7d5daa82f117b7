// `vpnwatch online | user | kick | servers | recent | stats`: the /vpn commands in a terminal,
// with a Kicker that reaches the management interfaces over its own SSH connections.
import type { Config } from '../config.ts';
import { ManagementKicker } from '../kick.ts';
import { logger } from '../log.ts';
import { SshPool } from '../ssh.ts';
import type { Store } from '../store/store.ts';
import { replyCommand, type KickerFactory } from './commands.ts';

const cliKicker: KickerFactory = (config: Config, store: Store) => {
  const sshPool = new SshPool({ connectTimeoutMs: config.poll.timeoutSeconds * 1000 });
  return {
    kicker: new ManagementKicker({ store, servers: config.servers, sshPool, log: logger }),
    close: () => sshPool.closeAll(),
  };
};

export const chatCommand = (name: string) => replyCommand(name, cliKicker);
