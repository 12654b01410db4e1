// The in-process dispatcher: delivers the outbox's deliveries to the endpoints, signed as Standard
// Webhooks says. Every instance runs one; they share the work through the database alone. It is
// woken by LISTEN/NOTIFY when deliveries are written (and polls, for retries falling due and for
// notifications missed while the listening connection was down), claims due deliveries with
// FOR UPDATE SKIP LOCKED under a lease (webhook-dispatch.repository.ts), makes each attempt with
// no transaction open, and records its outcome only if the lease is still its own.
// On stop it claims nothing more, lets attempts in flight finish for a drain period, then aborts
// the rest and gives their deliveries back untried, so another instance (or the next start) sends
// them at once.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import type { Database, Subscription } from '../../db/database.js';
import type { Metrics } from '../../platform/metrics.js';
import { WEBHOOKS_CHANNEL } from './events.js';
import { failPendingDeliveries } from './webhooks.repository.js';
import {
  claimDeliveries,
  deleteOldEvents,
  noteEndpointFailure,
  recordFailure,
  recordSuccesses,
  releaseDelivery,
  type AttemptOutcome,
  type ClaimedDelivery,
} from './webhook-dispatch.repository.js';
import { checkedLookup, systemResolver, urlProblem, type Resolver } from './webhook-destinations.js';
import type { SecretBox } from './webhook-secrets.js';

/** Events (and their deliveries and attempts) are kept this long. */
export const EVENT_RETENTION_MS = 30 * 86_400_000;
/** At most this much of a receiver's answer is read, and stored with the attempt. */
export const RESPONSE_PREFIX_CHARS = 256;
const RETENTION_INTERVAL_MS = 3_600_000;
const USER_AGENT = 'CustomerCore-Webhooks/1.0';

export interface DispatcherOptions {
  /** Where the dispatcher listens for wake-ups (Database.signal() and NOTIFY). */
  db: Database;
  /**
   * Where its statements run (default: db). On PostgreSQL a small pool of its own, so that its
   * claims and outcomes do not wait behind the requests for a pooled connection.
   */
  pool?: Database;
  logger: FastifyBaseLogger;
  secretBox: SecretBox;
  timeoutMs: number;
  retrySchedule: readonly number[];
  disableAfterMs: number;
  allowPrivateNetworks: boolean;
  concurrency: number;
  /** How often to look for due deliveries without being woken (retries, missed notifications). */
  pollIntervalMs?: number;
  /** Name resolution for deliveries (tests map names to addresses); the system's by default. */
  resolver?: Resolver;
  /** Metrics of each attempt and each endpoint disabled (METRICS_PORT). */
  metrics?: Pick<Metrics, 'countWebhookAttempt' | 'countEndpointDisabled'>;
}

export interface WebhookDispatcher {
  /** Looks for due deliveries now. */
  wake(): void;
  /** Stops claiming; waits up to `drainMs` for attempts in flight, then aborts and releases the rest. */
  stop(drainMs: number): Promise<void>;
}

interface InFlight {
  delivery: ClaimedDelivery;
  controller: AbortController;
  done: Promise<void>;
}

/** The delay before the next attempt, with up to 10% jitter; undefined when the schedule is over. */
export function nextDelayMs(
  schedule: readonly number[],
  attemptsMade: number,
  random = Math.random,
): number | undefined {
  const delay = schedule[attemptsMade];
  if (delay === undefined) return undefined;
  return Math.round(delay * (1 + 0.1 * random()));
}

