// Tenant isolation as a matrix generated from the app itself: every route of the OpenAPI document,
// called by every kind of caller on institution A's objects. Each route needs a row in the table
// below (keyed by method and path), and every route Fastify knows must be documented or listed as
// a non-API route, so a new route cannot be left out. Whatever the caller, the answer follows the
// contract, shows none of A's data unless the operator asked for it, and A's rows stay as they were.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createRateLimits, defaultRateLimitOptions } from '../src/platform/rate-limits.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { credentialHeaders, loginOperator, post, type Credentials } from './support/client.js';
import { recordTrial } from './support/report.js';
import { openedCustomers } from './support/stored.js';

/** What a route requires, as the contract states it. */
type Guard =
  | 'public'
  | 'customers:read'
  | 'customers:write'
  | 'customers:erase'
  | 'api-keys:manage'
  | 'users:manage'
  | 'webhooks:manage'
  | 'webhooks:read'
  | 'events:read'
  | 'session'
  | 'operator';

type CallerKind =
  | 'otherKey'
  | 'otherOwner'
  | 'otherViewer'
  | 'keyLackingScope'
  | 'revokedKey'
  | 'expiredKey'
  | 'operator'
  | 'anonymous'
  | 'garbageToken'
  | 'garbageKey';

interface User {
  id: string;
  email: string;
  password: string;
  token: string;
  refreshToken: string;
}

interface Key {
  id: string;
  apiKey: string;
  prefix: string;
}

interface World {
  operator: { token: string };
  a: {
    id: string;
    title: string;
    owner: User;
    viewer: User;
    /** A customer with every field, referred by `referrer`; its wallet is locked Blocked by the operator. */
    customer: any;
    referrer: any;
    keys: { full: Key; readOnly: Key; writeOnly: Key; revoked: Key; expired: Key };
    /** A webhook endpoint (with its secret), subscribed before A's customers were made. */
    endpoint: any;
    eventId: string;
  };
  b: { id: string; owner: User; viewer: User; key: Key; customer: any; endpoint: any; eventId: string };
  /** A's personal values, ids and secrets: no one outside A but the operator may be shown them. */
  valuesOfA: string[];
}

interface Answer {
  status: number;
  body: any;
  raw: string;
  headers: Record<string, unknown>;
}

interface CallContext {
  t: TestApp;
  w: World;
  body: Record<string, unknown> | undefined;
}

type Expectation =
  | { status: number; code: string; field?: string }
  | {
      status: 200 | 201;
      shows: string;
      check: (answer: Answer, context: CallContext) => string[] | Promise<string[]>;
    };

interface Call {
  /** What the request points at, for the test's name. */
  on: string;
  body?: (w: World) => Record<string, unknown>;
  headers?: (w: World) => Record<string, string>;
  /** What a caller that the route's guard lets through gets. */
  allowed: Expectation;
}

interface RouteEntry {
  guard: Guard;
  /** The call ends the caller's own session, so token callers log in afresh for it. */
  endsCallerSession?: boolean;
  calls: Call[];
}

const error = (status: number, code: string, field?: string): Expectation => ({
  status,
  code,
  ...(field === undefined ? {} : { field }),
});
const UNAUTHORIZED = error(401, 'UNAUTHORIZED');
const FORBIDDEN = error(403, 'FORBIDDEN');

const problem = (holds: boolean, message: string): string[] => (holds ? [] : [message]);

/** Problems unless every id is a row of B in `table` (the table name is one of ours, never input). */
async function ownedByB(
  context: CallContext,
  table: 'customers' | 'api_keys' | 'users' | 'webhook_endpoints' | 'events',
  ids: string[],
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await context.t.db.query<{ id: string }>(
    `SELECT id FROM ${table} WHERE institution_id = $1 AND id = ANY($2::uuid[])`,
    [context.w.b.id, ids],
  );
  const own = new Set(rows.map((row) => row.id));
  return ids.filter((id) => !own.has(id)).map((id) => `${table} ${id} listed but not B's`);
}

/** A page of B's own objects only: each listed id is B's, and `mustList` is among them. */
const listsOnlyB =
  (
    table: 'customers' | 'api_keys' | 'users' | 'webhook_endpoints' | 'events',
    mustList: (w: World) => string,
  ) =>
  async (answer: Answer, context: CallContext): Promise<string[]> => {
    const ids: string[] = answer.body.data.map((item: { id: string }) => item.id);
    return [
      ...(await ownedByB(context, table, ids)),
      ...problem(ids.includes(mustList(context.w)), `B's own ${table} row is missing`),
      ...problem(
        answer.body.meta === undefined || answer.body.meta.total === ids.length,
        `meta.total ${answer.body.meta?.total} for ${ids.length} listed`,
      ),
    ];
  };

const emptyPage: Expectation = {
  status: 200,
  shows: 'an empty page',
  check: (answer) => [
    ...problem(answer.body.data.length === 0, `listed ${answer.body.data.length}`),
    ...problem(answer.body.meta.total === 0, `meta.total ${answer.body.meta.total}`),
  ],
};

const swapCase = (text: string): string =>
  text.replace(/[a-z]/gi, (letter) =>
    letter === letter.toLowerCase() ? letter.toUpperCase() : letter.toLowerCase(),
  );

/**
 * One row per route of the OpenAPI document, keyed by method and path: the request bodies (pointing
 * at A's objects where the route takes any) and what a caller the guard admits gets.
 */
