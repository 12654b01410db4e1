// Brute-force and abuse limits: failed logins per account and per client address, failed API-key
// attempts per client address, and two request budgets per API key (a burst per second and a
// sustained rate per minute, both announced to the client in IETF RateLimit headers). The counters live in Redis when
// a client is given, so every instance sees the same ones, and in this process's memory otherwise.
// Failed attempts lead to blocks that double with each further block, up to a cap.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type IRateLimiterOptions,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { AppError } from './errors.js';

/** A 429 RATE_LIMITED that knows how long the client must wait (the `retry-after` header). */
export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(
    message: string,
    msBeforeNext: number,
    /** The API key's budgets, when one of them ran out (for the RateLimit headers). */
    readonly budgets?: readonly BudgetState[],
  ) {
    super('RATE_LIMITED', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  }
}

export interface RateLimitOptions {
  /** Shared store; without it the counters are this process's own. */
  redis?: Redis | undefined;
  /** Prefix of every Redis key (and memory key), so deployments and tests do not collide. */
  keyPrefix: string;
  /** Failed logins of one account within the failure window before it is blocked. */
  loginFailuresPerAccount: number;
  /** Failed logins from one client address (any accounts) within the window before it is blocked. */
  loginFailuresPerAddress: number;
  /** Unknown or refused API keys from one client address within the window before it is blocked. */
  apiKeyFailuresPerAddress: number;
  /** Requests one API key may make per minute: its sustained rate. */
  apiKeyRequestsPerMinute: number;
  /** Requests one API key may make within one second: its burst (default: no per-second budget). */
  apiKeyRequestsPerSecond?: number | undefined;
  /** How long failures are counted (default 15 minutes). */
  failureWindowSeconds?: number;
  /** The first block's length; each further block doubles it (default 60 seconds). */
  firstBlockSeconds?: number;
  /** The longest block (default 1 hour). */
  maxBlockSeconds?: number;
  /** Told of every refusal (for metrics). */
  onRefusal?: ((limit: RateLimitName) => void) | undefined;
}

/** The limits that can refuse a request. */
export type RateLimitName = 'login' | 'api_key_failures' | 'api_key_burst' | 'api_key_sustained';

export const defaultRateLimitOptions = {
  keyPrefix: 'customercore:rl',
  loginFailuresPerAccount: 5,
  loginFailuresPerAddress: 20,
  apiKeyFailuresPerAddress: 20,
  // Sized for a partner's bulk onboarding: 100 requests a second sustained (Stripe's per-account
  // rate), a million customers in under three hours on one key, with bursts of up to 200 in a
  // second. One key at that pace uses a few percent of one instance (README, "Request budgets").
  apiKeyRequestsPerMinute: 6000,
  apiKeyRequestsPerSecond: 200,
} as const satisfies RateLimitOptions;

/** One of a key's budgets as the client sees it (IETF RateLimit-Policy and RateLimit fields). */
export interface BudgetState {
  /** The policy's name in the headers and in a 429's message. */
  readonly policy: 'burst' | 'sustained';
  readonly quota: number;
  readonly windowSeconds: number;
  readonly remaining: number;
  /** Seconds until the window ends and the quota is whole again. */
  readonly resetSeconds: number;
}

/** `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) for a key's budgets. */
export function rateLimitHeaders(budgets: readonly BudgetState[]): Record<string, string> {
  return {
    'ratelimit-policy': budgets
      .map((budget) => `"${budget.policy}";q=${budget.quota};w=${budget.windowSeconds}`)
      .join(', '),
    ratelimit: budgets
      .map((budget) => `"${budget.policy}";r=${budget.remaining};t=${budget.resetSeconds}`)
      .join(', '),
  };
}

/**
 * The Redis client for the counters. Commands fail at once while Redis is unreachable (no offline
 * queue, one retry), so the limiters fall back to their in-memory insurance instead of making
 * logins and API requests wait; the client keeps reconnecting in the background.
 */
