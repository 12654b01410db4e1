// The back-office console at /console: server-rendered pages over the same services as the JSON
// routes, with the same validation (the API's own request schemas, src/platform/validation.ts) and
// the same tenancy (a partner's principal reaches only its institution's customers). Everything
// runs inside one encapsulated plugin, so its cookie and form parsing, its headers and its error
// pages apply to /console only.
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../db/migrate.js';
import {
  confirmPassword,
  openConsoleSession,
  resumeConsoleSession,
  type AuthDeps,
  type ConsoleSessionSettings,
} from '../modules/auth/auth.service.js';
import { logout } from '../modules/auth/auth.service.js';
import type { Tenant } from '../modules/customers/customers.repository.js';
import {
  AdminFindCustomersBody,
  CustomerIdBody,
  FindCustomersBody,
  SetWalletStatusBody,
  UpdateCustomerBody,
  type AdminCustomer,
} from '../modules/customers/customers.schemas.js';
import {
  adminCustomerDetails,
  adminFindCustomers,
  customerDetails,
  customerHistory,
  findDataAccess,
  findInstitutionCustomers,
  maskedFields,
  revealCustomer,
  setWalletStatusAsOperator,
  updateCustomer,
  type CustomerStore,
  type MaskedField,
} from '../modules/customers/customers.service.js';
import { findInstitutions } from '../modules/institutions/institutions.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError } from '../platform/errors.js';
import { firstUnstorable } from '../platform/json-body.js';
import { actorOf, isAllowed, type Permission, type Principal } from '../platform/principal.js';
import { toE164 } from '../platform/schema-keywords.js';
import { compileValidator } from '../platform/validation.js';
import {
  checkCsrfToken,
  checkSameOrigin,
  clearSessionCookie,
  csrfTokenOf,
  sessionTokenOf,
  setSessionCookie,
} from './console-session.js';
import { AccessLogPage } from './views/access-log.js';
import { CustomerPage } from './views/customer.js';
import { CustomersPage, firstPageQuery, type SearchState } from './views/customers.js';
import { ErrorPage } from './views/error.js';
import type { Viewer } from './views/layout.js';
import { SignInPage } from './views/sign-in.js';
import { ConfirmLockPage, LockPage } from './views/wallet.js';

export type ConsoleDeps = CustomerStore & AuthDeps & { console: ConsoleSessionSettings };

/**
 * Who may open a console route: anyone (sign-in), any signed-in person, the operator, or those who
 * may read (the operator, and every institution role) or change (Owners and Admins) customers.
 */
type ConsoleAccess = 'anyone' | 'signed-in' | 'operator' | 'read' | 'write';

const permissionOf: Record<'operator' | 'read' | 'write', Permission> = {
  operator: 'operator',
  read: 'customers:read',
  write: 'customers:write',
};

function mayUse(principal: Principal, access: 'operator' | 'read' | 'write'): boolean {
  if (access === 'read' && principal.kind === 'operator') return true;
  return isAllowed(principal, permissionOf[access]);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    consoleAccess?: ConsoleAccess;
  }
  interface FastifyRequest {
    viewer: Viewer | undefined;
  }
}

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

const PAGE_SIZE = 20;
const HISTORY_SHOWN = 50;

const validateAdminFind = compileValidator(AdminFindCustomersBody);
const validateFind = compileValidator(FindCustomersBody);
const validateCustomerId = compileValidator(CustomerIdBody);
const validateWalletStatus = compileValidator(SetWalletStatusBody);
const validateUpdate = compileValidator(UpdateCustomerBody);

const assets: Record<string, string> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

function viewerOf(request: FastifyRequest): Viewer {
  if (request.viewer === undefined) throw new Error('viewerOf called on a route open to anyone');
  return request.viewer;
}

const tenantOf = (principal: Principal): Tenant =>
  principal.kind === 'operator'
    ? { kind: 'operator' }
    : { kind: 'institution', institutionId: principal.institutionId };

function render(reply: FastifyReply, html: JSX.Element, status = 200) {
  return reply.status(status).type('text/html; charset=utf-8').send(html);
}

