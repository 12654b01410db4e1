// The proof of issue 13, point 6 (contract "Personal data at rest, and erasure"): customers are
// created and updated through the API, then a complete dump of the database is read (pg_dump of
// the test's schema on PostgreSQL, and on both engines every row of every table as text; on PGlite
// also the raw files of its data directory) and holds none of the encrypted fields' values, old
// or new. After an erasure, it holds no value of that customer at all, and the service's own keys
// cannot bring them back. The logs never hold any of them either.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { openPglite } from '../src/db/database.js';
import { fieldLabel } from '../src/platform/crypto/vault.js';
import {
  engine,
  openTestDatabase,
  startTestApp,
  TEST_ENCRYPTION_KEY,
  TEST_INDEX_KEY,
  testDatabaseUrl,
  type TestApp,
  type TestDatabase,
} from './support/app.js';
import { createInstitution, loginOperator, post, type Institution } from './support/client.js';
import { openedHistory } from './support/stored.js';

const run = promisify(execFile);

/** Encrypted at rest: never in clear in the database. */
const sealedFields = ['email', 'phoneNumber', 'verificationDocumentId', 'residenceAddress', 'itn'] as const;
/** Stored so that substring search works, while the customer lives; gone once it is erased. */
const clearFields = ['firstName', 'lastName', 'comment', 'externalId'] as const;

type Person = Record<(typeof sealedFields)[number] | (typeof clearFields)[number], string>;

/** Letters only, so that no hex or base64 text in a dump spells a value by chance. */
const word = (length = 8) => Array.from({ length }, () => 'bcdfghjklmnpqrstvwxz'[randomInt(20)]).join('');
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** A valid French mobile number as a person types it, and its E.164 form. */
function phoneNumber(): { typed: string; e164: string } {
  const digits = String(randomInt(10_000_000)).padStart(7, '0');
  return {
    typed: `+33 6 1${digits[0]} ${digits.slice(1, 3)} ${digits.slice(3, 5)} ${digits.slice(5)}`,
    e164: `+3361${digits}`,
  };
}

interface Sample {
  person: Person;
  /** The phone number as sent (the API stores its E.164 form). */
  typedPhone: string;
}

function sample(label: string): Sample {
  const tag = capitalised(word());
  const phone = phoneNumber();
  return {
    typedPhone: phone.typed,
    person: {
      email: `Quintessa.${tag}.${label}@Personal-Data.test`,
      phoneNumber: phone.e164,
      verificationDocumentId: `PASS${tag.toUpperCase()}DOCUMENT`,
      residenceAddress: `Allee des Songes ${tag}, Lyon ${label}`,
      itn: `ITN${tag.toUpperCase()}TAXNUMBER`,
      firstName: `Quintessa${tag}`,
      lastName: `Marlowe${capitalised(word())}`,
      comment: `Collects ${word()} teapots from ${tag}`,
      externalId: `ext-${word()}-${label}`,
    },
  };
}

/**
 * What must not be found for a sealed value: the value, common transformations of it, and
 * unkeyed hashes of its normalised form (a blind index must be keyed, or a guess confirms it).
 */
function sealedForms(field: (typeof sealedFields)[number], value: string, typed?: string): string[] {
  const forms = [value, value.toLowerCase(), value.toUpperCase()];
  if (field === 'phoneNumber') forms.push(value.slice(1), ...(typed === undefined ? [] : [typed]));
  if (field === 'email' || field === 'phoneNumber') {
    const normal = value.trim().toLowerCase();
    for (const algorithm of ['md5', 'sha1', 'sha256']) {
      forms.push(createHash(algorithm).update(normal).digest('hex'));
    }
  }
  return forms;
}

/** The forms of `values` found in `text`. */
function foundIn(text: string, values: Iterable<string>): string[] {
  return [...new Set(values)].filter((value) => text.includes(value));
}

