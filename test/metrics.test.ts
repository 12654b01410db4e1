// Prometheus metrics (src/platform/metrics.ts): served on a server and port of their own, never by
// the API; request counts and latencies by route pattern and status, the database pool's use and
// waits, rate-limit refusals, event-loop lag, the webhook backlog and attempts. And the real process serves them only when
// METRICS_PORT is set.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { webhookBacklog } from '../src/modules/webhooks/webhook-dispatch.repository.js';
import { createMetrics, metricsPort, serveMetrics, type Metrics } from '../src/platform/metrics.js';
import { createRateLimits, defaultRateLimitOptions } from '../src/platform/rate-limits.js';
import { engine, openTestDatabase, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createCustomer, createInstitution, loginOperator, post } from './support/client.js';
import { startReceiver, startTestDispatcher, type Receiver } from './support/webhooks.js';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe(`metrics (${engine})`, () => {
  let t: TestApp;
  let metrics: Metrics;
  let server: Server;
  let url: string;

  before(async () => {
    metrics = createMetrics();
    const database = await openTestDatabase({ onCheckout: metrics.observeCheckout });
    t = await startTestApp({
      database,
      metrics,
      rateLimits: createRateLimits({
        ...defaultRateLimitOptions,
        keyPrefix: `metrics-${randomUUID()}`,
        apiKeyRequestsPerMinute: 3,
        apiKeyRequestsPerSecond: 1000,
        onRefusal: metrics.countRefusal,
      }),
    });
    server = await serveMetrics(metrics, '127.0.0.1', 0);
    url = `http://127.0.0.1:${metricsPort(server)}/metrics`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  const scrape = async () => {
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  it('when requests are answered, then each is counted and timed by route pattern and status', async () => {
    const operator = await loginOperator(t);
    const institution = await createInstitution(t, operator);
    await createCustomer(t, institution.owner);
    await post(t, '/v2/customer/details', { id: randomUUID() }, institution.owner);
    await post(t, '/v2/customer/details', { id: randomUUID() }, institution.owner);
    await t.app.inject({ method: 'GET', url: '/no/such/route' });

    const text = await scrape();

    const labels = (route: string, status: string) => ({ method: 'POST', route, status_code: status });
    assert.equal(sample(text, 'customercore_http_requests_total', labels('/v2/customer/details', '404')), 2);
    assert.equal(sample(text, 'customercore_http_requests_total', labels('/v2/customer/create', '201')), 1);
    assert.equal(
      sample(text, 'customercore_http_requests_total', {
        method: 'GET',
        route: 'unmatched',
        status_code: '404',
      }),
      1,
    );
    assert.equal(
      sample(text, 'customercore_http_request_duration_seconds_count', labels('/v2/customer/details', '404')),
      2,
    );
    const sum = sample(
      text,
      'customercore_http_request_duration_seconds_sum',
      labels('/v2/customer/details', '404'),
    );
    assert.ok(sum !== undefined && sum > 0 && sum < 10, `latency sum ${sum}`);
    assert.equal(
      sample(text, 'customercore_http_request_duration_seconds_bucket', {
        ...labels('/v2/customer/details', '404'),
        le: '+Inf',
      }),
      2,
    );
    // The ids sent are in no label: routes are patterns.
    assert.doesNotMatch(text, /\/v2\/customer\/details\/[0-9a-f-]{36}/);
  });

  it('when an API key runs out of budget, then the refusal is counted by the budget that refused', async () => {
    const operator = await loginOperator(t);
    const institution = await createInstitution(t, operator);
    const { apiKey } = await createApiKey(t, institution);
    const statuses = [];
    for (let request = 0; request < 5; request++) {
      statuses.push((await post(t, '/v2/customer/find', {}, { apiKey })).status);
    }

    const text = await scrape();

    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.equal(sample(text, 'customercore_rate_limit_refusals_total', { limit: 'api_key_sustained' }), 2);
    assert.equal(
      sample(text, 'customercore_http_requests_total', {
        method: 'POST',
        route: '/v2/customer/find',
        status_code: '429',
      }),
      2,
    );
  });

  it('when scraped, then the event loop lag and the process are reported', async () => {
    const text = await scrape();
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      const value = sample(text, name);
      assert.ok(value !== undefined && value >= 0, `${name} = ${value}`);
    }
  });

  it(
    'when the database is a PostgreSQL pool, then its connections and the waits for them are reported',
    { skip: engine === 'pglite' ? 'the embedded database has one connection and no pool' : false },
    async () => {
      const operator = await loginOperator(t);
      const institution = await createInstitution(t, operator);
      // More at once than the pool has connections (10): some must wait.
      await Promise.all(Array.from({ length: 30 }, () => createCustomer(t, institution.owner)));

      const text = await scrape();

      assert.equal(sample(text, 'customercore_db_pool_connections', { state: 'max' }), 10);
      const total = sample(text, 'customercore_db_pool_connections', { state: 'total' });
      const idle = sample(text, 'customercore_db_pool_connections', { state: 'idle' });
      assert.ok(total !== undefined && total >= 1 && total <= 10, `total ${total}`);
      assert.ok(idle !== undefined && idle <= total, `idle ${idle}`);
      assert.equal(sample(text, 'customercore_db_pool_waiting'), 0);
      const checkouts = sample(text, 'customercore_db_pool_checkout_seconds_count');
      assert.ok(checkouts !== undefined && checkouts >= 30, `checkouts ${checkouts}`);
      const fast = sample(text, 'customercore_db_pool_checkout_seconds_bucket', { le: '0.0001' }) ?? 0;
      assert.ok(fast < checkouts, 'some checkouts waited longer than 0.1 ms');
    },
  );

  it('when the API is asked for /metrics, then it does not serve them', async () => {
    const answer = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(answer.statusCode, 404);
    assert.doesNotMatch(answer.body, /customercore_http_requests_total/);
  });
});

describe(`webhook metrics (${engine})`, () => {
  let t: TestApp;
  let metrics: Metrics;
  let server: Server;
  const receivers: Receiver[] = [];

  before(async () => {
    metrics = createMetrics();
    t = await startTestApp({ metrics, webhooks: { allowPrivateNetworks: true } });
    // As main.ts wires them.
    metrics.observeWebhookBacklog(() => webhookBacklog(t.db));
    server = await serveMetrics(metrics, '127.0.0.1', 0);
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort(server)}/metrics`)).text();

  it('when deliveries wait, then the backlog and its age are reported; once sent, attempts and disabled endpoints are counted', async () => {
    const operator = await loginOperator(t);
    const healthy = await createInstitution(t, operator);
    const gone = await createInstitution(t, operator);
    for (const [institution, status] of [
      [healthy, 200],
      [gone, 410],
    ] as const) {
      const receiver = await startReceiver(() => ({ status }));
      receivers.push(receiver);
      const created = await post(t, '/v2/webhook/create', { url: receiver.url }, institution.owner);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    // No dispatcher yet: the events wait.
    for (let n = 0; n < 3; n++) await createCustomer(t, healthy.owner);
    await createCustomer(t, gone.owner);
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const waiting = await scrape();
    assert.equal(sample(waiting, 'customercore_webhook_deliveries_due'), 4);
    const age = sample(waiting, 'customercore_webhook_oldest_due_seconds');
    assert.ok(age !== undefined && age >= 1 && age < 60, `oldest due ${age} s`);

    const dispatcher = await startTestDispatcher(t, { metrics });
    try {
      const deadline = Date.now() + 10_000;
      let text = await scrape();
      // The backlog empties as the last outcome commits; the counters move just after it.
      while (
        sample(text, 'customercore_webhook_deliveries_due') !== 0 ||
        sample(text, 'customercore_webhook_endpoints_disabled_total', { reason: 'gone' }) === undefined
      ) {
        assert.ok(Date.now() < deadline, 'the backlog is delivered');
        await new Promise((resolve) => setTimeout(resolve, 100));
        text = await scrape();
      }
      assert.equal(sample(text, 'customercore_webhook_oldest_due_seconds'), 0);
      assert.equal(sample(text, 'customercore_webhook_attempts_total', { outcome: 'delivered' }), 3);
      assert.equal(sample(text, 'customercore_webhook_attempts_total', { outcome: 'gone' }), 1);
      assert.equal(sample(text, 'customercore_webhook_attempt_duration_seconds_count'), 4);
      assert.equal(sample(text, 'customercore_webhook_endpoints_disabled_total', { reason: 'gone' }), 1);
    } finally {
      await dispatcher.stop(1000);
    }
  });
});
