/**
 * Who may use a daemon's operations endpoints. Reading (status, flows,
 * metrics, the dashboard) is open on loopback and needs the token elsewhere;
 * changing anything (deleting flows, flushing, reloading) always needs the
 * control token, so that on a shared host only root or the daemon's own user
 * (who can read the token file, control-token.ts) can do it.
 *
 * A token is accepted as `Authorization: Bearer TOKEN` (curl, Prometheus's
 * `authorization` setting, masq conntrack) or as the cookie the dashboard
 * sets when opened once as /dashboard?token=TOKEN.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';

export const TOKEN_COOKIE = 'masq_token';

export interface AccessPolicy {
  /** Needed to read when set (required for a listener off loopback). */
  readToken?: string;
  /** Needed to change anything; with none, changes are refused. */
  controlToken?: string;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request carries, if any. */
export function presentedToken(c: Context): string | undefined {
  const header = c.req.header('authorization');
  const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  return bearer || getCookie(c, TOKEN_COOKIE) || undefined;
}

function accepts(c: Context, ...tokens: Array<string | undefined>): boolean {
  const given = presentedToken(c);
  return given !== undefined && tokens.some((t) => t !== undefined && sameSecret(given, t));
}

/** Reads need the read token when there is one (the control token also reads). */
export function requireRead(policy: AccessPolicy): MiddlewareHandler {
  return async (c, next) => {
    if (policy.readToken !== undefined && !accepts(c, policy.readToken, policy.controlToken)) {
      return c.json({ error: 'a token is needed: Authorization: Bearer TOKEN, or open /dashboard?token=TOKEN once' }, 401);
    }
    await next();
  };
}

/** Changes need the control token. */
export function requireControl(policy: AccessPolicy): MiddlewareHandler {
  return async (c, next) => {
    if (policy.controlToken === undefined) return c.json({ error: 'changes are disabled here: no control token' }, 403);
    if (!accepts(c, policy.controlToken)) return c.json({ error: 'the control token is needed (masq reads it from the token file the daemon wrote)' }, 401);
    await next();
  };
}