export function rateLimitRedis(url: string, logger: Pick<Logger, 'warn'>): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (error: Error) => {
    logger.warn({ err: error }, 'Redis (rate limits) unavailable; counting in memory');
  });
  return redis;
}

/** How long the number of earlier blocks is remembered, for the doubling. */
const BLOCK_HISTORY_SECONDS = 24 * 3600;

function limiter(options: RateLimitOptions, name: string, points: number, duration: number) {
  const settings: IRateLimiterOptions = { keyPrefix: `${options.keyPrefix}:${name}`, points, duration };
  if (options.redis === undefined) return new RateLimiterMemory(settings);
  // While Redis cannot be reached, each instance keeps limiting on its own rather than failing
  // every login and API request.
  return new RateLimiterRedis({
    ...settings,
    storeClient: options.redis,
    insuranceLimiter: new RateLimiterMemory(settings),
  });
}

/**
 * Consecutive failures of one key (an account, an address): after `threshold` failures within the
 * window the key is blocked for firstBlock, 2 × firstBlock, 4 × … (capped) on each further block.
 */
class FailureLimiter {
  private readonly failures: RateLimiterAbstract;
  private readonly blocks: RateLimiterAbstract;
  private readonly firstBlockSeconds: number;
  private readonly maxBlockSeconds: number;

  constructor(
    options: RateLimitOptions,
    name: string,
    private readonly threshold: number,
  ) {
    this.failures = limiter(options, `${name}:failures`, threshold, options.failureWindowSeconds ?? 900);
    this.blocks = limiter(options, `${name}:blocks`, 1_000_000, BLOCK_HISTORY_SECONDS);
    this.firstBlockSeconds = options.firstBlockSeconds ?? 60;
    this.maxBlockSeconds = options.maxBlockSeconds ?? 3600;
  }

  /** The milliseconds the key is still blocked for, or 0. */
  async blockedFor(key: string): Promise<number> {
    const state = await this.failures.get(key);
    return state !== null && state.consumedPoints > this.threshold ? Math.max(1, state.msBeforeNext) : 0;
  }

  async recordFailure(key: string): Promise<void> {
    const counted = await this.failures.penalty(key);
    // Exactly one failure reaches the threshold: it starts the block, which replaces the count
    // (so the count starts again from zero when the block ends).
    if (counted.consumedPoints !== this.threshold) return;
    const earlier = await this.blocks.penalty(key);
    const doublings = Math.min(earlier.consumedPoints - 1, 30);
    await this.failures.block(key, Math.min(this.firstBlockSeconds * 2 ** doublings, this.maxBlockSeconds));
  }

  async reset(key: string): Promise<void> {
    await Promise.all([this.failures.delete(key), this.blocks.delete(key)]);
  }
}

/** Account keys are hashed: no email address is written to Redis. */
const accountKey = (account: { merchantId: string | undefined; email: string }): string =>
  createHash('sha256')
    .update(`${account.merchantId ?? 'operator'}\n${account.email.toLowerCase()}`)
    .digest('base64url');

export type LoginAccount = { merchantId: string | undefined; email: string };

export interface RateLimits {
  /** Throws RATE_LIMITED when the account or the address is blocked (before checking the password). */
  checkLogin(account: LoginAccount, address: string): Promise<void>;
  recordLoginFailure(account: LoginAccount, address: string): Promise<void>;
  /** A successful login clears the account's failures and block history (not the address's). */
  recordLoginSuccess(account: LoginAccount): Promise<void>;
  /** Throws RATE_LIMITED when the address made too many failed API-key attempts. */
  checkApiKeyFailures(address: string): Promise<void>;
  recordApiKeyFailure(address: string): Promise<void>;
  /**
   * Takes one request from each of the key's budgets and returns what is left of them; throws
   * RATE_LIMITED (naming the budget, and carrying the budgets' state) when one is spent.
   */
  consumeApiKeyRequest(keyId: string): Promise<readonly BudgetState[]>;
}

