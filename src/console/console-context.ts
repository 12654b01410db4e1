// What every console page shares: its dependencies, who may open it, the signed-in viewer, and
// how a page is rendered and its form fields read.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthDeps, ConsoleSessionSettings } from '../modules/auth/auth.service.js';
import type { Tenant } from '../modules/customers/customers.repository.js';
import type { CustomerStore } from '../modules/customers/customers.service.js';
import type { WebhookSettings } from '../modules/webhooks/webhooks.service.js';
import { runOnce, type Submission } from '../platform/idempotency.js';
import { isAllowed, type Permission, type Principal } from '../platform/principal.js';
import type { Viewer } from './views/layout.js';

/** The services' dependencies, as the JSON routes get them, and the console's session settings. */
export type ConsoleDeps = CustomerStore &
  AuthDeps & { console: ConsoleSessionSettings; webhooks: WebhookSettings };

/**
 * Who may open a console route: anyone (sign-in), any signed-in person, those who may read
 * customers (the operator, and every institution role), or the holders of an API permission
 * (`customers:write`, `api-keys:manage`, `operator`, ...), exactly as the JSON routes decide.
 */
export type ConsoleAccess = 'anyone' | 'signed-in' | 'read' | Permission;

export function mayUse(
  principal: Principal,
  access: Exclude<ConsoleAccess, 'anyone' | 'signed-in'>,
): boolean {
  if (access === 'read') return principal.kind === 'operator' || isAllowed(principal, 'customers:read');
  return isAllowed(principal, access);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    consoleAccess?: ConsoleAccess;
  }
  interface FastifyRequest {
    viewer: Viewer | undefined;
  }
}

export const PAGE_SIZE = 20;

export function viewerOf(request: FastifyRequest): Viewer {
  if (request.viewer === undefined) throw new Error('viewerOf called on a route open to anyone');
  return request.viewer;
}

export const tenantOf = (principal: Principal): Tenant =>
  principal.kind === 'operator'
    ? { kind: 'operator' }
    : { kind: 'institution', institutionId: principal.institutionId };

export function render(reply: FastifyReply, html: JSX.Element, status = 200) {
  return reply.status(status).type('text/html; charset=utf-8').send(html);
}

/** A form field or query parameter as one string ('' when absent or sent twice). */
export function text(source: unknown, name: string): string {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The messages a redirect may ask a page to show once (`?done=` or `?notice=`). */
export const notices: Record<string, string> = {
  'signed-out': 'You are signed out.',
  expired: 'Your session ended. Sign in again to continue.',
  'wallet-saved': 'The wallet status is saved.',
  'wallet-locked': 'The wallet status is set by the platform.',
};

/**
 * Runs a create form's action once per form (its `_once` token, views/layout.tsx OnceField): a
 * refreshed answer page or a second click gets `done-before` or `in-progress`, and the caller
 * redirects to the list with `?done=already-sent` instead of creating a second one. A form without
 * the token (a page rendered before it existed) just runs.
 */
export async function submitOnce<T>(
  deps: ConsoleDeps,
  request: FastifyRequest,
  action: () => Promise<T>,
): Promise<Submission<T>> {
  const token = text(request.body, '_once');
  if (!uuidPattern.test(token)) return { outcome: 'done', result: await action() };
  return runOnce(
    deps.db,
    {
      principal: viewerOf(request).principal,
      route: request.routeOptions.url ?? request.url,
      token,
      log: request.log,
    },
    action,
  );
}

/** What a list says after `?done=already-sent`. */
export const alreadySent =
  'That form was already sent: what it created is listed here, and nothing was created a second time. ' +
  'A password or secret it made was shown once, on the answer to the first sending.';

/** A date input's value (YYYY-MM-DD, UTC) as the start or the end of that day. */
export const dateBound = (value: string, end: boolean) =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T${end ? '23:59:59.999' : '00:00:00.000'}Z` : value;

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 4180 quoting, and a leading quote on what a spreadsheet would run as a formula. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
