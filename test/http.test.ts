// The HTTP conventions every route shares: request ids, the one error body, body size and type
// limits, JSON-object bodies, health, the OpenAPI document and docs, and 503 when the database is
// unreachable.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openPglite, openPostgres, type Database } from '../src/db/database.js';
import { buildAppOn, engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  type Institution,
} from './support/client.js';

const BODY_LIMIT = 65_536;
const generatedId = /^[A-Za-z0-9._-]{1,128}$/;

interface Injected {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
  json(): any;
}

function send(
  t: TestApp,
  url: string,
  payload: string | undefined,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Injected> {
  return t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });
}

const get = (t: TestApp, url: string, headers: Record<string, string> = {}): Promise<Injected> =>
  t.app.inject({ method: 'GET', url, headers });

// Codes whose body names the offending fields in `details`: validation errors, and (as in the
// contract's example body) a conflict on a unique field.
const codesWithDetails = ['VALIDATION_ERROR', 'CUSTOMER_EMAIL_TAKEN', 'CUSTOMER_EXTERNAL_ID_TAKEN'];

/** Asserts the contract's error body: exactly these keys, details only where a field is at fault. */
function assertErrorBody(response: Injected, statusCode: number, code: string): any {
  assert.equal(response.statusCode, statusCode, response.body);
  const body = response.json();
  const keys = ['code', 'error', 'message', 'requestId', 'statusCode'];
  assert.deepEqual(
    Object.keys(body).sort(),
    codesWithDetails.includes(code) ? [...keys, 'details'].sort() : keys,
    response.body,
  );
  assert.equal(body.statusCode, statusCode);
  assert.equal(body.error, STATUS_CODES[statusCode]);
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.equal(typeof response.headers['x-request-id'], 'string');
  assert.equal(body.requestId, response.headers['x-request-id']);
  return body;
}

/** An operator login body of exactly `bytes` bytes: valid JSON padded with trailing spaces. */
function loginBodyOfSize(bytes: number): string {
  const json = JSON.stringify({ token: OPERATOR.email, password: OPERATOR.password });
  const body = json + ' '.repeat(bytes - Buffer.byteLength(json));
  assert.equal(Buffer.byteLength(body), bytes);
  return body;
}

const customerCount = async (t: TestApp, institutionId: string): Promise<number> =>
  (await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [institutionId])).length;

// The KunaCore create page's example request body.
const kunaCoreCreateExample = {
  email: 'alexsmith@mail.com',
  phoneNumber: '+380991234567',
  firstName: 'Alex',
  lastName: 'Smith',
  comment: 'Alex is a special client. Hi is a refferal of Denis.',
  externalId: '12124d80-dd80-4c70-aa9c-c2aa014cc29e',
  referralId: '1f44b1c7-9fd4-4d20-b9a4-7aca3646d0d5',
  country: 'FR',
  verificationDocumentId: 'FV633452',
  residenceAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
  itn: '633-123-92-12',
};

const contractRoutes = [
  '/v2/auth/login',
  '/v2/auth/refresh',
  '/v2/auth/logout',
  '/v2/user/create',
  '/v2/user/find',
  '/v2/user/deactivate',
  '/v2/user/change-password',
  '/v2/customer/create',
  '/v2/customer/update',
  '/v2/customer/details',
  '/v2/customer/find',
  '/v2/customer/history',
  '/v2/customer/erase',
  '/v2/api-key/create',
  '/v2/api-key/find',
  '/v2/api-key/revoke',
  '/v2/admin/institution/create',
  '/v2/admin/wallet/status',
  '/v2/admin/customer/find',
  '/v2/admin/customer/details',
  '/v2/admin/customer/history',
  '/v2/admin/customer/erase',
  '/v2/webhook/create',
  '/v2/webhook/find',
  '/v2/webhook/update',
  '/v2/webhook/delete',
  '/v2/webhook/rotate-secret',
  '/v2/webhook/test',
  '/v2/webhook/deliveries',
  '/v2/webhook/redeliver',
  '/v2/event/find',
];