export function createRateLimits(options: RateLimitOptions): RateLimits {
  const loginAccounts = new FailureLimiter(options, 'login-account', options.loginFailuresPerAccount);
  const loginAddresses = new FailureLimiter(options, 'login-address', options.loginFailuresPerAddress);
  const apiKeyAddresses = new FailureLimiter(options, 'api-key-address', options.apiKeyFailuresPerAddress);
  const budgets = [
    ...(options.apiKeyRequestsPerSecond === undefined
      ? []
      : [
          {
            policy: 'burst' as const,
            quota: options.apiKeyRequestsPerSecond,
            windowSeconds: 1,
            limiter: limiter(options, 'api-key-burst', options.apiKeyRequestsPerSecond, 1),
          },
        ]),
    {
      policy: 'sustained' as const,
      quota: options.apiKeyRequestsPerMinute,
      windowSeconds: 60,
      limiter: limiter(options, 'api-key-requests', options.apiKeyRequestsPerMinute, 60),
    },
  ];

  return {
    async checkLogin(account, address) {
      const [accountMs, addressMs] = await Promise.all([
        loginAccounts.blockedFor(accountKey(account)),
        loginAddresses.blockedFor(address),
      ]);
      if (accountMs > 0 || addressMs > 0) {
        options.onRefusal?.('login');
        throw new RateLimitedError('Too many failed logins; retry later', Math.max(accountMs, addressMs));
      }
    },
    async recordLoginFailure(account, address) {
      await Promise.all([
        loginAccounts.recordFailure(accountKey(account)),
        loginAddresses.recordFailure(address),
      ]);
    },
    async recordLoginSuccess(account) {
      await loginAccounts.reset(accountKey(account));
    },
    async checkApiKeyFailures(address) {
      const ms = await apiKeyAddresses.blockedFor(address);
      if (ms > 0) {
        options.onRefusal?.('api_key_failures');
        throw new RateLimitedError('Too many failed API key attempts from this address; retry later', ms);
      }
    },
    recordApiKeyFailure: (address) => apiKeyAddresses.recordFailure(address),
    async consumeApiKeyRequest(keyId) {
      // Both budgets at once (one round trip to Redis, not two). A request refused by one budget
      // still counts against the other, as any request the key sends does.
      const outcomes = await Promise.all(
        budgets.map((budget) =>
          budget.limiter.consume(keyId).then(
            (result) => ({ budget, result, refused: false }),
            (error: unknown) => {
              if (error instanceof RateLimiterRes) return { budget, result: error, refused: true };
              throw error;
            },
          ),
        ),
      );
      const states = outcomes.map(({ budget, result }) => ({
        policy: budget.policy,
        quota: budget.quota,
        windowSeconds: budget.windowSeconds,
        remaining: Math.max(0, budget.quota - result.consumedPoints),
        resetSeconds: Math.max(0, Math.ceil(result.msBeforeNext / 1000)),
      }));
      const refused = outcomes.filter((outcome) => outcome.refused);
      if (refused.length === 0) return states;
      // The budget that frees up last is the one the client must wait for.
      const longest = refused.reduce((a, b) => (b.result.msBeforeNext > a.result.msBeforeNext ? b : a));
      const { policy, quota, windowSeconds } = longest.budget;
      const rate = windowSeconds === 1 ? `${quota} requests a second` : `${quota} requests a minute`;
      options.onRefusal?.(policy === 'burst' ? 'api_key_burst' : 'api_key_sustained');
      const seconds = Math.max(1, Math.ceil(longest.result.msBeforeNext / 1000));
      throw new RateLimitedError(
        `This API key has spent its ${policy} budget (${rate}); retry in ${seconds} s`,
        longest.result.msBeforeNext,
        states,
      );
    },
  };
}
