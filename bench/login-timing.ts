// Does a failed login take the same time whether or not the account exists? Sends failed logins
// of four kinds, interleaved in random order, to the real app (in process, on embedded PGlite),
// and prints the latency distribution of each and its median's difference from a known account's.
//   npm run bench:login-timing [-- --rounds 100]
// Timing is measured here, never asserted in the test suite.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { openPglite } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { createAccessTokens } from '../src/modules/auth/access-tokens.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../src/modules/auth/signing-key.js';
import { createInstitution } from '../src/modules/institutions/institutions.service.js';
import { createLogger } from '../src/platform/logger.js';
import { ephemeralVault } from '../src/platform/crypto/vault.js';
import { createRateLimits, defaultRateLimitOptions } from '../src/platform/rate-limits.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '100' } } });
const rounds = Number(values.rounds);

const db = await openPglite(undefined);
await migrate(db);
const app = await buildApp({
  db,
  logger: createLogger('silent'),
  accessTokens: await createAccessTokens({
    key: await signingKeyFromPem(generateSigningKeyPem()),
    issuer: 'customercore',
    audience: 'customercore-api',
    ttlSeconds: 900,
  }),
  vault: ephemeralVault(),
  refreshTokenTtlSeconds: 3600,
  trustProxy: false,
  // The limits would block these attempts after a few failures; here every attempt must reach the
  // password check.
  rateLimits: createRateLimits({
    ...defaultRateLimitOptions,
    loginFailuresPerAccount: 1e9,
    loginFailuresPerAddress: 1e9,
  }),
});
const institution = await createInstitution(db, {
  title: 'Timing Bank',
  ownerEmail: 'known.owner@timing.test',
  ownerPassword: 'the-right-password-1',
});

const kinds = {
  'known account, wrong password': { merchantId: institution.id, email: 'known.owner@timing.test' },
  'unknown email, known institution': { merchantId: institution.id, email: 'nobody@timing.test' },
  'unknown institution': { merchantId: randomUUID(), email: 'known.owner@timing.test' },
  'unknown operator email': { merchantId: undefined, email: 'nobody@timing.test' },
} as const;
type Kind = keyof typeof kinds;

async function attempt(kind: Kind): Promise<number> {
  const { merchantId, email } = kinds[kind];
  const started = process.hrtime.bigint();
  const response = await app.inject({
    method: 'POST',
    url: '/v2/auth/login',
    headers: {
      'content-type': 'application/json',
      ...(merchantId === undefined ? {} : { merchant_id: merchantId }),
    },
    payload: JSON.stringify({ token: email, password: 'a-wrong-password-9' }),
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.statusCode !== 401) throw new Error(`${kind}: expected 401, got ${response.statusCode}`);
  return ms;
}

// Warm-up, then the rounds in shuffled order so that drift on a shared machine hits every kind alike.
for (const kind of Object.keys(kinds) as Kind[]) await attempt(kind);
const schedule = (Object.keys(kinds) as Kind[])
  .flatMap((kind) => Array<Kind>(rounds).fill(kind))
  .map((kind) => ({ kind, order: Math.random() }))
  .sort((a, b) => a.order - b.order)
  .map(({ kind }) => kind);
const samples = new Map<Kind, number[]>();
for (const kind of schedule) {
  const ms = await attempt(kind);
  samples.set(kind, [...(samples.get(kind) ?? []), ms]);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const medianOf = (kind: Kind) =>
  quantile(
    [...(samples.get(kind) ?? [])].sort((a, b) => a - b),
    0.5,
  );
const reference = medianOf('known account, wrong password');
console.log(`Failed logins, ${rounds} of each kind, interleaved (ms):`);
console.log('| kind | p10 | median | p90 | median vs known account |');
console.log('|---|---:|---:|---:|---:|');
for (const kind of Object.keys(kinds) as Kind[]) {
  const sorted = [...(samples.get(kind) ?? [])].sort((a, b) => a - b);
  const difference = ((medianOf(kind) - reference) / reference) * 100;
  console.log(
    `| ${kind} | ${quantile(sorted, 0.1).toFixed(1)} | ${quantile(sorted, 0.5).toFixed(1)} | ` +
      `${quantile(sorted, 0.9).toFixed(1)} | ${difference >= 0 ? '+' : ''}${difference.toFixed(1)}% |`,
  );
}
await app.close();
await db.close();
