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
async function institutionWithToken(title: string): Promise<{ id: string; token: string }> {
  const ownerEmail = `owner.${randomUUID().slice(0, 8)}@bench.example`;
  const institution = await createInstitution(db, { title, ownerEmail, ownerPassword });
  const login = await app.inject({
    method: 'POST',
    url: '/v2/auth/login',
    headers: { 'content-type': 'application/json', merchant_id: institution.id },
    payload: JSON.stringify({ token: ownerEmail, password: ownerPassword }),
  });
  assert.equal(login.statusCode, 200, login.body);
  return { id: institution.id, token: login.json<{ data: { accessToken: string } }>().data.accessToken };
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

/** Random existing customers of the institution, and a query of every kind made from each. */
async function probes(institutionId: string, count: number): Promise<Probe[]> {
  const rows = await db.query<Sampled>(
    `SELECT c.id, c.email, c.external_id AS "externalId", w.id AS "walletId", c.phone_number AS "phoneNumber",
            c.first_name AS "firstName", c.last_name AS "lastName"
       FROM customers c JOIN wallets w ON w.customer_id = c.id
      WHERE c.institution_id = $1 ORDER BY random() LIMIT $2`,
    [institutionId, count],
  );
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
  const all = await probes(institutionId, queries + 30);
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

  console.log(`\nPlans at ${largeLabel} customers (EXPLAIN (ANALYZE) of the statements find runs)\n`);
  const examples = await probes(institution.id, 20);
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
