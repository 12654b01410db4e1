// The CustomerCore client: every operation of the service's OpenAPI document, typed from it and
// named after its operationId, plus what integrators otherwise write by hand: sessions that
// refresh themselves, an Idempotency-Key on every write, retries that reuse it, pagination, and
// optimistic concurrency from a customer read earlier.
import { randomUUID } from 'node:crypto';
import createClient, { type Client } from 'openapi-fetch';
import type { Dispatcher } from 'undici';
import { CustomerCoreError } from './errors.js';
import type { operations, paths } from './generated/openapi.js';
import { operationRoutes, type OperationId } from './generated/operations.js';
import { fetchTransport, undiciTransport, type Transport } from './transport.js';

export type { OperationId };
/** The customer object, as every customer route returns it. */
export type Customer = SuccessBody<'customerDetails'>['data'];
export type CreateCustomerInput = RequestBody<'customerCreate'>;
export type UpdateCustomerInput = RequestBody<'customerUpdate'>;
export type FindCustomersInput = RequestBody<'customerFind'>;

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

/** The JSON body an operation takes (undefined for operations that take none). */
export type RequestBody<K extends OperationId> = operations[K] extends { requestBody: infer R }
  ? JsonContent<R>
  : operations[K] extends { requestBody?: infer R }
    ? [NonNullable<R>] extends [never]
      ? undefined
      : JsonContent<NonNullable<R>>
    : undefined;

/** The JSON body of an operation's success answer. */
export type SuccessBody<K extends OperationId> = operations[K]['responses'] extends infer R
  ? 200 extends keyof R
    ? JsonContent<R[200]>
    : 201 extends keyof R
      ? JsonContent<R[201]>
      : unknown
  : never;

type BodyArgs<K extends OperationId> = [RequestBody<K>] extends [undefined]
  ? [body?: undefined, options?: RequestOptions]
  : [body: RequestBody<K>, options?: RequestOptions];

/** A logged-in session: what `login()` returns and `onSession` hands over to be stored. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** ISO 8601: when the access token expires. */
  expiresAt: string;
}

export interface CustomerCoreOptions {
  /** Where the service runs, e.g. `https://customers.example.com`. */
  baseUrl: string;
  /** An institution API key (`cck_…`), for a backend. */
  apiKey?: string;
  /** An access token used as it is (never refreshed). */
  accessToken?: string;
  /** A session from an earlier `login()`; refreshed before it expires. */
  session?: Session;
  /** Called whenever the session changes (login, refresh, logout: undefined), to store it. */
  onSession?: (session: Session | undefined) => void | Promise<void>;
  /** Retries of one request after a retryable answer or a connection failure (default 3). */
  maxRetries?: number;
  /** First backoff delay; doubled on every retry, with jitter (default 500 ms). */
  retryBaseDelayMs?: number;
  /** Longest backoff delay (default 20 s). */
  retryMaxDelayMs?: number;
  /** A server that asks to wait longer than this (retry-after) gets an error instead (default 60 s). */
  maxRetryWaitMs?: number;
  /** Refresh the access token this long before it expires (default 60 s). */
  refreshBeforeExpiryMs?: number;
  /** Per attempt: for the answer's headers, then between two chunks of its body (default 30 s). */
  timeoutMs?: number;
  /** An undici dispatcher (an `Agent` with its own TLS or pool settings, a `ProxyAgent`, a mock). */
  dispatcher?: Dispatcher;
  /** Send through this `fetch` implementation instead of undici's `request` (tests, other runtimes). */
  fetch?: typeof globalThis.fetch;
}

