// Login and access tokens: what a successful login returns and stores, that every login failure
// looks the same, and that only an intact, unexpired token signed by the service's key is accepted.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { buildApp } from '../src/app.js';
import { createAccessTokens } from '../src/modules/auth/access-tokens.js';
import {
  generateSigningKeyPem,
  signingKeyFromPem,
  type SigningKey,
} from '../src/modules/auth/signing-key.js';
import { buildAppOn, engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution, post, type Institution, type Response } from './support/client.js';
import { openedCustomers } from './support/stored.js';

// The issuer and audience test/support/app.ts configures for the app's token issuer.
const ISSUER = 'customercore';
const AUDIENCE = 'customercore-api';
const PROTECTED_ROUTE = '/v2/customer/find';

function login(t: TestApp, email: string, password: string, merchantId?: string): Promise<Response> {
  return post(
    t,
    '/v2/auth/login',
    { token: email, password },
    undefined,
    merchantId === undefined ? {} : { merchant_id: merchantId },
  );
}

function decodeSegment(segment: string | undefined): Record<string, any> {
  assert.ok(segment !== undefined, 'the JWT has three segments');
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

const encodeSegment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function jwtParts(token: string): { header: Record<string, any>; payload: Record<string, any> } {
  const segments = token.split('.');
  assert.equal(segments.length, 3);
  return { header: decodeSegment(segments[0]), payload: decodeSegment(segments[1]) };
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

function findCustomers(t: TestApp, headers: Record<string, string>, payload = '{}') {
  return t.app.inject({
    method: 'POST',
    url: PROTECTED_ROUTE,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

function assertUnauthorized(response: { statusCode: number; json(): any }): void {
  assert.equal(response.statusCode, 401, JSON.stringify(response.json()));
  assert.equal(response.json().code, 'UNAUTHORIZED');
}

describe(`auth (${engine})`, () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });

  after(async () => {
    await t.close();
  });

  describe('login', () => {
    it('when an institution user logs in with its merchant_id, then it gets a Bearer token pair that expires in 900 s', async () => {
      const institution = await createInstitution(t);

      const response = await login(t, institution.ownerEmail, institution.ownerPassword, institution.id);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(Object.keys(response.body).sort(), ['data']);
      assert.deepEqual(Object.keys(response.body.data).sort(), [
        'accessToken',
        'expiresIn',
        'refreshToken',
        'tokenType',
      ]);
      assert.equal(response.body.data.tokenType, 'Bearer');
      assert.equal(response.body.data.expiresIn, 900);
      assert.equal(typeof response.body.data.accessToken, 'string');
      assert.equal(typeof response.body.data.refreshToken, 'string');
      assert.notEqual(response.body.data.refreshToken, response.body.data.accessToken);
      const works = await findCustomers(t, { authorization: `Bearer ${response.body.data.accessToken}` });
      assert.equal(works.statusCode, 200);
    });

    it('when an institution user logs in, then the access token is an EdDSA JWT with a kid and carries the user, role, merchantId and institution', async () => {
      const institution = await createInstitution(t);
      const [owner] = await t.db.query<{ id: string; email: string }>(
        'SELECT id, email FROM users WHERE institution_id = $1',
        [institution.id],
      );
      const [stored] = await t.db.query<{ title: string }>('SELECT title FROM institutions WHERE id = $1', [
        institution.id,
      ]);
      assert.ok(owner !== undefined && stored !== undefined);

      const response = await login(t, institution.ownerEmail, institution.ownerPassword, institution.id);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      const { header, payload } = jwtParts(response.body.data.accessToken);
      assert.equal(header.alg, 'EdDSA');
      assert.equal(typeof header.kid, 'string');
      assert.ok(header.kid.length > 0);
      assert.equal(payload.sub, owner.id);
      assert.equal(payload.id, owner.id);
      assert.equal(payload.email, institution.ownerEmail);
      assert.equal(payload.role, 'Owner');
      assert.equal(payload.merchantId, institution.id);
      assert.deepEqual(payload.institution, { id: institution.id, title: stored.title });
      assert.equal(payload.iss, ISSUER);
      assert.equal(payload.aud, AUDIENCE);
      assert.equal(typeof payload.iat, 'number');
      assert.equal(payload.exp - payload.iat, 900);
      assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 300, 'iat is the time of the login');
    });

    it('when a user logs in, then only a SHA-256 hash of the refresh token is stored', async () => {
      const institution = await createInstitution(t);

      const response = await login(t, institution.ownerEmail, institution.ownerPassword, institution.id);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      const refreshToken: string = response.body.data.refreshToken;
      const [owner] = await t.db.query<{ id: string }>('SELECT id FROM users WHERE institution_id = $1', [
        institution.id,
      ]);
      const rows = await t.db.query<{ token_hash: string; user_id: string }>(
        `SELECT r.token_hash, s.user_id
           FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id
          WHERE r.token_hash = $1`,
        [sha256Hex(refreshToken)],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.user_id, owner?.id);
      assert.notEqual(rows[0]?.token_hash, refreshToken);
      const plain = await t.db.query(
        `SELECT id FROM refresh_tokens
          WHERE token_hash = $1 OR strpos(token_hash, $1) > 0`,
        [refreshToken],
      );
      assert.equal(plain.length, 0, 'the refresh token itself is stored nowhere in refresh_tokens');
    });

    it('when the email differs only in letter case, then the login succeeds', async () => {
      const institution = await createInstitution(t);

      const response = await login(
        t,
        institution.ownerEmail.toUpperCase(),
        institution.ownerPassword,
        institution.id,
      );

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(jwtParts(response.body.data.accessToken).payload.merchantId, institution.id);
    });

    it('when a login fails for any reason, then every answer is the same 401 INVALID_CREDENTIALS', async () => {
      const institution = await createInstitution(t);
      const other = await createInstitution(t);
      const { ownerEmail, ownerPassword, id } = institution;
      const refreshTokensBefore = await t.db.query('SELECT id FROM refresh_tokens');

      const failures: Record<string, Response> = {
        'wrong password': await login(t, ownerEmail, `${ownerPassword}x`, id),
        'unknown email': await login(t, `nobody-${randomUUID()}@acme.test`, ownerPassword, id),
        'unknown merchant': await login(t, ownerEmail, ownerPassword, randomUUID()),
        'malformed merchant_id': await login(t, ownerEmail, ownerPassword, 'not-a-uuid'),
        'institution user without merchant_id': await login(t, ownerEmail, ownerPassword),
        "another institution's user": await login(t, other.ownerEmail, other.ownerPassword, id),
        'operator with a merchant_id': await login(t, OPERATOR.email, OPERATOR.password, id),
      };

      for (const [name, response] of Object.entries(failures)) {
        assert.equal(response.status, 401, `${name}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'INVALID_CREDENTIALS', name);
        assert.equal(response.body.requestId, response.headers['x-request-id'], name);
      }
      const bodies = Object.values(failures).map(({ body }) => ({ ...body, requestId: undefined }));
      for (const body of bodies) assert.deepEqual(body, bodies[0], 'every failure has the same body');
      const refreshTokensAfter = await t.db.query('SELECT id FROM refresh_tokens');
      assert.equal(refreshTokensAfter.length, refreshTokensBefore.length, 'no refresh token was issued');
    });
  });

  describe('access tokens on a protected route', () => {
    let institution: Institution;
    let realToken: string;

    before(async () => {
      institution = await createInstitution(t);
      realToken = institution.owner.token;
    });

    it('when a request carries a valid access token, then it is served', async () => {
      const response = await findCustomers(t, { authorization: `Bearer ${realToken}` });

      assert.equal(response.statusCode, 200, response.body);
    });

    it('when a request has no credentials, then it gets 401 UNAUTHORIZED', async () => {
      const response = await findCustomers(t, {});

      assertUnauthorized(response);
      assert.equal(response.json().requestId, response.headers['x-request-id']);
    });

    it('when the token is garbage, then it gets 401 UNAUTHORIZED', async () => {
      for (const token of ['garbage', 'a.b.c', '', `${realToken}x`]) {
        assertUnauthorized(await findCustomers(t, { authorization: `Bearer ${token}` }));
      }
    });

    it('when a byte of the payload is changed after signing, then the token gets 401 UNAUTHORIZED', async () => {
      const [header, payload, signature] = realToken.split('.') as [string, string, string];
      const flipped = payload.slice(0, 10) + (payload[10] === 'A' ? 'B' : 'A') + payload.slice(11);
      const other = await createInstitution(t);
      const escalated = encodeSegment({ ...jwtParts(realToken).payload, merchantId: other.id });

      assertUnauthorized(
        await findCustomers(t, { authorization: `Bearer ${header}.${flipped}.${signature}` }),
      );
      assertUnauthorized(
        await findCustomers(t, { authorization: `Bearer ${header}.${escalated}.${signature}` }),
      );
    });

    it('when the token says alg none and has no signature, then it gets 401 UNAUTHORIZED', async () => {
      const { payload } = jwtParts(realToken);
      const header = encodeSegment({ alg: 'none', typ: 'JWT' });

      assertUnauthorized(
        await findCustomers(t, { authorization: `Bearer ${header}.${encodeSegment(payload)}.` }),
      );
    });

    it('when the token is signed by another Ed25519 key, then it gets 401 UNAUTHORIZED', async () => {
      const foreign = await createAccessTokens({
        key: await signingKeyFromPem(generateSigningKeyPem()),
        issuer: ISSUER,
        audience: AUDIENCE,
        ttlSeconds: 900,
      });
      const { payload } = jwtParts(realToken);
      const { token } = await foreign.issue({
        userId: payload.sub,
        sessionId: payload.sid,
        email: payload.email,
        role: 'Owner',
        institution: payload.institution,
      });

      assert.equal(await t.accessTokens.verify(token), undefined);
      assertUnauthorized(await findCustomers(t, { authorization: `Bearer ${token}` }));
    });

    it('when the scheme is not Bearer, then it gets 401 UNAUTHORIZED', async () => {
      assertUnauthorized(await findCustomers(t, { authorization: 'Basic x' }));
      assertUnauthorized(
        await findCustomers(t, {
          authorization: `Basic ${Buffer.from(`${institution.ownerEmail}:${institution.ownerPassword}`).toString('base64')}`,
        }),
      );
      assertUnauthorized(await findCustomers(t, { authorization: realToken }));
    });

    it('when both an Authorization and an api-key header are sent, then it gets 401 UNAUTHORIZED', async () => {
      const { apiKey } = await createApiKey(t, institution);
      assert.equal((await findCustomers(t, { 'api-key': apiKey })).statusCode, 200);

      assertUnauthorized(await findCustomers(t, { authorization: `Bearer ${realToken}`, 'api-key': apiKey }));
    });
  });

  describe('tokens signed with the key of the app that checks them', () => {
    // A second app on the same database whose signing key this file holds, so tokens with chosen
    // claims (an exp in the past, another audience) can be signed with the key the app trusts.
    let key: SigningKey;
    let keyed: Awaited<ReturnType<typeof buildApp>>;
    let institution: Institution;
    let claims: Record<string, any>;

    before(async () => {
      key = await signingKeyFromPem(generateSigningKeyPem());
      ({ app: keyed } = await buildAppOn(t.db, {
        accessTokens: await createAccessTokens({ key, issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 900 }),
      }));
      institution = await createInstitution(t);
      const { payload } = jwtParts(institution.owner.token);
      const { sub, id, sid, email, role, merchantId, institution: tenant } = payload;
      claims = { id, sid, email, role, merchantId, institution: tenant, sub };
    });

    after(async () => {
      await keyed.close();
    });

    const sign = (
      options: { expiresAt: number; issuedAt: number; audience?: string; issuer?: string },
      extra: Record<string, unknown> = {},
    ): Promise<string> =>
      new SignJWT({ ...claims, ...extra })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
        .setIssuer(options.issuer ?? ISSUER)
        .setAudience(options.audience ?? AUDIENCE)
        .setIssuedAt(options.issuedAt)
        .setExpirationTime(options.expiresAt)
        .sign(key.privateKey);

    const findOnKeyed = (token: string) =>
      keyed.inject({
        method: 'POST',
        url: PROTECTED_ROUTE,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        payload: '{}',
      });

    const now = () => Math.floor(Date.now() / 1000);

    it('when the token is unexpired, then the app serves it (the key and claims are right)', async () => {
      const token = await sign({ issuedAt: now() - 10, expiresAt: now() + 600 });

      const response = await findOnKeyed(token);

      assert.equal(response.statusCode, 200, response.body);
    });

    it('when the token has expired, then it gets 401 UNAUTHORIZED', async () => {
      const token = await sign({ issuedAt: now() - 1000, expiresAt: now() - 60 });

      assertUnauthorized(await findOnKeyed(token));
    });

    it('when the token was issued for another audience or by another issuer, then it gets 401 UNAUTHORIZED', async () => {
      const otherAudience = await sign({ issuedAt: now(), expiresAt: now() + 600, audience: 'another-api' });
      const otherIssuer = await sign({ issuedAt: now(), expiresAt: now() + 600, issuer: 'someone-else' });

      assertUnauthorized(await findOnKeyed(otherAudience));
      assertUnauthorized(await findOnKeyed(otherIssuer));
    });
  });

  describe('authentication comes before the body', () => {
    it('when a request without credentials has an invalid body, then it gets 401, not 400', async () => {
      const invalid = await findCustomers(t, {}, '{"take": "ten", "unknownField": 1}');
      const malformed = await findCustomers(t, {}, '{not json');

      assertUnauthorized(invalid);
      assertUnauthorized(malformed);
    });

    it('when a request without credentials has a body over 64 KiB, then it gets 401, not 413', async () => {
      const payload = JSON.stringify({ comment: 'x'.repeat(70_000) });

      assertUnauthorized(await findCustomers(t, {}, payload));
      assertUnauthorized(await findCustomers(t, { authorization: 'Bearer garbage' }, payload));
    });

    it('when a request without credentials is not JSON, then it gets 401, not 415', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: PROTECTED_ROUTE,
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
      });

      assertUnauthorized(response);
    });

    it('when a create without valid credentials has a valid body, then it gets 401 and no customer is stored', async () => {
      const email = `${randomUUID()}@mail.com`;
      const body = {
        email,
        firstName: 'Alex',
        lastName: 'Smith',
        country: 'FR',
        verificationDocumentId: 'FV633452',
        residenceAddress: 'Paris',
      };

      const response = await post(t, '/v2/customer/create', body, { token: 'garbage' });

      assert.equal(response.status, 401);
      assert.equal(response.body.code, 'UNAUTHORIZED');
      assert.equal((await openedCustomers(t)).filter((row) => row.email === email).length, 0);
    });
  });
});
