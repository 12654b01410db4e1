// The logs: structured JSON, one "request completed" line per request carrying its request id,
// and never any personal data or secret, whether the request succeeded or failed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';

interface Exchange {
  requestId: string;
  method: string;
  url: string;
  statusCode: number;
  body: any;
}

// Distinctive personal data, so that any occurrence in the logs is certainly a leak.
const created = {
  email: 'Zelda.Quimby.7741@example-logs.test',
  phoneNumber: '+380 (67) 555-19-83',
  firstName: 'Zephyrine',
  lastName: 'Quackenbush',
  comment: 'Prefers calls after nine, allergic to marmalade',
  externalId: 'ext-kraken-55108',
  country: 'fr',
  verificationDocumentId: 'DOCX88231LOG',
  residenceAddress: '17 Rue Imaginaire, 75003 Parigi-Testville',
  itn: 'ITN44719902',
};
const updated = {
  email: 'wilhelmina.oddsock.3390@example-logs.test',
  phoneNumber: '+33 6 12 34 56 78',
  firstName: 'Wilhelmina',
  lastName: 'Oddsockery',
  comment: 'Moved abroad after winning the pumpkin contest',
  verificationDocumentId: 'PASSQ77120ZX',
  residenceAddress: '9 Gnomengasse, 1010 Wien-Phantasia',
  itn: 'TAXNUM66021337',
};
const personalData = [
  ...Object.entries(created)
    .filter(([field]) => field !== 'country')
    .map(([, value]) => value),
  ...Object.values(updated),
  '+380675551983',
  '380675551983',
  '+33612345678',
  'Zephyrine Quackenbush',
  'Wilhelmina Oddsockery',
  'Bartholomew-Invalid',
  'rejected.person.8812@example-logs',
  'Oversized Ophelia',
  'Forbidden Fenwick',
];

