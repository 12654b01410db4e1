// The console's webhook pages in a real browser (Debian's Chromium, driven by playwright-core): an
// endpoint created (a refused URL first, then the secret shown once), a test event and its
// delivery with its attempt, the rotation after its confirmation, a redelivery, and a Viewer's
// read-only pages. Every screen is checked with axe, for CSP violations and console errors, and
// saved as a screenshot in test-results/console/. A receiver on 127.0.0.1 and the dispatcher
// deliver for real.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  checkScreen as check,
  launchBrowser,
  listen,
  noBrowser,
  openPage as open,
  signIn as signInAt,
  type WatchedPage,
} from './support/browser.js';
import { createInstitution, post, unique, type Institution } from './support/client.js';
import { startReceiver, startTestDispatcher, verify, type Receiver } from './support/webhooks.js';

describe(`console webhook pages in a browser (${engine})`, { skip: noBrowser }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  let receiver: Receiver;
  let acme: Institution;
  let endpointUrl: string;

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    base = await listen(t);
    dispatcher = await startTestDispatcher(t);
    receiver = await startReceiver();
    acme = await createInstitution(t);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser.close();
    await dispatcher.stop(1000);
    await receiver.close();
    await t.close();
  });

  const watched = new Map<Page, WatchedPage>();
  async function openPage(): Promise<Page> {
    const opened = await open(browser);
    watched.set(opened.page, opened);
    return opened.page;
  }
  const checkScreen = (page: Page, name: string) => check(watched.get(page)!, name);

  /** Reloads until the delivery table shows `text` (the dispatcher works on its own time). */
  async function reloadUntil(page: Page, text: string | RegExp): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if ((await page.getByText(text).count()) > 0) return;
      if (Date.now() > deadline) throw new Error(`the page never showed ${String(text)}`);
      await page.waitForTimeout(100);
      await page.reload();
    }
  }

  it('creates an endpoint, sends a test event, shows its attempt, rotates the secret and redelivers', async () => {
    const page = await openPage();
    await signInAt(page, base, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhook endpoints' }).waitFor();
    await checkScreen(page, 'webhooks');

    // A URL the API refuses: its message at the field, the summary linking there.
    await page.getByLabel('Endpoint URL').fill('https://user:pass@partner.example.com/hook');
    await page.getByRole('button', { name: 'Add the endpoint' }).click();
    await page.getByText('There is a problem').waitFor();
    await page.locator('#url-error').getByText('must not carry a user name or password').waitFor();
    await checkScreen(page, 'webhooks-create-error');

    endpointUrl = receiver.url;
    await page.getByLabel('Endpoint URL').fill(endpointUrl);
    await page.getByRole('checkbox', { name: 'customer.erased' }).uncheck();
    await page.getByLabel('Description (optional)').fill(unique('CRM sync'));
    await page.getByRole('button', { name: 'Add the endpoint' }).click();
    await page.getByRole('heading', { name: 'Your signing secret' }).waitFor();
    const secretInput = page.getByLabel('Signing secret');
    const secret = await secretInput.inputValue();
    assert.match(secret, /^whsec_/);
    assert.equal(await secretInput.getAttribute('readonly'), '');
    assert.ok(!page.url().includes(secret), 'never in the URL');
    await page.getByText('it will not be shown again').waitFor();
    await checkScreen(page, 'webhooks-secret');

    await page.getByRole('link', { name: 'Continue to the endpoint' }).click();
    await page.getByRole('heading', { name: endpointUrl }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0);
    assert.equal(
      await page.getByText('customer.created, customer.updated, wallet.status_changed').count(),
      1,
    );
    await checkScreen(page, 'webhook-endpoint');

    await page.getByRole('button', { name: 'Send a test event' }).click();
    await page.getByText('A test event (ping) is queued').waitFor();
    const [ping] = await receiver.waitFor((all) => all.some((r) => r.event.type === 'ping'));
    verify(secret, ping!);
    await reloadUntil(page, 'Attempts of this delivery (1)');
    await page.getByText('Attempts of this delivery (1)').click();
    await page.getByRole('cell', { name: '200', exact: true }).first().waitFor();
    await checkScreen(page, 'webhook-deliveries');

    await page.getByRole('link', { name: 'Rotate the secret' }).click();
    await page.getByRole('heading', { name: 'Rotate this endpoint’s signing secret?' }).waitFor();
    await checkScreen(page, 'webhook-rotate');
    await page.getByRole('button', { name: 'Rotate the secret' }).click();
    await page.getByRole('heading', { name: 'Your new signing secret' }).waitFor();
    const fresh = await page.getByLabel('Signing secret').inputValue();
    assert.match(fresh, /^whsec_/);
    assert.notEqual(fresh, secret);
    await page.getByText('The previous secret stays valid for 24 hours').waitFor();
    await checkScreen(page, 'webhook-rotated');

    await page.getByRole('link', { name: 'Continue to the endpoint' }).click();
    await page
      .getByRole('button', { name: /^Redeliver event / })
      .first()
      .click();
    await page.getByText('The event is queued to be sent again').waitFor();
    await receiver.waitFor((all) => all.filter((r) => r.event.type === 'ping').length >= 2);
    await reloadUntil(page, 'Attempts of this delivery (2)');
    await page.getByText('Attempts of this delivery (2)').click();
    await checkScreen(page, 'webhook-redelivered');

    // The range form, refused without bounds, at its fields.
    await page.getByRole('button', { name: 'Redeliver the range' }).click();
    await page.getByText('There is a problem').waitFor();
    await page.locator('#from-error').getByText('From is required').waitFor();
    await checkScreen(page, 'webhook-redeliver-error');
    await page.context().close();
  });

  it('a Viewer reads the endpoints and deliveries, with no action', async () => {
    const email = `${unique('viewer')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Viewer', password: 'viewer-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const page = await openPage();
    await signInAt(page, base, { email, password: 'viewer-password-1', merchantId: acme.id });
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhook endpoints' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Add the endpoint' }).count(), 0);
    await checkScreen(page, 'webhooks-viewer');
    await page.getByRole('link', { name: endpointUrl }).click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await page
      .getByText(/Attempts of this delivery/)
      .first()
      .waitFor();
    for (const name of [/Send a test event/, /Rotate the secret/, /Redeliver/]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0);
      assert.equal(await page.getByRole('link', { name }).count(), 0);
    }
    await checkScreen(page, 'webhook-endpoint-viewer');
    await page.context().close();
  });
});
