// Who is looking at the page: the admin (VPNWATCH_ADMIN_TOKEN as a bearer token, or the login
// cookie a browser gets for it) or anyone else. The cookie never holds the token: it holds an
// expiry and an HMAC over it, keyed by a key derived from the token, so it stops working when it
// expires or when the token changes, and a leaked cookie does not reveal the token.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

export const ADMIN_COOKIE = 'vpnwatch_admin';
export const ADMIN_COOKIE_MAX_AGE_SECONDS = 12 * 3600;

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export interface AdminAuth {
  /** false when no VPNWATCH_ADMIN_TOKEN is configured: nobody is admin. */
  readonly enabled: boolean;
  isToken(candidate: string): boolean;
  /** The cookie value for a login at `now`. */
  cookieValue(now: Date): string;
  isValidCookie(value: string, now: Date): boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Constant-time comparison of two strings of any length (both are hashed to 32 bytes first). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export function createAdminAuth(token: string | undefined): AdminAuth {
  if (!token) {
    return { enabled: false, isToken: () => false, cookieValue: () => { throw new Error('admin login is disabled'); }, isValidCookie: () => false };
  }
  const cookieKey = createHmac('sha256', token).update('vpnwatch admin cookie v1').digest();
  const sign = (expires: string) => createHmac('sha256', cookieKey).update(`admin.${expires}`).digest('base64url');
  return {
    enabled: true,
    isToken: (candidate) => sameSecret(candidate, token),
    cookieValue: (now) => {
      const expires = String(Math.floor(now.getTime() / 1000) + ADMIN_COOKIE_MAX_AGE_SECONDS);
      return `${expires}.${sign(expires)}`;
    },
    isValidCookie: (value, now) => {
      const m = /^(\d{1,12})\.([\w-]{43})$/.exec(value);
      if (!m || Number(m[1]) * 1000 <= now.getTime()) return false;
      return sameSecret(m[2]!, sign(m[1]!));
    },
  };
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

/**
 * true for the admin. A request that presents a bearer token that is wrong throws
 * InvalidTokenError (a script with a stale token should hear about it, not get the public view);
 * a stale or forged cookie just means anonymous.
 */
export function isAdminRequest(req: Request, auth: AdminAuth, now: Date): boolean {
  const header = req.get('authorization');
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new InvalidTokenError('The Authorization header must be "Bearer <VPNWATCH_ADMIN_TOKEN>".');
    if (!auth.enabled) throw new InvalidTokenError('Admin access is disabled: VPNWATCH_ADMIN_TOKEN is not set on this server.');
    if (!auth.isToken(m[1]!)) throw new InvalidTokenError('The bearer token is not the admin token.');
    return true;
  }
  const cookie = parseCookies(req.get('cookie')).get(ADMIN_COOKIE);
  return cookie !== undefined && auth.isValidCookie(cookie, now);
}

export function adminCookieHeader(value: string, secure: boolean): string {
  return `${ADMIN_COOKIE}=${value}; Path=/; Max-Age=${ADMIN_COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearAdminCookieHeader(): string {
  return `${ADMIN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`;
}
