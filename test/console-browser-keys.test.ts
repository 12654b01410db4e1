// The console's API key and user pages in a real browser (Debian's Chromium, driven by
// playwright-core): a key created with chosen scopes, its secret copied with the Copy button (the
// clipboard and the live region), a form error at its field, the key revoked after its
// confirmation page; a user added with a generated password, then deactivated after theirs.
// Every screen is checked with axe, for CSP violations and console errors, and saved as a
// screenshot in test-results/console/.
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

describe(`console API keys and users in a browser (${engine})`, { skip: noBrowser }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let acme: Institution;

  before(async () => {
    t = await startTestApp();
    base = await listen(t);
    acme = await createInstitution(t);
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
  const signInOwner = (page: Page) =>
    signInAt(page, base, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });

  it('creates a key, copies its secret with the Copy button, and revokes it after the confirmation', async () => {
    const page = await openPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await signInOwner(page);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    await checkScreen(page, 'api-keys');

    // A range the API refuses: its message at the field, and in the summary that takes focus.
    await page.getByLabel('Name').fill('Reporting');
    await page.getByLabel('Allowed addresses (optional)').fill('203.0.113.7\n10.0.0.0/33');
    await page.getByRole('button', { name: 'Create the key' }).click();
    await page.getByText('There is a problem').waitFor();
    // The summary takes the focus once console.js (deferred) has run: waited for, not raced; a
    // summary that never takes it fails the test on the timeout.
    await page.waitForFunction(
      "document.activeElement?.classList.contains('error-summary') === true",
      undefined,
      {
        timeout: 5000,
      },
    );
    await page
      .locator('#allowedIps-error')
      .getByText(/not "10\.0\.0\.0\/33"/)
      .waitFor();
    await checkScreen(page, 'api-keys-error');

    await page.getByLabel('Allowed addresses (optional)').fill('127.0.0.1\n::1');
    await page.getByLabel('customers:erase').check();
    await page.getByLabel('customers:write').uncheck();
    await page
      .getByLabel('Expires on (optional)')
      .fill(new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10));
    await page.getByRole('button', { name: 'Create the key' }).click();
    await page.getByRole('heading', { name: 'API key created' }).waitFor();
    await page.getByText('It will not be shown again').waitFor();
    const secret = await page.getByLabel('The key “Reporting”').inputValue();
    assert.match(secret, /^cck_/);
    assert.ok(!page.url().includes(secret), 'never in a URL');
    assert.equal(await page.getByLabel('The key “Reporting”').getAttribute('readonly'), '');
    await checkScreen(page, 'api-key-created');

    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), secret);
    await checkScreen(page, 'api-key-copied');

    const works = await post(t, '/v2/customer/find', {}, { apiKey: secret });
    assert.equal(works.status, 200, JSON.stringify(works.body));

    await page.getByRole('link', { name: 'Back to API keys' }).click();
    await page.getByRole('cell', { name: 'Reporting', exact: true }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'not shown again');
    await page.getByRole('button', { name: 'Revoke Reporting' }).click();
    await page.getByRole('heading', { name: 'Revoke the API key “Reporting”?' }).waitFor();
    await checkScreen(page, 'api-key-revoke');
    await page.getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByText('The API key is revoked: it no longer works.').waitFor();
    await page.locator('.tag-blocked', { hasText: 'Revoked' }).waitFor();
    await checkScreen(page, 'api-keys-revoked');
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: secret })).status, 401);
    await page.context().close();
  });

  it('without JavaScript the secret is still there to select, and no dead Copy button shows', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signInOwner(page);
    await page.goto(`${base}/console/api-keys`);
    await page.getByLabel('Name').fill('No script');
    await page.getByRole('button', { name: 'Create the key' }).click();
    await page.getByRole('heading', { name: 'API key created' }).waitFor();
    assert.match(await page.getByLabel('The key “No script”').inputValue(), /^cck_/);
    assert.equal(await page.getByRole('button', { name: 'Copy' }).count(), 0);
    await context.close();
  });

  it('adds a user with a generated password shown once, and deactivates them after the confirmation', async () => {
    const page = await openPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await signInOwner(page);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await checkScreen(page, 'users');

    await page.getByLabel('Email').fill('not-an-email');
    await page.getByRole('button', { name: 'Add the user' }).click();
    await page.locator('#email-error').getByText('Email must be a valid email address').waitFor();
    await checkScreen(page, 'users-error');

    const email = `${unique('analyst')}@acme.test`;
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Admin').check();
    await page.getByRole('button', { name: 'Add the user' }).click();
    await page.getByRole('heading', { name: 'User added' }).waitFor();
    const password = await page.getByLabel(`The password of ${email}`).inputValue();
    assert.ok(password.length >= 12);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), password);
    await checkScreen(page, 'user-created');

    // The new user signs in, in a browser of their own.
    const theirs = await openPage();
    await signInAt(theirs, base, { email, password, merchantId: acme.id });
    await theirs.getByRole('link', { name: 'API keys' }).waitFor();
    assert.equal(await theirs.getByRole('link', { name: 'Users' }).count(), 0, 'an Admin has no Users');

    await page.getByRole('link', { name: 'Back to users' }).click();
    await page.getByRole('button', { name: `Deactivate ${email}` }).click();
    await page.getByRole('heading', { name: `Deactivate ${email}?` }).waitFor();
    await checkScreen(page, 'user-deactivate');
    await page.getByRole('button', { name: 'Deactivate the user' }).click();
    await page.getByText('The user is deactivated: their sessions have ended.').waitFor();
    await page.locator('.tag-blocked', { hasText: 'Deactivated' }).waitFor();
    await checkScreen(page, 'users-deactivated');

    await theirs.reload();
    await theirs.waitForURL(/\/console\/sign-in\?.*notice=expired/);
    await page.context().close();
    await theirs.context().close();
  });
});
