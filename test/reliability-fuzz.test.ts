// Hostile input: property-based fuzzing of every route in the app's OpenAPI document, through
// app.inject on the real app. Each family of generators (test/support/arbitraries.ts) sends
// hundreds of requests; every answer must hold these properties:
//   - never a 5xx;
//   - every error is the contract's body (statusCode, error, code, message, requestId, details?)
//     with a known code matching its status, and a safe x-request-id that the body repeats;
//   - a 2xx only for a request the contract accepts, and no validation-class refusal of a
//     request that is well-formed by construction;
//   - credentials are checked before the body (401 without valid ones, 403 for the wrong role);
//   - a 2xx create stores exactly what was sent and what the response says;
// and after the run no prototype was polluted and the service still serves a normal request.
// FUZZ_SEED=<n> replays a run; the seed is printed with every failure.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { generateSigningKeyPem, signingKeyFromPem } from '../src/modules/auth/signing-key.js';
import { createRateLimits, defaultRateLimitOptions } from '../src/platform/rate-limits.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  unique,
  type Institution,
} from './support/client.js';
import {
  callerOf,
  contentTypes,
  controlCharacterBody,
  deepBody,
  duplicateKeyBody,
  edgeNumberBody,
  hugeArrayBody,
  invalidUtf8Body,
  mutatedBody,
  notAnObjectBody,
  oddHeaders,
  offRoute,
  permitted,
  prototypeKeyBody,
  queryString,
  routesOf,
  validBody,
  type Caller,
  type Expectation,
  type FuzzContext,
  type FuzzRequest,
  type OpenApiDocument,
  type Route,
} from './support/arbitraries.js';
import { recordTrial } from './support/report.js';
import { openedCustomer, openedCustomers } from './support/stored.js';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SUITE = 'hostile input';
const MIN_REQUESTS = 10_000;
/** Requests in flight at once: enough to keep both engines busy, few enough for a shared machine. */
const CONCURRENCY = 4;

// Every prototype a parsed body or query could reach, as it was before any request.
const prototypes = [
  Object.prototype,
  Array.prototype,
  String.prototype,
  Function.prototype,
  Number.prototype,
];
const snapshotOf = (target: object) =>
  new Map(Reflect.ownKeys(target).map((key) => [key, Object.getOwnPropertyDescriptor(target, key)]));
const pristine = prototypes.map(snapshotOf);

/**
 * The contract's error codes (contract.md "Errors" and "Personal data at rest, and erasure";
 * USER_EMAIL_TAKEN and issue 6's version and idempotency codes from the README) below 500.
 */