export interface RequestOptions {
  /** The write's Idempotency-Key; a random UUID when absent. Retries reuse it. */
  idempotencyKey?: string;
  /** If-Match: the customer object read earlier (its id and version), or an ETag. */
  ifMatch?: string | { id: string; version: number };
  /** More request headers. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  maxRetries?: number;
}

/** What came back with a success body: its headers (etag, idempotent-replayed, x-request-id). */
export interface ResponseMeta {
  status: number;
  headers: Headers;
  requestId: string | undefined;
  /** The answer is the stored one of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
  /** The Idempotency-Key that was sent, if any. */
  idempotencyKey: string | undefined;
}

type RouteInfo = (typeof operationRoutes)[OperationId];

const routesByPath = new Map<string, RouteInfo>(
  Object.values(operationRoutes).map((route) => [`${route.method.toUpperCase()} ${route.path}`, route]),
);

const USER_AGENT = 'customercore-node/0.1.0';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

/** Seconds to wait, from `retry-after` (delay-seconds or an HTTP date). */
function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * When the RateLimit headers say the budget is spent, how long until it resets: the IETF
 * draft's `RateLimit: limit=…, remaining=0, reset=30` and `RateLimit: "default";r=0;t=30`, and
 * the separate `RateLimit-Remaining` / `RateLimit-Reset` headers.
 */
function rateLimitResetMs(headers: Headers): number | undefined {
  const combined = headers.get('ratelimit') ?? '';
  const remaining =
    headers.get('ratelimit-remaining') ?? /(?:^|[;,\s])(?:remaining|r)=(\d+)/.exec(combined)?.[1];
  const reset = headers.get('ratelimit-reset') ?? /(?:^|[;,\s])(?:reset|t)=(\d+)/.exec(combined)?.[1];
  if (remaining === undefined || reset === undefined || Number(remaining) > 0) return undefined;
  const seconds = Number(reset);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

function etagOf(ifMatch: RequestOptions['ifMatch']): string | undefined {
  if (ifMatch === undefined) return undefined;
  return typeof ifMatch === 'string' ? ifMatch : `"${ifMatch.id}:${String(ifMatch.version)}"`;
}

interface PreparedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  route: RouteInfo | undefined;
  signal: AbortSignal | undefined;
  maxRetries: number;
}

export class CustomerCore {
  /** The openapi-fetch client over the same pipeline: `cc.raw.POST('/v2/customer/find', { body })`. */
  readonly raw: Client<paths>;
  readonly customers: Customers;
  readonly apiKeys: ApiKeys;
  readonly webhooks: Webhooks;
  readonly users: Users;
  readonly admin: Admin;

  private readonly options: Required<
    Pick<
      CustomerCoreOptions,
      | 'maxRetries'
      | 'retryBaseDelayMs'
      | 'retryMaxDelayMs'
      | 'maxRetryWaitMs'
      | 'refreshBeforeExpiryMs'
      | 'timeoutMs'
    >
  >;
  private readonly baseUrl: string;
  private readonly transport: Transport;
  private apiKey: string | undefined;
  private accessToken: string | undefined;
  private currentSession: Session | undefined;
  private readonly onSession: CustomerCoreOptions['onSession'];
  private refreshing: Promise<void> | undefined;
  /** Until when every request waits, after a RateLimit header said the budget is spent. */
  private pausedUntil = 0;

