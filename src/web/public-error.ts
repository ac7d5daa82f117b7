// What a viewer other than the admin may read of a server's error. The full texts name hosts,
// ports, paths, user names and, for a status line that cannot be read, a client's real address:
// `fra-1 (10.0.0.5:22): connection refused; is sshd listening on port 22?`. Everyone else gets
// the cause alone, from a fixed list (`connection refused`), never a piece of the text itself, so
// no future message can leak through a pattern that did not foresee it.

/** Patterns of the texts src/ssh.ts, src/poll/read-servers.ts and src/openvpn/ produce, first match wins. */
const CAUSES: [RegExp, string][] = [
  [/host key|hostKey/, 'SSH host key not accepted'],
  [/authentication failed|cannot (read|use) (privateKeyPath|the private key)|no privateKeyPath or password/, 'SSH sign-in failed'],
  // The SSH server's tunnel to the management interface failed: the interface, not SSH, is down.
  [/could not open .* for us/, 'management interface unavailable'],
  [/connection refused|ECONNREFUSED/i, 'connection refused'],
  [/ENOTFOUND|EAI_AGAIN|getaddrinfo/, 'host name not found'],
  [/cannot reach the host|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL/, 'host unreachable'],
  [/timed out|timeout|no answer within|took longer than|no SSH session within|no SSH handshake in time|stopped answering keepalives|did not answer|sent no greeting/i, 'timed out'],
  [/refused the password|asks for a password|management password/, 'management password refused'],
  [/management interface|management connection|management session/, 'management interface unavailable'],
  [/no such file/, 'status file not found'],
  [/permission denied/i, 'permission denied reading the status file'],
  [/refused an SFTP session/, 'SFTP not available'],
  [/-byte limit/, 'status file too large'],
  [/status file is stale/, 'status file is stale'],
  [/no END line/, 'status file incomplete (no END line)'],
  [/line \d+:|not a server status file|status text is empty|CLIENT LIST|header/, 'status file could not be read'],
  [/connection dropped|closed the connection|connection was closed|closed by|ECONNRESET|EPIPE|SSH error|handshake failed/, 'connection dropped'],
];

/** The cause of a server error, without hosts, ports, paths or addresses. */
export function publicCause(error: string): string {
  for (const [pattern, cause] of CAUSES) if (pattern.test(error)) return cause;
  return 'read failed (the admin sees the details)';
}

/** An error as this viewer may read it: whole for the admin, the cause for everyone else. */
export function shownError(error: string | null, viewer: { admin: boolean }): string | null {
  return error === null || viewer.admin ? error : publicCause(error);
}
