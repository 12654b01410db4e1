// The console's webhook pages through HTTP as a browser would send it: create with the secret
// shown once, the API's URL rules at the field, a test event and its delivery with its attempts,
// the rotation after a confirmation, redelivery of one event and of a range, the Viewer who reads
// but cannot act, and another institution's endpoint. A receiver on 127.0.0.1 and the dispatcher
// make the deliveries real (test/support/webhooks.ts).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { get, signIn, submit, type Browser } from './support/console.js';
import { createInstitution, post, unique, type Institution } from './support/client.js';
import { startReceiver, startTestDispatcher, verify, type Receiver } from './support/webhooks.js';

const allTypes = ['customer.created', 'customer.updated', 'wallet.status_changed', 'customer.erased'];

/** The field's error message (GOV.UK: a paragraph with the field's id and -error). */
const fieldError = (html: string, field: string) =>
  new RegExp(`id="${field}-error"><span class="visually-hidden">Error: </span><span>([^<]*)</span>`).exec(
    html,
  )?.[1];

const secretOf = (html: string) => /id="secret" name="secret" type="text" value="([^"]+)"/.exec(html)?.[1];

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe(`console webhook pages (${engine})`, () => {
  let t: TestApp;
  let strict: TestApp;
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  let receiver: Receiver;
  let acme: Institution;
  let other: Institution;
  let owner: Browser;
  let endpointId: string;
  let secret: string;

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    strict = await startTestApp();
    dispatcher = await startTestDispatcher(t);
    receiver = await startReceiver();
    acme = await createInstitution(t);
    other = await createInstitution(t);
    owner = await signIn(t, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
  });

  after(async () => {
    await dispatcher.stop(1000);
    await receiver.close();
    await t.close();
    await strict.close();
  });

  /** The endpoint's deliveries through the API (the pages must say the same). */
  const deliveries = async (id: string) =>
    (await post(t, '/v2/webhook/deliveries', { endpointId: id }, acme.owner)).body.data as any[];

  it('an Owner creates an endpoint; its secret is shown once, on the result page only', async () => {
    const list = await get(t, owner, '/console/webhooks');
    assert.equal(list.statusCode, 200);
    assert.match(list.body, /No endpoint yet/);
    assert.match(list.body, /<legend>Event types<\/legend>/);
    for (const type of allTypes) assert.match(list.body, new RegExp(`value="${type}" checked`));

    const description = unique('CRM sync');
    const created = await submit(t, owner, '/console/webhooks', {
      url: receiver.url,
      eventTypes: allTypes,
      description,
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers.location, undefined, 'the secret is not behind a redirect');
    secret = secretOf(created.body)!;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(created.body, /it will not be shown again/);
    assert.match(created.body, /readonly/);
    assert.match(created.body, /class="button secondary copy-button" data-copy-target="secret"/);
    endpointId = /href="\/console\/webhooks\/([0-9a-f-]{36})"/.exec(created.body)![1]!;

    const api = await post(t, '/v2/webhook/find', {}, acme.owner);
    assert.equal(api.body.data.length, 1);
    assert.equal(api.body.data[0].id, endpointId);
    assert.equal(api.body.data[0].description, description);
    assert.deepEqual(api.body.data[0].eventTypes, allTypes);

    const again = await get(t, owner, '/console/webhooks');
    assert.match(again.body, new RegExp(`href="/console/webhooks/${endpointId}"`));
    assert.match(again.body, /Enabled/);
    assert.ok(!again.body.includes(secret), 'the list never shows it');
    const details = await get(t, owner, `/console/webhooks/${endpointId}`);
    assert.equal(details.statusCode, 200);
    assert.ok(!details.body.includes(secret), 'nor the endpoint page');
    assert.ok(!t.logs.some((line) => line.includes(secret)), 'nor any log line');
  });

  it('an invalid URL shows the API’s message at the field, and creates nothing', async () => {
    const institution = await createInstitution(strict);
    const browser = await signIn(strict, {
      email: institution.ownerEmail,
      password: institution.ownerPassword,
      merchantId: institution.id,
    });
    const cases: [string, RegExp][] = [
      ['http://partner.example.com/hook', /^Endpoint URL must use https:\/\/$/],
      ['https://user:pass@partner.example.com/hook', /^Endpoint URL must not carry a user name or password/],
      ['', /^Endpoint URL must not be empty$/],
    ];
    for (const [url, message] of cases) {
      const response = await submit(strict, browser, '/console/webhooks', { url, eventTypes: allTypes });
      assert.equal(response.statusCode, 400, url);
      assert.match(fieldError(response.body, 'url') ?? '', message, url);
      assert.match(response.body, /There is a problem/);
      assert.match(response.body, /<a href="#url">/, 'the summary links to the field');
      assert.match(response.body, /aria-invalid="true"/);
      assert.ok(response.body.includes(`value="${url.replaceAll('&', '&amp;')}"`), 'the value is kept');
    }
    const none = await submit(strict, browser, '/console/webhooks', {
      url: 'https://partner.example.com/hook',
    });
    assert.equal(none.statusCode, 400);
    assert.match(fieldError(none.body, 'eventTypes') ?? '', /^Event types /);
    assert.equal((await post(strict, '/v2/webhook/find', {}, institution.owner)).body.data.length, 0);
  });

  it('send a test event: a ping delivery shows on the endpoint page, then its attempt', async () => {
    const sent = await submit(t, owner, `/console/webhooks/${endpointId}/test`, {});
    assert.equal(sent.statusCode, 303, sent.body);
    const location = String(sent.headers.location);
    assert.match(location, new RegExp(`^/console/webhooks/${endpointId}\\?done=test&event=[0-9a-f-]{36}$`));
    const eventId = new URL(location, 'http://x').searchParams.get('event')!;
    const page = await get(t, owner, location);
    assert.match(
      page.body,
      new RegExp(`A test event \\(ping\\) is queued for this endpoint: event ${eventId}`),
    );
    assert.match(page.body, /<span>ping<\/span>/);
    assert.ok(page.body.includes(eventId));

    const [arrived] = await receiver.waitFor((all) => all.some((r) => r.event.id === eventId));
    assert.ok(arrived);
    const ping = receiver.received.find((r) => r.event.id === eventId)!;
    verify(secret, ping); // the secret shown once is the one that signs
    await until(
      async () =>
        (await deliveries(endpointId)).find((d) => d.eventId === eventId)?.attempts === 1 ? true : undefined,
      'the attempt to be recorded',
    );
    const after = await get(t, owner, `/console/webhooks/${endpointId}`);
    assert.match(after.body, /tag tag-active">succeeded/);
    assert.match(after.body, /Attempts of this delivery \(1\)/);
    assert.match(
      after.body,
      /<td>200<\/td>\s*<td>\d+ ms<\/td>\s*<td>—<\/td>/,
      'status code, duration, error',
    );
  });

  it('rotate after a confirmation shows a new secret once, and says the old one stays valid 24 hours', async () => {
    const confirm = await get(t, owner, `/console/webhooks/${endpointId}/rotate`);
    assert.equal(confirm.statusCode, 200);
    assert.match(confirm.body, /Rotate this endpoint’s signing secret\?/);
    assert.equal(secretOf(confirm.body), undefined, 'no secret before the confirmation');
    const rotated = await submit(t, owner, `/console/webhooks/${endpointId}/rotate`, {});
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = secretOf(rotated.body)!;
    assert.match(fresh, /^whsec_/);
    assert.notEqual(fresh, secret);
    assert.match(rotated.body, /previous secret stays valid for 24 hours/);
    assert.match(rotated.body, /it will not be shown again/);

    // Both sign during the overlap.
    const event = (await post(t, '/v2/webhook/test', { id: endpointId }, acme.owner)).body.data;
    await receiver.waitFor((all) => all.some((r) => r.event.id === event.id));
    const ping = receiver.received.find((r) => r.event.id === event.id)!;
    verify(fresh, ping);
    verify(secret, ping);
    secret = fresh;
    assert.ok(!(await get(t, owner, `/console/webhooks/${endpointId}`)).body.includes(fresh));
  });

  it('redeliver one delivery queues its event again, as the API does: a new attempt', async () => {
    const [latest] = await deliveries(endpointId);
    await until(
      async () => ((await deliveries(endpointId))[0]?.attempts === 1 ? true : undefined),
      'the first attempt',
    );
    const before = receiver.received.filter((r) => r.event.id === latest.eventId).length;
    const page = await get(t, owner, `/console/webhooks/${endpointId}`);
    assert.match(page.body, new RegExp(`name="eventId" value="${latest.eventId}"`));
    const redone = await submit(t, owner, `/console/webhooks/${endpointId}/redeliver`, {
      eventId: latest.eventId,
    });
    assert.equal(redone.statusCode, 303, redone.body);
    assert.equal(redone.headers.location, `/console/webhooks/${endpointId}?done=redelivered-event&queued=1`);
    const notice = await get(t, owner, redone.headers.location);
    assert.match(notice.body, /The event is queued to be sent again/);
    await receiver.waitFor((all) => all.filter((r) => r.event.id === latest.eventId).length === before + 1);
    await until(
      async () =>
        (await deliveries(endpointId)).find((d) => d.id === latest.id)?.attempts === 2 ? true : undefined,
      'the second attempt',
    );
    const shown = await get(t, owner, `/console/webhooks/${endpointId}`);
    assert.match(shown.body, /Attempts of this delivery \(2\)/);
  });

  it('redeliver a time range queues its failed deliveries; a range without bounds is refused at the field', async () => {
    // An endpoint disabled while an event is due: its delivery is recorded failed, without attempt.
    const second = await post(t, '/v2/webhook/create', { url: receiver.url }, acme.owner);
    const id = second.body.data.id as string;
    await post(t, '/v2/webhook/update', { id, enabled: false }, acme.owner);
    const event = (await post(t, '/v2/webhook/test', { id }, acme.owner)).body.data;
    assert.equal((await deliveries(id))[0].status, 'failed');
    await post(t, '/v2/webhook/update', { id, enabled: true }, acme.owner);

    const empty = await submit(t, owner, `/console/webhooks/${id}/redeliver`, { from: '', to: '' });
    assert.equal(empty.statusCode, 400);
    assert.match(fieldError(empty.body, 'from') ?? '', /^From is required$/);
    assert.match(fieldError(empty.body, 'to') ?? '', /^To is required$/);
    const bad = await submit(t, owner, `/console/webhooks/${id}/redeliver`, { from: 'yesterday', to: '' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /value="yesterday"/, 'the value is kept');

    const minute = (at: number) => new Date(at).toISOString().slice(0, 16);
    const done = await submit(t, owner, `/console/webhooks/${id}/redeliver`, {
      from: minute(Date.now() - 3_600_000),
      to: minute(Date.now() + 60_000),
    });
    assert.equal(done.statusCode, 303, done.body);
    assert.equal(done.headers.location, `/console/webhooks/${id}?done=redelivered-range&queued=1`);
    assert.match((await get(t, owner, done.headers.location)).body, /1 failed delivery is queued/);
    await receiver.waitFor((all) => all.some((r) => r.event.id === event.id));

    const nothing = await submit(t, owner, `/console/webhooks/${id}/redeliver`, {
      from: '2020-01-01T00:00',
      to: '2020-01-02T00:00',
    });
    assert.equal(nothing.headers.location, `/console/webhooks/${id}?done=redelivered-range&queued=0`);
  });

  it('a Viewer sees the list and the deliveries but no action, and their POSTs are refused', async () => {
    const email = `${unique('viewer')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Viewer', password: 'viewer-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const viewer = await signIn(t, { email, password: 'viewer-password-1', merchantId: acme.id });
    const list = await get(t, viewer, '/console/webhooks');
    assert.equal(list.statusCode, 200);
    assert.match(list.body, new RegExp(`href="/console/webhooks/${endpointId}"`));
    assert.doesNotMatch(list.body, /Add an endpoint|action="\/console\/webhooks"/);
    const page = await get(t, viewer, `/console/webhooks/${endpointId}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Attempts of this delivery/);
    assert.doesNotMatch(page.body, /Send a test event|Rotate the secret|Redeliver|\/redeliver|\/test"/);
    assert.equal((await get(t, viewer, `/console/webhooks/${endpointId}/rotate`)).statusCode, 403);
    const before = (await deliveries(endpointId)).length;
    for (const [url, fields] of [
      ['/console/webhooks', { url: 'https://partner.example.com/hook', eventTypes: allTypes }],
      [`/console/webhooks/${endpointId}/test`, {}],
      [`/console/webhooks/${endpointId}/rotate`, {}],
      [`/console/webhooks/${endpointId}/redeliver`, { from: '2020-01-01T00:00', to: '2030-01-01T00:00' }],
    ] as const) {
      const refused = await submit(t, viewer, url, fields);
      assert.equal(refused.statusCode, 403, url);
      assert.doesNotMatch(refused.body, /whsec_/);
    }
    assert.equal((await deliveries(endpointId)).length, before);
    assert.equal((await post(t, '/v2/webhook/find', {}, acme.owner)).body.data.length, 2, 'nothing created');
  });

  it('deliveries are paged by links in the URL, newest first', async () => {
    const created = await post(t, '/v2/webhook/create', { url: receiver.url }, acme.owner);
    const id = created.body.data.id as string;
    const events: string[] = [];
    for (let i = 0; i < 21; i++)
      events.push((await post(t, '/v2/webhook/test', { id }, acme.owner)).body.data.id);
    const first = await get(t, owner, `/console/webhooks/${id}`);
    assert.match(first.body, /1–20 of 21, newest first/);
    assert.ok(first.body.includes(events[20]!) && !first.body.includes(events[0]!));
    assert.match(
      first.body,
      new RegExp(`href="/console/webhooks/${id}\\?page=2" rel="next">Older deliveries`),
    );
    const second = await get(t, owner, `/console/webhooks/${id}?page=2`);
    assert.match(second.body, /21–21 of 21/);
    assert.ok(second.body.includes(events[0]!));
    assert.match(second.body, new RegExp(`href="/console/webhooks/${id}" rel="prev">Newer deliveries`));
    assert.doesNotMatch(second.body, /Older deliveries/);
    assert.equal((await get(t, owner, `/console/webhooks/${id}?page=x`)).statusCode, 200, 'page 1');
  });

  it('an endpoint whose last delivery failed is marked failing on the list and its page', async () => {
    const failing = await startReceiver(() => ({ status: 500 }));
    try {
      const created = await post(t, '/v2/webhook/create', { url: failing.url }, acme.owner);
      const id = created.body.data.id as string;
      await post(t, '/v2/webhook/test', { id }, acme.owner);
      await until(
        async () => ((await deliveries(id))[0]?.lastAttempt?.responseStatus === 500 ? true : undefined),
        'a failed attempt',
      );
      const list = await get(t, owner, '/console/webhooks');
      const row = list.body.split('<tr>').find((part) => part.includes(`/console/webhooks/${id}"`))!;
      assert.match(row, /Failing: the last delivery failed/);
      const page = await get(t, owner, `/console/webhooks/${id}`);
      assert.match(page.body, /Failing: the last delivery failed/);
      assert.match(page.body, /<td>500<\/td>\s*<td>\d+ ms<\/td>\s*<td>http_status<\/td>/);
      const healthy = list.body
        .split('<tr>')
        .find((part) => part.includes(`/console/webhooks/${endpointId}"`))!;
      assert.doesNotMatch(healthy, /Failing/);
    } finally {
      await failing.close();
    }
  });

  it('another institution’s endpoint, or no endpoint at all, is not found', async () => {
    const theirs = await post(t, '/v2/webhook/create', { url: 'https://partner.example.com/x' }, other.owner);
    const id = theirs.body.data.id as string;
    assert.equal((await get(t, owner, `/console/webhooks/${id}`)).statusCode, 404);
    assert.equal((await get(t, owner, `/console/webhooks/${id}/rotate`)).statusCode, 404);
    assert.equal((await submit(t, owner, `/console/webhooks/${id}/test`, {})).statusCode, 404);
    const rotate = await submit(t, owner, `/console/webhooks/${id}/rotate`, {});
    assert.equal(rotate.statusCode, 404);
    assert.doesNotMatch(rotate.body, /whsec_/);
    assert.equal((await get(t, owner, '/console/webhooks/not-a-uuid')).statusCode, 404);
    assert.doesNotMatch((await get(t, owner, '/console/webhooks')).body, new RegExp(id));
    const mine = await post(t, '/v2/webhook/deliveries', { endpointId: id }, other.owner);
    assert.equal(mine.body.data.length, 0, 'nothing was sent for them');
  });
});
