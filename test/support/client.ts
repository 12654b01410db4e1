// A small client over app.inject, and factories that set up institutions, users, keys and
// customers through the public API, as a partner would.
import assert from 'node:assert/strict';
import type { TestApp } from './app.js';
import { OPERATOR } from './app.js';

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
}

export type Credentials = { token: string } | { apiKey: string } | undefined;

export function credentialHeaders(credentials: Credentials): Record<string, string> {
  if (credentials === undefined) return {};
  return 'token' in credentials
    ? { authorization: `Bearer ${credentials.token}` }
    : { 'api-key': credentials.apiKey };
}

export async function post<T = any>(
  t: TestApp,
  url: string,
  body: unknown,
  credentials?: Credentials,
  headers: Record<string, string> = {},
): Promise<Response<T>> {
  const response = await t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...credentialHeaders(credentials), ...headers },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

let counter = 0;
export const unique = (label: string): string => `${label}-${process.pid}-${Date.now()}-${++counter}`;

export async function loginOperator(t: TestApp): Promise<{ token: string }> {
  const response = await post(t, '/v2/auth/login', { token: OPERATOR.email, password: OPERATOR.password });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return { token: response.body.data.accessToken };
}

export interface Institution {
  id: string;
  ownerEmail: string;
  ownerPassword: string;
  owner: { token: string };
}

export async function createInstitution(t: TestApp, operator?: { token: string }): Promise<Institution> {
  const ownerEmail = `${unique('owner')}@acme.test`;
  const ownerPassword = 'owner-password-123';
  const created = await post(
    t,
    '/v2/admin/institution/create',
    { title: unique('Acme Pay'), ownerEmail, ownerPassword },
    operator ?? (await loginOperator(t)),
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const login = await post(t, '/v2/auth/login', { token: ownerEmail, password: ownerPassword }, undefined, {
    merchant_id: created.body.data.merchantId,
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return {
    id: created.body.data.id,
    ownerEmail,
    ownerPassword,
    owner: { token: login.body.data.accessToken },
  };
}

export async function createApiKey(
  t: TestApp,
  institution: Institution,
  scopes?: string[],
): Promise<{ id: string; apiKey: string }> {
  const response = await post(
    t,
    '/v2/api-key/create',
    { name: 'backend', ...(scopes === undefined ? {} : { scopes }) },
    institution.owner,
  );
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return { id: response.body.data.id, apiKey: response.body.data.key };
}

export function customerInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    email: `${unique('alex')}@mail.com`,
    firstName: 'Alex',
    lastName: 'Smith',
    country: 'FR',
    verificationDocumentId: 'FV633452',
    residenceAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
    ...overrides,
  };
}

export async function createCustomer(
  t: TestApp,
  credentials: Credentials,
  overrides: Record<string, unknown> = {},
): Promise<any> {
  const response = await post(t, '/v2/customer/create', customerInput(overrides), credentials);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data;
}
