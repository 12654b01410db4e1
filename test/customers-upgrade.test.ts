// A database written before personal data was encrypted (issue 13, point 4): migration 0020 and
// the start-up upgrade (src/modules/customers/customer-upgrade.ts) encrypt every customer and
// history entry in place, in batches that may be interrupted and resumed, and every customer reads
// as it did before, in either form, at every moment.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../src/db/migrate.js';
import { sealExistingCustomers } from '../src/modules/customers/customer-upgrade.js';
import {
  createCustomer,
  customerDetails,
  customerHistory,
  findInstitutionCustomers,
  type CustomerStore,
} from '../src/modules/customers/customers.service.js';
import { insertInstitution } from '../src/modules/institutions/institutions.repository.js';
import { AppError } from '../src/platform/errors.js';
import { engine, openTestDatabase, testVault, type TestDatabase } from './support/app.js';

const root = path.resolve(import.meta.dirname, '..');

/** The migrations of the release before encryption: every file but 0020 onwards up to 0029. */
function earlierMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-migrations-'));
  for (const file of readdirSync(path.join(root, 'migrations'))) {
    const version = Number(file.slice(0, 4));
    if (version >= 20 && version <= 29) continue;
    copyFileSync(path.join(root, 'migrations', file), path.join(dir, file));
  }
  return dir;
}

interface Legacy {
  id: string;
  email: string;
  phoneNumber: string;
  verificationDocumentId: string;
  residenceAddress: string;
  itn: string;
  oldEmail: string;
}