describe(`personal data at rest (${engine})`, () => {
  let database: TestDatabase;
  let t: TestApp;
  let institution: Institution;
  let other: Institution;
  let dataDir: string | undefined;
  let closed = false;

  /** A customer made through the API, with every value it ever had. */
  interface Made {
    id: string;
    institutionId: string;
    history: Sample[];
    current: Person;
  }
  const customers: Made[] = [];

  before(async () => {
    if (engine === 'pglite') {
      // On disk, so that the last test can read its files raw.
      dataDir = await mkdtemp(path.join(tmpdir(), 'customercore-personal-data-'));
      const db = await openPglite(dataDir);
      database = { db, drop: () => db.close() };
    } else {
      database = await openTestDatabase();
    }
    t = await startTestApp({ database, webhooks: { allowPrivateNetworks: true } });
    const operator = await loginOperator(t);
    institution = await createInstitution(t, operator);
    other = await createInstitution(t, operator);
    // A webhook endpoint, so that events have deliveries (nothing dispatches them here).
    for (const owner of [institution.owner, other.owner]) {
      const endpoint = await post(t, '/v2/webhook/create', { url: 'http://127.0.0.1:9/hook' }, owner);
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    }

    // Four customers in two institutions, each created and updated twice, some of it with
    // Idempotency-Keys, with a wallet status change and an optional field cleared, so that every
    // table that can hold a value has had its chance.
    for (const [n, owner] of [
      institution.owner,
      institution.owner,
      institution.owner,
      other.owner,
    ].entries()) {
      const first = sample(`c${n}`);
      const created = await post(
        t,
        '/v2/customer/create',
        { ...first.person, phoneNumber: first.typedPhone, country: 'fr' },
        owner,
        n % 2 === 0 ? { 'idempotency-key': `create-${word(16)}` } : {},
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.data.phoneNumber, first.person.phoneNumber);
      const second = sample(`u${n}`);
      const updated = await post(
        t,
        '/v2/customer/update',
        {
          id: created.body.data.id,
          ...second.person,
          phoneNumber: second.typedPhone,
          walletStatus: 'Suspicious',
        },
        owner,
        { 'idempotency-key': `update-${word(16)}` },
      );
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const third = sample(`v${n}`);
      const { itn: _cleared, ...kept } = third.person;
      const again = await post(
        t,
        '/v2/customer/update',
        { id: created.body.data.id, ...kept, phoneNumber: third.typedPhone, itn: null },
        owner,
      );
      assert.equal(again.status, 200, JSON.stringify(again.body));
      customers.push({
        id: created.body.data.id,
        institutionId: n === 3 ? other.id : institution.id,
        history: [first, second, third],
        current: third.person,
      });
      // Reads and finds by every exact filter, as a partner would.
      const found = await post(
        t,
        '/v2/customer/find',
        { email: third.person.email.toLowerCase(), phoneNumber: third.typedPhone },
        owner,
      );
      assert.deepEqual(
        found.body.data.map((customer: { id: string }) => customer.id),
        [created.body.data.id],
      );
    }
  });

  after(async () => {
    if (!closed) await t.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  /** Every row of every table of the test's schema, as text. */
  async function tableDump(): Promise<string> {
    const tables = await t.db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    assert.ok(
      tables.length >= 15,
      `the dump sees the schema's tables: ${tables.map((table) => table.name).join(', ')}`,
    );
    assert.ok(tables.some((table) => table.name === 'customer_history'));
    const parts: string[] = [];
    for (const { name } of tables) {
      const rows = await t.db.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
      parts.push(`-- ${name}\n${rows.map((row) => row.row).join('\n')}`);
    }
    return parts.join('\n');
  }

  /** pg_dump of the test's schema (PostgreSQL only). */
  async function pgDump(): Promise<string> {
    assert.ok(testDatabaseUrl !== undefined && database.connection !== undefined);
    const { stdout } = await run(
      '/usr/bin/pg_dump',
      ['--dbname', testDatabaseUrl, '--schema', database.connection.schema, '--no-owner', '--no-privileges'],
      { maxBuffer: 512 * 1024 * 1024 },
    );
    assert.match(stdout, /COPY .*customer_history/, 'pg_dump dumped the history table');
    return stdout;
  }

  /** Every complete dump this engine has, by name. */
  async function dumps(): Promise<[string, string][]> {
    const all: [string, string][] = [['every row of every table', await tableDump()]];
    if (engine === 'postgres') all.push(['pg_dump', await pgDump()]);
    return all;
  }

  const sealedValuesOf = (made: Made) =>
    made.history.flatMap(({ person, typedPhone }) =>
      sealedFields.flatMap((field) =>
        sealedForms(field, person[field], field === 'phoneNumber' ? typedPhone : undefined),
      ),
    );
  const everyValueOf = (made: Made) => [
    ...sealedValuesOf(made),
    ...made.history.flatMap(({ person }) => clearFields.map((field) => person[field])),
    ...made.history.map(({ person }) => `${person.firstName} ${person.lastName}`),
  ];

  it('when customers were created and updated, then no dump holds any encrypted field value, old or new, in any common form', async () => {
    for (const [name, dump] of await dumps()) {
      for (const made of customers) {
        assert.deepEqual(
          foundIn(dump, sealedValuesOf(made)),
          [],
          `${name} holds sealed values of ${made.id}`,
        );
      }
    }
  });

  it('when customers were created and updated, then the dump does see what is stored in clear (names, comment, externalId) and the sealed values and blind indexes as stored, so the scan is not blind', async () => {
    const [row] = await t.db.query<{ email: string; email_index: Uint8Array }>(
      'SELECT email, email_index FROM customers WHERE id = $1',
      [customers[0]!.id],
    );
    const emailIndex = Buffer.from(row!.email_index).toString('hex');
    assert.equal(
      emailIndex,
      t.vault.blindIndex(institution.id, 'email', customers[0]!.current.email).toString('hex'),
    );
    for (const [name, dump] of await dumps()) {
      for (const made of customers) {
        for (const field of clearFields) {
          assert.ok(dump.includes(made.current[field]), `${name} lacks ${field} ${made.current[field]}`);
        }
        assert.ok(dump.includes(made.id), `${name} lacks the customer id`);
      }
      assert.ok(dump.includes(row!.email), `${name} lacks the sealed email as stored`);
      assert.ok(dump.includes(emailIndex), `${name} lacks the email blind index`);
      const [entry] = await t.db.query<{ changes: { sealed: string }[] }>(
        'SELECT changes FROM customer_history WHERE customer_id = $1 ORDER BY version LIMIT 1',
        [customers[0]!.id],
      );
      assert.ok(dump.includes(entry!.changes[0]!.sealed), `${name} lacks a sealed history value`);
    }
    // And the history, read through the API, does hold the values the dump lacks.
    const history = await post(t, '/v2/customer/history', { id: customers[0]!.id }, institution.owner);
    const values = history.body.data.flatMap((entry: any) =>
      entry.changes.flatMap((change: any) => [change.old, change.new]),
    );
    for (const { person } of customers[0]!.history) {
      for (const field of sealedFields) {
        if (field !== 'itn' || person !== customers[0]!.current) {
          assert.ok(values.includes(person[field]), `history lacks ${person[field]}`);
        }
      }
    }
  });

  it('when a customer is erased, then no dump holds any of its values, names, comment and externalId included, while the other customers are still there', async () => {
    const [erased, ...kept] = customers as [Made, ...Made[]];
    const [{ data_key: keyBefore } = { data_key: null }] = await t.db.query<{ data_key: Uint8Array | null }>(
      'SELECT data_key FROM customers WHERE id = $1',
      [erased.id],
    );
    assert.ok(keyBefore !== null);
    const response = await post(
      t,
      '/v2/customer/erase',
      { id: erased.id, reason: 'data subject request 2026-17' },
      institution.owner,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));

    for (const [name, dump] of await dumps()) {
      assert.deepEqual(
        foundIn(dump, everyValueOf(erased)),
        [],
        `${name} holds values of the erased customer`,
      );
      // Nor the blind index of any of its emails or phones: no guess can be confirmed with the index key.
      const indexes = erased.history.flatMap(({ person }) => [
        t.vault.blindIndex(erased.institutionId, 'email', person.email).toString('hex'),
        t.vault.blindIndex(erased.institutionId, 'phoneNumber', person.phoneNumber).toString('hex'),
      ]);
      assert.deepEqual(foundIn(dump, indexes), [], `${name} holds a blind index of the erased customer`);
      for (const made of kept) {
        assert.deepEqual(
          foundIn(dump, sealedValuesOf(made)),
          [],
          `${name} holds sealed values of ${made.id}`,
        );
        for (const field of clearFields) {
          assert.ok(dump.includes(made.current[field]), `${name} lost ${field} of a customer not erased`);
        }
      }
      // Its entries are still there, as an append-only trail.
      assert.ok(dump.includes(erased.id));
    }
  });

  it("when a customer is erased, then even the service's keys cannot bring its values back", async () => {
    const erased = customers[0]!;
    const [row] = await t.db.query<{ data_key: Uint8Array | null; erased_at: Date | null }>(
      'SELECT data_key, erased_at FROM customers WHERE id = $1',
      [erased.id],
    );
    assert.equal(row!.data_key, null, 'the data key is destroyed');
    assert.ok(row!.erased_at instanceof Date);

    // Opened as the service would open them: every entry is in place, and yields no value.
    const entries = await openedHistory(t, erased.id);
    assert.deepEqual(
      entries.map((entry) => entry.action),
      ['create', 'update', 'update', 'erase'],
    );
    for (const entry of entries) {
      for (const change of entry.changes) assert.deepEqual([change.old, change.new], [null, null]);
    }
    // The sealed values left in the history cannot be opened with any key the service holds:
    // the key-encryption key, the blind-index key, or the data key of another customer.
    const [otherCustomer] = await t.db.query<{ data_key: Uint8Array; institution_id: string; id: string }>(
      'SELECT data_key, institution_id, id FROM customers WHERE id = $1',
      [customers[1]!.id],
    );
    const anotherDataKey = await t.vault.openDataKey(otherCustomer!.data_key, {
      institutionId: otherCustomer!.institution_id,
      customerId: otherCustomer!.id,
    });
    const stored = await t.db.query<{ version: number; changes: { field: string; sealed?: string }[] }>(
      'SELECT version, changes FROM customer_history WHERE customer_id = $1 ORDER BY version',
      [erased.id],
    );
    const sealed = stored.flatMap((entry) =>
      entry.changes.filter((change) => change.sealed !== undefined).map((change) => ({ ...entry, change })),
    );
    assert.ok(sealed.length >= 10, 'the earlier entries keep their sealed changes');
    for (const { version, change } of sealed) {
      for (const key of [TEST_ENCRYPTION_KEY, TEST_INDEX_KEY, anotherDataKey]) {
        assert.throws(() =>
          t.vault.open(key, `history:${erased.id}:${version}:${change.field}`, change.sealed as string),
        );
      }
    }
    // Nor can a field value (none is left in the row; a blind guess at one is refused too).
    assert.throws(() => t.vault.open(TEST_ENCRYPTION_KEY, fieldLabel(erased.id, 'email'), 'AQ=='));
    // Its wrapped data key cannot be unwrapped from anything left: there is nothing to unwrap.
    const details = await post(t, '/v2/customer/details', { id: erased.id }, institution.owner);
    assert.equal(details.body.data.email, null);
    assert.equal(details.body.data.firstName, null);
  });

  it('when all this was done, then no log line holds any personal value', () => {
    const logs = t.logs.join('\n');
    assert.ok(logs.includes('request completed'), 'the logs were captured');
    for (const made of customers) {
      assert.deepEqual(foundIn(logs, everyValueOf(made)), [], `the logs hold values of ${made.id}`);
    }
  });

  it(
    "when the embedded database's files are read raw, after all this, then no encrypted field value was ever written to them",
    { skip: engine !== 'pglite' },
    async () => {
      // The raw files hold what a logical dump does not: dead row versions and the write-ahead log,
      // in which an erased customer's names stay until VACUUM and checkpoints (docs/operations.md).
      // No sealed value was ever in clear, so none is in them, for any customer, erased or not.
      await t.close();
      closed = true;
      assert.ok(dataDir !== undefined);
      const files: string[] = [];
      const walk = async (dir: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) await walk(full);
          else if (entry.isFile()) files.push(full);
        }
      };
      await walk(dataDir);
      const raw = (await Promise.all(files.map((file) => readFile(file)))).map((bytes) =>
        bytes.toString('latin1'),
      );
      const text = raw.join('\n');
      assert.ok(files.length > 100, 'the data directory was read');
      // Sanity: a value stored in clear is found in the raw files.
      assert.ok(text.includes(customers[1]!.current.lastName), 'the raw scan is not blind');
      for (const made of customers) {
        const values = sealedValuesOf(made).filter((value) => value.length >= 8);
        assert.deepEqual(foundIn(text, values), [], `the raw files hold sealed values of ${made.id}`);
      }
    },
  );
});
