// The back-office console at /console: server-rendered pages over the same services as the JSON
// routes, with the same validation (the API's own request schemas, src/platform/validation.ts) and
// the same tenancy (a partner's principal reaches only its institution's customers). Everything
// runs inside one encapsulated plugin, so its cookie and form parsing, its headers and its error
// pages apply to /console only.
import cookie from '@fastify/cookie';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../db/migrate.js';
import { logout, openConsoleSession, resumeConsoleSession } from '../modules/auth/auth.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError } from '../platform/errors.js';
import { firstUnstorable } from '../platform/json-body.js';
import type { Principal } from '../platform/principal.js';
import { accessLogPages } from './access-log.pages.js';
import { apiKeyPages } from './api-keys.pages.js';
import { mayUse, notices, render, text, viewerOf, type ConsoleDeps } from './console-context.js';
import {
  checkCsrfToken,
  checkSameOrigin,
  clearSessionCookie,
  csrfTokenOf,
  sessionTokenOf,
  setSessionCookie,
} from './console-session.js';
import { customerPages } from './customers.pages.js';
import { institutionPages } from './institutions.pages.js';
import { userPages } from './users.pages.js';
import { ErrorPage } from './views/error.js';
import { SignInPage } from './views/sign-in.js';
import { webhookPages } from './webhooks.pages.js';

export type { ConsoleDeps } from './console-context.js';

// Pages may load only what the service itself serves; no inline script or style, no framing.
const pageHeaders = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  // Not the API's no-referrer: with it, browsers send `Origin: null` on the console's own forms,
  // which the cross-origin check must then refuse. Nothing leaves for other sites either way.
  'referrer-policy': 'same-origin',
});

const assets: Record<string, string> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** The local path to go back to after sign-in; anything else (another site) becomes the start page. */
function safeNext(next: string): string {
  return /^\/console(\/[A-Za-z0-9/_.?=&%-]*)?$/.test(next) && !next.startsWith('//')
    ? next
    : '/console/customers';
}

function sessionIdOf(principal: Principal): string {
  if (principal.kind === 'api_key') throw new Error('an API key has no session');
  return principal.sessionId;
}

