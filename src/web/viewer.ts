// Who is looking, and what they may see: the admin sees everything; a signed-in viewer and an
// anonymous visitor (where PAGE_ACCESS=public lets one in) see real IPs masked to their network
// unless SHOW_REAL_IPS is set (the privacy rule in src/domain.ts: Viewer, maskIp, shownIp, which
// chat shares), and server errors as a cause without infrastructure (src/web/public-error.ts).
import { shownIp, type Viewer as PrivacyViewer } from '../domain.ts';

export type Role = 'admin' | 'viewer' | 'anonymous';

export interface Viewer extends PrivacyViewer {
  role: Role;
  /** role === 'admin': real IPs, whole errors, SSH hosts, the CSV report, per-user history. */
  admin: boolean;
  /** Who signed in, where the authenticating proxy said so. */
  name: string | null;
}

export function viewerOf(role: Role, showRealIps: boolean, name: string | null = null): Viewer {
  return { role, admin: role === 'admin', realIps: role === 'admin' || showRealIps, name };
}

/** What a response depends on about its viewer: part of every cache key and ETag. */
export function viewerKind(viewer: Viewer): string {
  return `${viewer.admin ? 'admin' : 'public'}.${viewer.realIps ? 'ips' : 'masked'}`;
}

/** An address as this viewer may see it. */
export const showIp = (address: string | null, viewer: Viewer): string | null => (address === null ? null : shownIp(address, viewer));