/** `retry-after` in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The class of a failed connection or request, as the delivery log shows it. */
export function errorClass(error: unknown, aborted: 'timeout' | 'shutdown' | undefined): string {
  if (aborted !== undefined) return aborted;
  const codes: string[] = [];
  for (let cause: unknown = error; cause instanceof Error && codes.length < 5; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (cause.name === 'BlockedDestinationError') return 'blocked_destination';
  }
  const code = codes.find((candidate) => !candidate.startsWith('UND_ERR_SOCKET')) ?? codes[0] ?? '';
  if (code === 'EBLOCKEDDESTINATION') return 'blocked_destination';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return 'dns';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code.startsWith('UND_ERR_SOCKET'))
    return 'connection_reset';
  if (code.includes('TIMEOUT') || code === 'ETIMEDOUT') return 'timeout';
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
  ) {
    return 'tls';
  }
  return 'network';
}

/** The signed request of one attempt: every valid secret signs (two during a rotation's overlap). */
export function signedRequest(
  delivery: Pick<ClaimedDelivery, 'eventId' | 'eventType' | 'eventData' | 'eventCreatedAt'>,
  signers: readonly Webhook[],
  at: Date,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    id: delivery.eventId,
    type: delivery.eventType,
    timestamp: delivery.eventCreatedAt.toISOString(),
    data: delivery.eventData,
  });
  const signature = signers.map((signer) => signer.sign(delivery.eventId, at, body)).join(' ');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
  };
}

type AttemptResult =
  | { kind: 'success'; outcome: AttemptOutcome }
  | { kind: 'failure'; outcome: AttemptOutcome; retryAfterMs?: number; gone: boolean }
  | { kind: 'aborted' };

