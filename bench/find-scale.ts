// Does /v2/customer/find stay fast as an institution grows? On PostgreSQL, in a database of its own
// (created, and dropped at the end unless --keep), it seeds one institution with --base customers,
// times find by email, externalId, walletId, phoneNumber and fullName through the real app
// (app.inject: routing, validation, service, SQL, serialisation), grows the same institution to
// --customers, times them again, and prints the ratios against the targets with the EXPLAIN
// (ANALYZE) plan of every query at the larger size.
//   npm run bench:find-scale [-- --customers 1000000 --base 10000 --queries 300 --database-url URL --keep]
// The server comes from --database-url, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
// Timing is measured here, never asserted in the test suite.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { openPostgres, type Database, type Row } from '../src/db/database.js';
import { ephemeralVault } from '../src/platform/crypto/vault.js';
import { migrate } from '../src/db/migrate.js';
import { createAccessTokens } from '../src/modules/auth/access-tokens.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../src/modules/auth/signing-key.js';
import { findInstitutionCustomers } from '../src/modules/customers/customers.service.js';
import type { FindCustomersBody } from '../src/modules/customers/customers.schemas.js';
import { createInstitution } from '../src/modules/institutions/institutions.service.js';
import { hashPassword } from '../src/modules/auth/passwords.js';
import { insertOperatorIfAbsent } from '../src/modules/users/users.repository.js';
import { createLogger } from '../src/platform/logger.js';
import {
  customerGenerator,
  insertCustomers,
  progressBar,
  seedCustomers,
  vacuumAnalyze,
} from '../scripts/seed.js';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '1000000' },
    base: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '300' },
    'database-url': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const target = Number(values.customers);
const base = Number(values.base);
const queries = Number(values.queries);
if (![target, base, queries].every((value) => Number.isSafeInteger(value) && value > 0) || base >= target) {
  throw new Error(
    '--customers, --base and --queries must be positive whole numbers, --base below --customers',
  );
}

// A database name of this bench's own, so that no other benchmark's database is ever dropped.
const benchDatabase = 'customercore_bench_find_scale';
const serverUrl =
  values['database-url'] ??
  (process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres');
const benchUrl = new URL(serverUrl);
benchUrl.pathname = `/${benchDatabase}`;

async function onServer(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up: a fresh database, the real app, an institution and its owner's token.

await onServer(`DROP DATABASE IF EXISTS ${benchDatabase}`);
await onServer(`CREATE DATABASE ${benchDatabase}`);
const db = openPostgres({
  connectionString: benchUrl.toString(),
  poolSize: 4,
  connectTimeoutMs: 5000,
  // Seeding batches and VACUUM of a million rows take far longer than any API request.
  statementTimeoutMs: 30 * 60_000,
});
await migrate(db);
// The app and the seed seal with the same keys, which die with this scratch database.
const vault = ephemeralVault();
const app = await buildApp({
  db,
  vault,
  logger: createLogger('silent'),
  accessTokens: await createAccessTokens({
    key: await signingKeyFromPem(generateSigningKeyPem()),
    issuer: 'customercore',
    audience: 'customercore-api',
    // Long enough to outlive the seeding of a million customers between the two measurements.
    ttlSeconds: 24 * 3600,
  }),
  refreshTokenTtlSeconds: 3600,
  trustProxy: false,
});

const ownerPassword = randomUUID();
async function institutionWithToken(
  title: string,
): Promise<{ id: string; token: string; ownerEmail: string }> {
  const ownerEmail = `owner.${randomUUID().slice(0, 8)}@bench.example`;
  const institution = await createInstitution(db, { title, ownerEmail, ownerPassword });
  const login = await app.inject({
    method: 'POST',
    url: '/v2/auth/login',
    headers: { 'content-type': 'application/json', merchant_id: institution.id },
    payload: JSON.stringify({ token: ownerEmail, password: ownerPassword }),
  });
  assert.equal(login.statusCode, 200, login.body);
  return {
    id: institution.id,
    ownerEmail,
    token: login.json<{ data: { accessToken: string } }>().data.accessToken,
  };
}

async function post(token: string, url: string, body: object) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: JSON.stringify(body),
  });
}

