// The console through HTTP, as a browser sends it (app.inject): URL-encoded forms, signing in
// (the session cookie and the CSRF token every signed-in page carries), and GET and POST with them.
import assert from 'node:assert/strict';
import type { TestApp } from './app.js';

/** A URL-encoded form body; a list repeats the field, as checkboxes do. */
export const form = (fields: Record<string, string | string[]>): string => {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  return body.toString();
};

/** A signed-in browser: its session cookie and the CSRF token of its pages. */
export interface Browser {
  cookie: string;
  csrf: string;
}

export async function signIn(
  t: TestApp,
  account: { email: string; password: string; merchantId?: string },
): Promise<Browser> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/console/sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:80' },
    payload: form({
      email: account.email,
      password: account.password,
      merchantId: account.merchantId ?? '',
      next: '/console/customers',
    }),
  });
  assert.equal(response.statusCode, 303, response.body);
  const cookie = String(response.headers['set-cookie']).split(';')[0]!;
  const page = await t.app.inject({ method: 'GET', url: '/console/customers', headers: { cookie } });
  assert.equal(page.statusCode, 200);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(csrf, 'every signed-in page carries the CSRF token');
  return { cookie, csrf };
}

export const get = (t: TestApp, browser: Browser | undefined, url: string) =>
  t.app.inject({ method: 'GET', url, headers: browser === undefined ? {} : { cookie: browser.cookie } });

export const submit = (
  t: TestApp,
  browser: Browser,
  url: string,
  fields: Record<string, string | string[]>,
  headers: Record<string, string> = {},
) =>
  t.app.inject({
    method: 'POST',
    url,
    headers: { cookie: browser.cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form({ _csrf: browser.csrf, ...fields }),
  });

/** The one-time token of the create form on a page (views/layout.tsx OnceField). */
export function onceTokenOf(html: string, action: string): string {
  const formStart = html.indexOf(`action="${action}"`);
  assert.ok(formStart >= 0, `a form posting to ${action}`);
  const token = /name="_once" value="([^"]+)"/.exec(html.slice(formStart))?.[1];
  assert.ok(token, `the form posting to ${action} carries a one-time token`);
  return token;
}
