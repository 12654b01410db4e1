// Idempotency keys on write routes. A route opts in with `config.idempotent: true` (next to its
// permission); on such a route a request may carry `Idempotency-Key` (1–255 printable ASCII
// characters). After authentication and validation, and before the handler, the key is claimed
// in the database in one statement of its own (committed at once, so every instance sees it):
//   - claimed: the handler runs; the response it sends (status, body, content-type, etag) is
//     stored, unless it is a 5xx, which releases the claim so that a retry runs again;
//   - completed by an earlier request with the same route and body: that response is sent again,
//     with `idempotent-replayed: true`, and nothing runs;
//   - same key with another route or body: 422 IDEMPOTENCY_KEY_REUSED;
//   - still running elsewhere: 409 IDEMPOTENCY_IN_PROGRESS (with retry-after).
// Keys are scoped by the caller's institution (operators share the operator scope). Entries last
// 24 hours; a claim never completed is abandoned after the lease and can be taken over by a retry
// of the same request. Nothing readable is stored: see migrations/0011_idempotency_keys.sql.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { AppError, validationError } from './errors.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteExpiredIdempotencyKeys,
  findIdempotencyKey,
  releaseIdempotencyKey,
  type Claim,
  type IdempotencyEntry,
} from './idempotency.repository.js';
import type { Principal } from './principal.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A write route: takes part in idempotency keys. */
    idempotent?: boolean;
    /** Its 2xx body is `{ data: <a customer> }`: a stored response is blanked when that customer is erased. */
    holdsCustomer?: boolean;
  }
  interface FastifyRequest {
    /** The claim this request holds on an idempotency key, until its response is stored. */
    idempotency: Attempt | undefined;
  }
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

/**
 * How long a claim may stay uncompleted before it is presumed abandoned (its instance crashed).
 * Well above the longest a request can take to fail (DATABASE_CONNECT_TIMEOUT_MS +
 * DATABASE_STATEMENT_TIMEOUT_MS + 1 s, 16 s with the defaults; docs/decisions.md, Failure).
 */
export const DEFAULT_IDEMPOTENCY_LEASE_MS = 60_000;

/** Expired entries are deleted at most this often per instance. */
const CLEANUP_INTERVAL_MS = 60_000;

/** Response headers stored and replayed with the body. */
const storedHeaders = ['content-type', 'etag'] as const;

const validKey = /^[\x20-\x7E]{1,255}$/;

interface Attempt {
  claim: Claim;
  route: string;
  cipherKey: Buffer;
}

export interface IdempotencyOptions {
  db: Database;
  leaseMs?: number;
}

/** Where a caller's keys live: its institution, or the operator scope. */
function scopeOf(principal: Principal | undefined): string {
  if (principal === undefined) throw new Error('An idempotent route must require credentials');
  return principal.kind === 'operator' ? 'operator' : `institution:${principal.institutionId}`;
}

/** The JSON text of a value with every object's keys sorted, so that key order does not matter. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  // A parsed JSON body holds only strings, numbers, booleans and null here.
  return JSON.stringify(value);
}

// The response body is encrypted under a key derived from the idempotency key, which the database
// never holds (only its SHA-256): reading a stored response takes the client's key.
const cipherKeyOf = (key: string, scope: string): Buffer =>
  Buffer.from(hkdfSync('sha256', key, scope, 'customercore idempotent response v1', 32));

function encrypt(cipherKey: Buffer, route: string, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', cipherKey, iv);
  cipher.setAAD(Buffer.from(route));
  const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

function decrypt(cipherKey: Buffer, route: string, stored: Uint8Array): Buffer {
  const data = Buffer.from(stored);
  const decipher = createDecipheriv('aes-256-gcm', cipherKey, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(route));
  decipher.setAuthTag(data.subarray(12, 28));
  return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
}

const keyReused = () =>
  new AppError(
    'IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used for a different request (another body or route)',
  );

const erasedSince = () =>
  new AppError(
    'CUSTOMER_ERASED',
    'The customer this Idempotency-Key created or changed was erased since: its response is gone',
  );

const inProgress = () =>
  new AppError(
    'IDEMPOTENCY_IN_PROGRESS',
    'A request with this Idempotency-Key is still being processed; retry it shortly',
  );

/** The id of the customer a `{ data: <customer> }` body holds. */
function customerIdOf(body: Buffer): string | null {
  const parsed = JSON.parse(body.toString('utf8')) as { data?: { id?: unknown } };
  return typeof parsed.data?.id === 'string' ? parsed.data.id : null;
}

/**
 * Sends the stored response again. An error body names this request's id, as every error body
 * repeats its response's x-request-id (contract.md); everything else is the first response's.
 */
function replay(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: IdempotencyEntry,
  cipherKey: Buffer,
): FastifyReply {
  const stored = decrypt(cipherKey, entry.route, entry.body ?? new Uint8Array()).toString('utf8');
  const status = entry.status_code ?? 200;
  const body =
    status >= 400 ? JSON.stringify({ ...(JSON.parse(stored) as object), requestId: request.id }) : stored;
  reply.code(status);
  for (const [name, value] of Object.entries(entry.headers ?? {})) reply.header(name, value);
  if (reply.getHeader('content-type') === undefined) reply.header('content-type', 'application/json');
  reply.header(REPLAYED_HEADER, 'true');
  return reply.send(body);
}