// ---------------------------------------------------------------------------------------------
// The seed writes what the API writes: the same generated customers, created once through
// /v2/customer/create and once by the seed, in two institutions, give identical rows.

async function checkSeedMatchesApi(count: number): Promise<void> {
  const viaApi = await institutionWithToken('Created through the API');
  const viaSeed = await institutionWithToken('Created by the seed');
  const generate = customerGenerator(0);
  const customers = Array.from({ length: count }, () => generate([]));
  for (const customer of customers) {
    const body = Object.fromEntries(Object.entries(customer).filter(([, value]) => value !== null));
    const response = await post(viaApi.token, '/v2/customer/create', body);
    assert.equal(response.statusCode, 201, response.body);
    const stored = response.json<{ data: Record<string, unknown> }>().data;
    // The API's normalisation (trim, upper-case country, E.164 phone) left every value as generated.
    for (const [field, value] of Object.entries(customer)) assert.equal(stored[field], value, field);
  }
  assert.equal((await insertCustomers(db, vault, viaSeed.id, customers)).length, count);
  // Sealed values differ by their nonces: compare what the API reads back, and the clear columns.
  const rowsOf = async (institutionId: string, token: string) => {
    const found = await post(token, '/v2/customer/find', { take: 100 });
    const read = [...found.json<{ data: Record<string, unknown>[] }>().data];
    for (let skip = 100; skip < count; skip += 100) {
      read.push(
        ...(await post(token, '/v2/customer/find', { take: 100, skip })).json<{
          data: Record<string, unknown>[];
        }>().data,
      );
    }
    const stored = await db.query(
      `SELECT c.first_name, c.last_name, c.comment, c.external_id, c.referral_id, c.country, c.pii_format,
              c.email_index IS NOT NULL AS indexed, w.status, w.status_set_by,
              c.created_at = c.updated_at AND w.created_at = c.created_at AND w.updated_at = c.created_at
                AS same_times
         FROM customers c JOIN wallets w ON w.customer_id = c.id
        WHERE c.institution_id = $1 ORDER BY c.first_name, c.last_name, c.external_id`,
      [institutionId],
    );
    const api = read
      .map(({ id: _id, walletId: _wallet, createdAt: _created, updatedAt: _updated, ...rest }) => rest)
      .sort((a, b) => String(a.email).localeCompare(String(b.email)));
    return { api, stored };
  };
  const [apiRows, seedRows] = [
    await rowsOf(viaApi.id, viaApi.token),
    await rowsOf(viaSeed.id, viaSeed.token),
  ];
  assert.equal(apiRows.api.length, count);
  assert.deepEqual(seedRows, apiRows);
  console.log(`Seed check: ${count} generated customers stored identically by the API and by the seed.`);
}

// ---------------------------------------------------------------------------------------------
// Measurement.

const kinds = [
  'email',
  'externalId',
  'walletId',
  'phoneNumber',
  'fullName',
  'fullName, surname only',
] as const;
type Kind = (typeof kinds)[number];
const targets: Record<Kind, number> = {
  email: 2,
  externalId: 2,
  walletId: 2,
  phoneNumber: 2,
  fullName: 5,
  'fullName, surname only': 5,
};

interface Probe {
  kind: Kind;
  body: FindCustomersBody;
  /** The customer the query was made from; it must be among the matches. */
  id: string;
}

interface Sampled extends Row {
  id: string;
  email: string;
  externalId: string | null;
  walletId: string;
  phoneNumber: string | null;
  firstName: string;
  lastName: string;
}

const randomInt = (below: number) => Math.floor(Math.random() * below);
// ASCII letters only: case mapping of others is not always reversible ('ı' → 'I' → 'i', 'ß' → 'SS').
const randomCase = (text: string) =>
  text.replace(/[a-z]/gi, (char) => (Math.random() < 0.5 ? char.toUpperCase() : char.toLowerCase()));

