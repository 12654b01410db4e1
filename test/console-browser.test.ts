// The console in a real browser (Debian's Chromium, driven by playwright-core): sign-in and
// sign-out, search by each kind of term, Back and Forward keeping the list, a reveal that reaches
// the access log, the lock with step-up done with the keyboard only, the partner who cannot
// unlock, the Viewer who cannot write, a form posted from another origin, the idle warning and
// expiry. Every screen is checked with axe (no serious or critical violation), with no CSP
// violation and no console error, and saved as a screenshot in test-results/console/.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { createCustomer, createInstitution, post, unique, type Institution } from './support/client.js';

describe(`console in a browser (${engine})`, { skip: noBrowser }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let acme: Institution;
  let customer: any;
  let other: any;

  before(async () => {
    t = await startTestApp();
    base = await listen(t);
    acme = await createInstitution(t);
    customer = await createCustomer(t, acme.owner, {
      firstName: 'Marie',
      lastName: 'Curie',
      externalId: unique('ext'),
      phoneNumber: '+33612345678',
      itn: '1234567890',
    });
    other = await createCustomer(t, acme.owner, { firstName: 'Pierre', lastName: 'Curie' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser.close();
    await t.close();
  });

  // Each page of this suite is watched for CSP violations and errors (test/support/browser.ts).
  const watched = new Map<Page, WatchedPage>();
  async function openPage(colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
    const opened = await open(browser, { colorScheme });
    watched.set(opened.page, opened);
    return opened.page;
  }
  const checkScreen = (page: Page, name: string) => check(watched.get(page)!, name);
  const signIn = (page: Page, account: { email: string; password: string; merchantId?: string }) =>
    signInAt(page, base, account);

  it('signs in and out, and checks the sign-in screen', async () => {
    const page = await openPage();
    await page.goto(`${base}/console`);
    await page.waitForURL(/\/console\/sign-in/);
    await checkScreen(page, 'sign-in');
    await page.getByLabel('Email').fill(OPERATOR.email);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('There is a problem').waitFor();
    await checkScreen(page, 'sign-in-error');
    await signIn(page, OPERATOR);
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === 'cc_console');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.secure, true);
    assert.equal(await page.evaluate('document.cookie'), '', 'no script can read the session');
    assert.deepEqual(
      await page.evaluate('Object.keys(localStorage).length + Object.keys(sessionStorage).length'),
      0,
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    await page.goto(`${base}/console/customers`);
    await page.waitForURL(/\/console\/sign-in/);
    await page.context().close();
  });

  it('finds a customer by each kind of term, keyboard only, and Back and Forward keep the list', async () => {
    const page = await openPage();
    await signIn(page, OPERATOR);
    await checkScreen(page, 'customers');
    const search = async (term: string) => {
      await page.getByLabel('Search', { exact: true }).focus();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(term);
      await page.keyboard.press('Enter');
      await page.waitForURL((url) => url.searchParams.get('q') === term);
    };
    const terms: [string, string][] = [
      [customer.email, 'with this email'],
      ['+33 6 12 34 56 78', 'with this phone number'],
      [customer.id, 'with this id'],
      [customer.walletId, 'with this wallet id'],
      [customer.externalId, 'with this externalId'],
    ];
    for (const [term, label] of terms) {
      await search(term);
      await page.getByRole('heading', { name: new RegExp(`1 customer ${label}`) }).waitFor();
      await page.getByRole('link', { name: 'Marie Curie' }).waitFor();
    }
    await search('curie');
    await page.getByRole('heading', { name: /2 customers whose name contains “curie”/ }).waitFor();
    await checkScreen(page, 'customers-search');
    await page.goBack();
    await page.getByRole('heading', { name: /1 customer with this externalId/ }).waitFor();
    assert.equal(await page.getByLabel('Search', { exact: true }).inputValue(), customer.externalId);
    await page.goForward();
    await page.getByRole('heading', { name: /2 customers whose name contains “curie”/ }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: /2 customers whose name contains “curie”/ }).waitFor();
    await page.context().close();
  });

  it('masks personal fields until a reveal, which the access log then shows', async () => {
    const page = await openPage();
    await signIn(page, OPERATOR);
    await page.goto(`${base}/console/customers/${customer.id}`);
    assert.equal(await page.getByText(customer.email).count(), 0, 'masked');
    assert.equal(await page.getByText(customer.itn).count(), 0, 'masked');
    await checkScreen(page, 'customer');
    await page.getByRole('button', { name: 'Reveal Email' }).click();
    await page.getByText(customer.email).waitFor();
    assert.equal(await page.getByText(customer.itn).count(), 0, 'only the field asked for');
    await checkScreen(page, 'customer-revealed');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page
      .getByRole('cell', { name: `${OPERATOR.email} (operator)` })
      .first()
      .waitFor();
    await page.getByRole('cell', { name: 'email', exact: true }).first().waitFor();
    await checkScreen(page, 'access-log');
    await page.context().close();
  });

  it('follows the system’s dark setting, with the same accessibility on every screen checked', async () => {
    const page = await openPage('dark');
    await signIn(page, OPERATOR);
    assert.equal(
      await page.evaluate('getComputedStyle(document.body).backgroundColor'),
      'rgb(18, 20, 22)',
      'the dark palette applies',
    );
    await page.goto(`${base}/console/customers?q=curie`);
    await checkScreen(page, 'dark-customers-search');
    await page.goto(`${base}/console/customers/${customer.id}`);
    await checkScreen(page, 'dark-customer');
    await page.context().close();
  });

  it('locks a wallet with the keyboard only, after the password again; the partner then cannot unlock', async () => {
    const page = await openPage();
    await signIn(page, OPERATOR);
    await page.goto(`${base}/console/customers/${other.id}`);
    await page.getByRole('link', { name: 'Lock the wallet' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/wallet$/);
    await checkScreen(page, 'lock');
    await page.getByLabel('Suspicious').focus();
    await page.keyboard.press('Space');
    await page.getByLabel('Reason').focus();
    await page.keyboard.type('Chargeback pattern, case 4417');
    await page.getByRole('button', { name: 'Continue' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Set Pierre Curie’s wallet to Suspicious?' }).waitFor();
    assert.ok(await page.getByText(other.walletId).isVisible(), 'the confirmation names the wallet');
    await checkScreen(page, 'lock-confirm');
    await page.keyboard.type('wrong-password');
    await page.keyboard.press('Enter');
    await page.getByText('The password is not correct').first().waitFor();
    await page.getByLabel('Your password, to confirm').fill('');
    await page.getByLabel('Your password, to confirm').focus();
    await page.keyboard.type(OPERATOR.password);
    await page.keyboard.press('Enter');
    await page.getByText('The wallet status is set by the platform.').waitFor();
    await page.getByText('Suspicious · set by the platform').first().waitFor();
    await page.context().close();

    const partner = await openPage();
    await signIn(partner, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    await partner.goto(`${base}/console/customers/${other.id}`);
    assert.equal(await partner.getByLabel('Change the status').isDisabled(), true);
    await partner.getByText('only the operator can change it').waitFor();
    await checkScreen(partner, 'partner-customer-locked');
    await partner.context().close();
  });

  it('a Viewer sees no write control, and the server refuses a write sent anyway', async () => {
    const email = `${unique('viewer')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Viewer', password: 'viewer-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const page = await openPage();
    await signIn(page, { email, password: 'viewer-password-1', merchantId: acme.id });
    await page.goto(`${base}/console/customers/${customer.id}`);
    assert.equal(await page.getByLabel('Change the status').count(), 0);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const status = await page.evaluate(
      async ({ id, token }) => {
        const response = await fetch(`/console/customers/${id}/wallet-status`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: token, walletStatus: 'Blocked', expectedVersion: '1' }),
        });
        return response.status;
      },
      { id: customer.id, token: csrf },
    );
    assert.equal(status, 403);
    await page.context().close();
  });

  it('refuses a form posted to the console from another origin', async () => {
    const page = await openPage();
    await signIn(page, OPERATOR);
    // Another origin (same host, other port: same site, so the Strict cookie is even sent).
    const evil: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(
        `<form id="f" method="post" action="${base}/console/customers/${customer.id}/reveal">` +
          `<input name="fields" value="itn"></form><button id="go" onclick="document.getElementById('f').submit()">go</button>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const { port } = evil.address() as AddressInfo;
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      const answer = page.waitForResponse((response) => response.url().endsWith('/reveal'));
      await page.click('#go');
      assert.equal((await answer).status(), 403);
      await page.getByText('Requests from another site are refused').waitFor();
      assert.equal(await page.getByText(customer.itn).count(), 0);
    } finally {
      await new Promise((resolve) => evil.close(resolve));
      await page.context().close();
    }
  });

  it('warns before the idle timeout, keeps the session open on request, and ends it when idle', async () => {
    const short = await startTestApp({ console: { idleTimeoutSeconds: 125, lifetimeSeconds: 3600 } });
    const shortBase = await listen(short);
    const page = await openPage();
    try {
      await page.goto(`${shortBase}/console`);
      await page.getByLabel('Email').fill(OPERATOR.email);
      await page.getByLabel('Password').fill(OPERATOR.password);
      await page.getByLabel('Password').press('Enter');
      await page.waitForURL(/\/console\/customers/);
      // 125 s idle: the warning (2 minutes before) shows within a few seconds.
      const warning = page.getByRole('alert').filter({ hasText: 'Your session ends in' });
      await warning.waitFor({ timeout: 15_000 });
      await checkScreen(page, 'session-warning');
      await page.getByRole('button', { name: 'Stay signed in' }).click();
      await warning.waitFor({ state: 'hidden' });
      // The server ends an idle session whatever the page does: simulate the idle time passing.
      await short.db.query(`UPDATE console_sessions SET last_seen_at = now() - interval '10 minutes'`);
      await page.reload();
      await page.waitForURL(/\/console\/sign-in\?.*notice=expired/);
      await page.getByText('Your session ended. Sign in again to continue.').waitFor();
    } finally {
      await page.context().close();
      await short.close();
    }
  });
});
