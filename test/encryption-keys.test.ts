// Encryption keys (issue 13, point 3): the embedded default's generated key, the start that refuses
// a key which does not match the data, and rotation without downtime: a new ENCRYPTION_KEY wraps
// from then on, old versions stay readable through ENCRYPTION_PREVIOUS_KEYS, and
// `npm run keys:rotate` (scripts/keys-rotate.ts; src/platform/crypto/key-rotation.ts) re-wraps
// every data key and the keyring in batches, after which the old key can go.
import { randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPglite, type Database, type Queryable } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { createInstitution } from '../src/modules/institutions/institutions.service.js';
import {
  KeyMismatchError,
  keyVersionOf,
  localKeyProvider,
  wrappedVersion,
} from '../src/platform/crypto/key-provider.js';
import {
  keysToRewrap,
  rotateKeys,
  RotationConflictError,
  type RotationProgress,
} from '../src/platform/crypto/key-rotation.js';
import { openVault, type Vault } from '../src/platform/crypto/vault.js';
import { engine, openTestDatabase, type TestDatabase } from './support/app.js';
import {
  call,
  createServiceData,
  runService,
  setUpPartner,
  startService,
  stopService,
  type Partner,
  type Service,
  type ServiceData,
} from './support/service.js';

const root = path.resolve(import.meta.dirname, '..');
const newKey = () => randomBytes(32).toString('base64');
const versionOf = (base64: string) => keyVersionOf(Buffer.from(base64, 'base64'));

/** The KEK versions of every customer's data key (erased ones have none) and of the keyring. */
async function wrappingVersions(db: Queryable): Promise<{ dataKeys: string[]; keyring: string[] }> {
  const customers = await db.query<{ data_key: Uint8Array }>(
    'SELECT data_key FROM customers WHERE data_key IS NOT NULL ORDER BY id',
  );
  const keyring = await db.query<{ key_version: string }>(
    'SELECT key_version FROM encryption_keyring ORDER BY key_version',
  );
  return {
    dataKeys: customers.map((row) => wrappedVersion(row.data_key)),
    keyring: keyring.map((row) => row.key_version),
  };
}

/** Every row of the tables a start with a key must not touch, as text. */
async function keyState(db: Queryable): Promise<string> {
  const rows = await db.query(
    `SELECT (SELECT count(*)::int FROM customers) AS customers,
            (SELECT count(*)::int FROM encryption_keyring) AS keyring,
            (SELECT string_agg(encode(data_key, 'hex'), ',' ORDER BY id) FROM customers) AS data_keys,
            (SELECT string_agg(key_version || ':' || encode(wrapped, 'hex'), ',' ORDER BY key_version)
               FROM encryption_keyring) AS wrapped`,
  );
  return JSON.stringify(rows);
}

