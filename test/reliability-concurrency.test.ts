// Concurrency attacks: many requests at once on one email, one customer, one wallet, and on
// referrals to customers created a moment earlier. On PostgreSQL the requests run at once through
// the pool; on PGlite (one connection) they interleave between statements and serialise in
// transactions. The rules must hold on both, and each attack records what it tried and what broke.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';
import { recordTrial } from './support/report.js';
import { openedCustomers } from './support/stored.js';

const CREATE = '/v2/customer/create';
const UPDATE = '/v2/customer/update';
const DETAILS = '/v2/customer/details';
const ADMIN_STATUS = '/v2/admin/wallet/status';

type Status = 'Active' | 'Blocked' | 'Suspicious';

/** `email` with its letters' case flipped by the bits of `variant`, so each racer sends another spelling. */
function caseVariant(email: string, variant: number): string {
  let bit = 0;
  return email.replace(/[a-z]/gi, (letter) =>
    ((variant >> bit++) & 1) === 1 ? letter.toUpperCase() : letter.toLowerCase(),
  );
}

const tagOf = () => randomBytes(4).toString('hex');

describe(`concurrency attacks (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });
  after(() => t.close());

  /** An institution and its two ways in: the owner's token and an API key, used in turn. */
  async function partner(): Promise<{ institution: Institution; as: (index: number) => Credentials }> {
    const institution = await createInstitution(t, operator);
    const key = await createApiKey(t, institution);
    return {
      institution,
      as: (index) => (index % 2 === 0 ? institution.owner : { apiKey: key.apiKey }),
    };
  }

  /** Customers without exactly one wallet of their institution, and wallets without their customer. */
  async function walletMismatches(): Promise<number> {
    const [row] = await t.db.query<{ count: number }>(
      `SELECT (SELECT count(*)::int FROM customers c
                WHERE (SELECT count(*) FROM wallets w
                        WHERE w.customer_id = c.id AND w.institution_id = c.institution_id) <> 1)
            + (SELECT count(*)::int FROM wallets w
                WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = w.customer_id)) AS count`,
    );
    return row!.count;
  }

  it('when 100 creates race with one email in 100 letter cases, then one customer and one wallet exist and the 99 others get 409 CUSTOMER_EMAIL_TAKEN', async () => {
    const { institution, as } = await partner();
    const email = `Concurrent.Racer.${tagOf()}@Mail.Example.com`;
    const bodies = Array.from({ length: 100 }, (_, index) =>
      customerInput({ email: caseVariant(email, index) }),
    );
    assert.equal(new Set(bodies.map((body) => body.email)).size, 100, 'each racer spells it differently');

    const responses = await Promise.all(bodies.map((body, index) => post(t, CREATE, body, as(index))));

    const winners = responses.filter((response) => response.status === 201);
    const wrongLosers = responses.filter(
      (response) =>
        response.status !== 201 &&
        !(
          response.status === 409 &&
          response.body.code === 'CUSTOMER_EMAIL_TAKEN' &&
          response.body.details?.[0]?.field === 'email'
        ),
    );
    const customers = (await openedCustomers(t, 'c.institution_id = $1', [institution.id]))
      .filter((row) => String(row.email).toLowerCase() === email.toLowerCase())
      .map((row) => ({ id: row.id }));
    const wallets = await t.db.query<{ id: string; customer_id: string }>(
      'SELECT id, customer_id FROM wallets WHERE institution_id = $1',
      [institution.id],
    );
    // Racers that broke the rule (winners beyond one, or the wrong refusal), and the stored rows
    // when they are not the one winner's customer and wallet.
    const storedAsAnswered =
      winners.length === 1 &&
      customers.length === 1 &&
      customers[0]!.id === winners[0]!.body.data.id &&
      wallets.length === 1 &&
      wallets[0]!.id === winners[0]!.body.data.walletId;
    const failures = Math.abs(winners.length - 1) + wrongLosers.length + (storedAsAnswered ? 0 : 1);
    recordTrial({
      suite: 'concurrency',
      check: 'one email in mixed case created 100 times at once: one customer and wallet, 99 × 409',
      tried: responses.length,
      failures,
    });

    assert.equal(winners.length, 1, JSON.stringify(responses.map((response) => response.status)));
    assert.deepEqual(wrongLosers, []);
    const winner = winners[0]!.body.data;
    assert.deepEqual(customers, [{ id: winner.id }]);
    assert.deepEqual(wallets, [{ id: winner.walletId, customer_id: winner.id }]);
    assert.equal(await walletMismatches(), 0);
  });

  it("when 100 updates of one customer race, each setting ten fields to values of its own, then all answer 200 with their own values and the stored customer is exactly one request's, never a mix", async () => {
    const { institution, as } = await partner();
    const tag = tagOf();
    const countries = ['FR', 'DE', 'ES', 'IT', 'PT', 'NL', 'BE', 'AT', 'PL', 'SE'];
    const valuesOf = (index: number) => ({
      email: `update.${index}.${tag}@mail.com`,
      phoneNumber: `+336123456${String(index).padStart(2, '0')}`,
      firstName: `First${index}`,
      lastName: `Last${index}`,
      comment: `comment ${index} of ${tag}`,
      externalId: `ext-${tag}-${index}`,
      country: countries[index % countries.length]!,
      verificationDocumentId: `DOC${index}`,
      residenceAddress: `${index} Rue de la Paix, 75002 Paris`,
      itn: `itn-${index}`,
    });
    const fields = Object.keys(valuesOf(0)) as (keyof ReturnType<typeof valuesOf>)[];
    const customer = await createCustomer(t, institution.owner);
    const requests = Array.from({ length: 100 }, (_, index) => ({ id: customer.id, ...valuesOf(index) }));

    const responses = await Promise.all(requests.map((body, index) => post(t, UPDATE, body, as(index))));

    const differs = (shown: Record<string, unknown>, index: number) =>
      fields.some((field) => shown[field] !== valuesOf(index)[field]);
    const notOwn = responses.filter(
      (response, index) => response.status !== 200 || differs(response.body.data, index),
    );
    const [stored] = (await openedCustomers(t, 'c.id = $1', [customer.id])).map((row) => ({
      email: row.email,
      phoneNumber: row.phone_number,
      firstName: row.first_name,
      lastName: row.last_name,
      comment: row.comment,
      externalId: row.external_id,
      country: row.country,
      verificationDocumentId: row.verification_document_id,
      residenceAddress: row.residence_address,
      itn: row.itn,
    }));
    const storedIs = requests.map((_, index) => index).filter((index) => !differs(stored!, index));
    const details = await post(t, DETAILS, { id: customer.id }, institution.owner);
    const winner = storedIs.length === 1 ? responses[storedIs[0]!]!.body.data : undefined;
    const latest = responses
      .filter((response) => response.status === 200)
      .map((response) => response.body.data.updatedAt as string)
      .sort()
      .at(-1);
    const failures =
      notOwn.length +
      (storedIs.length === 1 ? 0 : 1) +
      (winner !== undefined && JSON.stringify(details.body.data) === JSON.stringify(winner) ? 0 : 1) +
      (winner?.updatedAt === latest ? 0 : 1);
    recordTrial({
      suite: 'concurrency',
      check: '100 updates of one customer at once: every field from one request, never a mix',
      tried: responses.length,
      failures,
    });

    assert.deepEqual(
      notOwn.map((response) => [response.status, response.body]),
      [],
      'every update answers 200 with its own values',
    );
    assert.equal(storedIs.length, 1, `stored customer is a mix of requests: ${JSON.stringify(stored)}`);
    assert.equal(details.status, 200);
    assert.deepEqual(details.body.data, winner, 'details show the last applied update as it answered');
    // The last update applied is the one whose answer carries the latest updatedAt.
    assert.equal(winner.updatedAt, latest);
  });

  it("when partners change a wallet status in parallel with the operator's lock, then the lock wins, every later change is refused with 403 WALLET_STATUS_LOCKED, and the history ends on the lock", async () => {
    const { institution, as } = await partner();
    const ROUNDS = 5;
    const RACING = 50;
    const LATE = 10;
    let tried = 0;
    // Each request that broke a rule counts once, however many ways; a broken round-level rule once.
    const failed = new Set<string>();
    const problems: string[] = [];
    const fail = (what: string, message: string) => {
      failed.add(what);
      problems.push(message);
    };

    for (let round = 0; round < ROUNDS; round++) {
      const lockStatus: Status = round % 2 === 0 ? 'Suspicious' : 'Blocked';
      const partnerStatuses = (['Active', 'Blocked', 'Suspicious'] as const).filter((s) => s !== lockStatus);
      const customer = await createCustomer(t, institution.owner);
      let answered = 0;
      const partnerBody = (index: number) => ({
        id: customer.id,
        // Not tied to the caller (index % 2), so that both kinds of caller ask for both statuses.
        walletStatus: partnerStatuses[Math.floor(index / 2) % 2]!,
        walletStatusReason: `round ${round} partner ${index}`,
        comment: `round ${round} partner ${index}`,
      });
      const partnerCall = (index: number) =>
        post(t, UPDATE, partnerBody(index), as(index)).then((response) => ({ response, at: ++answered }));

      // The lock is sent in the middle of the partners' changes, all of them at once.
      const lockReason = `round ${round} operator lock`;
      const firstHalf = Array.from({ length: RACING / 2 }, (_, index) => partnerCall(index));
      const locking = post(
        t,
        ADMIN_STATUS,
        { walletId: customer.walletId, status: lockStatus, reason: lockReason },
        operator,
      ).then((response) => ({ response, at: ++answered }));
      const secondHalf = Array.from({ length: RACING / 2 }, (_, index) => partnerCall(RACING / 2 + index));
      const { response: lock, at: lockAt } = await locking;
      // Sent only once the lock has answered: each must be refused.
      const late = Array.from({ length: LATE }, (_, index) => partnerCall(RACING + index));
      const partners = await Promise.all([...firstHalf, ...secondHalf, ...late]);
      tried += partners.length + 1;

      if (lock.status !== 200 || lock.body.data.walletStatus !== lockStatus) {
        fail(`${round} lock`, `round ${round}: lock answered ${lock.status} ${JSON.stringify(lock.body)}`);
      }
      const history = await t.db.query<{
        old_status: Status;
        new_status: Status;
        old_set_by: string;
        new_set_by: string;
        actor_type: string;
        reason: string;
      }>(
        `SELECT old_status, new_status, old_set_by, new_set_by, actor_type, reason
           FROM wallet_status_changes WHERE wallet_id = $1 ORDER BY seq`,
        [customer.walletId],
      );
      const [wallet] = await t.db.query<{ status: Status; status_set_by: string; comment: string | null }>(
        `SELECT w.status, w.status_set_by, c.comment FROM wallets w JOIN customers c ON c.id = w.customer_id
          WHERE w.id = $1`,
        [customer.walletId],
      );
      const lockRow = history.findIndex((row) => row.reason === lockReason);
      const rowOf = new Map(history.map((row, index) => [row.reason, index]));

      partners.forEach(({ response, at }, index) => {
        const reason = partnerBody(index).walletStatusReason;
        const lateOrAfterLock = index >= RACING || at > lockAt;
        if (response.status === 403 && response.body.code === 'WALLET_STATUS_LOCKED') {
          if (rowOf.has(reason)) fail(reason, `round ${round}: refused change ${index} was recorded`);
          return;
        }
        if (response.status !== 200) {
          fail(
            reason,
            `round ${round}: change ${index} answered ${response.status} ${JSON.stringify(response.body)}`,
          );
          return;
        }
        if (lateOrAfterLock)
          fail(reason, `round ${round}: change ${index} answered 200 after the lock answered`);
        const shown = response.body.data;
        if (
          shown.walletStatus !== partnerBody(index).walletStatus ||
          shown.walletStatusSetBy !== 'institution'
        ) {
          fail(
            reason,
            `round ${round}: change ${index} answered 200 showing ${shown.walletStatus}/${shown.walletStatusSetBy}`,
          );
        }
        const row = rowOf.get(reason);
        if (row !== undefined && row > lockRow)
          fail(reason, `round ${round}: change ${index} recorded after the lock`);
      });

      // The record is one chain from the new wallet's state to the stored one, ending on the lock.
      let state = { status: 'Active' as Status, setBy: 'institution' };
      history.forEach((row, index) => {
        if (row.old_status !== state.status || row.old_set_by !== state.setBy) {
          fail(
            `${round} history`,
            `round ${round}: history row ${index} starts from ${row.old_status}/${row.old_set_by}`,
          );
        }
        state = { status: row.new_status, setBy: row.new_set_by };
      });
      const last = history.at(-1);
      if (last === undefined || last.reason !== lockReason || last.actor_type !== 'operator') {
        fail(
          `${round} history`,
          `round ${round}: the last recorded change is not the lock: ${JSON.stringify(last)}`,
        );
      }
      if (wallet?.status !== lockStatus || wallet.status_set_by !== 'operator') {
        fail(`${round} wallet`, `round ${round}: stored wallet ${JSON.stringify(wallet)}`);
      }
      if (state.status !== wallet?.status || state.setBy !== wallet.status_set_by) {
        fail(
          `${round} history`,
          `round ${round}: history ends on ${state.status}/${state.setBy}, wallet is ${JSON.stringify(wallet)}`,
        );
      }
      // A refused request changes none of its other fields: the comment is the created customer's
      // (none) or an accepted request's.
      const possibleComments = [
        null,
        ...partners
          .map(({ response }, index) => (response.status === 200 ? partnerBody(index).comment : undefined))
          .filter((comment) => comment !== undefined),
      ];
      if (!possibleComments.includes(wallet?.comment ?? null)) {
        fail(
          `${round} comment`,
          `round ${round}: stored comment ${wallet?.comment} is not from an accepted request`,
        );
      }
      const details = await post(t, DETAILS, { id: customer.id }, institution.owner);
      if (
        details.body.data?.walletStatus !== lockStatus ||
        details.body.data?.walletStatusSetBy !== 'operator'
      ) {
        fail(`${round} details`, `round ${round}: details show ${JSON.stringify(details.body.data)}`);
      }
    }
    recordTrial({
      suite: 'concurrency',
      check: "partner wallet-status changes racing the operator's lock: the lock holds",
      tried,
      failures: failed.size,
    });
    assert.deepEqual(problems, []);
  });

  it('when creates stream in overlapping waves naming customers just created, unknown ids, wallet ids and another institution’s customers as referrals, then no stored customer refers to a missing one and each refusal is 400 REFERRAL_NOT_FOUND', async () => {
    const a = await partner();
    const b = await partner();
    const TOTAL = 180;
    const WAVE = 20;
    type Kind = 'latest' | 'earlier' | 'none' | 'never' | 'wallet' | 'other institution' | 'b';
    const kinds: Kind[] = ['latest', 'earlier', 'never', 'wallet', 'other institution', 'none', 'b'];
    const createdA: { id: string; walletId: string }[] = [];
    const createdB: string[] = [];
    const attempts: {
      kind: Kind;
      body: Record<string, unknown>;
      referralId: string | undefined;
      response?: Response;
    }[] = [];

    const referralFor = (kind: Kind): string | undefined => {
      switch (kind) {
        case 'latest':
          return createdA.at(-1)?.id;
        case 'earlier':
          return createdA[Math.floor(Math.random() * createdA.length)]?.id;
        case 'none':
          return undefined;
        case 'never':
          return randomUUID();
        case 'wallet':
          return createdA.at(-1)?.walletId ?? randomUUID();
        case 'other institution':
          return createdB.at(-1) ?? randomUUID();
        case 'b':
          return createdB.at(-1);
      }
    };

    // A window of WAVE creates in flight: each new one is sent as soon as one answers, naming the
    // customers that have just been created while their wave-mates are still being written.
    const inFlight = new Set<Promise<void>>();
    for (let index = 0; index < TOTAL; index++) {
      if (inFlight.size >= WAVE) await Promise.race(inFlight);
      const kind = kinds[index % kinds.length]!;
      const referralId = referralFor(kind);
      const body = customerInput(referralId === undefined ? {} : { referralId });
      const attempt = { kind, body, referralId } as (typeof attempts)[number];
      attempts.push(attempt);
      const side = kind === 'b' ? b : a;
      const sent = post(t, CREATE, body, side.as(index)).then((response) => {
        attempt.response = response;
        if (response.status !== 201) return;
        if (kind === 'b') createdB.push(response.body.data.id);
        else createdA.push({ id: response.body.data.id, walletId: response.body.data.walletId });
      });
      const tracked: Promise<void> = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);

    const stored = (
      await openedCustomers(t, 'c.institution_id = ANY($1::uuid[])', [[a.institution.id, b.institution.id]])
    ).map((row) => ({
      id: row.id,
      email: row.email as string,
      referral_id: row.referral_id as string | null,
      institution_id: row.institution_id,
    }));
    const byEmail = new Map(stored.map((row) => [row.email, row]));
    const problems: string[] = [];
    for (const { kind, body, referralId, response } of attempts) {
      const row = byEmail.get(body.email as string);
      const found: string[] = [];
      if (kind === 'never' || kind === 'wallet' || kind === 'other institution') {
        const refused =
          response?.status === 400 &&
          response.body.code === 'REFERRAL_NOT_FOUND' &&
          response.body.details?.[0]?.field === 'referralId';
        if (!refused) found.push(`answered ${response?.status} ${JSON.stringify(response?.body)}`);
        if (row !== undefined) found.push('was stored');
      } else {
        const institutionId = kind === 'b' ? b.institution.id : a.institution.id;
        if (response?.status !== 201) {
          found.push(`answered ${response?.status} ${JSON.stringify(response?.body)}`);
        } else if (response.body.data.referralId !== (referralId ?? null)) {
          found.push(`answered with referralId ${response.body.data.referralId}`);
        }
        if (row === undefined) found.push('answered 201 but not stored');
        else if (row.referral_id !== (referralId ?? null) || row.institution_id !== institutionId) {
          found.push(`stored as ${JSON.stringify(row)}`);
        }
      }
      if (found.length > 0) {
        problems.push(`${kind} referral ${referralId}: ${found.join('; ')}`);
      }
    }
    const [dangling] = await t.db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM customers c
        WHERE c.referral_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM customers r WHERE r.id = c.referral_id AND r.institution_id = c.institution_id)`,
    );
    if (dangling!.count !== 0) problems.push(`${dangling!.count} customers refer to no customer of theirs`);
    const created = attempts.filter((attempt) => attempt.response?.status === 201).length;
    if (stored.length !== created)
      problems.push(`${stored.length} customers stored for ${created} answered 201`);
    const mismatches = await walletMismatches();
    if (mismatches !== 0) problems.push(`${mismatches} customers or wallets without their pair`);

    recordTrial({
      suite: 'concurrency',
      check: 'referrals to customers created a moment earlier, unknown ids, wallets, other institutions',
      tried: attempts.length,
      // One entry per request that broke a rule, and one per table-wide rule that broke.
      failures: problems.length,
    });
    assert.deepEqual(problems, []);
    assert.ok(createdA.length > 0 && createdB.length > 0, 'both institutions created customers');
  });
});
