// POST /v2/customer/create: every field rule of the contract ("Field rules" and "Customers"), who
// may call it, the customer object it returns, and the rows it stores (or, on failure, does not).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  unique,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';
import { openedCustomer } from './support/stored.js';

const CREATE = '/v2/customer/create';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const requiredFields = [
  'email',
  'firstName',
  'lastName',
  'country',
  'verificationDocumentId',
  'residenceAddress',
];
const optionalFields = ['phoneNumber', 'comment', 'externalId', 'referralId', 'itn'];
const customerKeys = [
  'id',
  'walletId',
  ...requiredFields,
  ...optionalFields,
  'walletStatus',
  'walletStatusSetBy',
  'version',
  'createdAt',
  'updatedAt',
  'erasedAt',
].sort();

/** The contract's length rules, in characters (not bytes). */
const lengthRules = [
  { field: 'firstName', min: 1, max: 100 },
  { field: 'lastName', min: 1, max: 100 },
  { field: 'verificationDocumentId', min: 1, max: 100 },
  { field: 'residenceAddress', min: 1, max: 500 },
  { field: 'comment', min: 0, max: 1000 },
  { field: 'externalId', min: 1, max: 255 },
  { field: 'itn', min: 1, max: 50 },
];

/** A valid address of exactly `length` characters (length ≥ 200). */
function emailOfLength(length: number): string {
  const local = unique('e')
    .replace(/[^a-z0-9]/g, '')
    .padEnd(64, 'a');
  const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.`;
  const last = length - local.length - 1 - domain.length - 4;
  return `${local}@${domain}${'d'.repeat(last)}.com`;
}

const fieldsOf = (response: Response): string[] =>
  ((response.body.details ?? []) as { field: string }[]).map((detail) => detail.field);

describe(`POST /v2/customer/create (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });
  after(() => t.close());

  const newInstitution = () => createInstitution(t, operator);

  async function storedCounts(institutionId: string): Promise<{ customers: number; wallets: number }> {
    const [row] = await t.db.query<{ customers: number; wallets: number }>(
      `SELECT (SELECT count(*)::int FROM customers WHERE institution_id = $1) AS customers,
              (SELECT count(*)::int FROM wallets WHERE institution_id = $1) AS wallets`,
      [institutionId],
    );
    return row!;
  }

  async function storedCustomer(id: string): Promise<Record<string, any>> {
    const row = await openedCustomer(t, id);
    assert.ok(row, `customer ${id} is stored`);
    return row;
  }

  async function storedWallets(customerId: string): Promise<Record<string, any>[]> {
    return t.db.query('SELECT * FROM wallets WHERE customer_id = $1', [customerId]);
  }

  function assertError(
    response: Response,
    status: number,
    code: string,
    fields?: string[],
    context = '',
  ): void {
    const message = `${JSON.stringify(response.body)} ${context}`;
    assert.equal(response.status, status, message);
    assert.equal(response.body.code, code, message);
    assert.equal(response.body.statusCode, status, message);
    assert.equal(typeof response.body.requestId, 'string', message);
    if (fields !== undefined) assert.deepEqual(fieldsOf(response).sort(), [...fields].sort(), message);
  }

  /** Sends the create and expects it refused as `code`, naming `fields`, with nothing stored. */
  async function expectRefused(
    institution: Institution,
    body: unknown,
    expected: { status?: number; code?: string; fields?: string[] },
    credentials: Credentials = institution.owner,
  ): Promise<Response> {
    const before = await storedCounts(institution.id);
    const response = await post(t, CREATE, body, credentials);
    assertError(
      response,
      expected.status ?? 400,
      expected.code ?? 'VALIDATION_ERROR',
      expected.fields,
      `for ${JSON.stringify(body).slice(0, 300)}`,
    );
    assert.deepEqual(await storedCounts(institution.id), before, 'a refused create stores nothing');
    return response;
  }

  async function expectCreated(
    institution: Institution,
    body: Record<string, unknown>,
    credentials: Credentials = institution.owner,
  ): Promise<any> {
    const response = await post(t, CREATE, body, credentials);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body.data;
  }

  describe('required fields', () => {
    it('when the body is empty, then 400 VALIDATION_ERROR names every required field and nothing is stored', async () => {
      const institution = await newInstitution();
      await expectRefused(institution, {}, { fields: requiredFields });
    });

    it('when one required field is missing, then 400 VALIDATION_ERROR names just that field', async () => {
      const institution = await newInstitution();
      for (const field of requiredFields) {
        const body = Object.fromEntries(Object.entries(customerInput()).filter(([key]) => key !== field));
        await expectRefused(institution, body, { fields: [field] });
      }
    });

    it('when a required field is null, then 400 VALIDATION_ERROR names it', async () => {
      const institution = await newInstitution();
      for (const field of requiredFields) {
        await expectRefused(institution, customerInput({ [field]: null }), { fields: [field] });
      }
    });
  });

  describe('email', () => {
    it('when the email has surrounding spaces, then it is trimmed and stored with its letter case as given', async () => {
      const institution = await newInstitution();
      const email = `${unique('Alex.Smith')}@Mail.COM`;
      const customer = await expectCreated(institution, customerInput({ email: `  ${email}\t ` }));
      assert.equal(customer.email, email);
      assert.equal((await storedCustomer(customer.id)).email, email);
    });

    it('when the email is 254 characters, then it is accepted; at 255 it is rejected', async () => {
      const institution = await newInstitution();
      const longest = emailOfLength(254);
      assert.equal(longest.length, 254);
      const customer = await expectCreated(institution, customerInput({ email: longest }));
      assert.equal(customer.email, longest);

      const tooLong = emailOfLength(255);
      assert.equal(tooLong.length, 255);
      await expectRefused(institution, customerInput({ email: tooLong }), { fields: ['email'] });
    });

    it('when the email is 254 characters after trimming, then the spaces around it do not count', async () => {
      const institution = await newInstitution();
      const email = emailOfLength(254);
      const customer = await expectCreated(institution, customerInput({ email: `   ${email}   ` }));
      assert.equal(customer.email, email);
    });

    it('when the email is not a valid address, then 400 VALIDATION_ERROR names email', async () => {
      const institution = await newInstitution();
      const invalid = [
        '',
        '   ',
        'alexsmith',
        'alexsmith@',
        '@mail.com',
        'alex smith@mail.com',
        'alex@@mail.com',
        'alex@mail..com',
        'alex@mail com',
        '[email protected]',
      ];
      for (const email of invalid) {
        await expectRefused(institution, customerInput({ email }), { fields: ['email'] });
      }
    });

    it('when another customer of the institution has the email in another letter case, then 409 CUSTOMER_EMAIL_TAKEN and nothing is stored', async () => {
      const institution = await newInstitution();
      const email = `${unique('Alex.Smith')}@Mail.com`;
      const first = await expectCreated(institution, customerInput({ email }));

      for (const again of [email, email.toLowerCase(), email.toUpperCase(), `  ${email.toLowerCase()} `]) {
        await expectRefused(institution, customerInput({ email: again }), {
          status: 409,
          code: 'CUSTOMER_EMAIL_TAKEN',
          fields: ['email'],
        });
      }
      assert.equal((await storedCustomer(first.id)).email, email);
    });

    it('when a customer of another institution has the email, then it is accepted', async () => {
      const first = await newInstitution();
      const second = await newInstitution();
      const email = `${unique('alex')}@mail.com`;
      const a = await expectCreated(first, customerInput({ email }));
      const b = await expectCreated(second, customerInput({ email: email.toUpperCase() }));

      assert.notEqual(a.id, b.id);
      assert.equal(b.email, email.toUpperCase());
      assert.deepEqual(await storedCounts(first.id), { customers: 1, wallets: 1 });
      assert.deepEqual(await storedCounts(second.id), { customers: 1, wallets: 1 });
    });

    it('when the email is not a string, then 400 VALIDATION_ERROR names email (never coerced)', async () => {
      const institution = await newInstitution();
      for (const email of [12345, true, ['alex@mail.com'], { address: 'alex@mail.com' }]) {
        await expectRefused(institution, customerInput({ email }), { fields: ['email'] });
      }
    });
  });

  describe('externalId', () => {
    it('when another customer of the institution has the externalId, then 409 CUSTOMER_EXTERNAL_ID_TAKEN and nothing is stored', async () => {
      const institution = await newInstitution();
      const externalId = unique('ext');
      const first = await expectCreated(institution, customerInput({ externalId }));

      await expectRefused(institution, customerInput({ externalId }), {
        status: 409,
        code: 'CUSTOMER_EXTERNAL_ID_TAKEN',
        fields: ['externalId'],
      });
      assert.equal((await storedCustomer(first.id)).external_id, externalId);
    });

    it('when a customer of another institution has the externalId, then it is accepted', async () => {
      const first = await newInstitution();
      const second = await newInstitution();
      const externalId = unique('ext');
      await expectCreated(first, customerInput({ externalId }));
      const customer = await expectCreated(second, customerInput({ externalId }));
      assert.equal(customer.externalId, externalId);
      assert.equal((await storedCustomer(customer.id)).external_id, externalId);
    });

    it('when several customers of an institution have no externalId, then all are accepted', async () => {
      const institution = await newInstitution();
      await expectCreated(institution, customerInput());
      await expectCreated(institution, customerInput());
      assert.deepEqual(await storedCounts(institution.id), { customers: 2, wallets: 2 });
    });
  });

  describe('lengths', () => {
    for (const { field, min, max } of lengthRules) {
      it(`when ${field} has ${max} characters, even multi-byte ones, then it is accepted; at ${max + 1} it is rejected`, async () => {
        const institution = await newInstitution();
        // 'é' is two bytes in UTF-8, '😀' four (and two UTF-16 units): only characters count.
        for (const char of ['a', 'é', '😀']) {
          const value = char.repeat(max);
          const customer = await expectCreated(institution, customerInput({ [field]: value }));
          assert.equal(customer[field], value);
          const stored = await storedCustomer(customer.id);
          assert.equal(stored[field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)], value);

          await expectRefused(institution, customerInput({ [field]: char.repeat(max + 1) }), {
            fields: [field],
          });
        }
      });

      if (min === 1) {
        it(`when ${field} is empty, then it is rejected; one character is accepted`, async () => {
          const institution = await newInstitution();
          await expectRefused(institution, customerInput({ [field]: '' }), { fields: [field] });
          const customer = await expectCreated(institution, customerInput({ [field]: 'x' }));
          assert.equal(customer[field], 'x');
        });
      }
    }
  });

  describe('firstName and lastName', () => {
    it('when a name has surrounding spaces, then it is stored and returned trimmed', async () => {
      const institution = await newInstitution();
      const customer = await expectCreated(
        institution,
        customerInput({ firstName: '  Alex ', lastName: '\t Smith-Jones \n' }),
      );
      assert.equal(customer.firstName, 'Alex');
      assert.equal(customer.lastName, 'Smith-Jones');
      const stored = await storedCustomer(customer.id);
      assert.equal(stored.first_name, 'Alex');
      assert.equal(stored.last_name, 'Smith-Jones');
    });

    it('when a name is 100 characters after trimming, then the spaces around it do not count', async () => {
      const institution = await newInstitution();
      const name = 'é'.repeat(100);
      const customer = await expectCreated(
        institution,
        customerInput({ firstName: `  ${name}  `, lastName: ` ${'😀'.repeat(100)} ` }),
      );
      assert.equal(customer.firstName, name);
      assert.equal(customer.lastName, '😀'.repeat(100));
    });

    it('when a name is blank after trimming, then 400 VALIDATION_ERROR names it', async () => {
      const institution = await newInstitution();
      for (const field of ['firstName', 'lastName']) {
        for (const blank of ['   ', '\t\n', ' \u00a0 ']) {
          await expectRefused(institution, customerInput({ [field]: blank }), { fields: [field] });
        }
      }
    });

    it('when a name is not a string, then 400 VALIDATION_ERROR names it (never coerced)', async () => {
      const institution = await newInstitution();
      await expectRefused(institution, customerInput({ firstName: ['Alex'] }), { fields: ['firstName'] });
      await expectRefused(institution, customerInput({ lastName: 42 }), { fields: ['lastName'] });
      await expectRefused(institution, customerInput({ lastName: { name: 'Smith' } }), {
        fields: ['lastName'],
      });
    });
  });

  describe('country', () => {
    it('when the country is in any letter case, then it is stored and returned in upper case', async () => {
      const institution = await newInstitution();
      for (const [sent, expected] of [
        ['fr', 'FR'],
        ['Fr', 'FR'],
        ['fR', 'FR'],
        ['FR', 'FR'],
        ['ua', 'UA'],
        ['gb', 'GB'],
      ] as const) {
        const customer = await expectCreated(institution, customerInput({ country: sent }));
        assert.equal(customer.country, expected);
        assert.equal((await storedCustomer(customer.id)).country, expected);
      }
    });

    it('when the country is not an assigned ISO 3166-1 alpha-2 code, then 400 VALIDATION_ERROR names country', async () => {
      const institution = await newInstitution();
      for (const country of ['XX', 'UK', 'FRA', 'XK', 'xk', 'uk', 'fra', 'F', '', 'F1', 'EU', 'ZZ']) {
        await expectRefused(institution, customerInput({ country }), { fields: ['country'] });
      }
    });

    it('when the country is not a string, then 400 VALIDATION_ERROR names country', async () => {
      const institution = await newInstitution();
      await expectRefused(institution, customerInput({ country: 250 }), { fields: ['country'] });
      await expectRefused(institution, customerInput({ country: ['FR'] }), { fields: ['country'] });
    });
  });

  describe('phoneNumber', () => {
    it('when the phone number is written with spaces and punctuation, then it is stored and returned in E.164', async () => {
      const institution = await newInstitution();
      for (const [sent, expected] of [
        ['+38 (099) 123-45-67', '+380991234567'],
        ['+380991234567', '+380991234567'],
        ['+44 7911 123456', '+447911123456'],
        ['  +33 6 12 34 56 78 ', '+33612345678'],
      ] as const) {
        const customer = await expectCreated(institution, customerInput({ phoneNumber: sent }));
        assert.equal(customer.phoneNumber, expected);
        assert.equal((await storedCustomer(customer.id)).phone_number, expected);
      }
    });

    it('when the phone number is invalid or does not start with +, then 400 VALIDATION_ERROR names phoneNumber', async () => {
      const institution = await newInstitution();
      const invalid = [
        '380991234567', // no +
        '0991234567', // national format
        '(099) 123-45-67',
        '00380991234567', // international prefix instead of +
        '+380001234567', // possible length, but not a valid Ukrainian number
        '+38099123', // too short
        '+38099123456789', // too long
        '+999123456789', // no such country code
        '+',
        '',
        'phone',
      ];
      for (const phoneNumber of invalid) {
        await expectRefused(institution, customerInput({ phoneNumber }), { fields: ['phoneNumber'] });
      }
    });

    it('when the phone number is a JSON number, then 400 VALIDATION_ERROR names phoneNumber', async () => {
      const institution = await newInstitution();
      await expectRefused(institution, customerInput({ phoneNumber: 380991234567 }), {
        fields: ['phoneNumber'],
      });
    });
  });

  describe('unknown fields and JSON types', () => {
    it('when the body has an unknown field, then 400 VALIDATION_ERROR names it', async () => {
      const institution = await newInstitution();
      await expectRefused(institution, customerInput({ nickname: 'Al' }), { fields: ['nickname'] });
      await expectRefused(institution, customerInput({ nickname: 'Al', Email: 'x@mail.com' }), {
        fields: ['nickname', 'Email'],
      });
    });

    it('when the body sets a server-owned or update-only field, then 400 VALIDATION_ERROR names it', async () => {
      const institution = await newInstitution();
      const fields: Record<string, unknown> = {
        id: randomUUID(),
        walletId: randomUUID(),
        walletStatus: 'Blocked',
        walletStatusReason: 'fraud',
        walletStatusSetBy: 'operator',
        createdAt: '2024-02-26T16:36:14.499Z',
        updatedAt: '2024-02-26T16:36:14.499Z',
        institutionId: institution.id,
      };
      for (const [field, value] of Object.entries(fields)) {
        await expectRefused(institution, customerInput({ [field]: value }), { fields: [field] });
      }
    });

    it('when an optional field has the wrong JSON type, then 400 VALIDATION_ERROR names it (never coerced)', async () => {
      const institution = await newInstitution();
      const wrong: Record<string, unknown> = {
        comment: true,
        externalId: 12124,
        itn: 6331239212,
        referralId: 42,
        verificationDocumentId: 633452,
        residenceAddress: ['Champ de Mars', 'Paris'],
      };
      for (const [field, value] of Object.entries(wrong)) {
        await expectRefused(institution, customerInput({ [field]: value }), { fields: [field] });
      }
    });
    it('when a text field contains a NUL character, then 400 VALIDATION_ERROR names it (not a 500)', async () => {
      // PostgreSQL cannot store U+0000 in text: a malformed value, to be refused at the edge.
      const institution = await newInstitution();
      for (const field of [
        'firstName',
        'lastName',
        'verificationDocumentId',
        'residenceAddress',
        'comment',
        'externalId',
        'itn',
      ]) {
        await expectRefused(institution, customerInput({ [field]: 'FV63\u00003452' }), { fields: [field] });
      }
    });
  });

  describe('referralId', () => {
    it('when referralId names a customer of the same institution, then it is stored and returned', async () => {
      const institution = await newInstitution();
      const referrer = await createCustomer(t, institution.owner);
      const customer = await expectCreated(institution, customerInput({ referralId: referrer.id }));
      assert.equal(customer.referralId, referrer.id);
      assert.equal((await storedCustomer(customer.id)).referral_id, referrer.id);
    });

    it('when referralId names no customer, then 400 REFERRAL_NOT_FOUND and nothing is stored', async () => {
      const institution = await newInstitution();
      for (const referralId of [randomUUID(), '00000000-0000-0000-0000-000000000000']) {
        await expectRefused(institution, customerInput({ referralId }), {
          code: 'REFERRAL_NOT_FOUND',
          fields: ['referralId'],
        });
      }
    });

    it("when referralId names another institution's customer, then 400 REFERRAL_NOT_FOUND and nothing is stored", async () => {
      const other = await newInstitution();
      const institution = await newInstitution();
      const stranger = await createCustomer(t, other.owner);
      await expectRefused(institution, customerInput({ referralId: stranger.id }), {
        code: 'REFERRAL_NOT_FOUND',
        fields: ['referralId'],
      });
      assert.deepEqual(await storedCounts(other.id), { customers: 1, wallets: 1 });
    });

    it('when referralId is not a UUID, then 400 VALIDATION_ERROR names referralId', async () => {
      const institution = await newInstitution();
      const referrer = await createCustomer(t, institution.owner);
      const notUuids = [
        '',
        'not-a-uuid',
        referrer.id.slice(0, -1),
        `${referrer.id}0`,
        referrer.id.replaceAll('-', ''),
        `{${referrer.id}}`,
      ];
      for (const referralId of notUuids) {
        await expectRefused(institution, customerInput({ referralId }), { fields: ['referralId'] });
      }
    });

    it('when referralId is a UUID written as a URN, then 400 VALIDATION_ERROR names referralId (not a 500)', async () => {
      const institution = await newInstitution();
      const referrer = await createCustomer(t, institution.owner);
      await expectRefused(institution, customerInput({ referralId: `urn:uuid:${referrer.id}` }), {
        fields: ['referralId'],
      });
    });
  });

  describe('the created customer', () => {
    it('when every field is sent, then the response has every key of the customer object and the stored rows match', async () => {
      const institution = await newInstitution();
      const referrer = await createCustomer(t, institution.owner);
      const input = customerInput({
        phoneNumber: '+380991234567',
        comment: 'Alex is a special client.',
        externalId: unique('ext'),
        referralId: referrer.id,
        itn: '633-123-92-12',
      });
      const customer = await expectCreated(institution, input);

      assert.deepEqual(Object.keys(customer).sort(), customerKeys);
      for (const field of [...requiredFields, ...optionalFields]) {
        assert.equal(customer[field], input[field], field);
      }
      assert.match(customer.id, UUID);
      assert.match(customer.walletId, UUID);
      assert.notEqual(customer.id, customer.walletId);
      assert.equal(customer.walletStatus, 'Active');
      assert.equal(customer.walletStatusSetBy, 'institution');
      assert.match(customer.createdAt, ISO_MILLIS);
      assert.match(customer.updatedAt, ISO_MILLIS);
      assert.equal(customer.updatedAt, customer.createdAt);

      const stored = await storedCustomer(customer.id);
      assert.deepEqual(
        {
          institution_id: stored.institution_id,
          email: stored.email,
          phone_number: stored.phone_number,
          first_name: stored.first_name,
          last_name: stored.last_name,
          comment: stored.comment,
          external_id: stored.external_id,
          referral_id: stored.referral_id,
          country: stored.country,
          verification_document_id: stored.verification_document_id,
          residence_address: stored.residence_address,
          itn: stored.itn,
          created_at: (stored.created_at as Date).toISOString(),
          updated_at: (stored.updated_at as Date).toISOString(),
        },
        {
          institution_id: institution.id,
          email: customer.email,
          phone_number: customer.phoneNumber,
          first_name: customer.firstName,
          last_name: customer.lastName,
          comment: customer.comment,
          external_id: customer.externalId,
          referral_id: customer.referralId,
          country: customer.country,
          verification_document_id: customer.verificationDocumentId,
          residence_address: customer.residenceAddress,
          itn: customer.itn,
          created_at: customer.createdAt,
          updated_at: customer.updatedAt,
        },
      );

      const wallets = await storedWallets(customer.id);
      assert.deepEqual(
        wallets.map((wallet) => ({
          id: wallet.id,
          institution_id: wallet.institution_id,
          status: wallet.status,
          status_set_by: wallet.status_set_by,
        })),
        [
          {
            id: customer.walletId,
            institution_id: institution.id,
            status: 'Active',
            status_set_by: 'institution',
          },
        ],
      );
    });

    it('when only the required fields are sent, then every optional field is null in the response and the row', async () => {
      const institution = await newInstitution();
      const customer = await expectCreated(institution, customerInput());

      assert.deepEqual(Object.keys(customer).sort(), customerKeys);
      for (const field of optionalFields) assert.equal(customer[field], null, field);
      const stored = await storedCustomer(customer.id);
      for (const column of ['phone_number', 'comment', 'external_id', 'referral_id', 'itn']) {
        assert.equal(stored[column], null, column);
      }
      assert.equal((await storedWallets(customer.id)).length, 1);
    });

    it('when two customers are created, then their ids and wallet ids are all different', async () => {
      const institution = await newInstitution();
      const a = await expectCreated(institution, customerInput());
      const b = await expectCreated(institution, customerInput());
      assert.equal(new Set([a.id, a.walletId, b.id, b.walletId]).size, 4);
    });
  });

  describe('atomicity', () => {
    it('when the wallet cannot be stored, then the customer is not stored either', async () => {
      const institution = await newInstitution();
      // Make this institution's wallet inserts fail inside the create's transaction.
      await t.db.query(
        `CREATE FUNCTION test_refuse_wallet() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.institution_id = '${institution.id}' THEN RAISE EXCEPTION 'test refuses this wallet'; END IF;
           RETURN NEW;
         END $$`,
      );
      await t.db.query(
        'CREATE TRIGGER test_refuse_wallet BEFORE INSERT ON wallets FOR EACH ROW EXECUTE FUNCTION test_refuse_wallet()',
      );
      try {
        const response = await expectRefused(institution, customerInput(), {
          status: 500,
          code: 'INTERNAL_ERROR',
        });
        assert.doesNotMatch(JSON.stringify(response.body), /test refuses|wallets|trigger/);
        assert.deepEqual(await storedCounts(institution.id), { customers: 0, wallets: 0 });
      } finally {
        await t.db.query('DROP TRIGGER test_refuse_wallet ON wallets');
        await t.db.query('DROP FUNCTION test_refuse_wallet()');
      }
      // The same create works once wallets can be stored.
      await expectCreated(institution, customerInput());
      assert.deepEqual(await storedCounts(institution.id), { customers: 1, wallets: 1 });
    });
  });

  describe('callers', () => {
    it("when the institution's owner creates with a JWT, then the customer belongs to the institution", async () => {
      const institution = await newInstitution();
      const customer = await expectCreated(institution, customerInput(), institution.owner);
      assert.equal((await storedCustomer(customer.id)).institution_id, institution.id);
      assert.equal((await storedWallets(customer.id))[0]?.institution_id, institution.id);
    });

    it('when an API key with customers:write creates, then the customer belongs to its institution', async () => {
      const institution = await newInstitution();
      for (const scopes of [['customers:write'], undefined]) {
        const key = await createApiKey(t, institution, scopes);
        const customer = await expectCreated(institution, customerInput(), { apiKey: key.apiKey });
        assert.deepEqual(Object.keys(customer).sort(), customerKeys);
        assert.equal((await storedCustomer(customer.id)).institution_id, institution.id);
        assert.equal((await storedWallets(customer.id))[0]?.institution_id, institution.id);
      }
    });

    it('when an API key with only customers:read creates, then 403 FORBIDDEN and nothing is stored', async () => {
      const institution = await newInstitution();
      const key = await createApiKey(t, institution, ['customers:read']);
      await expectRefused(
        institution,
        customerInput(),
        { status: 403, code: 'FORBIDDEN' },
        { apiKey: key.apiKey },
      );
    });

    it('when an operator account creates, then 403 FORBIDDEN and nothing is stored', async () => {
      const [before] = await t.db.query<{ total: number }>('SELECT count(*)::int AS total FROM customers');
      const response = await post(t, CREATE, customerInput(), operator);
      assertError(response, 403, 'FORBIDDEN');
      const [after] = await t.db.query<{ total: number }>('SELECT count(*)::int AS total FROM customers');
      assert.equal(after?.total, before?.total);
    });
  });
});