  constructor(options: CustomerCoreOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.accessToken = options.accessToken;
    this.currentSession = options.session;
    this.onSession = options.onSession;
    this.transport =
      options.fetch === undefined ? undiciTransport(options.dispatcher) : fetchTransport(options.fetch);
    this.options = {
      maxRetries: options.maxRetries ?? 3,
      retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 20_000,
      maxRetryWaitMs: options.maxRetryWaitMs ?? 60_000,
      refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 60_000,
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    this.raw = createClient<paths>({
      baseUrl: this.baseUrl,
      fetch: async (request: Request) => {
        const route = routesByPath.get(`${request.method} ${new URL(request.url).pathname}`);
        const body = request.method === 'GET' ? undefined : await request.text();
        return this.execute({
          url: request.url,
          method: request.method,
          headers: new Headers(request.headers),
          body: body === '' ? undefined : body,
          route,
          signal: undefined,
          maxRetries: this.options.maxRetries,
        });
      },
    });
    this.customers = new Customers(this);
    this.apiKeys = new ApiKeys(this);
    this.webhooks = new Webhooks(this);
    this.users = new Users(this);
    this.admin = new Admin(this);
  }

  /** The session in use, if any (after login or refresh). */
  get session(): Session | undefined {
    return this.currentSession;
  }

  /**
   * Logs in (institution users give their `merchantId`; operators none) and keeps the session:
   * the access token is refreshed before it expires, and once on a 401.
   */
  async login(input: { email: string; password: string; merchantId?: string }): Promise<Session> {
    const body = await this.call(
      'authLogin',
      { token: input.email, password: input.password },
      input.merchantId === undefined ? {} : { headers: { merchant_id: input.merchantId } },
    );
    await this.setSession(body.data);
    return this.currentSession as Session;
  }

  /**
   * Ends the session with its refresh token (so it works after the access token expired) and
   * forgets it.
   */
  async logout(): Promise<void> {
    const session = this.currentSession;
    if (session !== undefined) {
      await this.call('authLogout', { refreshToken: session.refreshToken });
    } else if (this.accessToken !== undefined) {
      await this.call('authLogout', {});
    }
    this.accessToken = undefined;
    this.currentSession = undefined;
    await this.onSession?.(undefined);
  }

  /** Calls any operation by its operationId and returns its success body; throws CustomerCoreError. */
  async call<K extends OperationId>(
    operationId: K,
    ...[body, options]: BodyArgs<K>
  ): Promise<SuccessBody<K>> {
    return (await this.callWithMeta(operationId, ...([body, options] as BodyArgs<K>))).body;
  }

  /** As `call`, with the answer's status and headers (etag, idempotent-replayed). */
  async callWithMeta<K extends OperationId>(
    operationId: K,
    ...[body, options]: BodyArgs<K>
  ): Promise<{ body: SuccessBody<K>; meta: ResponseMeta }> {
    const route = operationRoutes[operationId] as RouteInfo | undefined;
    if (route === undefined) throw new TypeError(`Unknown operation ${operationId}`);
    const headers = new Headers(options?.headers);
    const etag = etagOf(options?.ifMatch);
    if (etag !== undefined) headers.set('if-match', etag);
    if (options?.idempotencyKey !== undefined) headers.set('idempotency-key', options.idempotencyKey);
    if (route.method !== 'get') headers.set('content-type', 'application/json');
    const response = await this.execute({
      url: `${this.baseUrl}${route.path}`,
      method: route.method.toUpperCase(),
      headers,
      body: route.method === 'get' ? undefined : JSON.stringify((body as unknown) ?? {}),
      route,
      signal: options?.signal,
      maxRetries: options?.maxRetries ?? this.options.maxRetries,
    });
    if (!response.ok) throw await CustomerCoreError.fromResponse(response);
    const meta: ResponseMeta = {
      status: response.status,
      headers: response.headers,
      requestId: response.headers.get('x-request-id') ?? undefined,
      replayed: response.headers.get('idempotent-replayed') === 'true',
      idempotencyKey: headers.get('idempotency-key') ?? undefined,
    };
    return { body: (await response.json()) as SuccessBody<K>, meta };
  }

  /**
   * Every item of a paged operation (`{ data: [...], meta: { total, take, skip } }`), page after
   * page. Unless the filters bound `createdTo`, pages after the first are bounded by the newest
   * item of the first, so customers created meanwhile do not shift the pages (no item twice).
   */
  async *paginate<K extends PagedOperationId>(
    operationId: K,
    filters?: RequestBody<K>,
    options: { pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<PageItem<K>> {
    const take = options.pageSize ?? 100;
    const given = ((filters as unknown) ?? {}) as Record<string, unknown>;
    const firstSkip = typeof given.skip === 'number' ? given.skip : 0;
    let skip = firstSkip;
    let bounded = given;
    for (;;) {
      const page = (await this.call(
        operationId,
        ...([{ ...bounded, take, skip }, { signal: options.signal }] as unknown as BodyArgs<K>),
      )) as unknown as { data: PageItem<K>[]; meta: { total: number } };
      for (const item of page.data) yield item;
      if (page.data.length < take || skip + page.data.length >= page.meta.total) return;
      const first = page.data[0] as unknown as { createdAt?: string } | undefined;
      if (bounded.createdTo === undefined && skip === firstSkip && first?.createdAt !== undefined) {
        bounded = { ...bounded, createdTo: first.createdAt };
      }
      skip += page.data.length;
    }
  }

  private async setSession(pair: {
    accessToken: string;
    refreshToken: string;
    expiresIn: number;
  }): Promise<void> {
    this.currentSession = {
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      expiresAt: new Date(Date.now() + pair.expiresIn * 1000).toISOString(),
    };
    await this.onSession?.(this.currentSession);
  }

  /** One refresh at a time: concurrent requests wait for the same one (refresh tokens are single-use). */
  private async refresh(): Promise<void> {
    const session = this.currentSession;
    if (session === undefined) return;
    this.refreshing ??= (async () => {
      try {
        const body = await this.call('authRefresh', { refreshToken: session.refreshToken });
        await this.setSession(body.data);
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  private async refreshIfExpiring(): Promise<void> {
    const session = this.currentSession;
    if (session === undefined) return;
    if (Date.parse(session.expiresAt) - Date.now() <= this.options.refreshBeforeExpiryMs)
      await this.refresh();
  }

  private authorize(headers: Headers, route: RouteInfo | undefined): 'bearer' | 'key' | 'none' {
    if (route?.auth === 'none' || headers.has('authorization') || headers.has('api-key')) return 'none';
    // Logout with a refresh token in its body needs no access token (it may have expired).
    if (route?.auth === 'optional' && this.currentSession !== undefined) return 'none';
    if (this.apiKey !== undefined) {
      headers.set('api-key', this.apiKey);
      return 'key';
    }
    const token = this.currentSession?.accessToken ?? this.accessToken;
    if (token === undefined) return 'none';
    headers.set('authorization', `Bearer ${token}`);
    return 'bearer';
  }

  private backoffMs(attempt: number): number {
    const ceiling = Math.min(this.options.retryMaxDelayMs, this.options.retryBaseDelayMs * 2 ** attempt);
    // "Equal jitter": at least half the backoff, so retries spread out without coming too soon.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** How long to wait before retrying this answer, or undefined when it is not to be retried. */
  private async retryDelay(response: Response, attempt: number): Promise<number | undefined> {
    let retryable = response.status === 429 || response.status === 503;
    if (response.status === 409) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { code?: unknown } | undefined;
      retryable = body?.code === 'IDEMPOTENCY_IN_PROGRESS';
    }
    if (!retryable) return undefined;
    const hint = Math.max(retryAfterMs(response.headers) ?? 0, rateLimitResetMs(response.headers) ?? 0);
    if (hint > this.options.maxRetryWaitMs) return undefined;
    // The server's hint, plus a little jitter so parallel clients do not come back together.
    return hint > 0 ? hint + Math.random() * Math.min(1000, hint * 0.1 + 100) : this.backoffMs(attempt);
  }

  /** Sends a request with auth, an Idempotency-Key on writes, retries, and a refresh on 401. */
  private async execute(request: PreparedRequest): Promise<Response> {
    if (request.route?.idempotent === true && !request.headers.has('idempotency-key')) {
      request.headers.set('idempotency-key', randomUUID());
    }
    if (!request.headers.has('user-agent')) request.headers.set('user-agent', USER_AGENT);
    let refreshedOn401 = false;
    for (let attempt = 0; ; attempt++) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait, request.signal);
      const headers = new Headers(request.headers);
      if (request.route?.auth !== 'none' && this.apiKey === undefined) await this.refreshIfExpiring();
      const credential = this.authorize(headers, request.route);
      let response: Response;
      try {
        response = await this.transport({
          url: request.url,
          method: request.method,
          headers,
          body: request.body,
          signal: request.signal,
          timeoutMs: this.options.timeoutMs,
        });
      } catch (error) {
        if (request.signal?.aborted === true) throw error;
        if (attempt < request.maxRetries) {
          await sleep(this.backoffMs(attempt), request.signal);
          continue;
        }
        throw new CustomerCoreError({
          statusCode: 0,
          code: 'CONNECTION_ERROR',
          message: `No answer from ${this.baseUrl}: ${error instanceof Error ? error.message : String(error)}`,
          cause: error,
        });
      }
      const reset = rateLimitResetMs(response.headers);
      if (reset !== undefined) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + reset);
      if (
        response.status === 401 &&
        credential === 'bearer' &&
        this.currentSession !== undefined &&
        !refreshedOn401
      ) {
        refreshedOn401 = true;
        try {
          await this.refresh();
        } catch {
          return response;
        }
        attempt--;
        continue;
      }
      const delay = attempt < request.maxRetries ? await this.retryDelay(response, attempt) : undefined;
      if (delay === undefined) return response;
      await response.body?.cancel();
      await sleep(delay, request.signal);
    }
  }
}

type PagedOperationId = {
  [K in OperationId]: SuccessBody<K> extends { data: unknown[]; meta: { total: number } } ? K : never;
}[OperationId];
type PageItem<K extends OperationId> = SuccessBody<K> extends { data: (infer Item)[] } ? Item : never;

class Customers {
  constructor(private readonly cc: CustomerCore) {}

  /** Creates a customer and its wallet (201). An Idempotency-Key is generated unless given. */
  async create(input: CreateCustomerInput, options?: RequestOptions): Promise<Customer> {
    return (await this.cc.call('customerCreate', input, options)).data;
  }

  /**
   * Updates a customer. `options.ifMatch` takes the customer object read earlier: the update
   * applies only if nobody changed it since (else CustomerCoreError VERSION_CONFLICT).
   */
  async update(input: UpdateCustomerInput, options?: RequestOptions): Promise<Customer> {
    return (await this.cc.call('customerUpdate', input, options)).data;
  }

  async retrieve(id: string, options?: RequestOptions): Promise<Customer> {
    return (await this.cc.call('customerDetails', { id }, options)).data;
  }

  /** One page of customers, with `meta.total`. */
  async find(
    filters: FindCustomersInput = {},
    options?: RequestOptions,
  ): Promise<SuccessBody<'customerFind'>> {
    return this.cc.call('customerFind', filters, options);
  }

  /** Every matching customer, newest first: `for await (const customer of cc.customers.list({ … }))`. */
  list(
    filters: FindCustomersInput = {},
    options?: { pageSize?: number; signal?: AbortSignal },
  ): AsyncGenerator<Customer> {
    return this.cc.paginate('customerFind', filters, options);
  }

  async history(
    id: string,
    page: { take?: number; skip?: number } = {},
  ): Promise<SuccessBody<'customerHistory'>> {
    return this.cc.call('customerHistory', { id, ...page });
  }

  /**
   * Erases a customer's personal data for good (right to erasure); the answer is the customer as
   * it now reads, `erasedAt` set. CustomerCoreError CUSTOMER_ON_HOLD when the operator holds its wallet.
   */
  async erase(id: string, reason: string, options?: RequestOptions): Promise<Customer> {
    return (await this.cc.call('customerErase', { id, reason }, options)).data;
  }
}

class ApiKeys {
  constructor(private readonly cc: CustomerCore) {}

  async create(input: RequestBody<'apiKeyCreate'>, options?: RequestOptions) {
    return (await this.cc.call('apiKeyCreate', input, options)).data;
  }

  async list() {
    return (await this.cc.call('apiKeyFind', {})).data;
  }

  async revoke(id: string, options?: RequestOptions) {
    return (await this.cc.call('apiKeyRevoke', { id }, options)).data;
  }
}

class Webhooks {
  constructor(private readonly cc: CustomerCore) {}

  /** Subscribes an endpoint; its signing secret is in this answer only. */
  async create(input: RequestBody<'webhookCreate'>, options?: RequestOptions) {
    return (await this.cc.call('webhookCreate', input, options)).data;
  }

  async list() {
    return (await this.cc.call('webhookFind', {})).data;
  }

  async update(input: RequestBody<'webhookUpdate'>, options?: RequestOptions) {
    return (await this.cc.call('webhookUpdate', input, options)).data;
  }

  async delete(id: string, options?: RequestOptions) {
    return (await this.cc.call('webhookDelete', { id }, options)).data;
  }

  /** A new secret, shown in this answer only; the old one keeps signing beside it for 24 hours. */
  async rotateSecret(id: string, options?: RequestOptions) {
    return (await this.cc.call('webhookRotateSecret', { id }, options)).data;
  }

  /** Queues a `ping` event to this endpoint alone; its id is the delivery's `webhook-id`. */
  async test(id: string, options?: RequestOptions) {
    return (await this.cc.call('webhookTest', { id }, options)).data;
  }

  /** A page of an endpoint's deliveries, newest first (`take`, `skip`), with `meta.total`. */
  async deliveries(filters: RequestBody<'webhookDeliveries'>) {
    return this.cc.call('webhookDeliveries', filters);
  }

  async redeliver(input: RequestBody<'webhookRedeliver'>, options?: RequestOptions) {
    return (await this.cc.call('webhookRedeliver', input, options)).data;
  }
}

class Users {
  constructor(private readonly cc: CustomerCore) {}

  async create(input: RequestBody<'userCreate'>, options?: RequestOptions) {
    return (await this.cc.call('userCreate', input, options)).data;
  }

  async list() {
    return (await this.cc.call('userFind', {})).data;
  }

  async deactivate(id: string, options?: RequestOptions) {
    return (await this.cc.call('userDeactivate', { id }, options)).data;
  }
}

class Admin {
  constructor(private readonly cc: CustomerCore) {}

  async createInstitution(input: RequestBody<'adminInstitutionCreate'>, options?: RequestOptions) {
    return (await this.cc.call('adminInstitutionCreate', input, options)).data;
  }

  async setWalletStatus(input: RequestBody<'adminWalletStatus'>, options?: RequestOptions) {
    return (await this.cc.call('adminWalletStatus', input, options)).data;
  }

  listCustomers(filters: RequestBody<'adminCustomerFind'> = {}, options?: { pageSize?: number }) {
    return this.cc.paginate('adminCustomerFind', filters, options);
  }

  /** Erases any institution's customer, on hold or not. */
  async eraseCustomer(id: string, reason: string, options?: RequestOptions) {
    return (await this.cc.call('adminCustomerErase', { id, reason }, options)).data;
  }
}