describe(`http conventions (${engine})`, () => {
  let t: TestApp;
  let institution: Institution;

  before(async () => {
    t = await startTestApp();
    institution = await createInstitution(t);
  });

  after(async () => {
    await t.close();
  });

  describe('request ids', () => {
    it('when any route answers, then the response carries an x-request-id', async () => {
      const responses: Record<string, Injected> = {
        'health live': await get(t, '/health/live'),
        'health ready': await get(t, '/health/ready'),
        docs: await get(t, '/docs'),
        openapi: await get(t, '/openapi.json'),
        'unknown route': await get(t, '/nothing-here'),
        'an error': await send(t, '/v2/customer/find', '{}'),
        'a validation error': await send(t, '/v2/auth/login', '{}'),
        'a success': await send(t, '/v2/auth/login', loginBodyOfSize(100)),
        'a created': await send(t, '/v2/customer/create', JSON.stringify(customerInput()), {
          'content-type': 'application/json',
          authorization: `Bearer ${institution.owner.token}`,
        }),
      };

      const ids = new Set<string>();
      for (const [name, response] of Object.entries(responses)) {
        const id = response.headers['x-request-id'];
        assert.equal(typeof id, 'string', name);
        assert.match(id as string, generatedId, name);
        ids.add(id as string);
      }
      assert.equal(ids.size, Object.keys(responses).length, 'each request gets its own id');
      assert.equal(responses['a success']?.statusCode, 200);
      assert.equal(responses['a created']?.statusCode, 201);
    });

    it('when the request brings a valid x-request-id, then it is echoed in the header and the error body', async () => {
      for (const id of ['a', 'req-123_abc.DEF', 'x'.repeat(128), randomUUID()]) {
        const health = await get(t, '/health/live', { 'x-request-id': id });
        const error = await send(t, '/v2/customer/find', '{}', {
          'content-type': 'application/json',
          'x-request-id': id,
        });

        assert.equal(health.headers['x-request-id'], id);
        assert.equal(error.headers['x-request-id'], id);
        assert.equal(error.json().requestId, id);
      }
    });

    it('when the request brings an invalid x-request-id, then it is replaced by a generated one', async () => {
      const invalid = [
        '',
        'x'.repeat(129),
        'has space',
        'semi;colon',
        'slash/id',
        'café',
        'ид-запроса',
        '日本',
      ];

      for (const id of invalid) {
        const response = await send(t, '/v2/customer/find', '{}', {
          'content-type': 'application/json',
          'x-request-id': id,
        });

        const replaced = response.headers['x-request-id'];
        assert.equal(typeof replaced, 'string', JSON.stringify(id));
        assert.notEqual(replaced, id);
        assert.match(replaced as string, generatedId, JSON.stringify(id));
        assert.equal(response.json().requestId, replaced);
      }
    });
  });

  describe('error bodies', () => {
    it('when any kind of error happens, then the body is the contract error body with the request id of the response', async () => {
      const bearer = {
        'content-type': 'application/json',
        authorization: `Bearer ${institution.owner.token}`,
      };
      const { apiKey } = await createApiKey(t, institution, ['customers:read']);
      const taken = await createCustomer(t, institution.owner);

      assertErrorBody(await send(t, '/v2/customer/find', '{}'), 401, 'UNAUTHORIZED');
      assertErrorBody(
        await send(t, '/v2/auth/login', JSON.stringify({ token: 'nobody@acme.test', password: 'x' })),
        401,
        'INVALID_CREDENTIALS',
      );
      assertErrorBody(
        await send(t, '/v2/customer/create', JSON.stringify(customerInput()), {
          'content-type': 'application/json',
          'api-key': apiKey,
        }),
        403,
        'FORBIDDEN',
      );
      assertErrorBody(await send(t, '/v2/customer/nothing', '{}', bearer), 404, 'NOT_FOUND');
      assertErrorBody(
        await send(t, '/v2/customer/details', JSON.stringify({ id: randomUUID() }), bearer),
        404,
        'CUSTOMER_NOT_FOUND',
      );
      const conflict = assertErrorBody(
        await send(t, '/v2/customer/create', JSON.stringify(customerInput({ email: taken.email })), bearer),
        409,
        'CUSTOMER_EMAIL_TAKEN',
      );
      assert.deepEqual(
        conflict.details.map((detail: { field: string }) => detail.field),
        ['email'],
      );
      assertErrorBody(await send(t, '/v2/customer/find', '{"a":', bearer), 400, 'INVALID_JSON');
      assertErrorBody(
        await send(t, '/v2/customer/find', JSON.stringify({ comment: 'x'.repeat(BODY_LIMIT) }), bearer),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      assertErrorBody(
        await send(t, '/v2/customer/find', 'take=1', { ...bearer, 'content-type': 'text/plain' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    });

    it('when a request fails validation, then the body also has details naming each field', async () => {
      const response = await send(
        t,
        '/v2/customer/create',
        JSON.stringify(customerInput({ email: 'not-an-email', country: 'XX', unknownField: 1 })),
        { 'content-type': 'application/json', authorization: `Bearer ${institution.owner.token}` },
      );

      const body = assertErrorBody(response, 400, 'VALIDATION_ERROR');
      assert.ok(Array.isArray(body.details));
      const fields = body.details.map((detail: { field: string }) => detail.field).sort();
      assert.deepEqual(fields, ['country', 'email', 'unknownField']);
      for (const detail of body.details) {
        assert.deepEqual(Object.keys(detail).sort(), ['field', 'message']);
        assert.equal(typeof detail.message, 'string');
      }
    });

    it('when the route does not exist, then it gets 404 NOT_FOUND whatever the method or credentials', async () => {
      assertErrorBody(await send(t, '/v2/customer/delete', '{}'), 404, 'NOT_FOUND');
      assertErrorBody(await get(t, '/v2/customer/find'), 404, 'NOT_FOUND');
      assertErrorBody(await get(t, '/'), 404, 'NOT_FOUND');
      assertErrorBody(
        await send(t, '/v3/customer/create', '{}', {
          'content-type': 'application/json',
          authorization: `Bearer ${institution.owner.token}`,
        }),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('request bodies', () => {
    it('when the body is exactly 65,536 bytes, then it is accepted', async () => {
      const response = await send(t, '/v2/auth/login', loginBodyOfSize(BODY_LIMIT));

      assert.equal(response.statusCode, 200, response.body);
      assert.equal(typeof response.json().data.accessToken, 'string');
    });

    it('when the body is 65,537 bytes, then it gets 413 PAYLOAD_TOO_LARGE', async () => {
      assertErrorBody(
        await send(t, '/v2/auth/login', loginBodyOfSize(BODY_LIMIT + 1)),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });

    it('when an authenticated create is over 64 KiB, then it gets 413 and nothing is stored', async () => {
      const own = await createInstitution(t);
      const body = JSON.stringify(customerInput({ comment: 'x'.repeat(BODY_LIMIT) }));

      const response = await send(t, '/v2/customer/create', body, {
        'content-type': 'application/json',
        authorization: `Bearer ${own.owner.token}`,
      });

      assertErrorBody(response, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(await customerCount(t, own.id), 0);
    });

    it('when the body is text or a form, then it gets 415 UNSUPPORTED_MEDIA_TYPE and nothing is stored', async () => {
      const own = await createInstitution(t);
      const json = JSON.stringify(customerInput());
      const bodies: [string, string][] = [
        ['text/plain', json],
        ['application/x-www-form-urlencoded', 'email=a%40b.com&firstName=Alex'],
        [
          'multipart/form-data; boundary=x',
          '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.com\r\n--x--',
        ],
        ['application/xml', '<customer/>'],
        ['application/jsonp', json],
        ['application/vnd.api+json', json],
      ];

      for (const [contentType, payload] of bodies) {
        const login = await send(t, '/v2/auth/login', loginBodyOfSize(100), { 'content-type': contentType });
        const create = await send(t, '/v2/customer/create', payload, {
          'content-type': contentType,
          authorization: `Bearer ${own.owner.token}`,
        });

        assertErrorBody(login, 415, 'UNSUPPORTED_MEDIA_TYPE');
        assertErrorBody(create, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
      assert.equal(await customerCount(t, own.id), 0);
    });

    it('when the content type is application/json in any letter case or with a charset, then the body is accepted', async () => {
      for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
        const response = await send(t, '/v2/auth/login', loginBodyOfSize(100), {
          'content-type': contentType,
        });

        assert.equal(response.statusCode, 200, `${contentType}: ${response.body}`);
      }
    });

    it('when a chunked body without content-length grows over 64 KiB, then it gets 413 PAYLOAD_TOO_LARGE', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v2/auth/login',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        payload: Readable.from([Buffer.from(loginBodyOfSize(BODY_LIMIT)), Buffer.from(' ')]),
      });

      assertErrorBody(response, 413, 'PAYLOAD_TOO_LARGE');
    });

    it('when the body is not a JSON object, then it gets 400 INVALID_JSON', async () => {
      const bodies: Record<string, string | undefined> = {
        'malformed JSON': '{"token": "a@b.c", ',
        'trailing garbage': '{"token": "a@b.c"} x',
        'an array': '[{"token": "a@b.c", "password": "x"}]',
        'a string': '"a@b.c"',
        'a number': '42',
        null: 'null',
        'an empty body': '',
      };

      for (const [name, payload] of Object.entries(bodies)) {
        const response = await send(t, '/v2/auth/login', payload);

        assert.equal(response.statusCode, 400, `${name}: ${response.body}`);
        assertErrorBody(response, 400, 'INVALID_JSON');
      }
    });

    it('when a POST route gets no body and no content type, then it gets 400 INVALID_JSON', async () => {
      assertErrorBody(await send(t, '/v2/auth/login', undefined, {}), 400, 'INVALID_JSON');
      assertErrorBody(
        await send(t, '/v2/customer/find', undefined, { authorization: `Bearer ${institution.owner.token}` }),
        400,
        'INVALID_JSON',
      );
    });

    it('when the body has a __proto__ or constructor.prototype key, then it gets 400 and no prototype is polluted', async () => {
      const own = await createInstitution(t);
      const bearer = { 'content-type': 'application/json', authorization: `Bearer ${own.owner.token}` };
      const input = JSON.stringify(customerInput()).slice(0, -1);
      const bodies = [
        `${input}, "__proto__": { "pollutedByTest": "yes" }}`,
        `${input}, "constructor": { "prototype": { "pollutedByTest": "yes" } }}`,
        `{"token": "a@b.c", "password": "x", "__proto__": { "pollutedByTest": "yes" }}`,
      ];

      for (const payload of bodies) {
        const url = payload.startsWith('{"token"') ? '/v2/auth/login' : '/v2/customer/create';
        const response = await send(t, url, payload, bearer);

        assert.equal(response.statusCode, 400, `${payload}: ${response.body}`);
        assert.ok(['INVALID_JSON', 'VALIDATION_ERROR'].includes(response.json().code), response.body);
        assert.equal(response.json().requestId, response.headers['x-request-id']);
      }
      assert.equal((Object.prototype as Record<string, unknown>).pollutedByTest, undefined);
      assert.equal(({} as Record<string, unknown>).pollutedByTest, undefined);
      assert.equal(await customerCount(t, own.id), 0);
    });
  });

  describe('health and documentation', () => {
    it('when the database answers, then /health/live and /health/ready are 200', async () => {
      const live = await get(t, '/health/live');
      const ready = await get(t, '/health/ready');

      assert.equal(live.statusCode, 200, live.body);
      assert.equal(ready.statusCode, 200, ready.body);
      assert.deepEqual(ready.json(), { status: 'ok' });
    });

    it('when /docs is requested, then it is an HTML page', async () => {
      const response = await get(t, '/docs');

      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(response.body, /<html/i);
    });

    describe('the OpenAPI document', () => {
      let document: any;

      before(async () => {
        const response = await get(t, '/openapi.json');
        assert.equal(response.statusCode, 200, response.body);
        assert.match(String(response.headers['content-type']), /^application\/json/);
        document = response.json();
      });

      it('when /openapi.json is requested, then it is an OpenAPI 3 document with every /v2 route of the contract', () => {
        assert.match(document.openapi, /^3\./);
        for (const route of contractRoutes) {
          assert.ok(document.paths[route]?.post !== undefined, `${route} is documented as POST`);
        }
        const documented = Object.keys(document.paths).filter((path) => path.startsWith('/v2/'));
        assert.deepEqual(documented.sort(), [...contractRoutes].sort());
      });

      it('when the security schemes are read, then both bearer and the api-key header are there', () => {
        const schemes: [string, any][] = Object.entries(document.components.securitySchemes);
        const bearer = schemes.find(
          ([, scheme]) => scheme.type === 'http' && /^bearer$/i.test(scheme.scheme),
        );
        const apiKey = schemes.find(
          ([, scheme]) => scheme.type === 'apiKey' && scheme.in === 'header' && scheme.name === 'api-key',
        );
        assert.ok(bearer !== undefined, 'a bearer scheme');
        assert.ok(apiKey !== undefined, 'an api-key header scheme');

        const schemeNames = (route: string): string[] =>
          (document.paths[route].post.security ?? document.security ?? []).flatMap((requirement: object) =>
            Object.keys(requirement),
          );
        for (const route of [
          '/v2/customer/create',
          '/v2/customer/update',
          '/v2/customer/details',
          '/v2/customer/find',
          '/v2/customer/history',
        ]) {
          assert.deepEqual(schemeNames(route).sort(), [bearer[0], apiKey[0]].sort(), route);
        }
        for (const route of ['/v2/api-key/create', '/v2/admin/institution/create']) {
          assert.deepEqual(schemeNames(route), [bearer[0]], route);
        }
        assert.deepEqual(schemeNames('/v2/auth/login'), []);
      });

      it('when the update routes are read, then they document the If-Match header and 409 VERSION_CONFLICT', () => {
        for (const route of ['/v2/customer/update', '/v2/admin/wallet/status']) {
          const operation = document.paths[route].post;
          const ifMatch = (operation.parameters ?? []).find(
            (parameter: { in: string; name: string }) =>
              parameter.in === 'header' && parameter.name.toLowerCase() === 'if-match',
          );
          assert.ok(ifMatch !== undefined, `${route} documents If-Match`);
          assert.equal(ifMatch.required, false, route);
          assert.match(operation.responses['409'].description, /VERSION_CONFLICT/, route);
          assert.ok(
            operation.requestBody.content['application/json'].schema.properties.expectedVersion !== undefined,
            `${route} documents expectedVersion`,
          );
        }
      });

      it("when the create route is read, then its request body carries the KunaCore page's example", () => {
        const media = document.paths['/v2/customer/create'].post.requestBody.content['application/json'];
        const examples = [
          media.example,
          ...Object.values(media.examples ?? {}).map((example: any) => example.value),
          media.schema.example,
          ...(media.schema.examples ?? []),
        ].filter((example) => example !== undefined);

        assert.ok(
          examples.some((example) => JSON.stringify(example) === JSON.stringify(kunaCoreCreateExample)),
          JSON.stringify(examples),
        );
      });

      it('when each /v2 route is read, then it documents its error responses with the error body', () => {
        const errorKeys = ['code', 'error', 'message', 'requestId', 'statusCode'];
        const expected: Record<string, string[]> = Object.fromEntries(
          contractRoutes.map((route) => [route, ['400', '401', '403', '413', '415', '500', '503']]),
        );
        expected['/v2/auth/login'] = ['400', '401', '413', '415', '500', '503'];
        expected['/v2/auth/refresh'] = ['400', '401', '413', '415', '500', '503'];
        expected['/v2/customer/create']?.push('409');
        expected['/v2/customer/update']?.push('404', '409');
        expected['/v2/customer/details']?.push('404');
        expected['/v2/customer/history']?.push('404');
        expected['/v2/admin/customer/history']?.push('404');
        expected['/v2/admin/wallet/status']?.push('404', '409');
        expected['/v2/api-key/revoke']?.push('404');
        expected['/v2/user/create']?.push('409');
        expected['/v2/user/deactivate']?.push('404');

        for (const [route, statuses] of Object.entries(expected)) {
          const responses = document.paths[route].post.responses;
          for (const status of statuses) {
            const schema = responses[status]?.content?.['application/json']?.schema;
            assert.ok(schema !== undefined, `${route} documents ${status}`);
            assert.deepEqual(
              Object.keys(schema.properties)
                .filter((key) => key !== 'details')
                .sort(),
              errorKeys,
              `${route} ${status}`,
            );
          }
        }
      });
    });
  });

  describe('when the database cannot be reached', () => {
    const unreachable: [string, () => Promise<Database>][] = [
      [
        'a PostgreSQL server that does not listen',
        () =>
          Promise.resolve(
            openPostgres({
              connectionString: 'postgres://postgres@127.0.0.1:1/test',
              poolSize: 2,
              connectTimeoutMs: 1000,
              statementTimeoutMs: 1000,
            }),
          ),
      ],
      [
        'a closed PGlite database',
        async () => {
          const db = await openPglite(undefined);
          await db.close();
          return db;
        },
      ],
    ];

    for (const [name, open] of unreachable) {
      describe(name, () => {
        let db: Database;
        let down: Awaited<ReturnType<typeof buildAppOn>>;

        before(async () => {
          db = await open();
          down = await buildAppOn(db);
        });

        after(async () => {
          await down.app.close();
          if (db.engine === 'postgres') await db.close();
        });

        it('then /health/ready is 503 SERVICE_UNAVAILABLE and /health/live is 200', async () => {
          const ready = await down.app.inject({ method: 'GET', url: '/health/ready' });
          const live = await down.app.inject({ method: 'GET', url: '/health/live' });

          assertErrorBody(ready, 503, 'SERVICE_UNAVAILABLE');
          assert.equal(live.statusCode, 200);
        });

        it('then a customer route with a valid token is 503 SERVICE_UNAVAILABLE', async () => {
          const { token } = await down.accessTokens.issue({
            userId: randomUUID(),
            sessionId: randomUUID(),
            email: 'owner@acme.test',
            role: 'Owner',
            institution: { id: randomUUID(), title: 'Acme Pay' },
          });
          const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };

          const create = await down.app.inject({
            method: 'POST',
            url: '/v2/customer/create',
            headers,
            payload: JSON.stringify(customerInput()),
          });
          const find = await down.app.inject({
            method: 'POST',
            url: '/v2/customer/find',
            headers,
            payload: '{}',
          });

          assertErrorBody(create, 503, 'SERVICE_UNAVAILABLE');
          assertErrorBody(find, 503, 'SERVICE_UNAVAILABLE');
          for (const leak of [
            'ECONNREFUSED',
            '127.0.0.1',
            'PGlite',
            'SELECT',
            'INSERT',
            'customers',
            'at ',
          ]) {
            assert.ok(!create.body.includes(leak), `the body does not mention ${leak}: ${create.body}`);
          }
        });

        it('then a login or an API key request is 503 SERVICE_UNAVAILABLE, not 401', async () => {
          const login = await down.app.inject({
            method: 'POST',
            url: '/v2/auth/login',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ token: OPERATOR.email, password: OPERATOR.password }),
          });
          const withKey = await down.app.inject({
            method: 'POST',
            url: '/v2/customer/find',
            headers: { 'content-type': 'application/json', 'api-key': `cck_${'a'.repeat(43)}` },
            payload: '{}',
          });

          assertErrorBody(login, 503, 'SERVICE_UNAVAILABLE');
          assertErrorBody(withKey, 503, 'SERVICE_UNAVAILABLE');
        });
      });
    }
  });
});