export async function consoleRoutes(app: App, deps: ConsoleDeps): Promise<void> {
  await app.register(
    async (console) => {
      // Pages, not API operations: kept out of /openapi.json.
      console.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, hide: true };
      });
      await console.register(cookie);
      console.decorateRequest('viewer', undefined);
      // Forms arrive URL-encoded; the same storability rules as a JSON body apply to their values.
      console.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 64 * 1024 },
        (_request, body, done) => {
          const fields: Record<string, string | string[]> = Object.create(null) as Record<
            string,
            string | string[]
          >;
          for (const [name, value] of new URLSearchParams(body as string)) {
            const existing = fields[name];
            fields[name] =
              existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
          }
          const problem = firstUnstorable(fields);
          done(
            problem === undefined ? null : new AppError('VALIDATION_ERROR', `Invalid form: ${problem}`),
            fields,
          );
        },
      );

      console.addHook('onRequest', async (request, reply) => {
        reply.headers(pageHeaders);
        const access = request.routeOptions.config.consoleAccess;
        if (access === undefined) {
          if (request.is404) return;
          throw new Error(`Console route ${request.routeOptions.url ?? ''} declares no consoleAccess`);
        }
        if (request.method === 'POST') checkSameOrigin(request);
        const token = sessionTokenOf(request);
        const session = token === undefined ? undefined : await resumeConsoleSession(deps, token);
        if (session !== undefined && token !== undefined) {
          request.principal = session.principal;
          request.viewer = {
            principal: session.principal,
            institutionTitle: session.institutionTitle,
            csrfToken: csrfTokenOf(token),
            sessionEndsAt: session.endsAt,
          };
        }
        if (access === 'anyone') return;
        if (session === undefined) {
          if (token !== undefined) clearSessionCookie(reply);
          const next = request.method === 'GET' ? request.url : '/console/customers';
          const reason = token === undefined ? '' : '&notice=expired';
          return reply.redirect(`/console/sign-in?next=${encodeURIComponent(next)}${reason}`, 303);
        }
        if (access !== 'signed-in' && !mayUse(session.principal, access)) {
          throw new AppError('FORBIDDEN', 'Your role does not allow this');
        }
      });
      // The CSRF token is in the form body, read after onRequest.
      console.addHook('preHandler', (request, _reply, done) => {
        const token = sessionTokenOf(request);
        try {
          if (request.method === 'POST' && request.viewer !== undefined && token !== undefined) {
            checkCsrfToken(token, text(request.body, '_csrf'));
          }
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      });

      console.setErrorHandler((error, request, reply) => {
        const known = toAppError(error);
        if (known === undefined) request.log.error({ err: error }, 'unexpected error');
        const appError = known ?? new AppError('INTERNAL_ERROR', 'Something went wrong on our side');
        const titles: Record<number, string> = {
          403: 'Not allowed',
          404: 'Not found',
          429: 'Too many attempts',
        };
        return render(
          reply,
          <ErrorPage
            status={appError.statusCode}
            title={
              titles[appError.statusCode] ??
              (appError.statusCode >= 500 ? 'Something went wrong' : 'Cannot do that')
            }
            message={appError.message}
            requestId={request.id}
            viewer={request.viewer}
          />,
          appError.statusCode,
        );
      });
      console.setNotFoundHandler((request, reply) =>
        render(
          reply,
          <ErrorPage
            status={404}
            title="Not found"
            message="There is no such page."
            requestId={request.id}
            viewer={request.viewer}
          />,
          404,
        ),
      );

      // ---- assets ----
      const assetDir = path.join(packageRoot(), 'src', 'console', 'assets');
      const loaded = new Map<string, Buffer>();
      for (const name of Object.keys(assets)) loaded.set(name, await readFile(path.join(assetDir, name)));
      console.get(
        '/assets/:name',
        { config: { permission: 'public', consoleAccess: 'anyone' } },
        async (request, reply) => {
          const { name } = request.params as { name: string };
          const body = loaded.get(name);
          const type = assets[name];
          if (body === undefined || type === undefined) throw new AppError('NOT_FOUND', 'No such file');
          return reply.header('cache-control', 'no-cache').type(type).send(body);
        },
      );

      // ---- sign-in and sign-out ----
      console.get(
        '/',
        { config: { permission: 'public', consoleAccess: 'anyone' } },
        async (request, reply) =>
          reply.redirect(request.viewer === undefined ? '/console/sign-in' : '/console/customers', 303),
      );

      console.get(
        '/sign-in',
        { config: { permission: 'public', consoleAccess: 'anyone' } },
        async (request, reply) => {
          const next = safeNext(text(request.query, 'next'));
          if (request.viewer !== undefined) return reply.redirect(next, 303);
          return render(
            reply,
            <SignInPage
              merchantId=""
              email=""
              next={next}
              problems={[]}
              notice={notices[text(request.query, 'notice')]}
            />,
          );
        },
      );

      console.post(
        '/sign-in',
        { config: { permission: 'public', consoleAccess: 'anyone' } },
        async (request, reply) => {
          const body = request.body;
          const form = {
            merchantId: text(body, 'merchantId').trim(),
            email: text(body, 'email').trim(),
            next: safeNext(text(body, 'next')),
          };
          try {
            const { token } = await openConsoleSession(deps, {
              merchantId: form.merchantId === '' ? undefined : form.merchantId,
              email: form.email,
              password: text(body, 'password'),
              clientAddress: request.ip,
            });
            setSessionCookie(reply, token);
            return await reply.redirect(form.next, 303);
          } catch (error) {
            const known = toAppError(error);
            if (known?.code !== 'INVALID_CREDENTIALS' && known?.code !== 'RATE_LIMITED') throw error;
            if (known.code === 'RATE_LIMITED') reply.header('retry-after', '60');
            return render(
              reply,
              <SignInPage {...form} problems={[{ field: 'email', message: known.message }]} />,
              known.statusCode,
            );
          }
        },
      );

      console.post(
        '/sign-out',
        { config: { permission: 'public', consoleAccess: 'signed-in' } },
        async (request, reply) => {
          await logout(
            deps,
            viewerOf(request).principal.kind === 'api_key' ? '' : sessionIdOf(viewerOf(request).principal),
          );
          clearSessionCookie(reply);
          return reply.redirect('/console/sign-in?notice=signed-out', 303);
        },
      );

      // Keeps the session open (the idle warning's button); answers when it now ends.
      console.get(
        '/session',
        { config: { permission: 'public', consoleAccess: 'signed-in' } },
        (request, reply) => reply.send({ endsAt: viewerOf(request).sessionEndsAt.toISOString() }),
      );

      customerPages(console, deps);
      accessLogPages(console, deps);
      apiKeyPages(console, deps);
      userPages(console, deps);
      institutionPages(console, deps);
      webhookPages(console, deps);
    },
    { prefix: '/console' },
  );
}