describe(`customers written before encryption (${engine})`, () => {
  let database: TestDatabase;
  let store: CustomerStore;
  let institutionId: string;
  let migrationsDir: string;
  const legacy: Legacy[] = [];

  before(async () => {
    database = await openTestDatabase();
    migrationsDir = earlierMigrations();
    await migrate(database.db, migrationsDir);
    institutionId = (await insertInstitution(database.db, 'Legacy Bank')).id;
    // Five customers as the previous release wrote them: clear columns, a creation entry and an
    // update entry (email and itn changed) with clear old and new values.
    for (let n = 0; n < 5; n++) {
      const customer: Legacy = {
        id: randomUUID(),
        oldEmail: `first.${n}.${randomUUID().slice(0, 8)}@legacy.test`,
        email: `Olena.${n}.${randomUUID().slice(0, 8)}@Legacy.test`,
        phoneNumber: `+38067${String(1000000 + n)}`,
        verificationDocumentId: `UA-PASS-${n}-${randomUUID().slice(0, 6)}`,
        residenceAddress: `${n} Khreshchatyk St, Kyiv ${randomUUID().slice(0, 6)}`,
        itn: `ITN${n}${randomUUID().slice(0, 6)}`,
      };
      legacy.push(customer);
      await database.db.query(
        `INSERT INTO customers (id, institution_id, email, phone_number, first_name, last_name, country,
                                verification_document_id, residence_address, itn, version)
         VALUES ($1, $2, $3, $4, 'Olena', $5, 'UA', $6, $7, $8, 2)`,
        [
          customer.id,
          institutionId,
          customer.email,
          customer.phoneNumber,
          `Kovalenko${n}`,
          customer.verificationDocumentId,
          customer.residenceAddress,
          customer.itn,
        ],
      );
      await database.db.query('INSERT INTO wallets (institution_id, customer_id) VALUES ($1, $2)', [
        institutionId,
        customer.id,
      ]);
      const entry = (version: number, action: string, changes: unknown[]) =>
        database.db.query(
          `INSERT INTO customer_history (institution_id, customer_id, version, actor_type, actor_id, actor_name,
                                         request_id, action, changes)
           VALUES ($1, $2, $3, 'api_key', $4, 'legacy key', 'req-legacy', $5, $6::jsonb)`,
          [institutionId, customer.id, version, randomUUID(), action, JSON.stringify(changes)],
        );
      await entry(1, 'create', [
        { field: 'email', old: null, new: customer.oldEmail },
        { field: 'itn', old: null, new: 'ITN-OLD' },
      ]);
      await entry(2, 'update', [
        { field: 'email', old: customer.oldEmail, new: customer.email },
        { field: 'itn', old: 'ITN-OLD', new: customer.itn },
      ]);
    }
    store = { db: database.db, vault: testVault() };
  });

  after(async () => {
    await database.drop();
    rmSync(migrationsDir, { recursive: true, force: true });
  });

  /** Every value of the five encrypted fields, old and new, found in clear in the two tables. */
  async function clearValues(): Promise<string[]> {
    const rows = await database.db.query<{ text: string }>(
      `SELECT c::text AS text FROM customers c UNION ALL SELECT h::text FROM customer_history h`,
    );
    const dump = rows.map((row) => row.text).join('\n');
    return legacy.flatMap((customer) =>
      [
        customer.email,
        customer.oldEmail,
        customer.phoneNumber,
        customer.verificationDocumentId,
        customer.residenceAddress,
        customer.itn,
        'ITN-OLD',
      ].filter((value) => dump.includes(value)),
    );
  }

  async function readsAsBefore(customer: Legacy, { findByEmail = true } = {}) {
    const details = await customerDetails(store, institutionId, customer.id);
    assert.deepEqual(
      [
        details.email,
        details.phoneNumber,
        details.verificationDocumentId,
        details.residenceAddress,
        details.itn,
      ],
      [
        customer.email,
        customer.phoneNumber,
        customer.verificationDocumentId,
        customer.residenceAddress,
        customer.itn,
      ],
    );
    if (findByEmail) {
      const found = await findInstitutionCustomers(store, institutionId, {
        email: customer.email.toLowerCase(),
        take: 20,
        skip: 0,
      });
      assert.deepEqual(
        found.data.map((c) => c.id),
        [customer.id],
        'found by email, in any case',
      );
    }
    const history = await customerHistory(store, { kind: 'institution', institutionId }, { id: customer.id });
    assert.deepEqual(
      history.data.map((entry) => entry.changes),
      [
        [
          { field: 'email', old: customer.oldEmail, new: customer.email },
          { field: 'itn', old: 'ITN-OLD', new: customer.itn },
        ],
        [
          { field: 'email', old: null, new: customer.oldEmail },
          { field: 'itn', old: null, new: 'ITN-OLD' },
        ],
      ],
    );
  }

  it('when the new migration and the upgrade run, interrupted once, then every value is encrypted and every customer reads as before', async () => {
    assert.ok(
      (await migrate(database.db)).includes('0020_personal_data_encryption.sql'),
      'the database upgrades in place',
    );
    assert.equal((await clearValues()).length, legacy.length * 7, 'before the upgrade, all in clear');

    // Interrupted after its first batch of two (a crash, a SIGTERM): that batch is committed whole.
    const progress: { sealed: number; total: number }[] = [];
    await assert.rejects(
      sealExistingCustomers(
        store,
        (step) => {
          progress.push(step);
          throw new Error('interrupted');
        },
        2,
      ),
      /interrupted/,
    );
    assert.deepEqual(progress, [{ sealed: 2, total: 5 }]);
    const formats = await database.db.query<{ pii_format: number; n: number }>(
      'SELECT pii_format, count(*)::int AS n FROM customers GROUP BY pii_format ORDER BY pii_format',
    );
    assert.deepEqual(
      formats.map((row) => [row.pii_format, row.n]),
      [
        [0, 3],
        [1, 2],
      ],
    );
    // Meanwhile every customer reads right, in either form. (Exact find goes through the blind
    // index, which a row has once sealed: the service serves only when the upgrade is done.)
    for (const customer of legacy) await readsAsBefore(customer, { findByEmail: false });

    // Resumed (the next start): it goes on from the rows still in clear.
    const resumed: { sealed: number; total: number }[] = [];
    assert.equal(await sealExistingCustomers(store, (step) => resumed.push(step), 2), 3);
    assert.deepEqual(resumed.at(-1), { sealed: 3, total: 3 });
    assert.deepEqual(await clearValues(), [], 'no encrypted field is left in clear, old or new');
    const [left] = await database.db.query<{ customers: number; entries: number }>(
      `SELECT (SELECT count(*) FROM customers WHERE pii_format = 0)::int AS customers,
              (SELECT count(*) FROM customer_history WHERE pii_format = 0)::int AS entries`,
    );
    assert.deepEqual(left, { customers: 0, entries: 0 });
    for (const customer of legacy) await readsAsBefore(customer);
    assert.equal(await sealExistingCustomers(store), 0, 'a later start has nothing to do');
  });

  it('when the upgrade is done, then the unique email rule holds on the blind index, in any case', async () => {
    const caller = {
      institutionId,
      actor: { type: 'api_key' as const, id: randomUUID(), name: 'upgrade test' },
      requestId: 'req-upgrade',
    };
    const taken = legacy[0]!.email.toUpperCase();
    await assert.rejects(
      createCustomer(store, caller, {
        email: taken,
        firstName: 'Second',
        lastName: 'Olena',
        country: 'UA',
        verificationDocumentId: 'X1',
        residenceAddress: 'Somewhere 1',
      }),
      (error: unknown) => {
        // The unique index's violation, which the error handler answers as CUSTOMER_EMAIL_TAKEN.
        assert.ok(!(error instanceof AppError), String(error));
        assert.equal((error as { constraint?: string }).constraint, 'customers_email_index_key');
        return true;
      },
    );
  });
});
