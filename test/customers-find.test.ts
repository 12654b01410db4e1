// POST /v2/customer/find and /v2/customer/details: every filter alone and combined, inclusive
// date bounds, stable newest-first paging, validation of the page, and the institution boundary.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { openedCustomer } from './support/stored.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  unique,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';

const customerKeys = [
  'id',
  'walletId',
  'email',
  'phoneNumber',
  'firstName',
  'lastName',
  'comment',
  'externalId',
  'referralId',
  'country',
  'verificationDocumentId',
  'residenceAddress',
  'itn',
  'walletStatus',
  'walletStatusSetBy',
  'version',
  'createdAt',
  'updatedAt',
  'erasedAt',
].sort();

function assertError(response: Response, status: number, code: string, field?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.statusCode, status);
  assert.equal(response.body.error, STATUS_CODES[status]);
  assert.equal(response.body.code, code);
  if (field !== undefined) {
    const fields = (response.body.details ?? []).map((detail: { field: string }) => detail.field);
    assert.ok(fields.includes(field), `details should name ${field}: ${JSON.stringify(response.body)}`);
  }
}

/** Newest first: createdAt descending, then id descending. */
function newestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const idsOf = (response: Response): string[] =>
  response.body.data.map((customer: { id: string }) => customer.id);

describe(`customers find and details (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  async function find(credentials: Credentials, body: Record<string, unknown>): Promise<Response> {
    const response = await post(t, '/v2/customer/find', body, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response;
  }

  /** Reads every customer's current state back, so expectations use the stored createdAt. */
  async function current(institution: Institution, customers: { id: string }[]): Promise<any[]> {
    const all = await find(institution.owner, { take: 100 });
    return customers.map((customer) => {
      const found = all.body.data.find((row: { id: string }) => row.id === customer.id);
      assert.ok(found, `customer ${customer.id} should be listed`);
      return found;
    });
  }

  async function setCreatedAt(ids: string[], createdAt: string): Promise<void> {
    await t.db.query('UPDATE customers SET created_at = $1 WHERE id = ANY($2::uuid[])', [createdAt, ids]);
  }

  /**
   * One institution with six customers chosen so that every filter (and every wildcard a LIKE
   * could wrongly apply) selects a different subset.
   */
  async function seedDirectory() {
    const institution = await createInstitution(t, operator);
    const tag = unique('dir');
    const as = institution.owner;
    const alex = await createCustomer(t, as, {
      email: `Alex.Smith.${tag}@Mail.com`,
      firstName: 'Alex',
      lastName: 'Smith',
      phoneNumber: '+380991234567',
      externalId: `ext-alex-${tag}`,
      comment: 'VIP client since 2020',
    });
    const maria = await createCustomer(t, as, {
      firstName: 'Maria',
      lastName: 'Lopez',
      phoneNumber: '+33612345678',
      externalId: `ext-maria-${tag}`,
      comment: 'Referred by ALEX at the fair',
      referralId: alex.id,
    });
    const alexis = await createCustomer(t, as, {
      firstName: 'Alexis',
      lastName: 'Smithers',
      referralId: alex.id,
    });
    const percent = await createCustomer(t, as, {
      firstName: 'Per%cy',
      lastName: 'Kim',
      comment: '100% sure',
    });
    const underscore = await createCustomer(t, as, {
      firstName: 'Per_cy',
      lastName: 'Kim',
      comment: 'snake_case fan',
    });
    const plain = await createCustomer(t, as, { firstName: 'Percy', lastName: 'Kim', comment: '1000 sure' });
    for (const [customer, walletStatus] of [
      [maria, 'Blocked'],
      [underscore, 'Suspicious'],
    ] as const) {
      const updated = await post(t, '/v2/customer/update', { id: customer.id, walletStatus }, as);
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
    }
    const customers = { alex, maria, alexis, percent, underscore, plain };
    return { institution, tag, customers };
  }

  type Directory = Awaited<ReturnType<typeof seedDirectory>>;
  type Name = keyof Directory['customers'];

  const filterCases: {
    when: string;
    filter: (d: Directory) => Record<string, unknown>;
    then: Name[];
  }[] = [
    { when: 'email is exact', filter: (d) => ({ email: d.customers.alex.email }), then: ['alex'] },
    {
      when: 'email differs only in letter case',
      filter: (d) => ({ email: (d.customers.alex.email as string).toLowerCase() }),
      then: ['alex'],
    },
    {
      when: 'email is upper-cased',
      filter: (d) => ({ email: (d.customers.alex.email as string).toUpperCase() }),
      then: ['alex'],
    },
    {
      when: 'email is a part of a stored email',
      filter: (d) => ({ email: (d.customers.alex.email as string).slice(5) }),
      then: [],
    },
    { when: 'walletId', filter: (d) => ({ walletId: d.customers.maria.walletId }), then: ['maria'] },
    { when: 'externalId', filter: (d) => ({ externalId: `ext-maria-${d.tag}` }), then: ['maria'] },
    {
      when: 'externalId is only a part of one',
      filter: (d) => ({ externalId: `ext-maria-${d.tag}`.slice(0, -1) }),
      then: [],
    },
    { when: 'referralId', filter: (d) => ({ referralId: d.customers.alex.id }), then: ['maria', 'alexis'] },
    { when: 'phoneNumber is E.164', filter: () => ({ phoneNumber: '+380991234567' }), then: ['alex'] },
    {
      when: 'phoneNumber is written with spaces, brackets and dashes',
      filter: () => ({ phoneNumber: '+38 (099) 123-45-67' }),
      then: ['alex'],
    },
    { when: 'fullName is a first name', filter: () => ({ fullName: 'maria' }), then: ['maria'] },
    { when: 'fullName is in another case', filter: () => ({ fullName: 'SMITH' }), then: ['alex', 'alexis'] },
    {
      when: 'fullName spans the space between names',
      filter: () => ({ fullName: 'ex smi' }),
      then: ['alex'],
    },
    { when: 'fullName is a whole full name', filter: () => ({ fullName: 'Alex Smith' }), then: ['alex'] },
    { when: 'fullName is "%"', filter: () => ({ fullName: '%' }), then: ['percent'] },
    { when: 'fullName is "_"', filter: () => ({ fullName: '_' }), then: ['underscore'] },
    { when: 'fullName is "r_c"', filter: () => ({ fullName: 'r_c' }), then: ['underscore'] },
    { when: 'fullName is "r%c"', filter: () => ({ fullName: 'r%c' }), then: ['percent'] },
    { when: 'comment is a substring in another case', filter: () => ({ comment: 'alex' }), then: ['maria'] },
    { when: 'comment is "%"', filter: () => ({ comment: '%' }), then: ['percent'] },
    { when: 'comment is "0% s"', filter: () => ({ comment: '0% s' }), then: ['percent'] },
    { when: 'comment is "_"', filter: () => ({ comment: '_' }), then: ['underscore'] },
    { when: 'walletStatus is Blocked', filter: () => ({ walletStatus: 'Blocked' }), then: ['maria'] },
    {
      when: 'walletStatus is Suspicious',
      filter: () => ({ walletStatus: 'Suspicious' }),
      then: ['underscore'],
    },
    {
      when: 'walletStatus is Active',
      filter: () => ({ walletStatus: 'Active' }),
      then: ['alex', 'alexis', 'percent', 'plain'],
    },
    {
      when: 'fullName and referralId are combined',
      filter: (d) => ({ fullName: 'smith', referralId: d.customers.alex.id }),
      then: ['alexis'],
    },
    {
      when: 'fullName and phoneNumber are combined',
      filter: () => ({ fullName: 'smith', phoneNumber: '+380991234567' }),
      then: ['alex'],
    },
    {
      when: 'fullName and walletStatus are combined',
      filter: () => ({ fullName: 'kim', walletStatus: 'Active' }),
      then: ['percent', 'plain'],
    },
    {
      when: 'comment and walletStatus are combined',
      filter: () => ({ comment: 'sure', walletStatus: 'Active' }),
      then: ['percent', 'plain'],
    },
    {
      when: 'email and externalId each match a different customer',
      filter: (d) => ({ email: d.customers.alex.email, externalId: `ext-maria-${d.tag}` }),
      then: [],
    },
    {
      when: 'walletStatus and referralId match disjoint customers',
      filter: (d) => ({ walletStatus: 'Suspicious', referralId: d.customers.alex.id }),
      then: [],
    },
  ];

  for (const { when, filter, then } of filterCases) {
    const expected = then.length === 0 ? 'nothing' : then.join(' and ');
    it(`when the filter is ${when}, then it finds ${expected}, newest first`, async () => {
      const directory = await seedDirectory();
      const stored = await current(
        directory.institution,
        then.map((name) => directory.customers[name]),
      );

      const response = await find(directory.institution.owner, filter(directory));

      assert.deepEqual(
        idsOf(response),
        [...stored].sort(newestFirst).map((customer) => customer.id),
      );
      assert.deepEqual(response.body.data, [...stored].sort(newestFirst));
      assert.deepEqual(response.body.meta, { total: then.length, take: 20, skip: 0, nextCursor: null });
    });
  }

  it('when a customer is asked for by id, then details returns every field as stored', async () => {
    const institution = await createInstitution(t, operator);
    const referrer = await createCustomer(t, institution.owner);
    const created = await createCustomer(t, institution.owner, {
      email: `Full.Fields.${unique('x')}@Mail.com`,
      phoneNumber: '+38 (099) 123-45-67',
      comment: 'All fields set',
      externalId: unique('ext'),
      referralId: referrer.id,
      country: 'fr',
      itn: '633-123-92-12',
    });

    const response = await post(t, '/v2/customer/details', { id: created.id }, institution.owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const customer = response.body.data;
    assert.deepEqual(Object.keys(customer).sort(), customerKeys);
    assert.deepEqual(customer, created);
    assert.notEqual(customer.walletId, customer.id);
    assert.equal(customer.phoneNumber, '+380991234567');
    assert.equal(customer.country, 'FR');
    assert.equal(customer.referralId, referrer.id);
    assert.equal(customer.walletStatus, 'Active');
    assert.equal(customer.walletStatusSetBy, 'institution');
    assert.match(customer.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const stored = await openedCustomer(t, created.id);
    const [wallet] = await t.db.query<{ wallet_id: string; status: string }>(
      'SELECT w.id AS wallet_id, w.status FROM wallets w WHERE w.customer_id = $1',
      [created.id],
    );
    const row =
      stored === undefined || wallet === undefined
        ? undefined
        : {
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
            institution_id: stored.institution_id,
            wallet_id: wallet.wallet_id,
            status: wallet.status,
          };
    assert.deepEqual(row, {
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
      institution_id: institution.id,
      wallet_id: customer.walletId,
      status: customer.walletStatus,
    });
  });

  it('when a customer has no optional fields, then details returns them as null', async () => {
    const institution = await createInstitution(t, operator);
    const created = await createCustomer(t, institution.owner);

    const response = await post(t, '/v2/customer/details', { id: created.id }, institution.owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(Object.keys(response.body.data).sort(), customerKeys);
    for (const field of ['phoneNumber', 'comment', 'externalId', 'referralId', 'itn']) {
      assert.equal(response.body.data[field], null, field);
    }
  });

  it('when details asks for an unknown id, then it is 404 CUSTOMER_NOT_FOUND', async () => {
    const institution = await createInstitution(t, operator);
    await createCustomer(t, institution.owner);

    const response = await post(
      t,
      '/v2/customer/details',
      { id: '5b0c7e4e-9d7f-4a53-9a57-3f0f1d2c8b11' },
      institution.owner,
    );

    assertError(response, 404, 'CUSTOMER_NOT_FOUND');
  });

  it('when details gets an id that is not a UUID, then it is 400 VALIDATION_ERROR naming id', async () => {
    const institution = await createInstitution(t, operator);

    for (const id of ['not-a-uuid', '12345', '', 42]) {
      const response = await post(t, '/v2/customer/details', { id }, institution.owner);
      assertError(response, 400, 'VALIDATION_ERROR', 'id');
    }
  });

  it('when createdTo equals a returned createdAt, then that customer is included', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner);

    const response = await find(institution.owner, { createdTo: customer.createdAt });

    assert.deepEqual(idsOf(response), [customer.id]);
    assert.equal(response.body.meta.total, 1);
  });

  it('when createdFrom equals a returned createdAt, then that customer is included', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner);

    const response = await find(institution.owner, { createdFrom: customer.createdAt });

    assert.deepEqual(idsOf(response), [customer.id]);
    assert.equal(response.body.meta.total, 1);
  });

  it('when createdFrom and createdTo both equal a createdAt, then exactly that customer is found', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner);

    const response = await find(institution.owner, {
      createdFrom: customer.createdAt,
      createdTo: customer.createdAt,
    });

    assert.deepEqual(idsOf(response), [customer.id]);
  });

  it('when a bound is one millisecond past createdAt, then that customer is excluded', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner);
    const createdAt = Date.parse(customer.createdAt);
    const before = new Date(createdAt - 1).toISOString();
    const later = new Date(createdAt + 1).toISOString();

    const upTo = await find(institution.owner, { createdTo: before });
    const from = await find(institution.owner, { createdFrom: later });

    assert.deepEqual(upTo.body.data, []);
    assert.equal(upTo.body.meta.total, 0);
    assert.deepEqual(from.body.data, []);
    assert.equal(from.body.meta.total, 0);
  });

  it('when createdFrom and createdTo frame a range, then only customers inside it are found', async () => {
    const institution = await createInstitution(t, operator);
    const first = await createCustomer(t, institution.owner);
    const second = await createCustomer(t, institution.owner);
    const third = await createCustomer(t, institution.owner);
    await setCreatedAt([first.id], '2024-01-01T00:00:00.000Z');
    await setCreatedAt([second.id], '2024-01-02T00:00:00.000Z');
    await setCreatedAt([third.id], '2024-01-03T00:00:00.000Z');

    const from = await find(institution.owner, { createdFrom: '2024-01-02T00:00:00.000Z' });
    const upTo = await find(institution.owner, { createdTo: '2024-01-02T00:00:00.000Z' });
    const between = await find(institution.owner, {
      createdFrom: '2024-01-01T00:00:00.001Z',
      createdTo: '2024-01-02T23:59:59.999Z',
    });
    const withOffset = await find(institution.owner, {
      createdFrom: '2024-01-02T02:00:00.000+02:00',
      createdTo: '2024-01-02T02:00:00.000+02:00',
    });

    assert.deepEqual(idsOf(from), [third.id, second.id]);
    assert.deepEqual(idsOf(upTo), [second.id, first.id]);
    assert.deepEqual(idsOf(between), [second.id]);
    assert.deepEqual(idsOf(withOffset), [second.id]);
    assert.equal(between.body.data[0].createdAt, '2024-01-02T00:00:00.000Z');
  });

  it('when customers share a createdAt, then they are ordered by id descending after newer ones', async () => {
    const institution = await createInstitution(t, operator);
    const created = [];
    for (let index = 0; index < 5; index++) created.push(await createCustomer(t, institution.owner));
    // A tie in createdAt cannot be produced on purpose through the API, so the rows are set to one.
    await setCreatedAt(
      created.slice(0, 3).map((customer) => customer.id),
      '2024-03-01T10:00:00.000Z',
    );
    await setCreatedAt([created[3].id], '2024-03-01T10:00:00.001Z');
    await setCreatedAt([created[4].id], '2024-03-01T09:59:59.999Z');

    const response = await find(institution.owner, {});

    const tied = created
      .slice(0, 3)
      .map((customer) => customer.id)
      .sort()
      .reverse();
    assert.deepEqual(idsOf(response), [created[3].id, ...tied, created[4].id]);
    const stamps = response.body.data.map((customer: { createdAt: string }) => customer.createdAt);
    assert.deepEqual(stamps, [
      '2024-03-01T10:00:00.001Z',
      '2024-03-01T10:00:00.000Z',
      '2024-03-01T10:00:00.000Z',
      '2024-03-01T10:00:00.000Z',
      '2024-03-01T09:59:59.999Z',
    ]);
  });

  it('when customers are created one after another, then find lists the newest first', async () => {
    const institution = await createInstitution(t, operator);
    const created = [];
    for (let index = 0; index < 4; index++) created.push(await createCustomer(t, institution.owner));

    const response = await find(institution.owner, {});

    assert.deepEqual(response.body.data, [...(await current(institution, created))].sort(newestFirst));
    assert.equal(response.body.data.at(-1).id, created[0].id);
  });

  it('when pages are read with take and skip, then they do not overlap and together hold everyone', async () => {
    const institution = await createInstitution(t, operator);
    const created = [];
    for (let index = 0; index < 7; index++) created.push(await createCustomer(t, institution.owner));
    // Two ties, so the id tie-break has to keep the pages stable.
    await setCreatedAt([created[1].id, created[2].id, created[5].id], '2024-05-05T05:05:05.505Z');

    const everyone = await find(institution.owner, { take: 100 });
    const pages = [];
    for (const skip of [0, 3, 6, 9]) pages.push(await find(institution.owner, { take: 3, skip }));
    const again = await find(institution.owner, { take: 3, skip: 3 });

    const paged = pages.flatMap(idsOf);
    assert.deepEqual(
      pages.map((page) => page.body.data.length),
      [3, 3, 1, 0],
    );
    assert.deepEqual(
      pages.map((page) => page.body.meta),
      [0, 3, 6, 9].map((skip) => ({
        total: 7,
        take: 3,
        skip,
        nextCursor: skip === 0 ? paged[2] : skip === 3 ? paged[5] : null,
      })),
    );
    assert.equal(new Set(paged).size, 7);
    assert.deepEqual(paged, idsOf(everyone));
    assert.deepEqual([...paged].sort(), created.map((customer) => customer.id).sort());
    assert.deepEqual(idsOf(again), idsOf(pages[1]!));
  });

  it('when pages are read by cursor, then each starts right after the previous one and together they hold everyone', async () => {
    const institution = await createInstitution(t, operator);
    const created = [];
    for (let index = 0; index < 8; index++) created.push(await createCustomer(t, institution.owner));
    // Ties on createdAt, including across a page boundary, so the id tie-break must hold the cursor.
    await setCreatedAt(
      [created[1].id, created[2].id, created[3].id, created[6].id],
      '2024-05-05T05:05:05.505Z',
    );
    const everyone = idsOf(await find(institution.owner, { take: 100 }));

    const pages = [];
    let cursor: string | null | undefined;
    do {
      const page = await find(institution.owner, {
        take: 3,
        ...(cursor === undefined ? {} : { startingAfter: cursor }),
      });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      pages.push(page);
      cursor = page.body.meta.nextCursor as string | null;
    } while (cursor !== null && pages.length < 10);

    assert.deepEqual(
      pages.map((page) => page.body.data.length),
      [3, 3, 2],
    );
    assert.deepEqual(pages.flatMap(idsOf), everyone);
    assert.deepEqual(
      pages.map((page) => page.body.meta),
      [
        { total: 8, take: 3, skip: 0, nextCursor: everyone[2] },
        { total: 8, take: 3, skip: 0, nextCursor: everyone[5] },
        { total: 8, take: 3, skip: 0, nextCursor: null },
      ],
    );
  });

  it('when a cursor is combined with filters, then the page holds the next matches only', async () => {
    const institution = await createInstitution(t, operator);
    const created = [];
    for (let index = 0; index < 6; index++) {
      created.push(
        await createCustomer(
          t,
          institution.owner,
          index % 2 === 0 ? { comment: `cursor-probe ${index}` } : {},
        ),
      );
    }
    const matching = idsOf(await find(institution.owner, { comment: 'cursor-probe', take: 100 }));
    // The cursor may name any customer the caller can see, matching or not.
    const nonMatching = created.find((customer) => !matching.includes(customer.id))!;
    const everyone = idsOf(await find(institution.owner, { take: 100 }));

    const first = await find(institution.owner, { comment: 'cursor-probe', take: 2 });
    const second = await find(institution.owner, {
      comment: 'cursor-probe',
      take: 2,
      startingAfter: first.body.meta.nextCursor,
    });
    const afterOther = await find(institution.owner, {
      comment: 'cursor-probe',
      startingAfter: nonMatching.id,
    });

    assert.deepEqual(idsOf(first), matching.slice(0, 2));
    assert.deepEqual(idsOf(second), matching.slice(2));
    assert.equal(second.body.meta.nextCursor, null);
    assert.deepEqual(
      idsOf(afterOther),
      matching.filter((id) => everyone.indexOf(id) > everyone.indexOf(nonMatching.id)),
    );
  });

  it("when startingAfter names no customer of the caller's, then find is 404 CUSTOMER_NOT_FOUND; with skip or not a uuid, 400 VALIDATION_ERROR", async () => {
    const institution = await createInstitution(t, operator);
    const other = await createInstitution(t, operator);
    const mine = await createCustomer(t, institution.owner);
    const theirs = await createCustomer(t, other.owner);

    const unknown = await post(t, '/v2/customer/find', { startingAfter: randomUUID() }, institution.owner);
    const foreign = await post(t, '/v2/customer/find', { startingAfter: theirs.id }, institution.owner);
    const both = await post(t, '/v2/customer/find', { startingAfter: mine.id, skip: 0 }, institution.owner);
    const notUuid = await post(t, '/v2/customer/find', { startingAfter: 'abc' }, institution.owner);

    for (const [answer, status, code, field] of [
      [unknown, 404, 'CUSTOMER_NOT_FOUND', 'startingAfter'],
      [foreign, 404, 'CUSTOMER_NOT_FOUND', 'startingAfter'],
      [both, 400, 'VALIDATION_ERROR', 'skip'],
      [notUuid, 400, 'VALIDATION_ERROR', 'startingAfter'],
    ] as const) {
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.code, code);
      assert.deepEqual(
        answer.body.details.map((detail: { field: string }) => detail.field),
        [field],
      );
    }
    assert.equal(foreign.body.message, unknown.body.message, 'a foreign cursor reads as an unknown one');
  });

  it('when take and skip are left out, then a page of 20 from the start is returned', async () => {
    const institution = await createInstitution(t, operator);
    for (let index = 0; index < 21; index++) await createCustomer(t, institution.owner);

    const defaults = await find(institution.owner, {});
    const largest = await find(institution.owner, { take: 100 });
    const smallest = await find(institution.owner, { take: 1, skip: 20 });

    assert.equal(defaults.body.data.length, 20);
    assert.deepEqual(defaults.body.meta, { total: 21, take: 20, skip: 0, nextCursor: idsOf(largest)[19] });
    assert.deepEqual(idsOf(defaults), idsOf(largest).slice(0, 20));
    assert.equal(largest.body.data.length, 21);
    assert.deepEqual(largest.body.meta, { total: 21, take: 100, skip: 0, nextCursor: null });
    assert.deepEqual(idsOf(smallest), idsOf(largest).slice(20));
    assert.deepEqual(smallest.body.meta, { total: 21, take: 1, skip: 20, nextCursor: null });
  });

  const invalidBodies: { when: string; body: Record<string, unknown>; field: string }[] = [
    { when: 'take is 0', body: { take: 0 }, field: 'take' },
    { when: 'take is 101', body: { take: 101 }, field: 'take' },
    { when: 'take is the string "10"', body: { take: '10' }, field: 'take' },
    { when: 'take is 2.5', body: { take: 2.5 }, field: 'take' },
    { when: 'skip is -1', body: { skip: -1 }, field: 'skip' },
    { when: 'skip is the string "0"', body: { skip: '0' }, field: 'skip' },
    { when: 'an unknown filter is sent', body: { nickname: 'alex' }, field: 'nickname' },
    { when: 'walletId is not a UUID', body: { walletId: 'wallet-1' }, field: 'walletId' },
    { when: 'referralId is not a UUID', body: { referralId: 'ref-1' }, field: 'referralId' },
    { when: 'createdFrom is not a timestamp', body: { createdFrom: 'yesterday' }, field: 'createdFrom' },
    { when: 'createdTo is a number', body: { createdTo: 1709000000000 }, field: 'createdTo' },
    { when: 'email is a number', body: { email: 42 }, field: 'email' },
    { when: 'walletStatus is unknown', body: { walletStatus: 'Frozen' }, field: 'walletStatus' },
  ];

  for (const { when, body, field } of invalidBodies) {
    it(`when ${when}, then find is 400 VALIDATION_ERROR naming ${field}`, async () => {
      const institution = await createInstitution(t, operator);
      await createCustomer(t, institution.owner);

      const response = await post(t, '/v2/customer/find', body, institution.owner);

      assertError(response, 400, 'VALIDATION_ERROR', field);
    });
  }

  it("when one institution filters by another's values, then it never sees the other's customers", async () => {
    const mine = await createInstitution(t, operator);
    const theirs = await createInstitution(t, operator);
    const own = await createCustomer(t, mine.owner, { firstName: 'Mine', lastName: 'Only' });
    const tag = unique('other');
    const referrer = await createCustomer(t, theirs.owner, {
      email: `otto.${tag}@other.test`,
      firstName: 'Otto',
      lastName: 'Other',
      phoneNumber: '+380671112233',
      externalId: `ext-${tag}`,
      comment: `comment ${tag}`,
    });
    const referred = await createCustomer(t, theirs.owner, { referralId: referrer.id });
    await post(t, '/v2/customer/update', { id: referrer.id, walletStatus: 'Suspicious' }, theirs.owner);

    const filters: Record<string, unknown>[] = [
      { email: referrer.email },
      { walletId: referrer.walletId },
      { walletId: referred.walletId },
      { externalId: referrer.externalId },
      { referralId: referrer.id },
      { phoneNumber: '+380671112233' },
      { fullName: 'Otto Other' },
      { comment: tag },
      { walletStatus: 'Suspicious' },
      { createdFrom: referrer.createdAt, fullName: 'otto' },
    ];
    for (const filter of filters) {
      const response = await find(mine.owner, filter);
      assert.deepEqual(response.body.data, [], JSON.stringify(filter));
      assert.equal(response.body.meta.total, 0, JSON.stringify(filter));
    }
    const everything = await find(mine.owner, { take: 100 });
    assert.deepEqual(idsOf(everything), [own.id]);
    assert.equal(everything.body.meta.total, 1);
    const theirsFind = await find(theirs.owner, { email: referrer.email });
    assert.deepEqual(idsOf(theirsFind), [referrer.id]);
  });

  it("when one institution asks for another's customer by id, then details is 404 CUSTOMER_NOT_FOUND", async () => {
    const mine = await createInstitution(t, operator);
    const theirs = await createInstitution(t, operator);
    const theirCustomer = await createCustomer(t, theirs.owner);

    const response = await post(t, '/v2/customer/details', { id: theirCustomer.id }, mine.owner);

    assertError(response, 404, 'CUSTOMER_NOT_FOUND');
  });

  it('when an API key has only customers:read, then it can find and get details but not create', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner, { firstName: 'Reada', lastName: 'Bility' });
    const key = await createApiKey(t, institution, ['customers:read']);
    const [stored] = await t.db.query<{ scopes: string[] }>('SELECT scopes FROM api_keys WHERE id = $1', [
      key.id,
    ]);
    assert.deepEqual(stored?.scopes, ['customers:read']);

    const found = await find({ apiKey: key.apiKey }, { fullName: 'reada' });
    const details = await post(t, '/v2/customer/details', { id: customer.id }, { apiKey: key.apiKey });
    const create = await post(
      t,
      '/v2/customer/create',
      {
        email: `${unique('ro')}@mail.com`,
        firstName: 'No',
        lastName: 'Way',
        country: 'FR',
        verificationDocumentId: 'X1',
        residenceAddress: 'Somewhere',
      },
      { apiKey: key.apiKey },
    );

    assert.deepEqual(found.body.data, [customer]);
    assert.deepEqual(found.body.meta, { total: 1, take: 20, skip: 0, nextCursor: null });
    assert.equal(details.status, 200, JSON.stringify(details.body));
    assert.deepEqual(details.body.data, customer);
    assertError(create, 403, 'FORBIDDEN');
    const rows = await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [institution.id]);
    assert.equal(rows.length, 1);
  });

  it('when find or details is called without credentials, then it is 401 UNAUTHORIZED', async () => {
    const find401 = await post(t, '/v2/customer/find', {});
    const details401 = await post(t, '/v2/customer/details', { id: 'not-a-uuid' });

    assertError(find401, 401, 'UNAUTHORIZED');
    assertError(details401, 401, 'UNAUTHORIZED');
  });
});