describe(`logs (${engine})`, () => {
  let t: TestApp;
  let startupLines: number;

  before(async () => {
    t = await startTestApp();
    startupLines = t.logs.length;
  });

  after(async () => {
    await t.close();
  });

  describe('after a flow with logins, API keys, customers and errors', () => {
    const exchanges: Exchange[] = [];
    const secrets: string[] = [OPERATOR.password];
    const ownerEmail = `olga.owner.${randomUUID()}@acme-logs.test`;
    const ownerPassword = 'Owner-Secret-Pw-7319!';
    const wrongPassword = 'Wrong-Guess-Pw-4402!';

    async function call(
      url: string,
      body: unknown,
      headers: Record<string, string> = {},
      rawPayload?: string,
    ): Promise<Exchange> {
      const response = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', ...headers },
        payload: rawPayload ?? JSON.stringify(body),
      });
      const exchange: Exchange = {
        requestId: String(response.headers['x-request-id']),
        method: 'POST',
        url,
        statusCode: response.statusCode,
        body: response.json(),
      };
      exchanges.push(exchange);
      return exchange;
    }

    function expectStatus(exchange: Exchange, statusCode: number, code?: string): void {
      assert.equal(exchange.statusCode, statusCode, `${exchange.url}: ${JSON.stringify(exchange.body)}`);
      if (code !== undefined) assert.equal(exchange.body.code, code);
    }

    before(async () => {
      const operatorLogin = await call('/v2/auth/login', {
        token: OPERATOR.email,
        password: OPERATOR.password,
      });
      expectStatus(operatorLogin, 200);
      const operator = { authorization: `Bearer ${operatorLogin.body.data.accessToken}` };
      secrets.push(operatorLogin.body.data.accessToken, operatorLogin.body.data.refreshToken);

      const institution = await call(
        '/v2/admin/institution/create',
        { title: 'Logs Institution', ownerEmail, ownerPassword },
        operator,
      );
      expectStatus(institution, 201);
      const generated = await call(
        '/v2/admin/institution/create',
        { title: 'Logs Institution Two', ownerEmail: `gus.generated.${randomUUID()}@acme-logs.test` },
        operator,
      );
      expectStatus(generated, 201);
      secrets.push(generated.body.data.owner.password);

      const merchant = { merchant_id: institution.body.data.merchantId };
      expectStatus(
        await call('/v2/auth/login', { token: ownerEmail, password: wrongPassword }, merchant),
        401,
      );
      const ownerLogin = await call(
        '/v2/auth/login',
        { token: ownerEmail, password: ownerPassword },
        merchant,
      );
      expectStatus(ownerLogin, 200);
      const owner = { authorization: `Bearer ${ownerLogin.body.data.accessToken}` };
      secrets.push(ownerLogin.body.data.accessToken, ownerLogin.body.data.refreshToken);

      const writeKey = await call('/v2/api-key/create', { name: 'logs-backend' }, owner);
      expectStatus(writeKey, 201);
      const readKey = await call(
        '/v2/api-key/create',
        { name: 'logs-reader', scopes: ['customers:read'] },
        owner,
      );
      expectStatus(readKey, 201);
      secrets.push(writeKey.body.data.key, readKey.body.data.key);
      const writer = { 'api-key': writeKey.body.data.key };
      const reader = { 'api-key': readKey.body.data.key };

      const customer = await call('/v2/customer/create', created, writer);
      expectStatus(customer, 201);
      const id: string = customer.body.data.id;
      expectStatus(await call('/v2/customer/details', { id }, reader), 200);
      expectStatus(
        await call('/v2/customer/find', { email: created.email, fullName: 'zephyrine quack' }, reader),
        200,
      );
      expectStatus(
        await call(
          '/v2/customer/update',
          { id, ...updated, walletStatus: 'Suspicious', walletStatusReason: created.comment },
          owner,
        ),
        200,
      );
      expectStatus(await call('/v2/customer/find', { phoneNumber: updated.phoneNumber }, owner), 200);

      // Errors, each carrying personal data in the request.
      expectStatus(
        await call('/v2/customer/create', { ...created, email: updated.email.toUpperCase() }, writer),
        409,
        'CUSTOMER_EMAIL_TAKEN',
      );
      expectStatus(
        await call(
          '/v2/customer/create',
          {
            ...created,
            email: 'rejected.person.8812@example-logs',
            firstName: 'Bartholomew-Invalid',
            phoneNumber: '+380 12',
          },
          writer,
        ),
        400,
        'VALIDATION_ERROR',
      );
      expectStatus(
        await call('/v2/customer/update', { id, email: updated.email, referralId: id }, owner),
        400,
        'VALIDATION_ERROR',
      );
      expectStatus(
        await call('/v2/customer/create', {}, {}, `{"email": "${updated.email}", "firstName": "Zephyrine"`),
        401,
        'UNAUTHORIZED',
      );
      expectStatus(
        await call(
          '/v2/customer/create',
          {},
          owner,
          `{"email": "${updated.email}", "firstName": "Zephyrine"`,
        ),
        400,
        'INVALID_JSON',
      );
      expectStatus(
        await call(
          '/v2/customer/find',
          { email: created.email },
          { 'api-key': `${writeKey.body.data.key}x` },
        ),
        401,
        'UNAUTHORIZED',
      );
      expectStatus(
        await call(
          '/v2/customer/find',
          { email: created.email },
          { authorization: `Bearer ${ownerLogin.body.data.accessToken}x` },
        ),
        401,
        'UNAUTHORIZED',
      );
      expectStatus(
        await call('/v2/customer/create', { ...created, firstName: 'Forbidden Fenwick' }, reader),
        403,
        'FORBIDDEN',
      );
      expectStatus(await call('/v2/api-key/find', {}, writer), 403, 'FORBIDDEN');
      expectStatus(
        await call('/v2/customer/details', { id: randomUUID() }, reader),
        404,
        'CUSTOMER_NOT_FOUND',
      );
      expectStatus(await call('/v2/customer/delete', { email: created.email }, owner), 404, 'NOT_FOUND');
      expectStatus(
        await call(
          '/v2/customer/create',
          { ...created, firstName: 'Oversized Ophelia', comment: 'x'.repeat(70_000) },
          writer,
        ),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      expectStatus(await call('/v2/api-key/revoke', { id: writeKey.body.data.id }, owner), 200);
      expectStatus(await call('/v2/customer/find', { email: created.email }, writer), 401, 'UNAUTHORIZED');

      // onResponse hooks may still be writing when the last inject resolves.
      await new Promise((resolve) => setImmediate(resolve));
    });

    it('then every line after start-up is JSON with a requestId', () => {
      const lines = t.logs.slice(startupLines);
      assert.ok(lines.length >= exchanges.length);
      for (const line of lines) {
        const entry = JSON.parse(line);
        assert.equal(typeof entry.requestId, 'string', line);
        assert.ok(entry.requestId.length > 0, line);
      }
      for (const line of t.logs.slice(0, startupLines)) JSON.parse(line);
    });

    it('then no line contains personal data, passwords, tokens or API keys', () => {
      assert.ok(secrets.every((secret) => typeof secret === 'string' && secret.length >= 16));
      const forbidden = [...personalData, ownerEmail, ownerPassword, wrongPassword, ...secrets];
      const leaks: string[] = [];
      for (const line of t.logs) {
        const text = line.toLowerCase();
        for (const value of forbidden) {
          if (text.includes(value.toLowerCase())) leaks.push(`${value} in ${line}`);
        }
      }
      assert.deepEqual(leaks, []);
    });

    it('then each request has exactly one "request completed" line with its method, route, status and request id', () => {
      const completed = t.logs
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.msg === 'request completed');
      assert.equal(completed.length, exchanges.length);

      for (const exchange of exchanges) {
        const lines = completed.filter((entry) => entry.requestId === exchange.requestId);
        assert.equal(lines.length, 1, `${exchange.url} ${exchange.statusCode}`);
        const [line] = lines;
        assert.equal(line.method, exchange.method);
        assert.equal(line.statusCode, exchange.statusCode);
        assert.equal(typeof line.route, 'string');
        if (exchange.body.code !== 'NOT_FOUND') assert.equal(line.route, exchange.url);
      }
      assert.equal(new Set(exchanges.map((exchange) => exchange.requestId)).size, exchanges.length);
    });
  });
});