/**
 * Random existing customers of the institution, read through the API (their personal values are
 * sealed in the table).
 */
async function sample(institutionId: string, token: string, count: number): Promise<Sampled[]> {
  const ids = await db.query<{ id: string }>(
    'SELECT id FROM customers WHERE institution_id = $1 ORDER BY random() LIMIT $2',
    [institutionId, count],
  );
  const rows: Sampled[] = [];
  for (const { id } of ids) {
    const response = await post(token, '/v2/customer/details', { id });
    assert.equal(response.statusCode, 200, response.body);
    rows.push(response.json<{ data: Sampled }>().data);
  }
  return rows;
}

/** Random existing customers of the institution, and a query of every kind made from each. */
async function probes(institutionId: string, token: string, count: number): Promise<Probe[]> {
  const rows = await sample(institutionId, token, count);
  return rows.flatMap((row): Probe[] => {
    // What someone types when looking a person up: part of the first name and of the surname.
    const first = row.firstName.slice(randomInt(Math.min(3, row.firstName.length - 1)));
    const last = row.lastName.slice(0, row.lastName.length - randomInt(Math.min(3, row.lastName.length - 1)));
    const found: Probe[] = [
      { kind: 'email', body: { email: randomCase(row.email) }, id: row.id },
      { kind: 'walletId', body: { walletId: row.walletId }, id: row.id },
      { kind: 'fullName', body: { fullName: randomCase(`${first} ${last}`) }, id: row.id },
      { kind: 'fullName, surname only', body: { fullName: row.lastName.toLowerCase() }, id: row.id },
    ];
    if (row.externalId !== null)
      found.push({ kind: 'externalId', body: { externalId: row.externalId }, id: row.id });
    if (row.phoneNumber !== null)
      found.push({ kind: 'phoneNumber', body: { phoneNumber: row.phoneNumber }, id: row.id });
    return found;
  });
}

interface Figures {
  p50: number;
  p95: number;
  /** Median number of matching customers (meta.total). */
  matches: number;
  count: number;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function run(token: string, probe: Probe): Promise<{ ms: number; total: number }> {
  const started = process.hrtime.bigint();
  const response = await post(token, '/v2/customer/find', probe.body);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(response.statusCode, 200, response.body);
  const { data, meta } = response.json<{ data: { id: string }[]; meta: { total: number } }>();
  // Exact lookups match a handful of customers at most, all on the first page; a name search
  // matches many, and then the total must at least count the customer the name came from.
  assert.ok(meta.total >= 1, `${probe.kind}: no match for ${JSON.stringify(probe.body)}`);
  if (meta.total <= data.length)
    assert.ok(
      data.some((customer) => customer.id === probe.id),
      probe.kind,
    );
  return { ms, total: meta.total };
}

async function measure(label: string, token: string, institutionId: string): Promise<Map<Kind, Figures>> {
  const all = await probes(institutionId, token, queries + 30);
  const warmUp = all.filter((_, index) => index < 30 * kinds.length);
  for (const probe of warmUp) await run(token, probe);
  // Interleaved in random order, so that drift on a shared machine hits every kind alike.
  const measured = all
    .slice(warmUp.length)
    .map((probe) => ({ probe, order: Math.random() }))
    .sort((a, b) => a.order - b.order)
    .map(({ probe }) => probe);
  const samples = new Map<Kind, { ms: number[]; totals: number[] }>(
    kinds.map((kind) => [kind, { ms: [], totals: [] }]),
  );
  const bar = progressBar(measured.length, `find at ${label}`);
  let done = 0;
  for (const probe of measured) {
    const { ms, total } = await run(token, probe);
    const sample = samples.get(probe.kind);
    sample?.ms.push(ms);
    sample?.totals.push(total);
    bar.update(++done);
  }
  bar.finish();
  return new Map(
    [...samples].map(([kind, sample]) => {
      const ms = [...sample.ms].sort((a, b) => a - b);
      const totals = [...sample.totals].sort((a, b) => a - b);
      return [
        kind,
        { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), matches: quantile(totals, 0.5), count: ms.length },
      ];
    }),
  );
}

