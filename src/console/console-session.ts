// The console's browser session and its defences, in one place:
// - the session is a server-side login session reached by a cookie (HttpOnly, SameSite=Strict,
//   Secure, host-only, scoped to /console) holding a random secret; only its hash is stored;
// - every state-changing request carries a CSRF token derived from that secret (so bound to the
//   session, and nothing to store), and is refused when the browser says it came from another
//   origin (Origin, or Sec-Fetch-Site where Origin is absent);
// - the page tells its script when the session would end, for the warning before the idle timeout.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../platform/errors.js';

export const SESSION_COOKIE = 'cc_console';
export const CONSOLE_PATH = '/console';

export function setSessionCookie(reply: FastifyReply, token: string): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    path: CONSOLE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, {
    path: CONSOLE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
  });
}

export const sessionTokenOf = (request: FastifyRequest): string | undefined =>
  request.cookies[SESSION_COOKIE];

/** The CSRF token of a session: an HMAC of a fixed label under the session's own secret. */
export const csrfTokenOf = (sessionToken: string): string =>
  createHmac('sha256', sessionToken).update('customercore console csrf').digest('base64url');

export function checkCsrfToken(sessionToken: string, presented: unknown): void {
  const expected = Buffer.from(csrfTokenOf(sessionToken));
  const given = Buffer.from(typeof presented === 'string' ? presented : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError(
      'FORBIDDEN',
      'The form is out of date or was not sent from this console: reload the page',
    );
  }
}

/**
 * Refuses a state-changing request a browser sent from another origin. Browsers send Origin with
 * every POST; Sec-Fetch-Site says the same where an old one does not. A request with neither comes
 * from no browser, and still needs the session's CSRF token.
 */
export function checkSameOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (origin !== `${request.protocol}://${request.host}`) {
      throw new AppError('FORBIDDEN', 'Requests from another site are refused');
    }
    return;
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new AppError('FORBIDDEN', 'Requests from another site are refused');
  }
}