export function registerIdempotency(app: FastifyInstance, options: IdempotencyOptions): void {
  const { db } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_IDEMPOTENCY_LEASE_MS;
  let lastCleanup = 0;

  app.decorateRequest('idempotency', undefined);

  // A route that takes no credentials has no caller to scope keys by.
  app.addHook('onRoute', (route) => {
    if (route.config?.idempotent === true && route.config.permission === 'public') {
      throw new Error(`Route ${route.url} is idempotent but public`);
    }
  });

  async function removeExpired(request: FastifyRequest): Promise<void> {
    if (Date.now() - lastCleanup < CLEANUP_INTERVAL_MS) return;
    lastCleanup = Date.now();
    try {
      const removed = await deleteExpiredIdempotencyKeys(db);
      if (removed > 0) request.log.debug({ removed }, 'expired idempotency keys deleted');
    } catch (error) {
      request.log.warn({ err: error }, 'expired idempotency keys not deleted');
    }
  }

  // After validation, so that the body is in its normalised (canonical) form and a refused
  // request claims nothing.
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.config.idempotent !== true) return;
    const key = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (key === undefined) return;
    if (typeof key !== 'string' || !validKey.test(key)) {
      throw validationError('Idempotency-Key', 'must be 1 to 255 printable ASCII characters');
    }
    const scope = scopeOf(request.principal);
    const route = request.routeOptions.url ?? request.url;
    const claim: Claim = {
      scope,
      keyHash: createHash('sha256').update(key).digest('hex'),
      claimId: randomUUID(),
    };
    const requestHash = createHmac('sha256', key).update(canonicalJson(request.body)).digest('hex');
    const cipherKey = cipherKeyOf(key, scope);
    await removeExpired(request);

    // A claim that fails finds the entry that beat it; if that entry vanished meanwhile (released
    // after a 5xx, or just expired), claiming again may succeed.
    for (let round = 0; round < 3; round++) {
      if (await claimIdempotencyKey(db, { ...claim, route, requestHash, leaseMs })) {
        request.idempotency = { claim, route, cipherKey };
        return;
      }
      const entry = await findIdempotencyKey(db, scope, claim.keyHash, leaseMs);
      if (entry === undefined) continue;
      if (entry.route !== route || entry.request_hash !== requestHash) throw keyReused();
      if (entry.status_code !== null) {
        if (entry.erased) throw erasedSince();
        return replay(request, reply, entry, cipherKey);
      }
      if (entry.abandoned) continue;
      break;
    }
    reply.header('retry-after', '1');
    throw inProgress();
  });

  // The response of the attempt that holds the claim: stored, or (a 5xx) given up.
  app.addHook('onSend', async (request, reply, payload) => {
    const attempt = request.idempotency;
    if (attempt === undefined) return payload;
    request.idempotency = undefined;
    const body =
      typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : undefined;
    try {
      if (reply.statusCode >= 500 || body === undefined) {
        await releaseIdempotencyKey(db, attempt.claim);
      } else {
        const headers: Record<string, string> = {};
        for (const name of storedHeaders) {
          const value = reply.getHeader(name);
          if (value !== undefined) headers[name] = String(value);
        }
        await completeIdempotencyKey(db, attempt.claim, {
          statusCode: reply.statusCode,
          headers,
          body: encrypt(attempt.cipherKey, attempt.route, body),
          customerId:
            reply.statusCode < 300 && request.routeOptions.config.holdsCustomer === true
              ? customerIdOf(body)
              : null,
        });
      }
    } catch (error) {
      // The response goes out regardless; the claim stays until its lease ends (docs/decisions.md).
      request.log.warn({ err: error }, 'idempotency key not recorded');
    }
    return payload;
  });
}

/** What became of a form submission run with runOnce(). */
export type Submission<T> =
  | { outcome: 'done'; result: T }
  /** The same form was submitted before, and that submission completed: nothing ran now. */
  | { outcome: 'done-before' }
  /** The same form's earlier submission is still running: nothing ran now. */
  | { outcome: 'in-progress' };

/**
 * Runs `action` at most once per form: the console's create forms carry a one-time token, and a
 * second submission of the same form (a refreshed answer page, a double click, Back and send
 * again) finds the first one's claim instead of creating a second institution, key, user or
 * endpoint. The JSON routes' Idempotency-Key mechanism underneath, scoped apart from them; only
 * the outcome is recorded, never the answer (a secret is shown once, by the first submission).
 * An action that throws releases the claim, so the corrected form can be sent again.
 */
export async function runOnce<T>(
  db: Database,
  form: { principal: Principal; route: string; token: string; log: FastifyBaseLogger },
  action: () => Promise<T>,
): Promise<Submission<T>> {
  const scope = `console:${scopeOf(form.principal)}`;
  const claim: Claim = {
    scope,
    keyHash: createHash('sha256').update(form.token).digest('hex'),
    claimId: randomUUID(),
  };
  const leaseMs = DEFAULT_IDEMPOTENCY_LEASE_MS;
  let claimed = false;
  for (let round = 0; round < 3; round++) {
    claimed = await claimIdempotencyKey(db, {
      ...claim,
      route: form.route,
      requestHash: form.route,
      leaseMs,
    });
    if (claimed) break;
    const entry = await findIdempotencyKey(db, scope, claim.keyHash, leaseMs);
    if (entry === undefined || entry.abandoned) continue;
    return entry.status_code === null ? { outcome: 'in-progress' } : { outcome: 'done-before' };
  }
  if (!claimed) return { outcome: 'in-progress' };
  let result: T;
  try {
    result = await action();
  } catch (error) {
    await releaseIdempotencyKey(db, claim);
    throw error;
  }
  try {
    await completeIdempotencyKey(db, claim, {
      statusCode: 201,
      headers: {},
      body: Buffer.alloc(0),
      customerId: null,
    });
  } catch (error) {
    // What was created is shown regardless (its secret only this once); the claim stays until its
    // lease ends, as on the JSON routes.
    form.log.warn({ err: error }, 'form submission not recorded');
  }
  return { outcome: 'done', result };
}