/** `npm run keys:rotate` as a child process, outside the repository (no .env of a developer's). */
function runRotation(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), path.join(root, 'scripts/keys-rotate.ts'), ...args],
    { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

let serial = 0;
function customerBody(label: string) {
  serial++;
  return {
    email: `${label}-${process.pid}-${serial}@Keys.Test`,
    phoneNumber: `+3806712345${String(serial).padStart(2, '0')}`,
    firstName: 'Ola',
    lastName: `Key${serial}`,
    country: 'UA',
    verificationDocumentId: `KP${100_000 + serial}`,
    residenceAddress: `${serial} Khreshchatyk, Kyiv`,
    itn: `${3_000_000_000 + serial}`,
  };
}

async function createCustomers(service: Service, partner: Partner, label: string, count: number) {
  const created: any[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await call(service, '/v2/customer/create', customerBody(label), partner.headers);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    created.push(answer.body.data);
  }
  return created;
}

/** Every customer reads back as created, and exact find by email (any case) and phone finds it. */
async function assertReadable(service: Service, partner: Partner, customers: any[]) {
  for (const customer of customers) {
    const details = await call(service, '/v2/customer/details', { id: customer.id }, partner.headers);
    assert.equal(details.status, 200, JSON.stringify(details.body));
    assert.deepEqual(details.body.data, customer);
    const byEmail = await call(
      service,
      '/v2/customer/find',
      { email: customer.email.toUpperCase() },
      partner.headers,
    );
    assert.equal(byEmail.status, 200, JSON.stringify(byEmail.body));
    assert.deepEqual(
      byEmail.body.data.map((found: { id: string }) => found.id),
      [customer.id],
    );
    const byPhone = await call(
      service,
      '/v2/customer/find',
      { phoneNumber: customer.phoneNumber },
      partner.headers,
    );
    assert.deepEqual(
      byPhone.body.data.map((found: { id: string }) => found.id),
      [customer.id],
    );
  }
}

describe(`the embedded default key (${engine})`, { skip: engine !== 'pglite' }, () => {
  let data: ServiceData;
  before(async () => {
    data = await createServiceData();
  });
  after(async () => {
    await data.remove();
  });

  it('when the service starts on a bare data directory, then it generates DATA_DIR/encryption.key (0600) and reuses it on restart, so customers created before read back the same', async () => {
    const first = await startService(data.env);
    const file = path.join(data.env.DATA_DIR!, 'encryption.key');
    let customers: any[];
    let partner: Partner;
    try {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
      partner = await setUpPartner(first, data.operator());
      customers = await createCustomers(first, partner, 'embedded', 2);
    } finally {
      assert.equal(await stopService(first), 0);
    }
    const key = readFileSync(file, 'utf8');
    assert.ok(!first.output().includes(key.trim()), 'the key is never logged');

    const second = await startService(data.env);
    try {
      assert.equal(readFileSync(file, 'utf8'), key, 'the key is reused, not made again');
      await assertReadable(second, partner, customers);
    } finally {
      assert.equal(await stopService(second), 0);
    }
    const versions = await data.inspect(wrappingVersions);
    assert.deepEqual(new Set([...versions.dataKeys, ...versions.keyring]), new Set([versionOf(key.trim())]));
  });
});

describe(`a key that does not match the data (${engine})`, () => {
  let data: ServiceData;
  before(async () => {
    data = await createServiceData();
  });
  after(async () => {
    await data.remove();
  });

  it('when the service starts with another ENCRYPTION_KEY than the data was made with, then it exits 78 naming the variable and writes nothing', async () => {
    const service = await startService(data.env);
    try {
      const partner = await setUpPartner(service, data.operator());
      await createCustomers(service, partner, 'mismatch', 2);
    } finally {
      assert.equal(await stopService(service), 0);
    }
    const before = await data.inspect(keyState);

    const wrong = runService({ ...data.env, ENCRYPTION_KEY: newKey() });
    assert.equal(await wrong.exited, 78);
    assert.match(wrong.output(), /Invalid configuration: ENCRYPTION_KEY does not match the data/);
    assert.doesNotMatch(wrong.output(), /Server listening/);
    assert.equal(await data.inspect(keyState), before);

    const again = await startService(data.env);
    assert.equal(await stopService(again), 0);
  });
});

describe(`rotating the encryption key without downtime (${engine})`, () => {
  let data: ServiceData;
  before(async () => {
    data = await createServiceData();
  });
  after(async () => {
    await data.remove();
  });

  it('when a new key is added, made current, and keys:rotate runs, then every customer reads throughout, every key ends under the new version, and the old key alone is refused', async () => {
    // The old key A: configured with PostgreSQL; generated into DATA_DIR for the embedded database.
    const first = await startService(data.env);
    const partner = await setUpPartner(first, data.operator());
    let customers: any[];
    try {
      customers = await createCustomers(first, partner, 'before', 3);
    } finally {
      assert.equal(await stopService(first), 0);
    }
    const keyA =
      data.env.ENCRYPTION_KEY ?? readFileSync(path.join(data.env.DATA_DIR!, 'encryption.key'), 'utf8').trim();
    const keyB = newKey();
    const [versionA, versionB] = [versionOf(keyA), versionOf(keyB)];
    const onlyA = data.env;
    const envA = { ...data.env, ENCRYPTION_KEY: keyA };

    // (a) B is added as a previous key, which has never wrapped anything: the start accepts it,
    // and nothing gets wrapped under B yet.
    const added = await startService({ ...envA, ENCRYPTION_PREVIOUS_KEYS: keyB });
    try {
      customers.push(...(await createCustomers(added, partner, 'added', 1)));
      await assertReadable(added, partner, customers);
    } finally {
      assert.equal(await stopService(added), 0);
    }
    assert.deepEqual(await data.inspect(wrappingVersions), {
      dataKeys: customers.map(() => versionA),
      keyring: [versionA],
    });

    // Before any instance runs with B as its key, the rotation refuses (PostgreSQL: other
    // instances may still be on the old configuration).
    const rotating = { ...envA, ENCRYPTION_KEY: keyB, ENCRYPTION_PREVIOUS_KEYS: keyA };
    if (engine === 'postgres') {
      const early = await runRotation(rotating);
      assert.equal(early.code, 78, early.stderr);
      assert.match(early.stderr, /No instance has started with this ENCRYPTION_KEY/);
      assert.deepEqual((await data.inspect(wrappingVersions)).keyring, [versionA]);
    }

    // (b) B is the key, A a previous one: old and new customers read; new ones are under B.
    const current = await startService(rotating);
    let stopped = false;
    try {
      await assertReadable(current, partner, customers);
      customers.push(...(await createCustomers(current, partner, 'after', 2)));
      await assertReadable(current, partner, customers);

      // (c) keys:rotate, while the service runs (the embedded database allows one process:
      // there it refuses, and runs once the service is stopped).
      let rotation;
      if (engine === 'postgres') {
        // Customers keep reading while it runs.
        const state = { running: true };
        const pending = runRotation(rotating, ['--batch-size', '2']).finally(() => {
          state.running = false;
        });
        do await assertReadable(current, partner, customers);
        while (state.running);
        rotation = await pending;
        await assertReadable(current, partner, customers);
      } else {
        const refused = await runRotation(rotating);
        assert.equal(refused.code, 1);
        assert.match(
          refused.stderr,
          /is in use by a running CustomerCore service \(pid \d+\).*stop the service/,
        );
        assert.equal(await stopService(current), 0);
        stopped = true;
        rotation = await runRotation(rotating, ['--batch-size', '2']);
      }
      assert.equal(rotation.code, 0, rotation.stderr);
      // Four customers under A, and the keyring's entry under A.
      assert.match(
        rotation.stdout,
        new RegExp(
          `Re-wrapped 5 keys under key version ${versionB} \\(4 customer data keys and 1 keyring entry\\); 0 left`,
        ),
      );
      assert.match(rotation.stdout, /ENCRYPTION_PREVIOUS_KEYS can now be removed/);
      assert.match(rotation.stderr, /keys \[#+\] 100\.0%/);
    } finally {
      if (!stopped) assert.equal(await stopService(current), 0);
    }
    const rotated = await data.inspect(wrappingVersions);
    assert.deepEqual(rotated, { dataKeys: customers.map(() => versionB), keyring: [versionB] });
    assert.equal(await data.inspect((db) => keysToRewrap(db, versionB)), 0);
    const again = await runRotation(rotating);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Re-wrapped 0 keys/);

    // (d) B alone: everything reads, and exact find still finds.
    const onlyB = await startService({ ...envA, ENCRYPTION_KEY: keyB });
    try {
      await assertReadable(onlyB, partner, customers);
    } finally {
      assert.equal(await stopService(onlyB), 0);
    }

    // A alone no longer opens the data, and the refused start writes nothing.
    const before = await data.inspect(keyState);
    const old = runService(onlyA);
    assert.equal(await old.exited, 78);
    assert.match(old.output(), /does not match the data/);
    assert.doesNotMatch(old.output(), /Server listening/);
    assert.equal(await data.inspect(keyState), before);
  });
});

describe(`rotateKeys (${engine})`, () => {
  let database: TestDatabase;
  let db: Database;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  let institutionId: string;
  /** Each customer's id and data key (unwrapped). */
  const customers: { id: string; key: Buffer }[] = [];
  let erasedId: string;

  async function insertCustomer(vault: Vault, createdAt = 'now()'): Promise<string> {
    const id = randomUUID();
    const { key, wrapped } = await vault.newDataKey({ institutionId, customerId: id });
    await db.query(
      `INSERT INTO customers (id, institution_id, country, pii_format, data_key, created_at)
       VALUES ($1, $2, 'UA', 1, $3, ${createdAt})`,
      [id, institutionId, wrapped],
    );
    customers.push({ id, key });
    return id;
  }

  before(async () => {
    database = await openTestDatabase();
    db = database.db;
    await migrate(db);
    const institution = await createInstitution(db, {
      title: 'Rotation',
      ownerEmail: `owner-${randomUUID()}@rotation.test`,
    });
    institutionId = institution.id;
    const vaultA = await openVault(db, localKeyProvider(keyA));
    for (let i = 0; i < 7; i++) await insertCustomer(vaultA);
    erasedId = randomUUID();
    await db.query(
      `INSERT INTO customers (id, institution_id, country, pii_format, data_key, erased_at)
       VALUES ($1, $2, 'UA', 1, NULL, now())`,
      [erasedId, institutionId],
    );
  });
  after(async () => {
    await database.drop();
  });

  it('when interrupted and run again, then it goes on in batches from what is left, skips erased customers, and every data key opens with the new key alone', async () => {
    const vault = await openVault(db, localKeyProvider(keyB, [keyA]));
    const versionB = keyVersionOf(keyB);
    assert.equal(await keysToRewrap(db, versionB), 8, 'seven data keys and the keyring entry under A');

    const stop = new AbortController();
    const progress: RotationProgress[] = [];
    await assert.rejects(
      rotateKeys(db, vault, {
        batchSize: 2,
        signal: stop.signal,
        onProgress: (step) => {
          progress.push(step);
          if (step.rewrapped >= 4) stop.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(progress, [
      { rewrapped: 0, remaining: 8 },
      { rewrapped: 2, remaining: 6 },
      { rewrapped: 4, remaining: 4 },
    ]);
    assert.equal(await keysToRewrap(db, versionB), 4, 'the two committed batches stay done');

    const resumed: RotationProgress[] = [];
    const result = await rotateKeys(db, vault, { batchSize: 2, onProgress: (step) => resumed.push(step) });
    assert.deepEqual(result, { dataKeys: 3, keyring: 1 });
    assert.deepEqual(resumed.at(-1), { rewrapped: 4, remaining: 0 });
    assert.equal(await keysToRewrap(db, versionB), 0);

    const versions = await wrappingVersions(db);
    assert.deepEqual(versions, { dataKeys: customers.map(() => versionB), keyring: [versionB] });
    const onlyB = await openVault(db, localKeyProvider(keyB));
    for (const { id, key } of customers) {
      const [row] = await db.query<{ data_key: Uint8Array }>('SELECT data_key FROM customers WHERE id = $1', [
        id,
      ]);
      assert.deepEqual(await onlyB.openDataKey(row!.data_key, { institutionId, customerId: id }), key);
    }
    const [erased] = await db.query('SELECT data_key FROM customers WHERE id = $1', [erasedId]);
    assert.deepEqual(erased, { data_key: null }, 'an erased customer stays without a key');
    await assert.rejects(openVault(db, localKeyProvider(keyA)), KeyMismatchError);
    assert.deepEqual(await rotateKeys(db, vault), { dataKeys: 0, keyring: 0 });
  });

  it('when a customer created after the rotation began has a key under another version, then it stops: an instance still wraps with the old key', async () => {
    const vaultA = await openVault(db, localKeyProvider(keyA, [keyB]));
    await insertCustomer(vaultA, "now() + interval '1 hour'");
    const vault = await openVault(db, localKeyProvider(keyB, [keyA]));
    await assert.rejects(rotateKeys(db, vault), RotationConflictError);
  });
});

describe(`encryption key configuration (${engine})`, () => {
  const cases: { what: string; env: Record<string, string>; variable: string; secret: boolean }[] = [
    {
      what: 'ENCRYPTION_KEY is 16 bytes',
      env: { ENCRYPTION_KEY: Buffer.alloc(16, 1).toString('base64') },
      variable: 'ENCRYPTION_KEY',
      secret: true,
    },
    {
      what: 'ENCRYPTION_KEY holds two keys',
      env: { ENCRYPTION_KEY: `${newKey()},${newKey()}` },
      variable: 'ENCRYPTION_KEY',
      secret: true,
    },
    {
      what: 'ENCRYPTION_KEY and ENCRYPTION_KEY_FILE are both set',
      env: { ENCRYPTION_KEY: newKey(), ENCRYPTION_KEY_FILE: '/etc/hostname' },
      variable: 'ENCRYPTION_KEY_FILE',
      secret: true,
    },
    {
      what: 'ENCRYPTION_KEY_FILE cannot be read',
      env: { ENCRYPTION_KEY_FILE: '/nonexistent/encryption.key' },
      variable: 'ENCRYPTION_KEY_FILE',
      secret: false,
    },
    {
      what: 'ENCRYPTION_PREVIOUS_KEYS holds something that is not a key',
      env: { ENCRYPTION_PREVIOUS_KEYS: `${newKey()},not-a-key` },
      variable: 'ENCRYPTION_PREVIOUS_KEYS',
      secret: true,
    },
  ];
  for (const { what, env, variable, secret } of cases) {
    it(`when ${what}, then the start exits 78 naming ${variable}`, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'customercore-keys-'));
      try {
        const service = runService({ DATA_DIR: dataDir, ...env });
        assert.equal(await service.exited, 78);
        assert.match(service.output(), new RegExp(`Invalid configuration: ${variable}\\b`));
        if (secret) {
          for (const value of Object.values(env))
            assert.ok(!service.output().includes(value), 'never echoed');
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }

  it('when ENCRYPTION_KEY_FILE names a file holding the key, then the service wraps with that key and generates none', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'customercore-keys-'));
    try {
      const key = newKey();
      const file = path.join(dir, 'kek.b64');
      writeFileSync(file, `${key}\n`, { mode: 0o600 });
      const dataDir = path.join(dir, 'data');
      const service = await startService({ DATA_DIR: dataDir, ENCRYPTION_KEY_FILE: file });
      assert.equal(await stopService(service), 0);
      assert.equal(existsSync(path.join(dataDir, 'encryption.key')), false);
      const db = await openPglite(path.join(dataDir, 'pgdata'));
      try {
        assert.deepEqual((await wrappingVersions(db)).keyring, [versionOf(key)]);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
