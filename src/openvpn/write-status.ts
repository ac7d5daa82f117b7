// The inverse of parseStatus: status text in the exact layout OpenVPN 2.6 writes (multi.c
// multi_print_status), from sessions. The demo fleet serves it, and the benchmarks and tests
// generate large files with it. Times are written in UTC, as a server with TZ=UTC would.
import type { VpnSession } from '../domain.ts';

export type StatusVersion = 1 | 2 | 3;

const pad = (n: number) => String(n).padStart(2, '0');

/** `2024-01-02 10:11:12`, the 2.5+ time_string(), in UTC. */
function timeString(iso: string): string {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function realAddress(s: VpnSession): string {
  const host = s.realPort !== null && s.protocol !== null && s.realAddress.includes(':') ? `[${s.realAddress}]` : s.realAddress;
  const hostPort = s.realPort === null ? host : `${host}:${s.realPort}`;
  return s.protocol ? `${s.protocol}:${hostPort}` : hostPort;
}

export function writeStatus(version: StatusVersion, sessions: VpnSession[], updatedAt: string, title = 'OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]'): string {
  const now = timeString(updatedAt);
  const nowT = Math.floor(Date.parse(updatedAt) / 1000);
  const out: string[] = [];
  if (version === 1) {
    out.push('OpenVPN CLIENT LIST', `Updated,${now}`, 'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since');
    for (const s of sessions) out.push(`${s.commonName},${realAddress(s)},${s.bytesReceived},${s.bytesSent},${timeString(s.connectedAt)}`);
    out.push('ROUTING TABLE', 'Virtual Address,Common Name,Real Address,Last Ref');
    for (const s of sessions) {
      if (s.virtualAddress) out.push(`${s.virtualAddress},${s.commonName},${realAddress(s)},${now}`);
      if (s.virtualIpv6) out.push(`${s.virtualIpv6},${s.commonName},${realAddress(s)},${now}`);
    }
    out.push('GLOBAL STATS', 'Max bcast/mcast queue length,0', 'END');
    return `${out.join('\n')}\n`;
  }
  const sep = version === 3 ? '\t' : ',';
  const row = (...fields: (string | number)[]) => out.push(fields.join(sep));
  row('TITLE', title);
  row('TIME', now, nowT);
  row('HEADER', 'CLIENT_LIST', 'Common Name', 'Real Address', 'Virtual Address', 'Virtual IPv6 Address', 'Bytes Received', 'Bytes Sent',
    'Connected Since', 'Connected Since (time_t)', 'Username', 'Client ID', 'Peer ID', 'Data Channel Cipher');
  for (const s of sessions) {
    row('CLIENT_LIST', s.commonName, realAddress(s), s.virtualAddress ?? '', s.virtualIpv6 ?? '', s.bytesReceived, s.bytesSent,
      timeString(s.connectedAt), Math.floor(Date.parse(s.connectedAt) / 1000), s.username ?? 'UNDEF', s.clientId ?? '', s.peerId ?? '', s.cipher ?? '');
  }
  row('HEADER', 'ROUTING_TABLE', 'Virtual Address', 'Common Name', 'Real Address', 'Last Ref', 'Last Ref (time_t)');
  for (const s of sessions) {
    if (s.virtualAddress) row('ROUTING_TABLE', s.virtualAddress, s.commonName, realAddress(s), now, nowT);
    if (s.virtualIpv6) row('ROUTING_TABLE', s.virtualIpv6, s.commonName, realAddress(s), now, nowT);
  }
  row('GLOBAL_STATS', 'Max bcast/mcast queue length', 0);
  row('GLOBAL_STATS', 'dco_enabled', 0);
  out.push('END');
  return `${out.join('\n')}\n`;
}
