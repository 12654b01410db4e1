// Sessions: refresh-token rotation with replay detection, logout, and access tokens that stop
// working the moment their session is revoked or their user deactivated.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution, post, type Institution } from './support/client.js';

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

describe(`sessions (${engine})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  async function login(institution: Institution) {
    const response = await post(
      t,
      '/v2/auth/login',
      { token: institution.ownerEmail, password: institution.ownerPassword },
      undefined,
      { merchant_id: institution.id },
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.data as { accessToken: string; refreshToken: string };
  }

  const refresh = (refreshToken: string) => post(t, '/v2/auth/refresh', { refreshToken });
  const find = (accessToken: string) => post(t, '/v2/customer/find', {}, { token: accessToken });

  async function sessionRevoked(refreshToken: string): Promise<boolean> {
    const [row] = await t.db.query<{ revoked: boolean }>(
      `SELECT s.revoked_at IS NOT NULL AS revoked
         FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id WHERE r.token_hash = $1`,
      [sha256Hex(refreshToken)],
    );
    assert.ok(row !== undefined, 'the refresh token is stored (as its hash)');
    return row.revoked;
  }

  it('when a refresh token is exchanged, then a new working pair comes back and the old refresh token is used up', async () => {
    const institution = await createInstitution(t);
    const first = await login(institution);

    const response = await refresh(first.refreshToken);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const next = response.body.data;
    assert.equal(next.tokenType, 'Bearer');
    assert.equal(next.expiresIn, 900);
    assert.notEqual(next.refreshToken, first.refreshToken);
    assert.notEqual(next.accessToken, first.accessToken);
    assert.equal((await find(next.accessToken)).status, 200);
    const rows = await t.db.query<{ token_hash: string; used: boolean; same_session: boolean }>(
      `SELECT r.token_hash, r.used_at IS NOT NULL AS used,
              r.session_id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) AS same_session
         FROM refresh_tokens r WHERE r.token_hash IN ($1, $2) ORDER BY r.created_at`,
      [sha256Hex(first.refreshToken), sha256Hex(next.refreshToken)],
    );
    assert.deepEqual(
      rows.map((row) => [row.token_hash, row.used, row.same_session]),
      [
        [sha256Hex(first.refreshToken), true, true],
        [sha256Hex(next.refreshToken), false, true],
      ],
    );
  });

  it('when a used refresh token is presented again, then 401 and every token descended from that login stops working', async () => {
    const institution = await createInstitution(t);
    const first = await login(institution);
    const other = await login(institution);
    const second = (await refresh(first.refreshToken)).body.data;
    const third = (await refresh(second.refreshToken)).body.data;

    const replay = await refresh(first.refreshToken);

    assert.equal(replay.status, 401);
    assert.equal(replay.body.code, 'UNAUTHORIZED');
    assert.equal(await sessionRevoked(first.refreshToken), true);
    assert.equal((await refresh(third.refreshToken)).status, 401, 'the newest refresh token is revoked too');
    for (const accessToken of [first.accessToken, second.accessToken, third.accessToken]) {
      assert.equal((await find(accessToken)).status, 401, 'access tokens of the session are revoked');
    }
    assert.equal((await find(other.accessToken)).status, 200, 'another login of the same user is untouched');
    assert.equal((await refresh(other.refreshToken)).status, 200);
  });

  it('when two refreshes race with one token, then exactly one succeeds and the replay revokes the session', async () => {
    const institution = await createInstitution(t);
    const { refreshToken } = await login(institution);

    const answers = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);

    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 401]);
    const winner = answers.find((answer) => answer.status === 200)!.body.data;
    assert.equal(await sessionRevoked(refreshToken), true);
    assert.equal((await refresh(winner.refreshToken)).status, 401);
  });

  it('when the refresh token is unknown, malformed or expired, then it gets 401 UNAUTHORIZED', async () => {
    const institution = await createInstitution(t);
    const { refreshToken } = await login(institution);
    await t.db.query(
      `UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`,
      [sha256Hex(refreshToken)],
    );

    for (const token of [refreshToken, 'ccr_unknown', 'x'.repeat(200)]) {
      const response = await refresh(token);
      assert.equal(response.status, 401, token);
      assert.equal(response.body.code, 'UNAUTHORIZED');
    }
  });

  it('when the refresh body is malformed, then it gets 400 VALIDATION_ERROR naming the field', async () => {
    const missing = await post(t, '/v2/auth/refresh', {});
    const extra = await post(t, '/v2/auth/refresh', { refreshToken: 'ccr_x', token: 'x' });
    const wrongType = await post(t, '/v2/auth/refresh', { refreshToken: 5 });

    assert.deepEqual(
      [missing, extra, wrongType].map((response) => [response.status, response.body.details?.[0]?.field]),
      [
        [400, 'refreshToken'],
        [400, 'token'],
        [400, 'refreshToken'],
      ],
    );
  });

  it('when a user logs out, then that session’s access and refresh tokens stop working and other sessions do not', async () => {
    const institution = await createInstitution(t);
    const session = await login(institution);
    const other = await login(institution);

    const response = await post(t, '/v2/auth/logout', {}, { token: session.accessToken });

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body, { data: { loggedOut: true } });
    assert.equal(await sessionRevoked(session.refreshToken), true);
    assert.equal((await find(session.accessToken)).status, 401);
    assert.equal((await refresh(session.refreshToken)).status, 401);
    assert.equal((await find(other.accessToken)).status, 200);
  });

  it('when logout is called with an API key or without credentials, then it gets 403 or 401', async () => {
    const institution = await createInstitution(t);
    const { apiKey } = await createApiKey(t, institution);

    assert.equal((await post(t, '/v2/auth/logout', {}, { apiKey })).status, 403);
    assert.equal((await post(t, '/v2/auth/logout', {})).status, 401);
  });

  it('when a client whose access token is gone logs out with its refresh token alone, then that session ends and others do not', async () => {
    const institution = await createInstitution(t);
    const session = await login(institution);
    const other = await login(institution);

    const response = await post(t, '/v2/auth/logout', { refreshToken: session.refreshToken });

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body, { data: { loggedOut: true } });
    assert.equal(await sessionRevoked(session.refreshToken), true);
    assert.equal((await find(session.accessToken)).status, 401);
    assert.equal((await refresh(session.refreshToken)).status, 401);
    assert.equal(await sessionRevoked(other.refreshToken), false);
    assert.equal((await find(other.accessToken)).status, 200);
  });

  it('when a refresh token already rotated out is presented to logout, then its session ends too', async () => {
    const institution = await createInstitution(t);
    const session = await login(institution);
    const renewed = (await refresh(session.refreshToken)).body.data;

    const response = await post(t, '/v2/auth/logout', { refreshToken: session.refreshToken });

    assert.equal(response.status, 200);
    assert.equal((await find(renewed.accessToken)).status, 401);
    assert.equal((await refresh(renewed.refreshToken)).status, 401);
  });

  it('when logout gets both an access token and a refresh token, then both sessions end', async () => {
    const institution = await createInstitution(t);
    const first = await login(institution);
    const second = await login(institution);

    const response = await post(
      t,
      '/v2/auth/logout',
      { refreshToken: second.refreshToken },
      { token: first.accessToken },
    );

    assert.equal(response.status, 200);
    assert.equal(await sessionRevoked(first.refreshToken), true);
    assert.equal(await sessionRevoked(second.refreshToken), true);
  });

  it('when logout gets a refresh token no one was given, then it answers 200 and revokes nothing (RFC 7009)', async () => {
    const institution = await createInstitution(t);
    const session = await login(institution);

    const response = await post(t, '/v2/auth/logout', { refreshToken: 'ccr_not-a-token-anyone-was-given' });

    assert.equal(response.status, 200);
    assert.equal(await sessionRevoked(session.refreshToken), false);
    assert.equal((await find(session.accessToken)).status, 200);
  });

  it('when logout gets a refresh token with an API key or an invalid access token, then 403 or 401 and the session stays', async () => {
    const institution = await createInstitution(t);
    const { apiKey } = await createApiKey(t, institution);
    const session = await login(institution);

    assert.equal(
      (await post(t, '/v2/auth/logout', { refreshToken: session.refreshToken }, { apiKey })).status,
      403,
    );
    assert.equal(
      (await post(t, '/v2/auth/logout', { refreshToken: session.refreshToken }, { token: 'not.a.token' }))
        .status,
      401,
    );
    assert.equal(await sessionRevoked(session.refreshToken), false);
  });

  it('when an operator refreshes and logs out, then it works as for institution users', async () => {
    const logged = await post(t, '/v2/auth/login', { token: OPERATOR.email, password: OPERATOR.password });
    const renewed = await refresh(logged.body.data.refreshToken);
    assert.equal(renewed.status, 200);
    const payload = JSON.parse(
      Buffer.from(renewed.body.data.accessToken.split('.')[1], 'base64url').toString(),
    );
    assert.equal(payload.role, 'Operator');
    assert.equal(payload.merchantId, undefined);

    assert.equal(
      (await post(t, '/v2/auth/logout', {}, { token: renewed.body.data.accessToken })).status,
      200,
    );
    assert.equal(
      (await post(t, '/v2/admin/customer/find', {}, { token: renewed.body.data.accessToken })).status,
      401,
    );
  });

  it('when a user is deactivated by hand in SQL, then their access tokens, refresh tokens and password stop working as soon as the change is heard', async () => {
    const institution = await createInstitution(t);
    const session = await login(institution);
    assert.equal((await find(session.accessToken)).status, 200);

    await t.db.query('UPDATE users SET deactivated_at = now() WHERE institution_id = $1', [institution.id]);

    // A change made outside this instance reaches its credential cache through the database's
    // notification: at once on the embedded database, a moment later over PostgreSQL's listening
    // connection (credential-cache.test.ts measures it). Deactivation through the API takes effect
    // on the very next request (users.test.ts).
    const started = performance.now();
    while ((await find(session.accessToken)).status !== 401) {
      if (performance.now() - started > 2000)
        assert.fail('the deactivation did not reach the instance within 2 s');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.equal((await refresh(session.refreshToken)).status, 401);
    const again = await post(
      t,
      '/v2/auth/login',
      { token: institution.ownerEmail, password: institution.ownerPassword },
      undefined,
      { merchant_id: institution.id },
    );
    assert.equal(again.status, 401);
    assert.equal(again.body.code, 'INVALID_CREDENTIALS');
  });

  it('when an access token names a session that does not exist, then it gets 401 even with a valid signature', async () => {
    const institution = await createInstitution(t);
    const payload = JSON.parse(Buffer.from(institution.owner.token.split('.')[1]!, 'base64url').toString());
    const { token } = await t.accessTokens.issue({
      userId: payload.sub,
      sessionId: '00000000-0000-4000-8000-000000000000',
      email: payload.email,
      role: 'Owner',
      institution: payload.institution,
    });

    assert.equal((await find(token)).status, 401);
  });
});