/** The statements find runs for a body, each with its EXPLAIN (ANALYZE). */
async function plans(institutionId: string, body: FindCustomersBody): Promise<string[]> {
  const statements: { sql: string; params: readonly unknown[] }[] = [];
  const recording: Database = {
    ...db,
    query: <R extends Row>(sql: string, params: readonly unknown[] = []) => {
      statements.push({ sql, params });
      return db.query<R>(sql, params);
    },
  };
  await findInstitutionCustomers({ db: recording, vault }, institutionId, body);
  const explained: string[] = [];
  for (const { sql, params } of statements) {
    const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE) ${sql}`, params);
    const where = /WHERE (.*?)(?:\n|$)/s.exec(sql)?.[1]?.trim() ?? '';
    explained.push(
      `-- ${sql.includes('count(*)') ? 'count' : 'page'}: WHERE ${where.replace(/\s+/g, ' ')}\n` +
        rows.map((row) => row['QUERY PLAN']).join('\n'),
    );
  }
  return explained;
}

// ---------------------------------------------------------------------------------------------
// The console's pages (issue 12: every page under 100 ms at a million customers), through the real
// app with a signed-in browser's cookie, as the operator and as the institution's owner.

async function consoleCookie(email: string, password: string, merchantId?: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/console/sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ email, password, merchantId: merchantId ?? '' }).toString(),
  });
  assert.equal(response.statusCode, 303, response.body);
  return String(response.headers['set-cookie']).split(';')[0] ?? '';
}

async function measureConsole(institution: { id: string; token: string; ownerEmail: string }, count: number) {
  const operatorEmail = `operator.${randomUUID().slice(0, 8)}@bench.example`;
  const operatorPassword = randomUUID();
  await insertOperatorIfAbsent(db, {
    email: operatorEmail,
    passwordHash: await hashPassword(operatorPassword),
  });
  const cookies = {
    operator: await consoleCookie(operatorEmail, operatorPassword),
    owner: await consoleCookie(institution.ownerEmail, ownerPassword, institution.id),
  };
  const sampled = await sample(institution.id, institution.token, count);
  const q = (term: string) => `/console/customers?q=${encodeURIComponent(term)}`;
  const pages: { name: string; who: keyof typeof cookies; url: (row: Sampled) => string | undefined }[] = [
    { name: 'search, first page (no term)', who: 'operator', url: () => '/console/customers' },
    { name: 'search by email', who: 'operator', url: (row) => q(row.email) },
    { name: 'search by customer id', who: 'operator', url: (row) => q(row.id) },
    { name: 'search by wallet id', who: 'operator', url: (row) => q(row.walletId) },
    {
      name: 'search by externalId',
      who: 'operator',
      url: (row) => (row.externalId === null ? undefined : q(row.externalId)),
    },
    { name: 'search by name', who: 'operator', url: (row) => q(`${row.firstName} ${row.lastName}`) },
    { name: 'search by surname only', who: 'operator', url: (row) => q(row.lastName) },
    { name: 'a deep page (cursor)', who: 'operator', url: (row) => `/console/customers?after=${row.id}` },
    { name: 'customer page', who: 'operator', url: (row) => `/console/customers/${row.id}` },
    { name: 'audit/access log', who: 'operator', url: () => '/console/access-log' },
    { name: 'partner: search by surname only', who: 'owner', url: (row) => q(row.lastName) },
    { name: 'partner: customer page', who: 'owner', url: (row) => `/console/customers/${row.id}` },
  ];
  const results: { name: string; p50: number; p95: number; max: number; count: number }[] = [];
  for (const page of pages) {
    const ms: number[] = [];
    for (const [index, row] of sampled.entries()) {
      const url = page.url(row);
      if (url === undefined) continue;
      const started = process.hrtime.bigint();
      const response = await app.inject({ method: 'GET', url, headers: { cookie: cookies[page.who] } });
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(response.statusCode, 200, `${page.name}: ${url} answered ${response.statusCode}`);
      if (index >= 5) ms.push(elapsed); // the first few warm the caches
    }
    ms.sort((a, b) => a - b);
    results.push({
      name: page.name,
      p50: quantile(ms, 0.5),
      p95: quantile(ms, 0.95),
      max: ms.at(-1) ?? NaN,
      count: ms.length,
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------

const format = (ms: number) => ms.toFixed(2);
const version = (await db.query<{ version: string }>('SELECT version()'))[0]?.version ?? '';
console.log(
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `Node ${process.version}; ${version.split(' on ')[0] ?? version}`,
);
try {
  await checkSeedMatchesApi(200);
  const institution = await institutionWithToken('Find at scale');

  const seed = async (count: number, label: string) => {
    const bar = progressBar(count, label);
    const result = await seedCustomers({ db, vault }, institution.id, count, { onProgress: bar.update });
    bar.finish();
    await vacuumAnalyze(db);
    console.log(
      `Seeded ${result.inserted.toLocaleString('en-US')} customers in ${result.seconds.toFixed(1)} s ` +
        `(${Math.round(result.inserted / result.seconds).toLocaleString('en-US')} customers/s)`,
    );
  };
  await seed(base, `seeding ${base.toLocaleString('en-US')}`);
  const small = await measure(base.toLocaleString('en-US'), institution.token, institution.id);
  await seed(target - base, `growing to ${target.toLocaleString('en-US')}`);
  const large = await measure(target.toLocaleString('en-US'), institution.token, institution.id);

  const [smallLabel, largeLabel] = [base, target].map((size) => size.toLocaleString('en-US'));
  console.log(`\nfind, ${queries} queries of each kind at each size, ms (matches: median meta.total)\n`);
  console.log(
    `| query | matches at ${smallLabel} | p50 | p95 | matches at ${largeLabel} | p50 | p95 | p95 ratio | target | met |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const kind of kinds) {
    const [a, b] = [small.get(kind), large.get(kind)];
    if (a === undefined || b === undefined) continue;
    const ratio = b.p95 / a.p95;
    console.log(
      `| ${kind} | ${a.matches} | ${format(a.p50)} | ${format(a.p95)} | ${b.matches} | ${format(b.p50)} | ` +
        `${format(b.p95)} | ${ratio.toFixed(2)}× | ${targets[kind]}× | ${ratio <= targets[kind] ? 'yes' : 'NO'} |`,
    );
  }

  const pages = await measureConsole(institution, Math.max(30, Math.round(queries / 3)));
  console.log(`\nConsole pages at ${largeLabel} customers, ms (target: every page under 100 ms)\n`);
  console.log('| page | requests | p50 | p95 | max | p95 under 100 ms |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const page of pages) {
    console.log(
      `| ${page.name} | ${page.count} | ${format(page.p50)} | ${format(page.p95)} | ${format(page.max)} | ${page.p95 < 100 ? 'yes' : 'NO'} |`,
    );
  }

  console.log(`\nPlans at ${largeLabel} customers (EXPLAIN (ANALYZE) of the statements find runs)\n`);
  const examples = await probes(institution.id, institution.token, 20);
  for (const kind of kinds) {
    const probe = examples.find((candidate) => candidate.kind === kind);
    if (probe === undefined) continue;
    console.log(`### ${kind}: ${JSON.stringify(probe.body)}\n`);
    console.log('```');
    console.log((await plans(institution.id, probe.body)).join('\n\n'));
    console.log('```\n');
  }
} finally {
  await app.close();
  await db.close();
  if (!values.keep) await onServer(`DROP DATABASE IF EXISTS ${benchDatabase}`);
}
