// A create form of the console sent twice (a refreshed answer page, a double click, Back and send
// again) creates once: every such form carries a one-time token (views/layout.tsx OnceField) and
// its submission runs once (src/platform/idempotency.ts runOnce). The second sending is sent to
// the list, which says so, and no secret is shown again. A refused sending leaves the token free.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { createInstitution, unique, type Institution } from './support/client.js';
import { get, onceTokenOf, signIn, submit, type Browser } from './support/console.js';

describe(`console forms sent twice (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;
  let owner: Browser;
  let operator: Browser;

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    acme = await createInstitution(t);
    owner = await signIn(t, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    operator = await signIn(t, OPERATOR);
  });

  after(async () => {
    await t.close();
  });

  const count = async (sql: string, params: unknown[]) =>
    (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))[0]!.n;

  /** Sends the same form twice: the first creates (201), the second is sent to `list`. */
  async function sendTwice(
    browser: Browser,
    page: string,
    action: string,
    fields: Record<string, string | string[]>,
    list: string,
  ) {
    const token = onceTokenOf((await get(t, browser, page)).body, action);
    const first = await submit(t, browser, action, { ...fields, _once: token });
    const second = await submit(t, browser, action, { ...fields, _once: token });
    assert.ok(first.statusCode === 201 || first.statusCode === 200, first.body);
    assert.equal(second.statusCode, 303, second.body);
    assert.equal(second.headers.location, list);
    return { first, second };
  }

  it('when the operator sends the institution form twice, then one institution is created and the list says the form was already sent', async () => {
    const title = unique('Twice Bank');
    const fields = { title, ownerEmail: `${unique('owner')}@twice.test`, ownerPassword: '' };

    const { first } = await sendTwice(
      operator,
      '/console/institutions/new',
      '/console/institutions',
      fields,
      '/console/institutions?done=already-sent',
    );

    assert.equal(first.statusCode, 201);
    assert.equal(await count('institutions WHERE title = $1', [title]), 1);
    const list = await get(t, operator, '/console/institutions?done=already-sent');
    assert.match(list.body, /That form was already sent/);
    assert.match(list.body, /nothing was created a second time/);
  });

  it('when a refused institution form is corrected and sent with the same token, then it creates', async () => {
    const token = onceTokenOf(
      (await get(t, operator, '/console/institutions/new')).body,
      '/console/institutions',
    );
    const title = unique('Corrected Bank');

    const refused = await submit(t, operator, '/console/institutions', {
      title,
      ownerEmail: 'not-an-email',
      _once: token,
    });
    const corrected = await submit(t, operator, '/console/institutions', {
      title,
      ownerEmail: `${unique('owner')}@corrected.test`,
      _once: token,
    });

    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(corrected.statusCode, 201, corrected.body);
    assert.equal(await count('institutions WHERE title = $1', [title]), 1);
  });

  it('when an Owner sends the API key form twice, then one key is created and its secret is not shown again', async () => {
    const name = unique('twice key');

    const { first, second } = await sendTwice(
      owner,
      '/console/api-keys',
      '/console/api-keys',
      { name, scopes: ['customers:read'] },
      '/console/api-keys?done=already-sent',
    );

    assert.equal(first.statusCode, 201);
    assert.match(first.body, /cck_/);
    assert.doesNotMatch(second.body, /cck_/);
    assert.equal(await count('api_keys WHERE institution_id = $1 AND name = $2', [acme.id, name]), 1);
    assert.match(
      (await get(t, owner, '/console/api-keys?done=already-sent')).body,
      /That form was already sent/,
    );
  });

  it('when an Owner sends the user form twice, then one user is created', async () => {
    const email = `${unique('twice')}@acme.test`;

    await sendTwice(
      owner,
      '/console/users',
      '/console/users',
      { email, role: 'Viewer', password: '' },
      '/console/users?done=already-sent',
    );

    assert.equal(await count('users WHERE institution_id = $1 AND email = $2', [acme.id, email]), 1);
    assert.match(
      (await get(t, owner, '/console/users?done=already-sent')).body,
      /That form was already sent/,
    );
  });

  it('when an Owner sends the webhook form twice, or the rotate form twice, then one endpoint is created and its secret rotated once', async () => {
    const description = unique('twice hook');
    const fields = { url: 'https://127.0.0.1:9/hooks', eventTypes: ['customer.created'], description };

    await sendTwice(
      owner,
      '/console/webhooks',
      '/console/webhooks',
      fields,
      '/console/webhooks?done=already-sent',
    );
    const endpoints = await t.db.query<{ id: string; secret: Uint8Array }>(
      'SELECT id, secret FROM webhook_endpoints WHERE institution_id = $1 AND description = $2',
      [acme.id, description],
    );
    assert.equal(endpoints.length, 1);
    assert.match(
      (await get(t, owner, '/console/webhooks?done=already-sent')).body,
      /That form was already sent/,
    );

    const id = endpoints[0]!.id;
    await sendTwice(
      owner,
      `/console/webhooks/${id}/rotate`,
      `/console/webhooks/${id}/rotate`,
      {},
      `/console/webhooks/${id}?done=already-rotated`,
    );
    const [rotated] = await t.db.query<{ previous_secret: Uint8Array | null }>(
      'SELECT previous_secret FROM webhook_endpoints WHERE id = $1',
      [id],
    );
    assert.deepEqual(
      Buffer.from(rotated!.previous_secret!),
      Buffer.from(endpoints[0]!.secret),
      'the secret before the form is the one kept for the overlap: rotated once',
    );
    assert.match(
      (await get(t, owner, `/console/webhooks/${id}?done=already-rotated`)).body,
      /nothing was rotated a second time/,
    );
  });
});
