// The operator's institutions and audit log in a real browser (Debian's Chromium, driven by
// playwright-core): the list, the creation of an institution (with the form's problems first) and
// its one-time password, with which the new Owner then signs in; the audit log of a reveal, a lock
// and an unlock, filtered by kind; the partner's own view. Every screen is checked with axe, for
// CSP violations and console errors, and saved as a screenshot in test-results/console/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import {
  checkScreen as check,
  launchBrowser,
  listen,
  noBrowser,
  openPage as open,
  signIn as signInAt,
  type WatchedPage,
} from './support/browser.js';
import {
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  type Institution,
} from './support/client.js';

describe(`console operator screens in a browser (${engine})`, { skip: noBrowser }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let acme: Institution;
  let customer: any;

  before(async () => {
    t = await startTestApp();
    base = await listen(t);
    acme = await createInstitution(t);
    customer = await createCustomer(t, acme.owner, { firstName: 'Ada', lastName: 'Lovelace' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser.close();
    await t.close();
  });

  const watched = new Map<Page, WatchedPage>();
  async function openPage(): Promise<Page> {
    const opened = await open(browser);
    watched.set(opened.page, opened);
    return opened.page;
  }
  const checkScreen = (page: Page, name: string) => check(watched.get(page)!, name);
  const signIn = (page: Page, account: { email: string; password: string; merchantId?: string }) =>
    signInAt(page, base, account);

  it('lists the institutions, creates one after fixing the form, and shows its Owner’s password once', async () => {
    const page = await openPage();
    await signIn(page, OPERATOR);
    await page.getByRole('link', { name: 'Institutions' }).click();
    await page.getByRole('heading', { name: 'Institutions', level: 1 }).waitFor();
    await page.getByRole('cell', { name: acme.id }).waitFor();
    await checkScreen(page, 'institutions');

    await page.getByRole('link', { name: 'Create an institution' }).click();
    await page.getByRole('heading', { name: 'Create an institution' }).waitFor();
    await checkScreen(page, 'institution-new');
    await page.getByLabel('Owner’s email').fill('not-an-email');
    await page.getByRole('button', { name: 'Create the institution' }).click();
    await page.getByText('There is a problem').waitFor();
    await page.getByRole('link', { name: 'The title must not be empty' }).waitFor();
    await page.getByRole('link', { name: 'The owner’s email must be a valid email address' }).waitFor();
    await checkScreen(page, 'institution-new-error');
    // The summary's link takes the keyboard to the field.
    await page.getByRole('link', { name: 'The title must not be empty' }).click();
    await page.keyboard.type('Lovelace Analytical Bank');
    const ownerEmail = `ada-${Date.now()}@lovelace.test`;
    await page.getByLabel('Owner’s email').fill(ownerEmail);
    await page.getByRole('button', { name: 'Create the institution' }).click();
    await page.getByRole('heading', { name: 'Institution created' }).waitFor();
    await page.getByText('will not be shown again').waitFor();
    const password = await page.locator('.one-time-secret code').innerText();
    assert.ok(password.length >= 12);
    assert.ok(!page.url().includes(password), 'never in the URL');
    const merchantId = await page.locator('dt:text("Merchant id") + dd code').innerText();
    await checkScreen(page, 'institution-created');

    // Reloading the answer sends the form again: nothing is created twice, the password is not
    // shown again, and the list says so.
    await page.reload();
    await page.waitForURL('**/console/institutions?done=already-sent');
    await page.getByText('That form was already sent').waitFor();
    await page.getByRole('cell', { name: 'Lovelace Analytical Bank', exact: true }).waitFor();
    assert.equal(await page.getByText(password).count(), 0, 'not shown again');
    await checkScreen(page, 'institution-sent-again');
    const created = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM institutions WHERE title = 'Lovelace Analytical Bank'",
    );
    assert.equal(created[0]?.n, 1, 'created once');
    await page.context().close();

    const owner = await openPage();
    await signIn(owner, { email: ownerEmail, password, merchantId });
    await owner.getByText('Owner, Lovelace Analytical Bank').waitFor();
    assert.equal(await owner.getByRole('link', { name: 'Institutions' }).count(), 0);
    await owner.context().close();
  });

  it('shows the audit log of a reveal, a lock and an unlock, and filters it by kind', async () => {
    const token = await loginOperator(t);
    for (const status of ['Blocked', 'Active']) {
      const changed = await post(
        t,
        '/v2/admin/wallet/status',
        {
          walletId: customer.walletId,
          status,
          reason: status === 'Blocked' ? 'Fraud report 2231' : 'Cleared',
        },
        token,
      );
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    }
    const page = await openPage();
    await signIn(page, OPERATOR);
    await page.goto(`${base}/console/customers/${customer.id}`);
    await page.getByRole('button', { name: 'Reveal Email' }).click();
    await page.getByText(customer.email).waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    const kinds = () => page.locator('tbody .tag').allInnerTexts();
    assert.deepEqual(await kinds(), ['Reveal', 'Unlock', 'Lock']);
    await page.getByText('Reason: Fraud report 2231').waitFor();
    await checkScreen(page, 'audit-log');

    await page.getByLabel('Kind').selectOption('lock');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('kind') === 'lock');
    assert.deepEqual(await kinds(), ['Lock']);
    assert.equal(await page.getByLabel('Kind').inputValue(), 'lock', 'the filter stays chosen');
    const csv = await page.getByRole('link', { name: 'Download as CSV' }).getAttribute('href');
    assert.equal(csv, '/console/access-log.csv?kind=lock');
    await checkScreen(page, 'audit-log-filtered');
    await page.goBack();
    await page.waitForURL((url) => !url.searchParams.has('kind'));
    await page.context().close();

    const partner = await openPage();
    await signIn(partner, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    await partner.getByRole('link', { name: 'Platform access' }).click();
    await partner.getByRole('heading', { name: 'The platform’s access to your customers’ data' }).waitFor();
    await partner.getByRole('cell', { name: `${OPERATOR.email} (operator)` }).waitFor();
    assert.equal(await partner.getByLabel('Kind').count(), 0);
    assert.equal(await partner.getByText('Fraud report 2231').count(), 0);
    await checkScreen(partner, 'partner-access-log');
    await partner.context().close();
  });
});
