// Driving the console in Debian's Chromium (playwright-core): a listening test app, pages that
// record CSP violations and console errors, and the check every screen gets (axe: no serious or
// critical violation; no CSP violation or console error; a screenshot in test-results/console/).
import { AxeBuilder } from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestApp } from './app.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Skips a browser suite where Debian's Chromium is not installed (`.ci/run` installs it). */
export const noBrowser: false | string = !existsSync(CHROMIUM) && 'no /usr/bin/chromium';

const screenshots = path.resolve(import.meta.dirname, '..', '..', 'test-results', 'console');

/** Makes the app listen on a free port; its base URL on localhost (a secure context for browsers). */
export async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  return `http://localhost:${port}`;
}

export function launchBrowser(): Promise<Browser> {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface WatchedPage {
  page: Page;
  /** CSP violations, script errors and console errors seen so far. */
  problems: string[];
  close(): Promise<void>;
}

/** A page in a context of its own (its own cookies), watching for CSP violations and errors. */
export async function openPage(
  browser: Browser,
  options: { colorScheme?: 'light' | 'dark' } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    colorScheme: options.colorScheme ?? 'light',
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // Chromium logs every 4xx page it loads; the forms' deliberate refusals (400, 401, 403, 409)
    // are what the tests provoke. A missing asset (404) or anything else still counts, and so
    // does every CSP violation (logged as a console error).
    const refusal = /Failed to load resource: the server responded with a status of 40[0139]/;
    if (message.type() === 'error' && !refusal.test(message.text())) {
      problems.push(`console error on ${page.url()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  return { page, problems, close: () => context.close() };
}

/** axe (no serious or critical violation), no CSP violation or error so far, and a screenshot. */
export async function checkScreen(watched: WatchedPage, name: string): Promise<void> {
  const { page, problems } = watched;
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `${name}: accessibility`,
  );
  assert.deepEqual(problems, [], `${name}: CSP violations and console errors`);
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

export async function signIn(
  page: Page,
  base: string,
  account: { email: string; password: string; merchantId?: string },
): Promise<void> {
  await page.goto(`${base}/console`);
  await page.getByLabel('Merchant id').fill(account.merchantId ?? '');
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByLabel('Password').press('Enter');
  await page.waitForURL(/\/console\/customers/);
}
