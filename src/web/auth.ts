// Who is asking. The admin: VPNWATCH_ADMIN_TOKEN as a bearer token, or a browser signed in with
// it. A viewer: VPNWATCH_VIEWER_TOKEN the same two ways, or a user name in AUTH_PROXY_HEADER from a
// trusted authenticating proxy. Anyone else is anonymous. A bearer token that is not Bearer
// (Basic auth from a proxy in front) is not ours and is ignored.
//
// A browser's sign-in is a random cookie value whose SHA-256 is stored in MongoDB with its role
// and expiry (src/store/web-sessions.ts): signing out revokes it for every vpnwatch process, and
// the cookie reveals no token. Failed sign-ins and wrong bearer tokens are counted per client
// network in MongoDB too; at FAILURE_LIMIT in a window, that network gets 429 until it ends.
import crypto from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Request } from 'express';
import type { WebConfig } from '../config.ts';
import type { WebRole, WebSessions } from '../store/web-sessions.ts';

export const SESSION_COOKIE = 'vpnwatch_session';
export const SIGN_IN_SECONDS = 12 * 3600;
/** Wrong tokens (bearer or sign-in form) a client network may send per window before it must wait. */
export const FAILURE_LIMIT = 10;
export const FAILURE_WINDOW_MS = 15 * 60_000;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(readonly status: 401 | 429, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

export interface Identity {
  role: WebRole | 'anonymous';
  /** Who signed in, where the authenticating proxy said so. */
  name: string | null;
  /** The bearer token was METRICS_TOKEN: /metrics accepts it, nothing else does. */
  metrics: boolean;
  /** The sign-in cookie's value, when the request came with a valid one (for signing out, and for streams). */
  signIn: string | null;
}

const ANONYMOUS: Identity = { role: 'anonymous', name: null, metrics: false, signIn: null };

/**
 * Constant-time comparison of two strings of any length: both are hashed to 32 bytes, then compared
 * by Node's timingSafeEqual (through the module object, where a test can watch it being used).
 */
export function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => crypto.createHash('sha256').update(text).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** The network a client address stands for: an IPv4 address, or an IPv6 /64 (one host holds a whole /64). */
export function clientNetwork(ip: string | undefined): string {
  const address = (ip ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * A POST from a page of this origin (or from no page at all: curl sends no Origin). A browser sends
 * `Origin` with every POST; another site's page cannot make it ours, and `null` (a sandboxed frame,
 * a privacy redirect) is refused.
 */
export function sameOrigin(req: Request): boolean {
  const origin = req.get('origin') ?? (req.get('referer') ? safeOrigin(req.get('referer')!) : undefined);
  if (origin === undefined) return true;
  // req.protocol and req.host follow X-Forwarded-Proto/-Host only from TRUST_PROXY proxies.
  return origin === `${req.protocol}://${req.host}`;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'null';
  }
}

export interface WebAuthOptions {
  web: WebConfig;
  signIns: WebSessions;
}

export class WebAuth {
  constructor(private readonly opts: WebAuthOptions) {}

  /** Whether anyone can sign in in a browser at all (some token is configured). */
  get canSignIn(): boolean {
    return Boolean(this.opts.web.adminToken || this.opts.web.viewerToken);
  }

  /**
   * Which configured token `candidate` is. Every configured token is compared (constant time
   * each), whichever matches, so the time taken does not tell them apart.
   */
  tokenRole(candidate: string): WebRole | 'metrics' | null {
    const { adminToken, viewerToken, metricsToken } = this.opts.web;
    let role: WebRole | 'metrics' | null = null;
    if (adminToken && sameSecret(candidate, adminToken)) role = 'admin';
    if (viewerToken && sameSecret(candidate, viewerToken)) role ??= 'viewer';
    if (metricsToken && sameSecret(candidate, metricsToken)) role ??= 'metrics';
    return role;
  }

  /**
   * Who sent `req`. Throws AuthError: 401 for a wrong bearer token (a script with a stale token
   * should hear about it, not get the public view), 429 while its network is over the limit. A
   * stale, revoked or forged cookie just means anonymous.
   */
  async identify(req: Request, now: Date): Promise<Identity> {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (bearer) {
      await this.refuseWhileBlocked(req, now);
      const role = this.tokenRole(bearer[1]!);
      if (role === null) {
        await this.noteFailure(req, now);
        throw new AuthError(401, this.canSignIn || this.opts.web.metricsToken
          ? 'The bearer token is not one this server accepts.'
          : 'Bearer tokens are off on this server: VPNWATCH_ADMIN_TOKEN and VPNWATCH_VIEWER_TOKEN are not set.');
      }
      return role === 'metrics' ? { ...ANONYMOUS, metrics: true } : { role, name: null, metrics: false, signIn: null };
    }
    const cookie = parseCookies(req.get('cookie')).get(SESSION_COOKIE);
    if (cookie) {
      const found = await this.opts.signIns.find(cookie, now);
      if (found) return { role: found.role, name: found.user, metrics: false, signIn: cookie };
    }
    const header = this.opts.web.authProxyHeader;
    if (header && req.app.get('trust proxy fn')(req.socket.remoteAddress, 0)) {
      const user = req.get(header)?.trim();
      if (user) return { role: 'viewer', name: user.slice(0, 200), metrics: false, signIn: null };
    }
    return ANONYMOUS;
  }

  /** The sign-in form: a cookie value for the right token; AuthError otherwise. */
  async signIn(req: Request, token: string, now: Date): Promise<{ cookieValue: string; role: WebRole }> {
    await this.refuseWhileBlocked(req, now);
    const role = this.tokenRole(token);
    if (role === null || role === 'metrics') {
      await this.noteFailure(req, now);
      throw new AuthError(401, this.opts.web.viewerToken
        ? 'That is not a token this server accepts (VPNWATCH_VIEWER_TOKEN or VPNWATCH_ADMIN_TOKEN).'
        : 'That is not the admin token (VPNWATCH_ADMIN_TOKEN).');
    }
    const { cookieValue } = await this.opts.signIns.start(role, null, now, SIGN_IN_SECONDS * 1000);
    return { cookieValue, role };
  }

  async signOut(cookieValue: string, now: Date): Promise<void> {
    await this.opts.signIns.revoke(cookieValue, now);
  }

  private async refuseWhileBlocked(req: Request, now: Date): Promise<void> {
    const waitMs = await this.opts.signIns.blockedForMs(clientNetwork(req.ip), FAILURE_LIMIT, now);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new AuthError(429, `Too many wrong tokens from your address: try again in ${Math.ceil(seconds / 60)} min.`, seconds);
    }
  }

  private async noteFailure(req: Request, now: Date): Promise<void> {
    await this.opts.signIns.noteFailure(clientNetwork(req.ip), now, FAILURE_WINDOW_MS);
  }
}

export function sessionCookieHeader(value: string, secure: boolean): string {
  // Lax, not Strict: a link to the page from chat (another site) must arrive signed in. Every
  // request that changes anything is a POST, which Lax keeps from other sites, and checks Origin.
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${SIGN_IN_SECONDS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

export function clearSessionCookieHeader(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
