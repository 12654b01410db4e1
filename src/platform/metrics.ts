// Prometheus metrics (prom-client), served on a port of their own (METRICS_PORT) and never by the
// API's server, so that they are not exposed wherever the API is. Off unless configured: without
// it no hook is added and nothing is measured.
//
//   customercore_http_requests_total{method,route,status_code}          requests answered
//   customercore_http_request_duration_seconds{method,route,status_code} their latency (histogram)
//   customercore_db_pool_connections{state}       open / idle connections of the pool, and its max
//   customercore_db_pool_waiting                  queries and transactions waiting for a connection
//   customercore_db_pool_checkout_seconds         how long each waited for one (histogram)
//   customercore_rate_limit_refusals_total{limit} 429s, by the limit that refused
//   customercore_webhook_deliveries_due           deliveries due now and not yet delivered (all instances)
//   customercore_webhook_oldest_due_seconds       how long the oldest of them has been due
//   customercore_webhook_attempts_total{outcome}  this instance's attempts: delivered, failed, gone
//   customercore_webhook_attempt_duration_seconds their duration (histogram)
//   customercore_webhook_endpoints_disabled_total{reason} endpoints this instance disabled
//   nodejs_eventloop_lag_seconds, nodejs_eventloop_lag_p99_seconds, … prom-client's process metrics
//
// `route` is the route's pattern (`/v2/customer/find`), never the URL as sent, so label values
// stay few and carry no client data; unmatched URLs are `unmatched`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../db/database.js';
import type { RateLimitName } from './rate-limits.js';

export interface Metrics {
  readonly registry: Registry;
  /** Counts and times every answer of the app. */
  instrument(app: FastifyInstance): void;
  /** Reports the pool's state at each scrape. */
  observePool(stats: () => PoolStats): void;
  readonly observeCheckout: (waitSeconds: number) => void;
  readonly countRefusal: (limit: RateLimitName) => void;
  /** Reports the webhook backlog, read from the database at each scrape. */
  observeWebhookBacklog(read: () => Promise<WebhookBacklog>): void;
  readonly countWebhookAttempt: (outcome: WebhookAttemptOutcome, seconds: number) => void;
  readonly countEndpointDisabled: (reason: 'gone' | 'failing') => void;
}

export interface WebhookBacklog {
  due: number;
  /** Seconds since the oldest due delivery became due; 0 when none is. */
  oldestDueSeconds: number;
}

/** delivered: a 2xx; gone: a 410; failed: anything else (status, timeout, connection, blocked). */
export type WebhookAttemptOutcome = 'delivered' | 'failed' | 'gone';

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'customercore_http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'customercore_http_request_duration_seconds',
    help: 'Time from the request arriving to its answer being sent, by route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const checkouts = new Histogram({
    name: 'customercore_db_pool_checkout_seconds',
    help: 'Time each query or transaction waited for a pooled database connection',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'customercore_rate_limit_refusals_total',
    help: 'Requests refused with 429, by the limit that refused them',
    labelNames: ['limit'] as const,
    registers: [registry],
  });

  const webhookAttempts = new Counter({
    name: 'customercore_webhook_attempts_total',
    help: 'Webhook delivery attempts this instance made, by outcome (delivered: 2xx; gone: 410; failed: the rest)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const webhookDurations = new Histogram({
    name: 'customercore_webhook_attempt_duration_seconds',
    help: 'Duration of each webhook delivery attempt, from sending to the answer (or its failure)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const endpointsDisabled = new Counter({
    name: 'customercore_webhook_endpoints_disabled_total',
    help: 'Webhook endpoints this instance disabled, by reason (gone: answered 410; failing: WEBHOOK_DISABLE_AFTER)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  return {
    registry,
    observeWebhookBacklog(read) {
      // One read per scrape serves both gauges: the first to be collected starts it.
      let pending: Promise<WebhookBacklog> | undefined;
      const current = () => {
        pending ??= read().finally(() => {
          setImmediate(() => {
            pending = undefined;
          });
        });
        return pending;
      };
      new Gauge({
        name: 'customercore_webhook_deliveries_due',
        help: 'Webhook deliveries due now and not yet delivered, across all instances',
        registers: [registry],
        async collect() {
          // NaN while the database cannot be read: unknown, not zero.
          this.set((await current().catch(() => undefined))?.due ?? Number.NaN);
        },
      });
      new Gauge({
        name: 'customercore_webhook_oldest_due_seconds',
        help: 'How long the oldest due webhook delivery has waited (0 when none is due); growing means delivery is behind',
        registers: [registry],
        async collect() {
          this.set((await current().catch(() => undefined))?.oldestDueSeconds ?? Number.NaN);
        },
      });
    },
    countWebhookAttempt: (outcome, seconds) => {
      webhookAttempts.inc({ outcome });
      webhookDurations.observe(seconds);
    },
    countEndpointDisabled: (reason) => {
      endpointsDisabled.inc({ reason });
    },
    instrument(app) {
      app.addHook('onResponse', (request, reply, done) => {
        const labels = {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        };
        requests.inc(labels);
        durations.observe(labels, reply.elapsedTime / 1000);
        done();
      });
    },
    observePool(stats) {
      new Gauge({
        name: 'customercore_db_pool_connections',
        help: 'Database connections of the pool: open (total), idle, and the pool size (max)',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          const now = stats();
          this.set({ state: 'total' }, now.total);
          this.set({ state: 'idle' }, now.idle);
          this.set({ state: 'max' }, now.max);
        },
      });
      new Gauge({
        name: 'customercore_db_pool_waiting',
        help: 'Queries and transactions waiting for a pooled database connection',
        registers: [registry],
        collect() {
          this.set(stats().waiting);
        },
      });
    },
    observeCheckout: (waitSeconds) => {
      checkouts.observe(waitSeconds);
    },
    countRefusal: (limit) => {
      refusals.inc({ limit });
    },
  };
}

/** Serves GET /metrics from `metrics` on host:port; resolves once listening. */
export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export const metricsPort = (server: Server): number => (server.address() as AddressInfo).port;