export async function startWebhookDispatcher(options: DispatcherOptions): Promise<WebhookDispatcher> {
  const { db, logger } = options;
  const pool = options.pool ?? db;
  const leaseMs = options.timeoutMs + 15_000;
  const agent = new Agent({
    connect: {
      lookup: checkedLookup(options.resolver ?? systemResolver, options.allowPrivateNetworks),
      timeout: options.timeoutMs,
    },
    keepAliveTimeout: 4000,
    connections: 8,
  });
  const leaseId = randomUUID();
  const inFlight = new Map<string, InFlight>();
  /** Outcomes being written, their attempts over; stop() waits for them too. */
  const recording = new Set<Promise<void>>();
  /** At most this many outcomes wait to be written before claiming pauses (a slow database). */
  const maxRecording = options.concurrency * 4;
  let stopping = false;
  // Read through a function where a claim awaited: stop() may have begun meanwhile.
  const isStopping = () => stopping;
  /** The claim running now, if any. */
  let pumping: Promise<void> | undefined;
  let again = false;
  let databaseTrouble = false;

  // The signer of each sealed secret seen, so a busy endpoint's secret is decrypted once and not
  // for every delivery. Keyed by the sealed bytes: a rotation seals a new secret, a new key.
  const signers = new Map<string, Webhook>();
  function signer(delivery: ClaimedDelivery, sealed: Uint8Array): Webhook {
    const key = `${delivery.endpointId}:${Buffer.from(sealed).toString('base64')}`;
    let found = signers.get(key);
    if (found === undefined) {
      if (signers.size >= 1000) signers.clear();
      found = new Webhook(options.secretBox.open(Buffer.from(sealed), delivery));
      signers.set(key, found);
    }
    return found;
  }

  async function attempt(
    delivery: ClaimedDelivery,
    signal: AbortSignal,
    timeout: AbortSignal,
  ): Promise<AttemptResult> {
    const attemptedAt = new Date();
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failure = (error: string, extra: Partial<AttemptOutcome> = {}): AttemptResult => ({
      kind: 'failure',
      gone: false,
      outcome: {
        attemptedAt,
        responseStatus: null,
        durationMs: elapsed(),
        error,
        responsePrefix: null,
        ...extra,
      },
    });
    const problem = urlProblem(delivery.url, options.allowPrivateNetworks);
    if (problem !== undefined) return failure('blocked_destination');
    const signers = [
      signer(delivery, delivery.secret),
      ...(delivery.previousSecret === null ? [] : [signer(delivery, delivery.previousSecret)]),
    ];
    const { body, headers } = signedRequest(delivery, signers, attemptedAt);
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: agent,
        signal: AbortSignal.any([signal, timeout]),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      // Only a short prefix of the answer is read (and kept); the rest is never looked at.
      let prefix = '';
      try {
        for await (const chunk of response.body) {
          prefix += (chunk as Buffer).toString('utf8');
          if (prefix.length >= RESPONSE_PREFIX_CHARS) break;
        }
      } catch {
        // A body cut short does not change the status the receiver answered with.
      } finally {
        response.body.destroy();
      }
      const outcome: AttemptOutcome = {
        attemptedAt,
        responseStatus: response.statusCode,
        durationMs: elapsed(),
        error: null,
        responsePrefix: prefix.slice(0, RESPONSE_PREFIX_CHARS) || null,
      };
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { kind: 'success', outcome };
      const error = status >= 300 && status < 400 ? 'redirect' : 'http_status';
      const after =
        status === 429 || status === 503 ? retryAfterMs(response.headers['retry-after']) : undefined;
      return {
        kind: 'failure',
        gone: status === 410,
        outcome: { ...outcome, error },
        ...(after === undefined ? {} : { retryAfterMs: after }),
      };
    } catch (error) {
      if (signal.aborted) return { kind: 'aborted' };
      return failure(errorClass(error, timeout.aborted ? 'timeout' : undefined));
    }
  }

  // Successes are recorded in batches: whatever ended while the previous batch was being written
  // goes in the next one, so a quiet endpoint's success is written at once, and a busy one's
  // costs the database a share of one statement.
  let successes: {
    delivery: ClaimedDelivery;
    outcome: AttemptOutcome;
    done: () => void;
    fail: (error: unknown) => void;
  }[] = [];
  let writingSuccesses = false;
  function writeSuccesses(): void {
    if (writingSuccesses || successes.length === 0) return;
    writingSuccesses = true;
    const batch = successes;
    successes = [];
    recordSuccesses(pool, leaseId, batch)
      .then(
        () => {
          for (const success of batch) success.done();
        },
        (error: unknown) => {
          for (const success of batch) success.fail(error);
        },
      )
      .finally(() => {
        writingSuccesses = false;
        writeSuccesses();
      });
  }
  function recordSuccess(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<void> {
    return new Promise((done, fail) => {
      successes.push({ delivery, outcome, done, fail });
      writeSuccesses();
    });
  }

  async function record(delivery: ClaimedDelivery, result: AttemptResult): Promise<void> {
    if (result.kind === 'aborted') {
      await releaseDelivery(pool, delivery, leaseId);
      return;
    }
    options.metrics?.countWebhookAttempt(
      result.kind === 'success' ? 'delivered' : result.gone ? 'gone' : 'failed',
      result.outcome.durationMs / 1000,
    );
    if (result.kind === 'success') {
      await recordSuccess(delivery, result.outcome);
      return;
    }
    const made = delivery.roundAttempts + 1;
    let delay = result.gone ? undefined : nextDelayMs(options.retrySchedule, made);
    if (delay !== undefined && result.retryAfterMs !== undefined)
      delay = Math.max(delay, result.retryAfterMs);
    const next = delay === undefined ? null : new Date(Date.now() + delay);
    const disabled = await pool.transaction(async (tx) => {
      const recorded = await recordFailure(tx, delivery, leaseId, result.outcome, next);
      if (recorded === undefined) return false;
      const endpoint = { institutionId: delivery.institutionId, id: delivery.endpointId };
      const off = await noteEndpointFailure(
        tx,
        endpoint,
        result.gone ? { reason: 'gone' } : { reason: 'failing', afterMs: options.disableAfterMs },
      );
      if (off) await failPendingDeliveries(tx, delivery.institutionId, delivery.endpointId);
      return off;
    });
    if (disabled) {
      options.metrics?.countEndpointDisabled(result.gone ? 'gone' : 'failing');
      logger.warn(
        { endpointId: delivery.endpointId, reason: result.gone ? 'gone' : 'failing' },
        'webhook endpoint disabled',
      );
    }
  }

  function start(delivery: ClaimedDelivery): void {
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const done = attempt(delivery, controller.signal, timeout)
      .then((result) => {
        // The slot is free once the receiver has answered: the outcome is written behind it, and
        // the lease keeps the delivery ours (and the customer's later deliveries waiting) until
        // then. Holding the slot through that write kept delivery slower than the creates.
        inFlight.delete(delivery.id);
        const recorded = record(delivery, result).finally(() => {
          recording.delete(recorded);
          pump();
        });
        recording.add(recorded);
        pump();
        return recorded;
      })
      .catch((error: unknown) => {
        // The outcome could not be written (database down): the lease runs out and the delivery
        // is attempted again, by this instance or another. At least once, never lost.
        logger.warn({ err: error, deliveryId: delivery.id }, 'webhook attempt outcome not recorded');
      })
      .finally(() => {
        inFlight.delete(delivery.id);
        pump();
      });
    inFlight.set(delivery.id, { delivery, controller, done });
  }

  async function claimAndStart(): Promise<void> {
    while (!stopping && inFlight.size < options.concurrency && recording.size < maxRecording) {
      const claimed = await claimDeliveries(pool, options.concurrency - inFlight.size, leaseId, leaseMs);
      if (databaseTrouble) {
        databaseTrouble = false;
        logger.info('webhook dispatcher reaches the database again');
      }
      if (isStopping()) {
        // Claimed while stop() began: give them back at once.
        await Promise.all(claimed.map((delivery) => releaseDelivery(pool, delivery, leaseId)));
        return;
      }
      for (const delivery of claimed) start(delivery);
      if (claimed.length === 0) return;
    }
  }

  function pump(): void {
    if (stopping) return;
    if (pumping !== undefined) {
      again = true;
      return;
    }
    pumping = claimAndStart()
      .catch((error: unknown) => {
        if (!databaseTrouble) {
          databaseTrouble = true;
          logger.warn({ err: error }, 'webhook dispatcher cannot claim deliveries; retrying');
        }
      })
      .finally(() => {
        pumping = undefined;
        if (again) {
          again = false;
          pump();
        }
      });
  }

  const poll = setInterval(pump, options.pollIntervalMs ?? 1000);
  poll.unref();
  const sweep = async () => {
    try {
      while ((await deleteOldEvents(pool, EVENT_RETENTION_MS, 1000)) === 1000 && !stopping);
    } catch (error) {
      logger.warn({ err: error }, 'old webhook events not deleted; retrying in an hour');
    }
  };
  const retention = setInterval(() => void sweep(), RETENTION_INTERVAL_MS);
  retention.unref();
  void sweep();

  let subscription: Subscription | undefined;
  try {
    subscription = await db.listen(WEBHOOKS_CHANNEL, {
      onNotify: pump,
      onListening: (listening) => {
        if (listening) pump();
      },
    });
  } catch (error) {
    logger.warn({ err: error }, 'webhook dispatcher not woken by notifications; polling only');
  }
  pump();

  return {
    wake: pump,
    async stop(drainMs) {
      if (stopping) return;
      stopping = true;
      clearInterval(poll);
      clearInterval(retention);
      await subscription?.close().catch(() => undefined);
      const pending = () => Promise.all([...[...inFlight.values()].map((entry) => entry.done), ...recording]);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        pending().then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(resolve, drainMs, false);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        for (const entry of inFlight.values()) entry.controller.abort();
        await pending();
        // Given back untried: the other instances' dispatchers may send them at once.
        db.signal(WEBHOOKS_CHANNEL);
      }
      // Wait for a claim statement still running, so nothing is left leased to a stopped dispatcher.
      await pumping;
      await agent.close().catch(() => undefined);
    },
  };
}