/** A form field or query parameter as one string ('' when absent or sent twice). */
function text(source: unknown, name: string): string {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The local path to go back to after sign-in; anything else (another site) becomes the start page. */
function safeNext(next: string): string {
  return /^\/console(\/[A-Za-z0-9/_.?=&%-]*)?$/.test(next) && !next.startsWith('//')
    ? next
    : '/console/customers';
}

const notices: Record<string, string> = {
  'signed-out': 'You are signed out.',
  expired: 'Your session ended. Sign in again to continue.',
  'wallet-saved': 'The wallet status is saved.',
  'wallet-locked': 'The wallet status is set by the platform.',
};

const dateBound = (value: string, end: boolean) =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T${end ? '23:59:59.999' : '00:00:00.000'}Z` : value;

function searchStateOf(query: unknown): SearchState {
  return {
    q: text(query, 'q').trim(),
    institution: text(query, 'institution'),
    status: text(query, 'status'),
    from: text(query, 'from'),
    to: text(query, 'to'),
    after: text(query, 'after'),
  };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const emailLike = /^[^\s@]+@[^\s@]+$/;

/**
 * The searches one box stands for, in the order tried: an email, a phone number, a customer id
 * then a wallet id, an externalId then a name. The first that finds anyone is the answer.
 */
function termSearches(q: string): { filter: Record<string, string>; label: string }[] {
  if (q === '') return [{ filter: {}, label: '' }];
  if (emailLike.test(q)) return [{ filter: { email: q }, label: ' with this email' }];
  if (toE164(q) !== undefined) return [{ filter: { phoneNumber: q }, label: ' with this phone number' }];
  if (uuidPattern.test(q)) {
    return [
      { filter: { id: q }, label: ' with this id' },
      { filter: { walletId: q }, label: ' with this wallet id' },
    ];
  }
  return [
    { filter: { externalId: q }, label: ' with this externalId' },
    { filter: { fullName: q }, label: ` whose name contains “${q}”` },
  ];
}

async function searchCustomers(deps: ConsoleDeps, principal: Principal, search: SearchState) {
  const base: Record<string, unknown> = { take: PAGE_SIZE };
  if (search.status !== '') base.walletStatus = search.status;
  if (search.from !== '') base.createdFrom = dateBound(search.from, false);
  if (search.to !== '') base.createdTo = dateBound(search.to, true);
  if (search.after !== '') base.startingAfter = search.after;
  if (principal.kind === 'operator' && search.institution !== '') base.institutionId = search.institution;
  const tries = termSearches(search.q);
  for (const [index, attempt] of tries.entries()) {
    const body = { ...base, ...attempt.filter };
    if (attempt.filter.id !== undefined) {
      // find has no id filter: a customer id is a direct lookup, within the caller's tenancy.
      const found = await customerFor(deps, principal, attempt.filter.id).catch((error: unknown) => {
        if (toAppError(error)?.code === 'CUSTOMER_NOT_FOUND') return undefined;
        throw error;
      });
      if (found !== undefined) return { rows: [found], total: 1, matchedBy: attempt.label, next: undefined };
      continue;
    }
    let page;
    try {
      page =
        principal.kind === 'operator'
          ? await adminFindCustomers(deps, validateAdminFind(body))
          : await findInstitutionCustomers(deps, principal.institutionId, validateFind(body)).then(
              (found) => ({
                ...found,
                data: found.data.map((customer) => ({ ...customer, institutionId: principal.institutionId })),
              }),
            );
    } catch (error) {
      // A term that cannot be this kind of value (an externalId too long, say) is the next kind.
      const known = toAppError(error);
      const field = known?.details?.[0]?.field;
      if (
        known?.code === 'VALIDATION_ERROR' &&
        field !== undefined &&
        field in attempt.filter &&
        index < tries.length - 1
      ) {
        continue;
      }
      throw error;
    }
    if (page.data.length > 0 || index === tries.length - 1 || search.after !== '') {
      const cursor = page.meta.nextCursor;
      const query = firstPageQuery(search);
      return {
        rows: page.data,
        total: page.meta.total,
        matchedBy: attempt.label,
        next: cursor === null ? undefined : `${query}${query === '' ? '' : '&'}after=${cursor}`,
      };
    }
  }
  throw new Error('unreachable: the last search always answers');
}

/** Problems of a search's filters, shown at the fields whose names the form uses. */
const searchFieldOf: Record<string, string> = {
  institutionId: 'institution',
  walletStatus: 'status',
  createdFrom: 'from',
  createdTo: 'to',
  startingAfter: 'q',
};

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

      // ---- customers ----
      console.get(
        '/customers',
        { config: { permission: 'public', consoleAccess: 'read' } },
        async (request, reply) => {
          const viewer = viewerOf(request);
          const search = searchStateOf(request.query);
          const institutions =
            viewer.principal.kind === 'operator' ? await findInstitutions(deps.db) : undefined;
          try {
            const result = await searchCustomers(deps, viewer.principal, search);
            return await render(
              reply,
              <CustomersPage
                viewer={viewer}
                search={search}
                institutions={institutions}
                result={result}
                problems={[]}
              />,
            );
          } catch (error) {
            const known = toAppError(error);
            if (known?.code !== 'VALIDATION_ERROR' && known?.code !== 'CUSTOMER_NOT_FOUND') throw error;
            const problems = (known.details ?? [{ field: 'q', message: known.message }]).map((problem) => ({
              field: searchFieldOf[problem.field] ?? 'q',
              message: `${problem.field} ${problem.message}`,
            }));
            return render(
              reply,
              <CustomersPage
                viewer={viewer}
                search={search}
                institutions={institutions}
                result={undefined}
                problems={problems}
              />,
              400,
            );
          }
        },
      );

      async function customerView(
        request: FastifyRequest,
        revealed: readonly MaskedField[],
        extra: { notice?: string; problems?: { field: string; message: string }[] } = {},
      ) {
        const viewer = viewerOf(request);
        const id = customerIdOf(request);
        const tenant = tenantOf(viewer.principal);
        const customer =
          revealed.length > 0
            ? await revealCustomer(
                deps,
                tenant,
                { actor: actorOf(viewer.principal), requestId: request.id },
                { id, fields: revealed },
              )
            : viewer.principal.kind === 'operator'
              ? await adminCustomerDetails(deps, id)
              : await customerFor(deps, viewer.principal, id);
        const history = await customerHistory(deps, tenant, { id, take: HISTORY_SHOWN });
        const institutionTitle =
          viewer.principal.kind === 'operator'
            ? (await findInstitutions(deps.db)).find(
                (institution) => institution.id === customer.institutionId,
              )?.title
            : undefined;
        return (
          <CustomerPage
            viewer={viewer}
            customer={customer}
            institutionTitle={institutionTitle}
            history={history.data}
            historyTotal={history.meta.total}
            revealed={revealed}
            canWrite={isAllowed(viewer.principal, 'customers:write')}
            {...extra}
          />
        );
      }

      console.get(
        '/customers/:id',
        { config: { permission: 'public', consoleAccess: 'read' } },
        async (request, reply) =>
          render(reply, await customerView(request, [], { notice: notices[text(request.query, 'done')] })),
      );

      console.post(
        '/customers/:id/reveal',
        { config: { permission: 'public', consoleAccess: 'read' } },
        async (request, reply) => {
          const asked = (request.body as Record<string, unknown> | undefined)?.fields;
          const list = (Array.isArray(asked) ? asked : [asked]).filter((field): field is MaskedField =>
            (maskedFields as readonly unknown[]).includes(field),
          );
          if (list.length === 0) throw new AppError('VALIDATION_ERROR', 'Choose the fields to reveal');
          return render(reply, await customerView(request, [...new Set(list)]));
        },
      );

      // The institution's own change of its customer's wallet status (refused when the platform holds it).
      console.post(
        '/customers/:id/wallet-status',
        { config: { permission: 'public', consoleAccess: 'write' } },
        async (request, reply) => {
          const viewer = viewerOf(request);
          const principal = viewer.principal;
          if (principal.kind === 'operator')
            throw new AppError('FORBIDDEN', 'The operator sets wallet statuses from the lock page');
          const id = customerIdOf(request);
          try {
            const input = validateUpdate({
              id,
              walletStatus: text(request.body, 'walletStatus'),
              expectedVersion: Number(text(request.body, 'expectedVersion')),
            });
            const { expectedVersion, ...change } = input;
            await updateCustomer(
              deps,
              { institutionId: principal.institutionId, actor: actorOf(principal), requestId: request.id },
              change,
              expectedVersion === undefined ? undefined : { version: expectedVersion },
            );
            return await reply.redirect(`/console/customers/${id}?done=wallet-saved`, 303);
          } catch (error) {
            const known = toAppError(error);
            if (known === undefined || known.statusCode >= 500 || known.code === 'CUSTOMER_NOT_FOUND')
              throw error;
            return render(
              reply,
              await customerView(request, [], {
                problems: [{ field: 'walletStatus', message: known.message }],
              }),
              known.statusCode,
            );
          }
        },
      );

      // ---- the operator's lock: choose, review, confirm with the password ----
      const lockForm = (request: FastifyRequest) => ({
        status: text(request.body, 'status'),
        reason: text(request.body, 'reason').trim(),
      });

      function lockProblems(form: { status: string; reason: string }) {
        const problems: { field: string; message: string }[] = [];
        if (!['Active', 'Blocked', 'Suspicious'].includes(form.status)) {
          problems.push({ field: 'status', message: 'Choose the status' });
        }
        if (form.reason === '') problems.push({ field: 'reason', message: 'Give the reason' });
        else if (form.reason.length > 500)
          problems.push({ field: 'reason', message: 'The reason must be at most 500 characters' });
        return problems;
      }

      console.get(
        '/customers/:id/wallet',
        { config: { permission: 'public', consoleAccess: 'operator' } },
        async (request, reply) => {
          const customer = await adminCustomerDetails(deps, customerIdOf(request));
          const suggested =
            customer.walletStatusSetBy === 'operator' && customer.walletStatus !== 'Active'
              ? 'Active'
              : 'Blocked';
          return render(
            reply,
            <LockPage
              viewer={viewerOf(request)}
              customer={customer}
              form={{ status: suggested, reason: '', problems: [] }}
            />,
          );
        },
      );

      console.post(
        '/customers/:id/wallet/review',
        { config: { permission: 'public', consoleAccess: 'operator' } },
        async (request, reply) => {
          const viewer = viewerOf(request);
          const customer = await adminCustomerDetails(deps, customerIdOf(request));
          const form = lockForm(request);
          const problems = lockProblems(form);
          if (problems.length > 0) {
            return render(
              reply,
              <LockPage viewer={viewer} customer={customer} form={{ ...form, problems }} />,
              400,
            );
          }
          return render(
            reply,
            <ConfirmLockPage viewer={viewer} customer={customer} {...form} problems={[]} />,
          );
        },
      );

      console.post(
        '/customers/:id/wallet',
        { config: { permission: 'public', consoleAccess: 'operator' } },
        async (request, reply) => {
          const viewer = viewerOf(request);
          const principal = viewer.principal;
          if (principal.kind !== 'operator') throw new AppError('FORBIDDEN', 'Only the operator can do this');
          const id = customerIdOf(request);
          const form = lockForm(request);
          const problems = lockProblems(form);
          const customer = await adminCustomerDetails(deps, id);
          if (problems.length > 0) {
            return render(
              reply,
              <LockPage viewer={viewer} customer={customer} form={{ ...form, problems }} />,
              400,
            );
          }
          try {
            await confirmPassword(deps, {
              userId: principal.userId,
              account: { merchantId: undefined, email: principal.email },
              password: text(request.body, 'password'),
              clientAddress: request.ip,
            });
          } catch (error) {
            const known = toAppError(error);
            if (known?.code !== 'INVALID_CREDENTIALS' && known?.code !== 'RATE_LIMITED') throw error;
            return render(
              reply,
              <ConfirmLockPage
                viewer={viewer}
                customer={customer}
                {...form}
                problems={[{ field: 'password', message: known.message }]}
              />,
              known.statusCode,
            );
          }
          const { expectedVersion, ...input } = validateWalletStatus({
            walletId: customer.walletId,
            status: form.status,
            reason: form.reason,
            expectedVersion: Number(text(request.body, 'expectedVersion')),
          });
          await setWalletStatusAsOperator(
            deps,
            { actor: actorOf(principal), requestId: request.id },
            input,
            expectedVersion === undefined ? undefined : { version: expectedVersion },
          );
          return reply.redirect(`/console/customers/${id}?done=wallet-locked`, 303);
        },
      );

      // ---- the data access log ----
      function accessLog(request: FastifyRequest) {
        const viewer = viewerOf(request);
        const operator = viewer.principal.kind === 'operator';
        const state = {
          institution: operator ? text(request.query, 'institution') : '',
          from: text(request.query, 'from'),
          to: text(request.query, 'to'),
        };
        const before = text(request.query, 'before');
        const [beforeAt, beforeId] = before.split('_');
        const cursor =
          beforeAt !== undefined &&
          beforeId !== undefined &&
          uuidPattern.test(beforeId) &&
          !Number.isNaN(Date.parse(beforeAt))
            ? { occurredAt: new Date(beforeAt), id: beforeId }
            : undefined;
        for (const [field, value] of [['institution', state.institution]] as const) {
          if (value !== '' && !uuidPattern.test(value))
            throw new AppError('VALIDATION_ERROR', `${field} must be a UUID`);
        }
        const bounds = {
          from: state.from === '' ? undefined : dateBound(state.from, false),
          to: state.to === '' ? undefined : dateBound(state.to, true),
        };
        for (const bound of [bounds.from, bounds.to]) {
          if (bound !== undefined && Number.isNaN(Date.parse(bound)))
            throw new AppError('VALIDATION_ERROR', 'Dates must be YYYY-MM-DD');
        }
        const filters = {
          ...(state.institution === '' ? {} : { institutionId: state.institution }),
          ...(operator ? {} : { actorType: 'operator' as const }),
          ...bounds,
        };
        return { viewer, operator, state, filters, cursor };
      }

      console.get(
        '/access-log',
        { config: { permission: 'public', consoleAccess: 'read' } },
        async (request, reply) => {
          const { viewer, operator, state, filters, cursor } = accessLog(request);
          const entries = await findDataAccess(deps, tenantOf(viewer.principal), filters, {
            take: PAGE_SIZE + 1,
            ...(cursor === undefined ? {} : { before: cursor }),
          });
          const shown = entries.slice(0, PAGE_SIZE);
          const last = shown.at(-1);
          const query = new URLSearchParams(Object.entries(state).filter(([, value]) => value !== ''));
          const next =
            entries.length > PAGE_SIZE && last !== undefined
              ? `${query.toString()}${query.size > 0 ? '&' : ''}before=${encodeURIComponent(`${last.occurredAt.toISOString()}_${last.id}`)}`
              : undefined;
          return render(
            reply,
            <AccessLogPage
              viewer={viewer}
              state={state}
              institutions={operator ? await findInstitutions(deps.db) : undefined}
              entries={shown}
              next={next}
              csv={query.toString()}
            />,
          );
        },
      );

      // The same entries as CSV, every page, streamed in pages of a thousand.
      console.get(
        '/access-log.csv',
        { config: { permission: 'public', consoleAccess: 'read' } },
        async (request, reply) => {
          const { viewer, filters } = accessLog(request);
          const tenant = tenantOf(viewer.principal);
          const lines = ['occurredAt,actorType,actorId,actorName,institutionId,customerId,fields,requestId'];
          let before: { occurredAt: Date; id: string } | undefined;
          for (;;) {
            const page = await findDataAccess(deps, tenant, filters, {
              take: 1000,
              ...(before === undefined ? {} : { before }),
            });
            for (const entry of page) {
              lines.push(
                [
                  entry.occurredAt.toISOString(),
                  entry.actor.type,
                  entry.actor.id,
                  entry.actor.name,
                  entry.institutionId,
                  entry.customerId,
                  entry.fields.join(' '),
                  entry.requestId,
                ]
                  .map(csvCell)
                  .join(','),
              );
            }
            const last = page.at(-1);
            if (page.length < 1000 || last === undefined) break;
            before = { occurredAt: last.occurredAt, id: last.id };
          }
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="access-log.csv"')
            .send(lines.join('\r\n') + '\r\n');
        },
      );
    },
    { prefix: '/console' },
  );
}

/** RFC 4180 quoting, and a leading quote on what a spreadsheet would run as a formula. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function sessionIdOf(principal: Principal): string {
  if (principal.kind === 'api_key') throw new Error('an API key has no session');
  return principal.sessionId;
}

function customerIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  try {
    return validateCustomerId({ id }).id;
  } catch {
    throw new AppError('CUSTOMER_NOT_FOUND', 'There is no such customer');
  }
}

async function customerFor(deps: ConsoleDeps, principal: Principal, id: string): Promise<AdminCustomer> {
  if (principal.kind === 'operator') return adminCustomerDetails(deps, id);
  return {
    ...(await customerDetails(deps, principal.institutionId, id)),
    institutionId: principal.institutionId,
  };
}