const routeTable: Record<string, RouteEntry> = {
  'GET /health/live': {
    guard: 'public',
    calls: [
      {
        on: 'anything',
        allowed: { status: 200, shows: 'ok', check: (a) => problem(a.body.status === 'ok', a.raw) },
      },
    ],
  },
  'GET /health/ready': {
    guard: 'public',
    calls: [
      {
        on: 'anything',
        allowed: { status: 200, shows: 'ok', check: (a) => problem(a.body.status === 'ok', a.raw) },
      },
    ],
  },
  'GET /.well-known/jwks.json': {
    guard: 'public',
    calls: [
      {
        on: 'the signing keys',
        allowed: {
          status: 200,
          shows: 'public keys',
          check: (a) => problem(Array.isArray(a.body.keys) && a.body.keys.length > 0, a.raw),
        },
      },
    ],
  },
  'POST /v2/auth/login': {
    guard: 'public',
    calls: [
      {
        on: "with A's owner's email and a wrong password",
        body: (w) => ({ token: w.a.owner.email, password: 'not-the-right-password' }),
        headers: (w) => ({ merchant_id: w.a.id }),
        allowed: error(401, 'INVALID_CREDENTIALS'),
      },
    ],
  },
  'POST /v2/auth/refresh': {
    guard: 'public',
    calls: [
      {
        on: 'with a refresh token no one was given',
        body: () => ({ refreshToken: randomBytes(32).toString('base64url') }),
        allowed: UNAUTHORIZED,
      },
    ],
  },
  'POST /v2/auth/logout': {
    guard: 'session',
    endsCallerSession: true,
    calls: [
      {
        on: "ending the caller's own session only",
        body: () => ({}),
        allowed: {
          status: 200,
          shows: 'loggedOut',
          check: (a) => problem(a.body.data?.loggedOut === true, a.raw),
        },
      },
    ],
  },
  'POST /v2/user/change-password': {
    guard: 'session',
    calls: [
      {
        on: "with A's owner's password as the old one",
        body: (w) => ({ oldPassword: w.a.owner.password, newPassword: 'a-brand-new-password-1' }),
        allowed: error(401, 'INVALID_CREDENTIALS'),
      },
    ],
  },
  'POST /v2/user/create': {
    guard: 'users:manage',
    calls: [
      {
        on: "with A's viewer's email (free in another institution)",
        body: (w) => ({ email: swapCase(w.a.viewer.email), role: 'Admin', password: 'probe-password-1234' }),
        allowed: {
          status: 201,
          shows: "a user of the caller's institution",
          check: async (a, context) => [
            ...problem(a.body.data?.email === context.body?.email, a.raw),
            ...(await ownedByB(context, 'users', [a.body.data.id])),
          ],
        },
      },
    ],
  },
  'POST /v2/user/find': {
    guard: 'users:manage',
    calls: [
      {
        on: 'for all users',
        body: () => ({}),
        allowed: { status: 200, shows: "B's users only", check: listsOnlyB('users', (w) => w.b.viewer.id) },
      },
    ],
  },
  'POST /v2/user/deactivate': {
    guard: 'users:manage',
    calls: [
      { on: "on A's viewer", body: (w) => ({ id: w.a.viewer.id }), allowed: error(404, 'NOT_FOUND') },
      { on: "on A's owner", body: (w) => ({ id: w.a.owner.id }), allowed: error(404, 'NOT_FOUND') },
    ],
  },
  'POST /v2/api-key/create': {
    guard: 'api-keys:manage',
    calls: [
      {
        on: "for the caller's institution",
        body: () => ({ name: 'probe' }),
        allowed: {
          status: 201,
          shows: "a key of the caller's institution",
          check: (a, context) => ownedByB(context, 'api_keys', [a.body.data.id]),
        },
      },
    ],
  },
  'POST /v2/api-key/find': {
    guard: 'api-keys:manage',
    calls: [
      {
        on: 'for all keys',
        body: () => ({}),
        allowed: { status: 200, shows: "B's keys only", check: listsOnlyB('api_keys', (w) => w.b.key.id) },
      },
    ],
  },
  'POST /v2/api-key/revoke': {
    guard: 'api-keys:manage',
    calls: [{ on: "on A's key", body: (w) => ({ id: w.a.keys.full.id }), allowed: error(404, 'NOT_FOUND') }],
  },
  'POST /v2/customer/create': {
    guard: 'customers:write',
    calls: [
      {
        // A cross-tenant uniqueness check would answer 409 instead: A's email and externalId are free in B.
        on: "with A's customer as referralId, and A's customer's email and externalId",
        body: (w) => ({
          email: swapCase(w.a.customer.email),
          externalId: w.a.customer.externalId,
          referralId: w.a.customer.id,
          firstName: 'Mallory',
          lastName: 'Probe',
          country: 'FR',
          verificationDocumentId: 'MP000001',
          residenceAddress: '1 Probe Street, Paris',
        }),
        allowed: error(400, 'REFERRAL_NOT_FOUND', 'referralId'),
      },
    ],
  },
  'POST /v2/customer/update': {
    guard: 'customers:write',
    calls: [
      {
        // Inside A this would be 409 (email, externalId taken) or 403 WALLET_STATUS_LOCKED: both would leak.
        on: "on A's locked customer with A's other customer's email and externalId",
        body: (w) => ({
          id: w.a.customer.id,
          firstName: 'Mallory',
          email: w.a.referrer.email,
          externalId: w.a.referrer.externalId,
          walletStatus: 'Active',
          walletStatusReason: 'taken over',
        }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        on: "on A's customer with only its id",
        body: (w) => ({ id: w.a.customer.id }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        // A version check before the tenant's would answer 409 or 200, telling A's customer exists.
        on: "on A's customer with its current ETag as If-Match",
        body: (w) => ({ id: w.a.customer.id, firstName: 'Mallory' }),
        headers: (w) => ({ 'if-match': `"${w.a.customer.id}:${w.a.customer.version}"` }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        on: "on A's customer with a stale expectedVersion",
        body: (w) => ({ id: w.a.customer.id, firstName: 'Mallory', expectedVersion: 1 }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
    ],
  },
  'POST /v2/customer/erase': {
    guard: 'customers:erase',
    calls: [
      {
        // Inside A this would be 409 CUSTOMER_ON_HOLD (the operator locked its wallet): a leak.
        on: "on A's locked customer",
        body: (w) => ({ id: w.a.customer.id, reason: 'erase probe' }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        on: "on A's other customer",
        body: (w) => ({ id: w.a.referrer.id, reason: 'erase probe' }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
    ],
  },
  'POST /v2/customer/history': {
    guard: 'customers:read',
    calls: [
      {
        on: "on A's customer",
        body: (w) => ({ id: w.a.customer.id }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        on: "on A's customer's wallet id",
        body: (w) => ({ id: w.a.customer.walletId, take: 100 }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
    ],
  },
  'POST /v2/customer/details': {
    guard: 'customers:read',
    calls: [
      {
        on: "on A's customer",
        body: (w) => ({ id: w.a.customer.id }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
      {
        on: "on A's customer's wallet id",
        body: (w) => ({ id: w.a.customer.walletId }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
    ],
  },
  'POST /v2/customer/find': {
    guard: 'customers:read',
    calls: [
      { on: "by A's customer's email", body: (w) => ({ email: w.a.customer.email }), allowed: emptyPage },
      {
        on: "by A's customer's walletId",
        body: (w) => ({ walletId: w.a.customer.walletId }),
        allowed: emptyPage,
      },
      {
        on: "by A's referrer as referralId, phone and name",
        body: (w) => ({
          referralId: w.a.referrer.id,
          phoneNumber: w.a.customer.phoneNumber,
          fullName: w.a.customer.firstName,
        }),
        allowed: emptyPage,
      },
      {
        on: 'with no filter',
        body: () => ({ take: 100 }),
        allowed: {
          status: 200,
          shows: "B's customers only",
          check: listsOnlyB('customers', (w) => w.b.customer.id),
        },
      },
    ],
  },
  'POST /v2/webhook/create': {
    guard: 'webhooks:manage',
    calls: [
      {
        on: "for the caller's institution",
        body: () => ({ url: 'https://b-probe.partner.example/hook' }),
        allowed: {
          status: 201,
          shows: "an endpoint of the caller's institution",
          check: (a, context) => ownedByB(context, 'webhook_endpoints', [a.body.data.id]),
        },
      },
    ],
  },
  'POST /v2/webhook/find': {
    guard: 'webhooks:read',
    calls: [
      {
        on: 'for all endpoints',
        body: () => ({}),
        allowed: {
          status: 200,
          shows: "B's endpoints only, no secret",
          check: async (a, context) => [
            ...(await listsOnlyB('webhook_endpoints', (w) => w.b.endpoint.id)(a, context)),
            ...problem(!a.raw.includes('whsec_'), 'a secret is listed'),
          ],
        },
      },
    ],
  },
  'POST /v2/webhook/update': {
    guard: 'webhooks:manage',
    calls: [
      {
        on: "on A's endpoint, pointing it elsewhere and disabling it",
        body: (w) => ({ id: w.a.endpoint.id, url: 'https://mallory.example/steal', enabled: false }),
        allowed: error(404, 'NOT_FOUND'),
      },
    ],
  },
  'POST /v2/webhook/delete': {
    guard: 'webhooks:manage',
    calls: [
      { on: "on A's endpoint", body: (w) => ({ id: w.a.endpoint.id }), allowed: error(404, 'NOT_FOUND') },
    ],
  },
  'POST /v2/webhook/rotate-secret': {
    guard: 'webhooks:manage',
    calls: [
      { on: "on A's endpoint", body: (w) => ({ id: w.a.endpoint.id }), allowed: error(404, 'NOT_FOUND') },
    ],
  },
  'POST /v2/webhook/test': {
    guard: 'webhooks:manage',
    calls: [
      { on: "on A's endpoint", body: (w) => ({ id: w.a.endpoint.id }), allowed: error(404, 'NOT_FOUND') },
    ],
  },
  'POST /v2/webhook/deliveries': {
    guard: 'webhooks:read',
    calls: [
      {
        on: "on A's endpoint",
        body: (w) => ({ endpointId: w.a.endpoint.id }),
        allowed: error(404, 'NOT_FOUND'),
      },
      {
        on: "on B's endpoint, for A's event",
        body: (w) => ({ endpointId: w.b.endpoint.id, eventId: w.a.eventId }),
        allowed: emptyPage,
      },
    ],
  },
  'POST /v2/webhook/redeliver': {
    guard: 'webhooks:manage',
    calls: [
      {
        on: "on A's endpoint and event",
        body: (w) => ({ endpointId: w.a.endpoint.id, eventId: w.a.eventId }),
        allowed: error(404, 'NOT_FOUND'),
      },
      {
        on: "A's event to B's endpoint",
        body: (w) => ({ endpointId: w.b.endpoint.id, eventId: w.a.eventId }),
        allowed: error(404, 'NOT_FOUND'),
      },
      {
        on: "on A's endpoint, by time range",
        body: (w) => ({
          endpointId: w.a.endpoint.id,
          since: '2000-01-01T00:00:00Z',
          until: '2100-01-01T00:00:00Z',
        }),
        allowed: error(404, 'NOT_FOUND'),
      },
    ],
  },
  'POST /v2/event/find': {
    guard: 'events:read',
    calls: [
      { on: "by A's customer", body: (w) => ({ customerId: w.a.customer.id }), allowed: emptyPage },
      {
        on: 'with no filter',
        body: () => ({ take: 100 }),
        allowed: { status: 200, shows: "B's events only", check: listsOnlyB('events', (w) => w.b.eventId) },
      },
    ],
  },
  'POST /v2/admin/institution/create': {
    guard: 'operator',
    calls: [
      {
        on: "with A's title and A's owner's email (free in a new institution)",
        body: (w) => ({
          title: w.a.title,
          ownerEmail: swapCase(w.a.owner.email),
          ownerPassword: 'probe-password-1234',
        }),
        allowed: {
          status: 201,
          shows: 'a new institution',
          check: (a, context) =>
            problem(
              ![context.w.a.id, context.w.b.id].includes(a.body.data?.id) &&
                a.body.data?.owner?.email === context.body?.ownerEmail,
              a.raw,
            ),
        },
      },
    ],
  },
  'POST /v2/admin/wallet/status': {
    guard: 'operator',
    calls: [
      {
        // The status it already has: the operator's answer shows A's customer and changes nothing.
        on: "on A's locked wallet",
        body: (w) => ({ walletId: w.a.customer.walletId, status: 'Blocked', reason: 'probe' }),
        allowed: {
          status: 200,
          shows: "A's customer, unchanged",
          check: (a, { w }) =>
            problem(isDeepEqual(a.body.data, { ...w.a.customer, institutionId: w.a.id }), a.raw),
        },
      },
    ],
  },
  'POST /v2/admin/customer/erase': {
    guard: 'operator',
    calls: [
      {
        // The operator may erase any customer; the matrix must not destroy A's, so it asks for one
        // no institution has (customers-erase.test.ts erases for real).
        on: 'a customer id no institution has',
        body: () => ({ id: '00000000-0000-4000-8000-000000000000', reason: 'erase probe' }),
        allowed: error(404, 'CUSTOMER_NOT_FOUND'),
      },
    ],
  },
  'POST /v2/admin/customer/find': {
    guard: 'operator',
    calls: [
      {
        on: "for A's customers",
        body: (w) => ({ institutionId: w.a.id }),
        allowed: {
          status: 200,
          shows: "A's customers",
          check: (a, { w }) =>
            problem(
              isDeepEqual(
                a.body.data.map((c: { id: string }) => c.id),
                [w.a.customer.id, w.a.referrer.id],
              ) && a.body.meta.total === 2,
              a.raw,
            ),
        },
      },
    ],
  },
  'POST /v2/admin/customer/history': {
    guard: 'operator',
    calls: [
      {
        on: "on A's customer",
        body: (w) => ({ id: w.a.customer.id }),
        allowed: {
          status: 200,
          shows: "A's customer's history: its creation and the operator's lock",
          check: (a, { w }) =>
            problem(
              isDeepEqual(
                a.body.data.map((entry: { customerId: string; action: string; version: number }) => [
                  entry.customerId,
                  entry.action,
                  entry.version,
                ]),
                [
                  [w.a.customer.id, 'wallet_status', 2],
                  [w.a.customer.id, 'create', 1],
                ],
              ) && a.body.meta.total === 2,
              a.raw,
            ),
        },
      },
    ],
  },
  'POST /v2/admin/customer/details': {
    guard: 'operator',
    calls: [
      {
        on: "on A's customer",
        body: (w) => ({ id: w.a.customer.id }),
        allowed: {
          status: 200,
          shows: "A's customer",
          check: (a, { w }) =>
            problem(isDeepEqual(a.body.data, { ...w.a.customer, institutionId: w.a.id }), a.raw),
        },
      },
    ],
  },
};

function isDeepEqual(actual: unknown, expected: unknown): boolean {
  try {
    assert.deepEqual(actual, expected);
    return true;
  } catch {
    return false;
  }
}

/** Routes that are not part of the API: the documentation and the document itself. */
const NON_API_ROUTES = [
  'GET /openapi.json',
  'GET /docs',
  'GET /docs/',
  'GET /docs/*',
  'GET /docs/json',
  'GET /docs/yaml',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
];

/**
 * The console's pages (test/console*.test.ts test them with sessions): open without a session are
 * only these; every other console route sends a browser without a session to sign in.
 */
const CONSOLE_OPEN_ROUTES = [
  'GET /console',
  'GET /console/',
  'GET /console/sign-in',
  'POST /console/sign-in',
  'GET /console/assets/:name',
];

/** Whether the guard lets a caller of this kind through (only B's and the operator's ever are). */
function admits(guard: Exclude<Guard, 'public'>, kind: CallerKind): boolean {
  switch (guard) {
    case 'operator':
      return kind === 'operator';
    case 'session':
      return kind === 'otherOwner' || kind === 'otherViewer' || kind === 'operator';
    case 'api-keys:manage':
    case 'users:manage':
      return kind === 'otherOwner';
    case 'webhooks:manage':
      return kind === 'otherOwner' || kind === 'otherKey';
    case 'webhooks:read':
    case 'events:read':
      return kind === 'otherOwner' || kind === 'otherViewer' || kind === 'otherKey';
    case 'customers:read':
      return kind === 'otherOwner' || kind === 'otherViewer' || kind === 'otherKey';
    case 'customers:write':
    case 'customers:erase':
      return kind === 'otherOwner' || kind === 'otherKey';
  }
}

const UNAUTHENTICATED: ReadonlySet<CallerKind> = new Set([
  'anonymous',
  'garbageToken',
  'garbageKey',
  'revokedKey',
  'expiredKey',
]);

function expectationFor(entry: RouteEntry, call: Call, kind: CallerKind): Expectation {
  if (entry.guard === 'public') return call.allowed;
  if (UNAUTHENTICATED.has(kind)) return UNAUTHORIZED;
  return admits(entry.guard, kind) ? call.allowed : FORBIDDEN;
}

/** The OpenAPI security a guard implies: none, bearer only, or bearer or API key. */
function securityOf(guard: Guard): string {
  if (guard === 'public') return '[]';
  if (
    [
      'customers:read',
      'customers:write',
      'customers:erase',
      'webhooks:manage',
      'webhooks:read',
      'events:read',
    ].includes(guard)
  ) {
    return '[bearerAuth,apiKey]';
  }
  return '[bearerAuth]';
}

/** Every method and path Fastify routes, read from its route tree (HEAD is added for every GET). */
function registeredRoutes(t: TestApp): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of t.app.printRoutes({ commonPrefix: false }).split('\n')) {
    if (line.trim() === '') continue;
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    assert.ok(match !== null, `unexpected line in the route tree: ${line}`);
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    for (const method of match[3]?.split(', ') ?? []) routes.push(`${method} ${stack.join('')}`);
  }
  return routes;
}

function documentedRoutes(t: TestApp): Map<string, string> {
  const document = t.app.swagger() as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  const routes = new Map<string, string>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const schemes = (operation.security ?? []).flatMap((requirement) =>
        Object.keys(requirement as Record<string, unknown>),
      );
      routes.set(`${method.toUpperCase()} ${path}`, `[${schemes.join(',')}]`);
    }
  }
  return routes;
}

describe(`isolation matrix generated from the route list (${engine})`, () => {
  let t: TestApp;
  let w: World;
  let tried = 0;
  let failedCalls = 0;

  async function send(
    method: string,
    url: string,
    body: Record<string, unknown> | undefined,
    headers: Record<string, string>,
  ): Promise<Answer> {
    const response = await t.app.inject({
      method: method as 'GET' | 'POST',
      url,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    let parsed: unknown;
    try {
      parsed = response.json();
    } catch {
      parsed = undefined;
    }
    return { status: response.statusCode, body: parsed, raw: response.body, headers: response.headers };
  }

  async function login(email: string, password: string, merchantId?: string) {
    const response = await post(
      t,
      '/v2/auth/login',
      { token: email, password },
      undefined,
      merchantId === undefined ? {} : { merchant_id: merchantId },
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.data as { accessToken: string; refreshToken: string };
  }

  async function institution(operator: { token: string }, title: string, tag: string) {
    const email = `owner.${tag}@${title.toLowerCase().replace(/\W+/g, '-')}.test`;
    const password = `owner-password-${title}-${tag}`;
    const created = await post(
      t,
      '/v2/admin/institution/create',
      { title, ownerEmail: email, ownerPassword: password },
      operator,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.data.id;
    const tokens = await login(email, password, id);
    const owner: User = {
      id: created.body.data.owner.id,
      email,
      password,
      token: tokens.accessToken,
      refreshToken: tokens.refreshToken,
    };
    const viewerEmail = `viewer.${tag}@${title.toLowerCase().replace(/\W+/g, '-')}.test`;
    const viewerPassword = `viewer-password-${title}-${tag}`;
    const viewer = await post(
      t,
      '/v2/user/create',
      { email: viewerEmail, role: 'Viewer', password: viewerPassword },
      { token: owner.token },
    );
    assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
    const viewerTokens = await login(viewerEmail, viewerPassword, id);
    return {
      id,
      owner,
      viewer: {
        id: viewer.body.data.id as string,
        email: viewerEmail,
        password: viewerPassword,
        token: viewerTokens.accessToken,
        refreshToken: viewerTokens.refreshToken,
      },
    };
  }

  async function key(owner: User, scopes: string[], extra: Record<string, unknown> = {}): Promise<Key> {
    const response = await post(t, '/v2/api-key/create', { name: 'backend', scopes, ...extra }, owner);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return { id: response.body.data.id, apiKey: response.body.data.key, prefix: response.body.data.prefix };
  }

  async function customer(credentials: Credentials, fields: Record<string, unknown>) {
    const response = await post(t, '/v2/customer/create', fields, credentials);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body.data;
  }

  async function buildWorld(): Promise<World> {
    const tag = randomBytes(5).toString('hex');
    const operator = await loginOperator(t);
    const aTitle = `Alpha Bank ${tag}`;
    const a = await institution(operator, aTitle, tag);
    const b = await institution(operator, `Beta Pay ${tag}`, tag);
    const all = ['customers:read', 'customers:write', 'webhooks:manage'];
    // Expires in a moment: by the time the matrix runs it is an expired key (checked below).
    const expired = await key(a.owner, all, { expiresAt: new Date(Date.now() + 1500).toISOString() });
    const keys = {
      full: await key(a.owner, all),
      readOnly: await key(a.owner, ['customers:read']),
      writeOnly: await key(a.owner, ['customers:write']),
      revoked: await key(a.owner, all),
      expired,
    };
    const revoked = await post(t, '/v2/api-key/revoke', { id: keys.revoked.id }, a.owner);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));

    const endpointCreated = await post(
      t,
      '/v2/webhook/create',
      { url: `https://alpha-${tag}.partner.example/hooks`, description: `alpha hooks ${tag}` },
      a.owner,
    );
    assert.equal(endpointCreated.status, 201, JSON.stringify(endpointCreated.body));
    const aEndpoint = endpointCreated.body.data;
    const referrer = await customer(a.owner, {
      email: `Rita.Referrer.${tag}@alpha-mail.test`,
      phoneNumber: '+33 6 12 34 56 79',
      firstName: `Rita${tag}`,
      lastName: `Referrer${tag}`,
      comment: `referrer note ${tag}`,
      externalId: `alpha-ext-r-${tag}`,
      country: 'fr',
      verificationDocumentId: `RDOC-${tag}`,
      residenceAddress: `${tag} Rue de Rivoli, 75001 Paris`,
      itn: `ITN-R-${tag}`,
    });
    const created = await customer(a.owner, {
      email: `Anna.Alpha.${tag}@alpha-mail.test`,
      phoneNumber: '+33 6 12 34 56 78',
      firstName: `Anna${tag}`,
      lastName: `Alpha${tag}`,
      comment: `vip note ${tag}`,
      externalId: `alpha-ext-c-${tag}`,
      referralId: referrer.id,
      country: 'FR',
      verificationDocumentId: `ADOC-${tag}`,
      residenceAddress: `${tag} Avenue Anatole France, 75007 Paris`,
      itn: `ITN-A-${tag}`,
    });
    const locked = await post(
      t,
      '/v2/admin/wallet/status',
      { walletId: created.walletId, status: 'Blocked', reason: 'under review' },
      operator,
    );
    assert.equal(locked.status, 200, JSON.stringify(locked.body));
    const details = await post(t, '/v2/customer/details', { id: created.id }, { apiKey: keys.full.apiKey });
    assert.equal(details.status, 200, JSON.stringify(details.body));
    const aCustomer = details.body.data;
    assert.equal(aCustomer.walletStatusSetBy, 'operator');

    const bKey = await key(b.owner, [...all, 'customers:erase']);
    const bEndpoint = await post(
      t,
      '/v2/webhook/create',
      { url: 'https://beta.partner.example/hooks' },
      b.owner,
    );
    assert.equal(bEndpoint.status, 201, JSON.stringify(bEndpoint.body));
    const bCustomer = await customer(b.owner, {
      email: `bob.beta.${tag}@beta-mail.test`,
      phoneNumber: '+380991234567',
      firstName: 'Bob',
      lastName: 'Beta',
      country: 'UA',
      verificationDocumentId: 'BDOC',
      residenceAddress: 'Khreshchatyk 1, Kyiv',
    });

    const eventOf = async (institutionId: string) =>
      (
        await t.db.query<{ id: string }>(
          'SELECT id FROM events WHERE institution_id = $1 ORDER BY seq LIMIT 1',
          [institutionId],
        )
      )[0]!.id;
    const aEventId = await eventOf(a.id);
    const bEventId = await eventOf(b.id);
    const aEventIds = (
      await t.db.query<{ id: string }>('SELECT id FROM events WHERE institution_id = $1', [a.id])
    ).map((row) => row.id);
    const valuesOfA = [
      a.id,
      aTitle,
      aEndpoint.id,
      aEndpoint.url,
      aEndpoint.secret,
      aEndpoint.description,
      ...aEventIds,
      ...[a.owner, a.viewer].flatMap((user) => [
        user.id,
        user.email,
        user.password,
        user.token,
        user.refreshToken,
      ]),
      ...Object.values(keys).flatMap((k) => [k.id, k.apiKey, k.prefix]),
      ...[aCustomer, referrer].flatMap((c) => [
        c.id,
        c.walletId,
        c.email,
        c.phoneNumber,
        c.firstName,
        c.lastName,
        c.comment,
        c.externalId,
        c.verificationDocumentId,
        c.residenceAddress,
        c.itn,
      ]),
    ] as string[];
    return {
      operator,
      a: {
        id: a.id,
        title: aTitle,
        owner: a.owner,
        viewer: a.viewer,
        customer: aCustomer,
        referrer,
        keys,
        endpoint: aEndpoint,
        eventId: aEventId,
      },
      b: {
        id: b.id,
        owner: b.owner,
        viewer: b.viewer,
        key: bKey,
        customer: bCustomer,
        endpoint: bEndpoint.body.data,
        eventId: bEventId,
      },
      valuesOfA,
    };
  }

  /** Everything stored for A that a call could change (not lastUsedAt of its keys). */
  async function snapshotOfA() {
    const id = w.a.id;
    return {
      institution: await t.db.query('SELECT * FROM institutions WHERE id = $1', [id]),
      users: await t.db.query(
        `SELECT id, email, role, password_hash, deactivated_at FROM users WHERE institution_id = $1 ORDER BY id`,
        [id],
      ),
      sessions: await t.db.query(
        `SELECT s.id, s.revoked_at FROM auth_sessions s JOIN users u ON u.id = s.user_id
          WHERE u.institution_id = $1 ORDER BY s.id`,
        [id],
      ),
      refreshTokens: await t.db.query(
        `SELECT r.id, r.used_at FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id
           JOIN users u ON u.id = s.user_id WHERE u.institution_id = $1 ORDER BY r.id`,
        [id],
      ),
      apiKeys: await t.db.query(
        `SELECT id, name, prefix, key_hash, scopes, allowed_ips, expires_at, created_at, revoked_at
           FROM api_keys WHERE institution_id = $1 ORDER BY id`,
        [id],
      ),
      customers: await t.db.query(
        `SELECT c.*, w.id AS wallet_id, w.status, w.status_set_by, w.updated_at AS wallet_updated_at
           FROM customers c JOIN wallets w ON w.customer_id = c.id
          WHERE c.institution_id = $1 ORDER BY c.id`,
        [id],
      ),
      statusChanges: await t.db.query(
        'SELECT * FROM wallet_status_changes WHERE institution_id = $1 ORDER BY seq',
        [id],
      ),
      history: await t.db.query(
        'SELECT * FROM customer_history WHERE institution_id = $1 ORDER BY customer_id, version',
        [id],
      ),
      webhookEndpoints: await t.db.query(
        'SELECT * FROM webhook_endpoints WHERE institution_id = $1 ORDER BY id',
        [id],
      ),
      events: await t.db.query('SELECT * FROM events WHERE institution_id = $1 ORDER BY seq', [id]),
      deliveries: await t.db.query('SELECT * FROM webhook_deliveries WHERE institution_id = $1 ORDER BY id', [
        id,
      ]),
      attempts: await t.db.query('SELECT * FROM webhook_attempts WHERE institution_id = $1 ORDER BY id', [
        id,
      ]),
    };
  }

  const callers: { kind: CallerKind; name: string; as(entry: RouteEntry): Promise<Credentials> }[] = [
    {
      kind: 'otherKey',
      name: "B's API key (all scopes)",
      as: () => Promise.resolve({ apiKey: w.b.key.apiKey }),
    },
    { kind: 'otherOwner', name: "B's Owner", as: (entry) => token(entry, w.b.owner, w.b.id) },
    { kind: 'otherViewer', name: "B's Viewer", as: (entry) => token(entry, w.b.viewer, w.b.id) },
    {
      kind: 'keyLackingScope',
      name: "A's API key without the route's scope",
      as: (entry) =>
        Promise.resolve({
          apiKey:
            entry.guard === 'customers:read' || entry.guard === 'events:read'
              ? w.a.keys.writeOnly.apiKey
              : w.a.keys.readOnly.apiKey,
        }),
    },
    {
      kind: 'revokedKey',
      name: "A's revoked key",
      as: () => Promise.resolve({ apiKey: w.a.keys.revoked.apiKey }),
    },
    {
      kind: 'expiredKey',
      name: "A's expired key",
      as: () => Promise.resolve({ apiKey: w.a.keys.expired.apiKey }),
    },
    {
      kind: 'operator',
      name: 'the operator',
      as: async (entry) =>
        entry.endsCallerSession === true ? { token: (await loginOperator(t)).token } : w.operator,
    },
    { kind: 'anonymous', name: 'anonymous', as: () => Promise.resolve(undefined) },
    {
      kind: 'garbageToken',
      name: 'a garbage token',
      as: () => Promise.resolve({ token: `eyJhbGciOiJFZERTQSJ9.${randomBytes(24).toString('base64url')}.x` }),
    },
    {
      kind: 'garbageKey',
      name: 'a garbage API key',
      as: () => Promise.resolve({ apiKey: `cck_${randomBytes(32).toString('base64url')}` }),
    },
  ];

  /** The caller's token; a fresh session when the call would end the shared one. */
  async function token(entry: RouteEntry, user: User, institutionId: string): Promise<Credentials> {
    if (entry.endsCallerSession !== true) return { token: user.token };
    return { token: (await login(user.email, user.password, institutionId)).accessToken };
  }

  /**
   * A's values the answer shows (body or headers) that are neither in this request nor in B's own
   * rows (B may store A's customer's email as its own user's, and then see it).
   */
  async function leaksOfA(answer: Answer, sent: string): Promise<string[]> {
    const shown = (answer.raw + JSON.stringify(answer.headers)).toLowerCase();
    const candidates = w.valuesOfA.filter((value) => shown.includes(value.toLowerCase()));
    if (candidates.length === 0) return [];
    const ownOfB = JSON.stringify([
      ...(await t.db.query('SELECT email FROM users WHERE institution_id = $1', [w.b.id])),
      ...(await openedCustomers(t, 'c.institution_id = $1', [w.b.id])).map((row) =>
        JSON.stringify(row, (_key, value: unknown) =>
          value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
        ),
      ),
    ]).toLowerCase();
    return candidates.filter((value) => {
      const lower = value.toLowerCase();
      return !sent.includes(lower) && !ownOfB.includes(lower);
    });
  }

  function errorBodyProblems(answer: Answer, expected: { status: number; code: string; field?: string }) {
    const body = answer.body ?? {};
    const fields = (body.details ?? []).map((detail: { field: string }) => detail.field);
    return [
      ...problem(body.statusCode === expected.status, `statusCode ${body.statusCode}`),
      ...problem(body.error === STATUS_CODES[expected.status], `error ${body.error}`),
      ...problem(body.code === expected.code, `code ${body.code}, expected ${expected.code}`),
      ...problem(typeof body.message === 'string', 'no message'),
      ...problem(body.requestId === answer.headers['x-request-id'], 'requestId differs from x-request-id'),
      ...problem(body.data === undefined, 'error body carries data'),
      ...problem(expected.field === undefined || fields.includes(expected.field), `details ${fields}`),
    ];
  }

  before(async () => {
    // The matrix presents bad credentials and wrong passwords from one address on purpose; the
    // limits themselves are tested in rate-limits.test.ts.
    const unlimited = 1_000_000;
    t = await startTestApp({
      rateLimits: createRateLimits({
        ...defaultRateLimitOptions,
        keyPrefix: `isolation-${randomUUID()}`,
        loginFailuresPerAccount: unlimited,
        loginFailuresPerAddress: unlimited,
        apiKeyFailuresPerAddress: unlimited,
        apiKeyRequestsPerMinute: unlimited,
        apiKeyRequestsPerSecond: unlimited,
      }),
    });
    w = await buildWorld();
    // The expiring key must have expired before the matrix uses it (the database's clock decides).
    for (let attempt = 0; ; attempt++) {
      const answer = await post(t, '/v2/customer/find', {}, { apiKey: w.a.keys.expired.apiKey });
      if (answer.status === 401) break;
      assert.ok(attempt < 100, "A's expiring key never expired");
      await sleep(100);
    }
  });

  after(async () => {
    recordTrial({ suite: 'isolation', check: 'every route × every caller', tried, failures: failedCalls });
    await t.close();
  });

  it('when Fastify routes a method and path, then it is in the OpenAPI document or in the short list of non-API routes', async () => {
    const documented = documentedRoutes(t);
    const registered = registeredRoutes(t);
    const isConsole = (route: string) => / \/console(\/|\.|$)/.test(route);
    const known = (route: string) =>
      documented.has(route) || NON_API_ROUTES.includes(route) || isConsole(route);
    const forgotten = registered.filter(
      (route) => !known(route) && !(route.startsWith('HEAD ') && known(route.replace(/^HEAD /, 'GET '))),
    );
    recordTrial({
      suite: 'isolation',
      check: 'every registered route is documented or a listed non-API route',
      tried: registered.length,
      failures: forgotten.length,
    });
    assert.deepEqual(
      forgotten,
      [],
      `routes neither in /openapi.json nor listed as non-API: ${forgotten.join(', ')}`,
    );
    assert.ok(registered.includes('POST /v2/customer/create'), 'the route tree was read');
    const stale = NON_API_ROUTES.filter((route) => !registered.includes(route));
    assert.deepEqual(stale, [], 'non-API routes listed but not registered');

    // The non-API routes need no credentials and show none of A's data.
    for (const route of NON_API_ROUTES.filter((listed) => !listed.includes('*'))) {
      const [method, url] = route.split(' ') as [string, string];
      const answer = await send(method, url, undefined, {});
      assert.ok(answer.status < 400, `${route} answered ${answer.status}`);
      assert.deepEqual(await leaksOfA(answer, ''), [], `${route} shows A's data`);
    }

    // The console's pages, called on A's objects without a session (with API credentials of A's
    // owner too, which the console ignores): sign-in, or refused; never A's data.
    const consoleRoutes = registered.filter((route) => isConsole(route) && !route.startsWith('HEAD '));
    assert.ok(consoleRoutes.includes('GET /console/customers/:id'), 'the console routes were read');
    for (const route of consoleRoutes) {
      const [method, pattern] = route.split(' ') as [string, string];
      const url = pattern.replace(':name', 'console.css').replace(/:[A-Za-z]+/g, w.a.customer.id);
      for (const headers of [{}, { authorization: `Bearer ${w.a.owner.token}` }]) {
        const response = await t.app.inject({
          method: method as 'GET' | 'POST',
          url,
          headers:
            method === 'POST' ? { ...headers, 'content-type': 'application/x-www-form-urlencoded' } : headers,
          ...(method === 'POST' ? { payload: 'fields=email&status=Blocked&reason=x' } : {}),
        });
        tried++;
        if (CONSOLE_OPEN_ROUTES.includes(route)) {
          assert.ok(response.statusCode < 500, `${route} answered ${response.statusCode}`);
        } else {
          assert.equal(response.statusCode, 303, `${route} without a session`);
          assert.match(String(response.headers.location), /^\/console\/sign-in\?next=/, route);
        }
        const answer = {
          status: response.statusCode,
          raw: response.body,
          headers: response.headers,
        } as unknown as Answer;
        assert.deepEqual(await leaksOfA(answer, url), [], `${route} shows A's data`);
      }
    }
  });

  it('when the OpenAPI document lists a route, then the matrix table has its requests, with the guard its security declares', () => {
    const documented = documentedRoutes(t);
    const missing = [...documented.keys()].filter((route) => routeTable[route] === undefined);
    assert.deepEqual(missing, [], `routes without a row in the isolation table: ${missing.join(', ')}`);
    const stale = Object.keys(routeTable).filter((route) => !documented.has(route));
    assert.deepEqual(stale, [], `table rows for routes the app does not document: ${stale.join(', ')}`);
    for (const [route, security] of documented) {
      assert.equal(
        security,
        securityOf(routeTable[route]!.guard),
        `${route}: OpenAPI security vs table guard`,
      );
    }
  });

  it("when every caller calls every documented route on A's objects, then each answer follows the contract, shows none of A's data, and A's rows are unchanged", async (context) => {
    const documented = [...documentedRoutes(t).keys()];
    for (const route of documented) {
      const entry = routeTable[route];
      if (entry === undefined) {
        // Named by the previous test too; here it fails the matrix as well, and the others still run.
        failedCalls++;
        await context.test(route, () => {
          assert.fail(`${route} has no row in the isolation table`);
        });
        continue;
      }
      const [method, url] = route.split(' ') as [string, string];
      await context.test(`${route} (${entry.guard})`, async () => {
        const problems: string[] = [];
        for (const call of entry.calls) {
          for (const caller of callers) {
            const expected = expectationFor(entry, call, caller.kind);
            const body = call.body?.(w);
            const headers = { ...credentialHeaders(await caller.as(entry)), ...call.headers?.(w) };
            // Taken before each call, so that a change is charged to the call that made it.
            const aBefore = await snapshotOfA();
            const answer = await send(method, url, body, headers);
            tried++;

            const found: string[] = [];
            if (answer.status !== expected.status) {
              found.push(`status ${answer.status}, expected ${expected.status}: ${answer.raw.slice(0, 300)}`);
            } else if ('code' in expected) {
              found.push(...errorBodyProblems(answer, expected));
            } else {
              found.push(...(await expected.check(answer, { t, w, body })));
            }
            // The operator's own routes are how it sees A's data; everyone else sees none of it.
            const operatorAtWork = entry.guard === 'operator' && caller.kind === 'operator';
            if (!operatorAtWork) {
              const sent = (JSON.stringify(body ?? null) + JSON.stringify(headers)).toLowerCase();
              found.push(
                ...(await leaksOfA(answer, sent)).map((value) => `shows A's ${JSON.stringify(value)}`),
              );
            }
            if (!isDeepEqual(await snapshotOfA(), aBefore)) found.push("A's stored rows changed");

            if (found.length > 0) {
              failedCalls++;
              const outcome = 'code' in expected ? `${expected.status} ${expected.code}` : expected.shows;
              problems.push(`${caller.name} ${call.on} (expected ${outcome}): ${found.join('; ')}`);
            }
          }
        }
        assert.deepEqual(problems, []);
      });
    }
  });
});
