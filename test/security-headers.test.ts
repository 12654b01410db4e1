// Response hardening: security headers on every response, no caching of API answers, and CORS
// closed unless CORS_ORIGINS names the browser origins allowed to call the API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createInstitution } from './support/client.js';

const PARTNER_ORIGIN = 'https://app.partner.test';

describe(`security headers and CORS (${engine})`, () => {
  let t: TestApp;
  let withCors: TestApp;
  let token: string;
  before(async () => {
    t = await startTestApp();
    withCors = await startTestApp({ corsOrigins: [PARTNER_ORIGIN] });
    token = (await createInstitution(t)).owner.token;
  });
  after(async () => {
    await t.close();
    await withCors.close();
  });

  const find = (app: TestApp, headers: Record<string, string> = {}) =>
    app.app.inject({
      method: 'POST',
      url: '/v2/customer/find',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      payload: '{}',
    });

  it('when any route answers, success or error, then it carries the security headers', async () => {
    const responses = await Promise.all([
      find(t),
      t.app.inject({ method: 'POST', url: '/v2/customer/find', payload: {} }),
      t.app.inject({ method: 'GET', url: '/nowhere' }),
      t.app.inject({ method: 'GET', url: '/health/live' }),
    ]);
    assert.deepEqual(
      responses.map((response) => response.statusCode),
      [200, 401, 404, 200],
    );
    for (const response of responses) {
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.match(
        String(response.headers['strict-transport-security']),
        /max-age=31536000; includeSubDomains/,
      );
      assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['x-powered-by'], undefined);
    }
  });

  it('when an API route answers, then the answer may not be cached', async () => {
    const success = await find(t);
    const failure = await t.app.inject({ method: 'POST', url: '/v2/customer/find', payload: {} });

    assert.equal(success.headers['cache-control'], 'no-store');
    assert.equal(failure.headers['cache-control'], 'no-store');
  });

  it('when /docs is served, then its own CSP lets Swagger UI load its assets from this origin only', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    const csp = String(page.headers['content-security-policy']);

    assert.equal(page.statusCode, 200);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.doesNotMatch(csp, /\*/);
  });

  it('when CORS_ORIGINS is not set, then no origin is allowed and preflights find no route', async () => {
    const response = await find(t, { origin: PARTNER_ORIGIN });
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/v2/customer/find',
      headers: { origin: PARTNER_ORIGIN, 'access-control-request-method': 'POST' },
    });

    assert.equal(response.headers['access-control-allow-origin'], undefined);
    assert.equal(preflight.statusCode, 404);
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  });

  it('when CORS_ORIGINS names an origin, then that origin is allowed, with the API headers, and others are not', async () => {
    const preflight = await withCors.app.inject({
      method: 'OPTIONS',
      url: '/v2/customer/find',
      headers: {
        origin: PARTNER_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'api-key, content-type',
      },
    });
    const stranger = await withCors.app.inject({
      method: 'OPTIONS',
      url: '/v2/customer/find',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    const actual = await withCors.app.inject({
      method: 'POST',
      url: '/v2/customer/find',
      headers: { origin: PARTNER_ORIGIN, 'content-type': 'application/json' },
      payload: '{}',
    });

    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], PARTNER_ORIGIN);
    assert.match(String(preflight.headers['access-control-allow-headers']), /api-key/);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    assert.equal(stranger.headers['access-control-allow-origin'], undefined);
    assert.equal(actual.statusCode, 401, 'CORS never replaces authentication');
    assert.equal(actual.headers['access-control-allow-origin'], PARTNER_ORIGIN);
    assert.match(String(actual.headers['access-control-expose-headers']), /x-request-id/);
  });
});
