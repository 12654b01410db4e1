// The framework's limit, for `npm run bench`: a minimal Fastify + pg server answering the same
// four routes with the same database work (the service's own functions, so the same SQL in the
// same transactions, on a pool of the same size), and nothing else: no validation, no
// authentication, no rate limits, no logging, no security headers, no ETag, no idempotency
// hooks. What CustomerCore costs on top of Fastify is its throughput and CPU against this.
// Started by bench/run.ts as a child process: PORT, DATABASE_URL, DATABASE_POOL_SIZE,
// INSTITUTION_ID, ACTOR (JSON) and ENCRYPTION_KEY (the service's, so it reads the same
// customers) in the environment.
import Fastify from 'fastify';
import {
  createCustomer,
  customerDetails,
  findInstitutionCustomers,
  updateCustomer,
} from '../src/modules/customers/customers.service.js';
import { decodeKey, localKeyProvider } from '../src/platform/crypto/key-provider.js';
import { openVault } from '../src/platform/crypto/vault.js';
import type { Actor } from '../src/platform/principal.js';
import { rawPostgres } from './raw-database.js';

const setting = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
};
const db = rawPostgres(setting('DATABASE_URL'), Number(setting('DATABASE_POOL_SIZE')));
const store = {
  db,
  vault: await openVault(db, localKeyProvider(decodeKey(setting('ENCRYPTION_KEY'), 'ENCRYPTION_KEY'))),
};
const institutionId = setting('INSTITUTION_ID');
const actor = JSON.parse(setting('ACTOR')) as Actor;

const app = Fastify({ logger: false });
let requests = 0;
const context = () => ({ institutionId, actor, requestId: `minimal-${++requests}` });

app.post('/v2/customer/create', async (request, reply) => {
  const customer = await createCustomer(
    store,
    context(),
    request.body as Parameters<typeof createCustomer>[2],
  );
  return reply.code(201).send({ data: customer });
});
app.post('/v2/customer/details', async (request) => ({
  data: await customerDetails(store, institutionId, (request.body as { id: string }).id),
}));
app.post('/v2/customer/update', async (request) => ({
  data: await updateCustomer(store, context(), request.body as Parameters<typeof updateCustomer>[2]),
}));
app.post('/v2/customer/find', async (request) =>
  findInstitutionCustomers(store, institutionId, { take: 20, skip: 0, ...(request.body as object) }),
);
app.get('/health/live', (_request, reply) => reply.send({ ok: true }));

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => db.close())
    .then(() => process.exit(0));
});
await app.listen({ port: Number(setting('PORT')), host: '127.0.0.1' });