const contractCodes: Readonly<Record<string, number>> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  REFERRAL_NOT_FOUND: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  WALLET_STATUS_LOCKED: 403,
  CUSTOMER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  CUSTOMER_EMAIL_TAKEN: 409,
  CUSTOMER_EXTERNAL_ID_TAKEN: 409,
  USER_EMAIL_TAKEN: 409,
  VERSION_CONFLICT: 409,
  CUSTOMER_ERASED: 409,
  CUSTOMER_ON_HOLD: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
};
/** Refusals that say the request itself is malformed: never right for a well-formed one. */
const malformedCodes = new Set([
  'VALIDATION_ERROR',
  'INVALID_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
]);
const safeRequestId = /^[A-Za-z0-9._-]{1,128}$/;
const internalDetail =
  /node_modules|\.[jt]s:\d+|\bat [\w.<>]+ \(|SELECT |INSERT INTO|UPDATE \w+ SET|violates .* constraint|syntax error at/;

interface Injected {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

function errorBodyProblems(response: Injected, requestId: unknown, fields: Set<string>): string[] {
  let body: any;
  try {
    body = JSON.parse(response.body);
  } catch {
    return ['error body is not JSON'];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return ['error body is not an object'];
  const problems: string[] = [];
  const status = response.statusCode;
  const extra = Object.keys(body).filter(
    (key) => !['statusCode', 'error', 'code', 'message', 'requestId', 'details'].includes(key),
  );
  if (extra.length > 0) problems.push(`error body has unexpected keys ${extra.join(', ')}`);
  if (body.statusCode !== status) problems.push(`body statusCode ${String(body.statusCode)} ≠ ${status}`);
  if (body.error !== STATUS_CODES[status])
    problems.push(`error ${JSON.stringify(body.error)} is not the reason phrase`);
  if (contractCodes[body.code] !== status)
    problems.push(`code ${JSON.stringify(body.code)} is not a ${status} code`);
  if (typeof body.message !== 'string' || body.message === '') problems.push('message missing');
  else if (internalDetail.test(body.message)) problems.push(`message shows internals: ${body.message}`);
  if (body.requestId !== requestId) problems.push('requestId differs from the x-request-id header');
  if (body.details !== undefined) {
    const wellFormed =
      Array.isArray(body.details) &&
      body.details.every(
        (detail: any) =>
          typeof detail?.field === 'string' &&
          typeof detail.message === 'string' &&
          Object.keys(detail).length === 2 &&
          fields.has(detail.field),
      );
    if (!wellFormed) problems.push('details are not [{ field, message }] naming a sent or known property');
  }
  if (body.code === 'VALIDATION_ERROR' && !(Array.isArray(body.details) && body.details.length > 0)) {
    problems.push('VALIDATION_ERROR without details');
  }
  const contentType = response.headers['content-type'];
  if (typeof contentType !== 'string' || !contentType.startsWith('application/json')) {
    problems.push(`error content-type ${String(contentType)}`);
  }
  return problems;
}

/** Every property the response breaks (empty when it holds them all). */
function problemsOf(request: FuzzRequest, response: Injected): string[] {
  const problems: string[] = [];
  const status = response.statusCode;
  if (status >= 500) problems.push(`server error ${status}`);
  const requestId = response.headers['x-request-id'];
  const incoming = request.headers['x-request-id'];
  if (typeof requestId !== 'string' || !safeRequestId.test(requestId)) {
    problems.push(`x-request-id ${JSON.stringify(requestId)} missing or unsafe`);
  } else if (typeof incoming === 'string' && safeRequestId.test(incoming) && requestId !== incoming) {
    problems.push('a safe incoming x-request-id was not kept');
  }
  let code: unknown;
  if (status >= 400 && request.method !== 'HEAD') {
    // A detail names a property the request sent or the schema knows (not a JSON pointer).
    const fields = new Set([
      'body',
      'merchant_id',
      ...request.keys,
      ...Object.keys(request.route.body?.properties ?? {}),
    ]);
    const found = errorBodyProblems(response, requestId, fields);
    problems.push(...found);
    if (found.length === 0) code = (JSON.parse(response.body) as { code: unknown }).code;
  }
  // logout takes its credential in the body too (refreshToken; RFC 7009: revoking an unknown token
  // is not an error), so a caller without an access token is served when it sends one, and a
  // malformed body is refused as malformed before any 401.
  const credentialInBody = request.route.path === '/v2/auth/logout' && request.caller === 'none';
  const tokenInBody = credentialInBody && request.keys.includes('refreshToken');
  const allowed = tokenInBody || permitted(request.route, request.caller);
  const expectation: Expectation = request.routeMatched && !allowed ? 'invalid' : request.expect;
  if (status >= 200 && status < 300) {
    if (expectation === 'invalid') problems.push(`${status} for a request the contract refuses`);
    if (request.method === 'POST' && !/^\{"data":/.test(response.body))
      problems.push('2xx body is not { data }');
  }
  if (expectation === 'valid' && typeof code === 'string' && malformedCodes.has(code)) {
    problems.push(`well-formed request refused with ${code}`);
  }
  if (request.routeMatched && request.route.access !== 'public') {
    if (
      (request.caller === 'none' || request.caller === 'garbage') &&
      !credentialInBody &&
      status !== 401 &&
      status !== 429
    ) {
      problems.push(`${status} instead of 401 for a caller without valid credentials`);
    }
    if (request.caller === 'wrong-role' && status !== 403)
      problems.push(`${status} instead of 403 for the wrong role`);
  }
  return problems;
}

const describeRequest = (request: FuzzRequest, response: Injected | undefined, problems: string[]) => {
  const payload =
    request.payload === undefined
      ? '(none)'
      : Buffer.isBuffer(request.payload)
        ? `<${request.payload.length} bytes> ${request.payload.subarray(0, 160).toString('hex')}`
        : request.payload.slice(0, 240);
  const headers = JSON.stringify(request.headers, (_key, value: unknown) =>
    typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}…(${value.length})` : value,
  );
  return [
    `${request.method} ${request.url.slice(0, 120)} [${request.family}: ${request.note}; caller ${request.caller}; expect ${request.expect}]`,
    `  headers ${headers.slice(0, 400)}`,
    `  payload ${payload}`,
    `  → ${response?.statusCode ?? '(no answer)'} ${response?.body.slice(0, 300) ?? ''}`,
    `  problems: ${problems.join('; ')}`,
  ].join('\n');
};

interface Family {
  name: string;
  check: string;
  runs: number;
  /** Routes it applies to: those with a JSON body, or all (GET routes too). */
  routes: 'body' | 'all';
  /** How often a route is drawn, relative to the others (costly routes are rare anyway). */
  weight?: (route: Route) => number;
  build(route: Route, context: FuzzContext): fc.Arbitrary<FuzzRequest>;
}

/** A request with a JSON text body, from the given caller. */
function jsonRequest(
  family: string,
  route: Route,
  caller: Caller,
  part: { payload: string | Buffer; expect: Expectation; keys: string[]; note: string },
  extra: { headers?: Record<string, string | string[]>; contentType?: string | undefined; url?: string } = {},
): FuzzRequest {
  const contentType = 'contentType' in extra ? extra.contentType : 'application/json';
  return {
    family,
    route,
    method: route.method,
    url: extra.url ?? route.path,
    routeMatched: true,
    caller: caller.kind,
    headers: {
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
      ...caller.headers,
      ...extra.headers,
    },
    payload: part.payload,
    expect: part.expect,
    keys: part.keys,
    note: part.note,
  };
}

const asText = (body: Record<string, unknown>, expect: Expectation, note: string) => ({
  payload: JSON.stringify(body),
  expect,
  keys: Object.keys(body),
  note,
});

/** A route's normal request: a valid body on POST, nothing on GET. */
const normalPart = (route: Route, context: FuzzContext) =>
  route.body === undefined
    ? fc.constant(undefined)
    : validBody(route, context).map((body) => asText(body, 'valid', 'valid body'));

function withNormalBody(
  family: string,
  route: Route,
  context: FuzzContext,
  caller: fc.Arbitrary<Caller>,
  extra: fc.Arbitrary<{
    headers?: Record<string, string | string[]>;
    url?: string;
    keys?: string[];
    expect: Expectation;
    note: string;
  }>,
): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(normalPart(route, context), caller, extra).map(([part, who, more]) => {
    const expect: Expectation = more.expect === 'valid' ? (part?.expect ?? 'valid') : more.expect;
    const base =
      part === undefined
        ? {
            family,
            route,
            method: route.method,
            url: route.path,
            routeMatched: true,
            caller: who.kind,
            headers: { ...who.headers },
            expect,
            keys: [],
            note: '',
          }
        : jsonRequest(family, route, who, part);
    return {
      ...base,
      url: more.url ?? base.url,
      headers: { ...base.headers, ...more.headers },
      expect,
      keys: [...base.keys, ...(more.keys ?? [])],
      note: more.note,
    };
  });
}

const families: Family[] = [
  {
    name: 'schema-valid bodies',
    check:
      'valid bodies built from the schemas, edge-case strings included: served or refused by a rule, never as malformed',
    runs: 1100,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context), validBody(route, context))
        .map(([caller, body]) => jsonRequest('valid', route, caller, asText(body, 'valid', 'valid body'))),
  },
  {
    name: 'broken bodies',
    check:
      'wrong types, missing and unknown fields, lengths beyond limits, bad formats, NUL, lone surrogates: refused',
    runs: 3000,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), mutatedBody(route, context))
        .map(([caller, mutated]) =>
          jsonRequest('broken', route, caller, asText(mutated.body, mutated.expect, mutated.note)),
        ),
  },
  {
    name: 'control characters',
    check: 'control characters in strings: never a crash',
    runs: 300,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), controlCharacterBody(route, context))
        .map(([caller, mutated]) =>
          jsonRequest('controls', route, caller, asText(mutated.body, mutated.expect, mutated.note)),
        ),
  },
  {
    name: 'deep nesting',
    check: 'JSON nested up to 20,000 deep: refused',
    runs: 200,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), deepBody(route, context))
        .map(([caller, raw]) => jsonRequest('deep', route, caller, raw)),
  },
  {
    name: 'huge arrays',
    check: 'arrays of up to 30,000 items: refused',
    runs: 200,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), hugeArrayBody(route, context))
        .map(([caller, raw]) => jsonRequest('arrays', route, caller, raw)),
  },
  {
    name: 'invalid UTF-8',
    check: 'bodies with bytes that are not UTF-8: refused, never stored mangled',
    runs: 400,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), invalidUtf8Body(route, context))
        .map(([caller, raw]) => jsonRequest('utf8', route, caller, raw)),
  },
  {
    name: 'prototype keys',
    check: '__proto__, constructor.prototype and prototype keys: refused, nothing polluted',
    runs: 600,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), prototypeKeyBody(route, context))
        .map(([caller, raw]) => jsonRequest('proto', route, caller, raw)),
  },
  {
    name: 'duplicate keys',
    check: 'a key sent twice: refused when the value that counts is bad',
    runs: 500,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), duplicateKeyBody(route, context))
        .map(([caller, raw]) => jsonRequest('duplicates', route, caller, raw)),
  },
  {
    name: 'edge numbers',
    check: '1e308, -0, 1e-324, 2^53+1, 1e400 and friends: integers in range served, the rest refused',
    runs: 600,
    routes: 'body',
    // Most numbers go to the routes with integer fields (take, skip).
    weight: (route) =>
      Object.values(route.body?.properties ?? {}).some((property) => property.type === 'integer') ? 8 : 1,
    build: (route, context) =>
      fc
        .tuple(callerOf(route, context, 1), edgeNumberBody(route, context))
        .map(([caller, raw]) => jsonRequest('numbers', route, caller, raw)),
  },
  {
    name: 'empty and non-object bodies',
    check: 'no body, blank, null, arrays, scalars, broken JSON: refused (INVALID_JSON)',
    runs: 400,
    routes: 'body',
    build: (route, context) =>
      fc.tuple(callerOf(route, context, 1), notAnObjectBody(route)).map(([caller, raw]) => {
        const request = jsonRequest(
          'empty',
          route,
          caller,
          { ...raw, payload: raw.payload ?? '', keys: [] },
          { contentType: raw.contentType },
        );
        if (raw.payload === undefined) delete request.payload;
        return request;
      }),
  },
  {
    name: 'content types',
    check: 'bodies labelled with other media types, or none: refused (415)',
    runs: 500,
    routes: 'body',
    build: (route, context) =>
      fc
        .tuple(
          callerOf(route, context, 1),
          validBody(route, context),
          fc.constantFrom(...contentTypes, { value: undefined, expect: 'invalid' as Expectation }),
        )
        .map(([caller, body, type]) =>
          jsonRequest(
            'content-type',
            route,
            caller,
            asText(body, type.expect, `content-type ${String(type.value).slice(0, 40)}`),
            {
              contentType: type.value,
            },
          ),
        ),
  },
  {
    name: 'query strings',
    check: 'query strings (prototype paths, junk, bad escapes) on every route: ignored, never a crash',
    runs: 500,
    routes: 'all',
    build: (route, context) =>
      withNormalBody(
        'query',
        route,
        context,
        callerOf(route, context, 1),
        queryString.map(({ query, keys }) => ({
          url: `${route.path}?${query}`,
          keys,
          expect: 'valid',
          note: `?${query.slice(0, 80)}`,
        })),
      ),
  },
  {
    name: 'odd headers',
    check: 'very long, numerous or odd headers (x-request-id, merchant_id, content-length): never a crash',
    runs: 700,
    routes: 'all',
    build: (route, context) =>
      withNormalBody('headers', route, context, callerOf(route, context, 1), oddHeaders(route)),
  },
  {
    name: 'credentials',
    check:
      'valid JWT, API key, none, wrong role, tampered, forged, revoked, malformed: 401/403 before the body',
    runs: 1100,
    routes: 'all',
    build: (route, context) =>
      withNormalBody(
        'credentials',
        route,
        context,
        callerOf(route, context, 16),
        fc.constant({ expect: 'valid', note: 'credentials' }),
      ),
  },
  {
    name: 'off-route methods and paths',
    check: 'other methods, near-miss and malformed paths: 404, never a 2xx',
    runs: 400,
    routes: 'all',
    build: (route, context) =>
      fc
        .tuple(normalPart(route, context), callerOf(route, context, 1), offRoute(route))
        .map(([part, caller, off]) => {
          const base: FuzzRequest =
            part === undefined
              ? {
                  family: 'off-route',
                  route,
                  method: off.method,
                  url: off.url,
                  routeMatched: false,
                  caller: caller.kind,
                  headers: { ...caller.headers },
                  expect: off.expect,
                  keys: [],
                  note: off.note,
                }
              : {
                  ...jsonRequest('off-route', route, caller, part),
                  method: off.method,
                  url: off.url,
                  routeMatched: false,
                  expect: off.expect,
                  note: off.note,
                };
          return base;
        }),
  },
];

/** Routes drawn with the costly (password-hashing) ones rare, so the run stays within minutes. */
const routeArbitrary = (routes: Route[], weight: (route: Route) => number = () => 1) =>
  fc.oneof(
    ...routes.map((route) => ({
      weight: route.costly ? 1 : 25 * weight(route),
      arbitrary: fc.constant(route),
    })),
  );

async function inject(t: TestApp, request: FuzzRequest): Promise<Injected> {
  const response = await t.app.inject({
    method: request.method as 'POST',
    url: request.url,
    headers: request.headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  });
  return { statusCode: response.statusCode, headers: response.headers, body: response.body };
}

interface Outcome {
  tried: number;
  failures: number;
  examples: string[];
  keys: Set<string>;
  /**
   * 2xx customer creates, for the stored-row check. (Updates are left out: with requests in
   * flight together, a later update may already have changed the row when it is read.)
   */
  written: { request: FuzzRequest; data: any }[];
}

async function runAll(t: TestApp, requests: FuzzRequest[]): Promise<Outcome> {
  const outcome: Outcome = { tried: 0, failures: 0, examples: [], keys: new Set(), written: [] };
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      for (const key of request.keys) outcome.keys.add(key);
      let response: Injected | undefined;
      let problems: string[];
      try {
        response = await inject(t, request);
        problems = problemsOf(request, response);
      } catch (error) {
        problems = [`the request failed: ${String(error)}`];
      }
      outcome.tried++;
      if (problems.length > 0) {
        outcome.failures++;
        if (outcome.examples.length < 5) outcome.examples.push(describeRequest(request, response, problems));
      }
      if (
        response !== undefined &&
        response.statusCode < 300 &&
        request.routeMatched &&
        request.route.path === '/v2/customer/create'
      ) {
        outcome.written.push({ request, data: (JSON.parse(response.body) as { data: unknown }).data });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return outcome;
}

const customerColumns = {
  email: 'email',
  phoneNumber: 'phone_number',
  firstName: 'first_name',
  lastName: 'last_name',
  comment: 'comment',
  externalId: 'external_id',
  referralId: 'referral_id',
  country: 'country',
  verificationDocumentId: 'verification_document_id',
  residenceAddress: 'residence_address',
  itn: 'itn',
} as const;

/** Fields the service trims before storing (contract: email, firstName, lastName). */
const trimmed = new Set(['email', 'firstName', 'lastName']);

/**
 * Each 2xx create: the stored row is the response's customer, and each string the request sent
 * is stored as sent (trimmed where the contract trims; phone and country are normalised).
 * Returns one line per create that breaks this.
 */
async function storedProblems(t: TestApp, written: Outcome['written']): Promise<string[]> {
  const broken: string[] = [];
  for (const { request, data } of written) {
    const problems: string[] = [];
    const customer = await openedCustomer(t, String(data.id));
    const [wallet] = await t.db.query<{ wallet_id: string }>(
      'SELECT w.id AS wallet_id FROM wallets w WHERE w.customer_id = $1',
      [data.id],
    );
    const row: Record<string, unknown> | undefined =
      customer === undefined || wallet === undefined
        ? undefined
        : { ...customer, wallet_id: wallet.wallet_id };
    if (row === undefined) {
      broken.push(`${request.route.path} answered 2xx for ${String(data.id)}, which is not stored`);
      continue;
    }
    if (row.wallet_id !== data.walletId)
      problems.push(`walletId of ${String(data.id)} differs from the stored one`);
    const sent =
      typeof request.payload === 'string' ? (JSON.parse(request.payload) as Record<string, unknown>) : {};
    for (const [field, column] of Object.entries(customerColumns)) {
      const stored = row[column] ?? null;
      if (stored !== data[field])
        problems.push(`${field} answered ${JSON.stringify(data[field])}, stored ${JSON.stringify(stored)}`);
      const value = sent[field];
      if (typeof value !== 'string' || field === 'phoneNumber' || field === 'country') continue;
      // Ids come back in PostgreSQL's lower-case form.
      const expected = trimmed.has(field)
        ? value.trim()
        : field === 'referralId'
          ? value.toLowerCase()
          : value;
      if (stored !== expected)
        problems.push(`${field} sent ${JSON.stringify(expected)}, stored ${JSON.stringify(stored)}`);
    }
    if (problems.length > 0) broken.push(`customer ${String(data.id)}: ${problems.join('; ')}`);
  }
  return broken;
}

describe('hostile input (property-based fuzzing of every route)', { timeout: 900_000 }, () => {
  let t: TestApp;
  let institution: Institution;
  let context: FuzzContext;
  let routes: Route[];
  let totalTried = 0;
  const usedKeys = new Set<string>();
  const started = Date.now();

  before(async () => {
    t = await startTestApp({
      // Bad API keys from the fuzzer's one address must not lock its good key out, and the key's
      // per-minute budget must outlast the run; the login limits stay as deployed.
      rateLimits: createRateLimits({
        ...defaultRateLimitOptions,
        keyPrefix: `fuzz-${randomUUID()}`,
        apiKeyFailuresPerAddress: 1_000_000,
        apiKeyRequestsPerMinute: 1_000_000,
        apiKeyRequestsPerSecond: 1_000_000,
      }),
    });
    const operator = await loginOperator(t);
    institution = await createInstitution(t, operator);
    const { apiKey } = await createApiKey(t, institution, [
      'customers:read',
      'customers:write',
      'webhooks:manage',
    ]);
    const revoked = await createApiKey(t, institution);
    const revoke = await post(t, '/v2/api-key/revoke', { id: revoked.id }, institution.owner);
    assert.equal(revoke.status, 200, JSON.stringify(revoke.body));

    // Logout gets a session of its own (a Viewer's), so that the fuzzer never ends the owner's.
    const viewer = { email: `${unique('viewer')}@acme.test`, password: 'viewer-password-123' };
    const created = await post(t, '/v2/user/create', { ...viewer, role: 'Viewer' }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = await post(
      t,
      '/v2/auth/login',
      { token: viewer.email, password: viewer.password },
      undefined,
      {
        merchant_id: institution.id,
      },
    );
    assert.equal(session.status, 200, JSON.stringify(session.body));

    // A token with the service's kid and the owner's claims, signed by a key it does not know.
    const foreignKey = await signingKeyFromPem(generateSigningKeyPem());
    const ownerClaims = JSON.parse(
      Buffer.from(institution.owner.token.split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    const foreignToken = await new SignJWT(ownerClaims)
      .setProtectedHeader({ ...decodeProtectedHeader(institution.owner.token), alg: 'EdDSA' })
      .sign(foreignKey.privateKey);

    const customers = await Promise.all([1, 2, 3].map(() => createCustomer(t, { apiKey })));
    context = {
      operatorToken: operator.token,
      ownerToken: institution.owner.token,
      sessionToken: session.body.data.accessToken,
      sessionRefreshToken: session.body.data.refreshToken,
      apiKey,
      revokedApiKey: revoked.apiKey,
      foreignToken,
      customerIds: customers.map((customer) => customer.id as string),
      walletIds: customers.map((customer) => customer.walletId as string),
      institutionId: institution.id,
    };
    routes = routesOf(t.app.swagger() as unknown as OpenApiDocument);
  });

  after(async () => {
    await t.close();
  });

  // Bugs the fuzzer found, each pinned by the smallest request that showed it.
  describe('regressions found by the fuzzer', () => {
    const send = (
      url: string,
      payload: string | Buffer,
      credentials: Record<string, string> = { 'api-key': context.apiKey },
    ) =>
      inject(t, {
        family: 'regression',
        route: routes[0]!,
        method: 'POST',
        url,
        routeMatched: true,
        caller: 'api-key',
        headers: { 'content-type': 'application/json', ...credentials },
        payload,
        expect: 'invalid',
        keys: [],
        note: '',
      });
    const customerCount = async () =>
      (await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [institution.id])).length;
    const assertRefused = (response: Injected, code: string, field?: string) => {
      assert.equal(response.statusCode, 400, response.body);
      const body = JSON.parse(response.body);
      assert.equal(body.code, code, response.body);
      if (field !== undefined) assert.equal(body.details[0].field, field, response.body);
    };

    it('when a body or a field is nested 10,000 deep, then it is refused with 400, not a 500', async () => {
      const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
      assertRefused(
        await send('/v2/customer/find', Buffer.from(`{"comment":${deep}}`)),
        'VALIDATION_ERROR',
        'comment',
      );
      assertRefused(await send('/v2/customer/find', Buffer.from(deep)), 'VALIDATION_ERROR', 'a');
      const arrays = `{"comment":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      assertRefused(await send('/v2/customer/find', Buffer.from(arrays)), 'VALIDATION_ERROR', 'comment');
    });

    it('when skip is an integer beyond 2^53 (1e19, 1e308), then it is refused with 400, not a 500', async () => {
      for (const skip of ['1e19', '1e308', '9007199254740993']) {
        assertRefused(await send('/v2/customer/find', `{"skip":${skip}}`), 'VALIDATION_ERROR', 'skip');
        const asOperator = { authorization: `Bearer ${context.operatorToken}` };
        assertRefused(
          await send('/v2/admin/customer/find', `{"skip":${skip}}`, asOperator),
          'VALIDATION_ERROR',
          'skip',
        );
      }
      const largest = await send('/v2/customer/find', `{"skip":${Number.MAX_SAFE_INTEGER}}`);
      assert.equal(largest.statusCode, 200, largest.body);
      assert.deepEqual(JSON.parse(largest.body).data, []);
    });

    it('when a date-time is in year 0000, then it is refused with 400, not a 500', async () => {
      for (const field of ['createdFrom', 'createdTo']) {
        const response = await send('/v2/customer/find', JSON.stringify({ [field]: '0000-01-01T00:00:00Z' }));
        assertRefused(response, 'VALIDATION_ERROR', field);
      }
      const earliest = await send('/v2/customer/find', '{"createdFrom":"0001-01-01T00:00:00Z"}');
      assert.equal(earliest.statusCode, 200, earliest.body);
    });

    it('when a string holds bytes that are not UTF-8, then it is refused and nothing is stored', async () => {
      const before = await customerCount();
      const input = customerInput();
      const [head, tail] = JSON.stringify(input).split('"Alex"') as [string, string];
      const payload = Buffer.concat([
        Buffer.from(`${head}"Al`),
        Buffer.from([0xff, 0xc3]),
        Buffer.from(`ex"${tail}`),
      ]);
      assertRefused(await send('/v2/customer/create', payload), 'INVALID_JSON');
      assert.equal(await customerCount(), before);
    });

    it('when a country is a non-ASCII letter that upper-cases to a code (ß, ſe, ıt), then it is refused', async () => {
      const before = await customerCount();
      for (const country of ['ß', 'ſe', 'ıt', 'ﬀ']) {
        const response = await send('/v2/customer/create', JSON.stringify(customerInput({ country })));
        assertRefused(response, 'VALIDATION_ERROR', 'country');
      }
      assert.equal(await customerCount(), before);
      const lower = await send('/v2/customer/create', JSON.stringify(customerInput({ country: 'se' })));
      assert.equal(lower.statusCode, 201, lower.body);
      assert.equal(JSON.parse(lower.body).data.country, 'SE');
    });

    it('when a text field starts with U+FEFF, then it is refused naming the field; inside a string it is kept', async () => {
      const before = await customerCount();
      for (const [field, value] of [
        ['comment', '\ufeffnote'],
        ['itn', '\ufeff'],
        ['firstName', '\ufeffAlex'],
      ] as const) {
        const response = await send('/v2/customer/create', JSON.stringify(customerInput({ [field]: value })));
        assertRefused(response, 'VALIDATION_ERROR', field);
      }
      assert.equal(await customerCount(), before);
      const inside = await send(
        '/v2/customer/create',
        JSON.stringify(customerInput({ comment: 'a\ufeffnote' })),
      );
      assert.equal(inside.statusCode, 201, inside.body);
      const { data } = JSON.parse(inside.body);
      const [row] = await t.db.query<{ comment: string }>('SELECT comment FROM customers WHERE id = $1', [
        data.id,
      ]);
      assert.equal(row?.comment, 'a\ufeffnote');
      assert.equal(data.comment, 'a\ufeffnote');
    });

    it('when a string holds a lone surrogate, then it is refused naming the field and nothing is stored', async () => {
      const before = await customerCount();
      for (const surrogate of ['\\ud800', '\\udfff', '\\udc00\\ud800']) {
        const payload = JSON.stringify(customerInput()).replace('"Alex"', `"Al${surrogate}ex"`);
        assertRefused(await send('/v2/customer/create', payload), 'VALIDATION_ERROR', 'firstName');
      }
      const paired = await send(
        '/v2/customer/create',
        JSON.stringify(customerInput({ firstName: 'Al😀ex' })),
      );
      assert.equal(paired.statusCode, 201, paired.body);
      assert.equal(await customerCount(), before + 1);
    });
  });

  it('when the OpenAPI document is read, then it lists every route the fuzzer attacks', () => {
    const paths = routes.map((route) => `${route.method} ${route.path}`);
    for (const expected of [
      'POST /v2/customer/create',
      'POST /v2/customer/update',
      'POST /v2/admin/wallet/status',
      'POST /v2/auth/login',
      'GET /health/ready',
    ]) {
      assert.ok(paths.includes(expected), `${expected} missing from ${paths.join(', ')}`);
    }
    assert.ok(routes.filter((route) => route.body !== undefined).length >= 15, paths.join(', '));
  });

  for (const [index, family] of families.entries()) {
    it(`when fuzzed with ${family.name}, then every answer holds the contract`, async (test) => {
      const eligible = routes.filter((route) => family.routes === 'all' || route.body !== undefined);
      const arbitrary = routeArbitrary(eligible, family.weight).chain((route) =>
        family.build(route, context),
      );
      const requests = fc.sample(arbitrary, { numRuns: family.runs, seed: seed + index });
      const outcome = await runAll(t, requests);
      const stored = await storedProblems(t, outcome.written);
      for (const key of outcome.keys) usedKeys.add(key);
      totalTried += outcome.tried;
      recordTrial({
        suite: SUITE,
        check: `${family.name}: ${family.check}`,
        tried: outcome.tried,
        failures: outcome.failures + stored.length,
      });
      test.diagnostic(
        `${engine}: ${outcome.tried} requests (${outcome.written.length} creates), ` +
          `${outcome.failures + stored.length} failures, seed ${seed}`,
      );
      assert.equal(outcome.tried, family.runs);
      assert.equal(
        outcome.failures,
        0,
        `${outcome.failures} of ${outcome.tried} requests broke a property (FUZZ_SEED=${seed}); first ones:\n${outcome.examples.join('\n')}`,
      );
      assert.deepEqual(
        stored.slice(0, 5),
        [],
        `${stored.length} creates stored something else (FUZZ_SEED=${seed})`,
      );
    });
  }

  it('when the fuzzing is over, then no stored text was mangled and no prototype was polluted', async () => {
    // The generators never send U+FFFD or NUL as such, so either in a stored value means the
    // service stored a replacement for bytes or surrogates it should have refused.
    const textColumns = [
      'email',
      'phone_number',
      'first_name',
      'last_name',
      'comment',
      'external_id',
      'verification_document_id',
      'residence_address',
      'itn',
    ];
    const mangled = [
      ...(await openedCustomers(t))
        .filter((row) =>
          textColumns
            .map((column) => row[column])
            .filter((value): value is string => typeof value === 'string')
            .join('|')
            .includes('\uFFFD'),
        )
        .map((row) => ({ id: row.id })),
      ...(await t.db.query<{ id: string }>(
        `SELECT id FROM institutions WHERE title LIKE '%' || chr(65533) || '%'
         UNION ALL SELECT id FROM api_keys WHERE name LIKE '%' || chr(65533) || '%'
         UNION ALL SELECT id FROM users WHERE email LIKE '%' || chr(65533) || '%'`,
      )),
    ];
    // A key that no object or array had before must still be readable on none.
    const [objectBefore, arrayBefore] = pristine;
    const polluted = [...usedKeys].filter(
      (key) =>
        (!objectBefore!.has(key) && Reflect.get({}, key) !== undefined) ||
        (!objectBefore!.has(key) && !arrayBefore!.has(key) && Reflect.get([], key) !== undefined),
    );
    const changed = prototypes.flatMap((target, index) => {
      const before = pristine[index]!;
      const now = snapshotOf(target);
      return [...new Set([...before.keys(), ...now.keys()])].filter((key) => {
        const [a, b] = [before.get(key), now.get(key)];
        return a?.value !== b?.value || a?.get !== b?.get || a?.set !== b?.set;
      });
    });
    recordTrial({
      suite: SUITE,
      check: 'after the run: no prototype polluted for any key the fuzzer used, no stored text mangled',
      tried: usedKeys.size,
      failures: polluted.length + changed.length + mangled.length,
    });
    assert.equal(Reflect.get({}, 'polluted') as unknown, undefined);
    assert.deepEqual(polluted, [], 'keys now readable on every object');
    assert.deepEqual(changed.map(String), [], 'prototype properties added or replaced');
    assert.deepEqual(mangled, [], 'rows storing U+FFFD');
  });

  it('when the fuzzing is over, then the service still serves a normal request and stores it', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    const input = customerInput({ comment: 'after the storm' });
    const created = await post(t, '/v2/customer/create', input, institution.owner);
    const rows = (
      await openedCustomers(t, 'c.id = $1 AND c.institution_id = $2', [
        created.body.data?.id ?? randomUUID(),
        institution.id,
      ])
    ).map((row) => ({ email: row.email, comment: row.comment }));
    const details = await post(
      t,
      '/v2/customer/details',
      { id: created.body.data?.id },
      { apiKey: context.apiKey },
    );
    const held = [
      ready.statusCode === 200,
      created.status === 201 && rows.length === 1 && rows[0]?.comment === 'after the storm',
      details.status === 200 && JSON.stringify(details.body.data) === JSON.stringify(created.body.data),
    ];
    recordTrial({
      suite: SUITE,
      check: `service still serves normal requests after ${totalTried} hostile ones (${Math.round((Date.now() - started) / 1000)} s)`,
      tried: held.length,
      failures: held.filter((ok) => !ok).length,
    });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(rows, [{ email: input.email, comment: 'after the storm' }]);
    assert.equal(details.status, 200, JSON.stringify(details.body));
    assert.deepEqual(details.body.data, created.body.data);
    assert.ok(totalTried >= MIN_REQUESTS, `only ${totalTried} requests were sent`);
  });
});
