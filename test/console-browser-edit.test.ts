// The "edit a customer" form in a real browser (Debian's Chromium, driven by playwright-core),
// keyboard only: from the customer page to the form, a save refused with the API's message at the
// field (the typed values kept, focus on the error summary), fixed and saved; then Remove on an
// optional masked field. Each screen is checked with axe, for CSP violations and console errors,
// and saved as a screenshot in test-results/console/.
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
import { createCustomer, createInstitution, post, unique, type Institution } from './support/client.js';

describe(`console: edit a customer in a browser (${engine})`, { skip: noBrowser }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let acme: Institution;
  let customer: any;

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
      comment: 'Met at the Paris office',
    });
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
  const details = async () =>
    (await post(t, '/v2/customer/details', { id: customer.id }, acme.owner)).body.data;

  /** Replaces what a field holds by typing, as a keyboard user would. */
  async function retype(page: Page, label: string, value: string) {
    await page.getByLabel(label, { exact: true }).focus();
    await page.keyboard.press('ControlOrMeta+A');
    if (value === '') await page.keyboard.press('Delete');
    else await page.keyboard.type(value);
  }

  it('edits with the keyboard only: an invalid email is shown at the field, then fixed and saved', async () => {
    const page = await openPage();
    await signInAt(page, base, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    await page.goto(`${base}/console/customers/${customer.id}`);
    await page.getByRole('link', { name: 'Edit details' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/edit$/);
    await page.getByRole('heading', { name: 'Edit the details of Marie Curie' }).waitFor();
    assert.equal(await page.getByLabel('First name').inputValue(), 'Marie');
    assert.equal(await page.getByLabel('Email').inputValue(), '', 'a masked field starts empty');
    assert.equal(await page.getByText(customer.email).count(), 0, 'and is nowhere in the page');
    assert.equal(await page.getByText(customer.itn).count(), 0);
    await checkScreen(page, 'customer-edit');

    await retype(page, 'First name', 'Maria');
    await retype(page, 'Email', 'maria.at.example');
    await page.keyboard.press('Enter');
    await page.getByText('There is a problem').waitFor();
    const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    // console.js (a deferred script) moves the focus once the page has loaded: wait for it, as a
    // person's screen reader would, rather than race it (a timeout here fails the test).
    await page.waitForFunction(
      "document.activeElement?.classList.contains('error-summary') === true",
      undefined,
      {
        timeout: 5000,
      },
    );
    await summary.getByRole('link', { name: 'Email must be a valid email address' }).waitFor();
    const email = page.getByLabel('Email', { exact: true });
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    // The message is read with the field: its accessible description names the problem.
    const describedBy = (await email.getAttribute('aria-describedby')) ?? '';
    const parts = await Promise.all(
      describedBy.split(' ').map(async (id) => (await page.locator(`#${id}`).textContent()) ?? ''),
    );
    const description = parts.join(' ');
    assert.match(description, /must be a valid email address/);
    assert.equal(await email.inputValue(), 'maria.at.example', 'what was typed is kept');
    assert.equal(await page.getByLabel('First name').inputValue(), 'Maria');
    assert.equal((await details()).version, 1, 'nothing changed');
    await checkScreen(page, 'customer-edit-error');

    const fixed = `${unique('maria')}@example.com`;
    await retype(page, 'Email', fixed);
    await page.keyboard.press('Enter');
    await page.getByText('The customer is saved.').waitFor();
    await page.getByRole('heading', { name: 'Maria Curie' }).waitFor();
    const now = await details();
    assert.equal(now.firstName, 'Maria');
    assert.equal(now.email, fixed);
    assert.equal(now.phoneNumber, customer.phoneNumber, 'the masked fields left empty are kept');
    assert.equal(now.version, 2);
    await checkScreen(page, 'customer-edit-saved');
    await page.context().close();
  });

  it('removes an optional masked field with the keyboard', async () => {
    const page = await openPage();
    await signInAt(page, base, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
    await page.goto(`${base}/console/customers/${customer.id}/edit`);
    await page.getByLabel('Remove the current value of Phone number').focus();
    await page.keyboard.press('Space');
    assert.equal(await page.getByLabel('Remove the current value of Phone number').isChecked(), true);
    await page.getByRole('button', { name: 'Save the changes' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('The customer is saved.').waitFor();
    const now = await details();
    assert.equal(now.phoneNumber, null);
    assert.equal(now.itn, customer.itn);
    await page.context().close();
  });

  it('a Viewer sees no Edit control', async () => {
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
    await page.goto(`${base}/console/customers/${customer.id}`);
    await page.getByRole('heading', { name: 'Details' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Edit details' }).count(), 0);
    await page.context().close();
  });
});
