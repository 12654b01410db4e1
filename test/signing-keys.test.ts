// Signing keys: the JWK set is published, tokens name their key (kid), and a rotated-out key's
// tokens stay valid while it is configured as a previous key. Verification pins EdDSA and the kid.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { buildApp } from '../src/app.js';
import { createAccessTokens } from '../src/modules/auth/access-tokens.js';
import {
  generateSigningKeyPem,
  signingKeyFromPem,
  verificationKeysFromPem,
  type SigningKey,
} from '../src/modules/auth/signing-key.js';
import { buildAppOn, engine, startTestApp, type TestApp } from './support/app.js';
import { createInstitution, type Institution } from './support/client.js';

const ISSUER = 'customercore';
const AUDIENCE = 'customercore-api';

type App = Awaited<ReturnType<typeof buildApp>>;

const publicPem = (key: SigningKey) => key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString());

describe(`signing keys and their rotation (${engine})`, () => {
  let t: TestApp;
  let oldKey: SigningKey;
  let newKey: SigningKey;
  const apps: App[] = [];
  let institution: Institution;
  let claims: Record<string, unknown>;

  /** An app on the test database that signs with `key` and also accepts `previous`. */
  async function appWith(key: SigningKey, previous: SigningKey[] = []): Promise<App> {
    const { app } = await buildAppOn(t.db, {
      accessTokens: await createAccessTokens({
        key,
        previousKeys: await verificationKeysFromPem(previous.map(publicPem).join('\n')),
        issuer: ISSUER,
        audience: AUDIENCE,
        ttlSeconds: 900,
      }),
    });
    apps.push(app);
    return app;
  }

  before(async () => {
    t = await startTestApp();
    oldKey = await signingKeyFromPem(generateSigningKeyPem());
    newKey = await signingKeyFromPem(generateSigningKeyPem());
    institution = await createInstitution(t);
    // Real claims of a real session, so that only the signature and header vary below.
    const { iat, exp, iss, aud, ...rest } = decode(institution.owner.token.split('.')[1]!);
    claims = rest;
  });
  after(async () => {
    for (const app of apps) await app.close();
    await t.close();
  });

  const sign = (key: SigningKey, header: Record<string, unknown> = { kid: key.kid }) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', ...header })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);

  const find = (app: App, token: string) =>
    app.inject({
      method: 'POST',
      url: '/v2/customer/find',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      payload: '{}',
    });

  it('when /.well-known/jwks.json is read, then it lists the signing key, public parts only, under the kid tokens carry', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });

    assert.equal(response.statusCode, 200);
    const { keys } = response.json();
    assert.equal(keys.length, 1);
    assert.deepEqual(Object.keys(keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.deepEqual(
      [keys[0].kty, keys[0].crv, keys[0].alg, keys[0].use],
      ['OKP', 'Ed25519', 'EdDSA', 'sig'],
    );
    assert.equal(keys[0].kid, decode(institution.owner.token.split('.')[0]!).kid);
  });

  it('when the key is rotated with the old one kept as previous, then old tokens still work, new ones use the new kid, and both keys are published', async () => {
    const before = await appWith(oldKey);
    const oldToken = await sign(oldKey);
    assert.equal((await find(before, oldToken)).statusCode, 200);

    const rotated = await appWith(newKey, [oldKey]);

    assert.equal(
      (await find(rotated, oldToken)).statusCode,
      200,
      'a token of the previous key is still valid',
    );
    assert.equal((await find(rotated, await sign(newKey))).statusCode, 200);
    const jwks = (await rotated.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.deepEqual(
      jwks.keys.map((key: { kid: string }) => key.kid),
      [newKey.kid, oldKey.kid],
    );
    const login = await rotated.inject({
      method: 'POST',
      url: '/v2/auth/login',
      headers: { 'content-type': 'application/json', merchant_id: institution.id },
      payload: JSON.stringify({ token: institution.ownerEmail, password: institution.ownerPassword }),
    });
    assert.equal(decode(login.json().data.accessToken.split('.')[0]).kid, newKey.kid);
  });

  it('when the previous key is dropped after the rotation, then its tokens get 401', async () => {
    const afterRotation = await appWith(newKey);

    assert.equal((await find(afterRotation, await sign(oldKey))).statusCode, 401);
    assert.equal((await find(afterRotation, await sign(newKey))).statusCode, 200);
  });

  it('when a token names another kid, or none, then it gets 401 even though the signature is ours', async () => {
    const app = await appWith(oldKey);

    assert.equal((await find(app, await sign(oldKey, { kid: newKey.kid }))).statusCode, 401);
    assert.equal((await find(app, await sign(oldKey, { kid: 'unknown' }))).statusCode, 401);
    assert.equal((await find(app, await sign(oldKey, {}))).statusCode, 401);
  });

  it('when a token is an HMAC signed with our public key as the secret, then it gets 401', async () => {
    const app = await appWith(oldKey);
    const secrets = [
      new TextEncoder().encode(publicPem(oldKey)),
      new Uint8Array(createPublicKey(oldKey.privateKey).export({ type: 'spki', format: 'der' })),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: oldKey.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(secret);
      assert.equal((await find(app, token)).statusCode, 401);
    }
  });
});
