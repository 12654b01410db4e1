// Crash durability: the service is killed with SIGKILL (no shutdown code runs) in the middle of a
// stream of creates and updates, and restarted on the same data, several times over. Whatever it
// acknowledged must be there exactly; whatever it never answered must have happened wholly or not
// at all; no customer may be left without its wallet.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Queryable } from '../src/db/database.js';
import { engine } from './support/app.js';
import { recordTrial } from './support/report.js';
import {
  call,
  createServiceData,
  setUpPartner,
  startService,
  stopService,
  type Partner,
  type Service,
  type ServiceData,
} from './support/service.js';

const CLIENTS = 8;
const KILLS = 3;
/** A kill comes after a random number of acknowledged writes in this range. */
const ACKNOWLEDGED_BEFORE_KILL = { min: 150, max: 400 };

/**
 * mulberry32. A failure names its seed; CRASH_SEED=<seed> replays the same operations and kill
 * points (where the kill lands among the requests in flight still varies).
 */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Tracked {
  /** The only client that updates this customer, so its updates never overlap. */
  owner: number;
  /** The customer as last acknowledged (a create's or update's answer). */
  acknowledged: any;
  /** Acknowledged wallet status changes, each of which must have exactly one history row. */
  statusChanges: number;
  /** An update sent but never answered (the process died): applied wholly or not at all. */
  unanswered?: Record<string, unknown>;
}

/**
 * What an update must have produced if it was applied: every field it sent, nothing else, and the
 * next version (an update that changed nothing leaves the customer as acknowledged, checked first).
 */
function afterUpdate(before: any, update: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, walletStatusReason: _reason, ...fields } = update;
  return {
    ...before,
    ...fields,
    ...(fields.walletStatus === undefined ? {} : { walletStatusSetBy: 'institution' }),
    version: (before.version as number) + 1,
  };
}

function sameExceptUpdatedAt(expected: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  const { updatedAt: _a, ...left } = expected;
  const { updatedAt: _b, ...right } = actual;
  return isDeepStrictEqual(left, right);
}

describe(`crash durability (${engine})`, () => {
  let data: ServiceData;
  before(async () => {
    data = await createServiceData();
  });
  after(async () => {
    await data.remove();
  });

  it('when the process is killed mid-stream of creates and updates and restarted, again and again, then every acknowledged write is there exactly, unanswered ones applied wholly or not at all, and every customer has its wallet', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 32));
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const countries = ['FR', 'UA', 'DE', 'PL'];
    const addresses = ['1 Rue de Rivoli, Paris', '5 Khreshchatyk St, Kyiv', '10 Unter den Linden, Berlin'];
    const phones = ['+380991234567', '+33612345678', null];
    // The per-key budget (6,000 a minute, 200 a second) would otherwise refuse most of the stream.
    const env = {
      ...data.env,
      RATE_LIMIT_API_KEY_PER_MINUTE: '1000000',
      RATE_LIMIT_API_KEY_PER_SECOND: '1000000',
    };

    const customers = new Map<string, Tracked>();
    const owned: string[][] = Array.from({ length: CLIENTS }, () => []);
    let unansweredCreates: { owner: number; input: Record<string, unknown> }[] = [];
    const problems: string[] = [];
    let sent = 0;
    let created = 0;
    let updated = 0;
    let kills = 0;
    /** Answers other than success: with valid input on a live process there should be none. */
    let unexpectedAnswers = 0;
    /** Requests the kill left without an answer, and how many of them had been applied. */
    let unanswered = 0;
    let unansweredApplied = 0;

    /** Runs the clients until `target` writes are acknowledged, then SIGKILLs the process. */
    async function driveAndKill(service: Service, partner: Partner, target: number): Promise<void> {
      let acknowledged = 0;
      let killed = false;
      const acknowledge = () => {
        acknowledged++;
        if (acknowledged >= target && !killed) {
          killed = true;
          service.child.kill('SIGKILL');
        }
      };
      const client = async (owner: number) => {
        while (!killed) {
          const mine = owned[owner]!;
          sent++;
          if (mine.length === 0 || random() < 0.35) {
            const n = ++created;
            const input: Record<string, unknown> = {
              email: `crash-${seed}-${n}@mail.test`,
              firstName: 'Crash',
              lastName: `Create-${n}`,
              country: pick(countries),
              verificationDocumentId: 'FV633452',
              residenceAddress: pick(addresses),
              externalId: `ext-${seed}-${n}`,
              comment: `created ${n}`,
              ...(random() < 0.5 ? { phoneNumber: pick(phones.slice(0, 2)) } : {}),
            };
            let answer;
            try {
              answer = await call(service, '/v2/customer/create', input, partner.headers);
            } catch {
              unanswered++;
              unansweredCreates.push({ owner, input });
              return;
            }
            if (answer.status !== 201) {
              unexpectedAnswers++;
              problems.push(`create ${n} answered ${answer.status} ${JSON.stringify(answer.body)}`);
              continue;
            }
            customers.set(answer.body.data.id, { owner, acknowledged: answer.body.data, statusChanges: 0 });
            mine.push(answer.body.data.id);
            acknowledge();
          } else {
            const id = pick(mine);
            const tracked = customers.get(id)!;
            const k = ++updated;
            const update: Record<string, unknown> = {
              id,
              firstName: pick(['Ann', 'Bob', 'Cem']),
              lastName: `Update-${k}`,
              comment: random() < 0.3 ? null : `updated ${k}`,
              country: pick(countries),
            };
            if (random() < 0.3) update.residenceAddress = pick(addresses);
            if (random() < 0.3) update.phoneNumber = pick(phones);
            if (random() < 0.4) {
              update.walletStatus = pick(['Active', 'Blocked', 'Suspicious']);
              update.walletStatusReason = `reason ${k}`;
            }
            let answer;
            try {
              answer = await call(service, '/v2/customer/update', update, partner.headers);
            } catch {
              unanswered++;
              tracked.unanswered = update;
              return;
            }
            if (answer.status !== 200) {
              unexpectedAnswers++;
              problems.push(`update ${k} answered ${answer.status} ${JSON.stringify(answer.body)}`);
              continue;
            }
            if (answer.body.data.walletStatus !== tracked.acknowledged.walletStatus) tracked.statusChanges++;
            tracked.acknowledged = answer.body.data;
            acknowledge();
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, owner) => client(owner)));
      // The clients stop before the target only when the process failed on its own.
      assert.ok(
        killed,
        `the clients stopped after ${acknowledged} of ${target} writes:\n${service.output()}`,
      );
      await service.exited;
      assert.equal(service.child.signalCode, 'SIGKILL');
      kills++;
    }

    /** Compares what the restarted service holds with what was acknowledged; returns the failures. */
    async function verify(service: Service, partner: Partner): Promise<number> {
      let failures = 0;
      const stored = new Map<string, any>();
      for (let skip = 0; ; skip += 100) {
        const page = await call(service, '/v2/customer/find', { take: 100, skip }, partner.headers);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        for (const customer of page.body.data) stored.set(customer.id, customer);
        if (skip + 100 >= page.body.meta.total) break;
      }
      for (const [id, tracked] of customers) {
        const actual = stored.get(id);
        stored.delete(id);
        if (actual !== undefined && isDeepStrictEqual(actual, tracked.acknowledged)) {
          delete tracked.unanswered;
          continue;
        }
        if (
          actual !== undefined &&
          tracked.unanswered !== undefined &&
          sameExceptUpdatedAt(afterUpdate(tracked.acknowledged, tracked.unanswered), actual)
        ) {
          if (actual.walletStatus !== tracked.acknowledged.walletStatus) tracked.statusChanges++;
          tracked.acknowledged = actual;
          delete tracked.unanswered;
          unansweredApplied++;
          continue;
        }
        failures++;
        problems.push(
          `customer ${id}: acknowledged ${JSON.stringify(tracked.acknowledged)}` +
            (tracked.unanswered === undefined ? '' : ` (unanswered ${JSON.stringify(tracked.unanswered)})`) +
            `, found ${JSON.stringify(actual ?? 'nothing')}`,
        );
        if (actual === undefined) {
          customers.delete(id);
        } else {
          tracked.acknowledged = actual;
          delete tracked.unanswered;
        }
      }
      // An unanswered create either happened wholly (with the values sent) or not at all.
      const byEmail = new Map([...stored.values()].map((customer) => [customer.email, customer]));
      for (const { owner, input } of unansweredCreates) {
        const actual = byEmail.get(input.email);
        if (actual === undefined) continue;
        stored.delete(actual.id);
        unansweredApplied++;
        const expected = {
          phoneNumber: null,
          comment: null,
          externalId: null,
          referralId: null,
          itn: null,
          ...input,
          walletStatus: 'Active',
          walletStatusSetBy: 'institution',
        };
        const mismatched = Object.entries(expected).filter(([field, value]) => actual[field] !== value);
        if (mismatched.length > 0) {
          failures++;
          problems.push(`unanswered create ${JSON.stringify(input)} stored as ${JSON.stringify(actual)}`);
        }
        customers.set(actual.id, { owner, acknowledged: actual, statusChanges: 0 });
        owned[owner]!.push(actual.id);
      }
      unansweredCreates = [];
      // Anything else was never acknowledged nor sent without answer: a refused create that stayed.
      for (const extra of stored.values()) {
        failures++;
        problems.push(`customer ${extra.id} exists but no create for it succeeded or went unanswered`);
      }
      return failures;
    }

    /** What only SQL can see: customers without wallets, and the wallet status history. */
    async function verifyRows(db: Queryable, merchantId: string): Promise<number> {
      let failures = 0;
      const orphans = await db.query<{ id: string }>(
        `SELECT c.id FROM customers c
          WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.customer_id = c.id)`,
      );
      failures += orphans.length;
      for (const orphan of orphans) problems.push(`customer ${orphan.id} has no wallet`);
      const rows = await db.query<{ id: string; changes: number; last: string | null }>(
        `SELECT c.id, count(s.id)::int AS changes,
                (array_agg(s.new_status ORDER BY s.seq DESC))[1] AS last
           FROM customers c
           JOIN wallets w ON w.customer_id = c.id
           LEFT JOIN wallet_status_changes s ON s.wallet_id = w.id
          WHERE c.institution_id = $1
          GROUP BY c.id`,
        [merchantId],
      );
      if (rows.length !== customers.size) {
        failures += Math.abs(rows.length - customers.size);
        problems.push(`${rows.length} customer rows, ${customers.size} expected`);
      }
      for (const row of rows) {
        const tracked = customers.get(row.id);
        if (tracked === undefined) continue;
        const lastStatus = row.last ?? 'Active';
        if (row.changes !== tracked.statusChanges || lastStatus !== tracked.acknowledged.walletStatus) {
          failures++;
          problems.push(
            `customer ${row.id}: ${row.changes} status changes ending ${lastStatus}, ` +
              `${tracked.statusChanges} ending ${tracked.acknowledged.walletStatus} acknowledged`,
          );
        }
      }
      return failures;
    }

    const startedAt = Date.now();
    let service = await startService(env);
    const partner = await setUpPartner(service, data.operator());
    let failures = 0;
    for (let round = 0; round < KILLS; round++) {
      const { min, max } = ACKNOWLEDGED_BEFORE_KILL;
      await driveAndKill(service, partner, min + Math.floor(random() * (max - min + 1)));
      // Restarting on the same data must work: PGlite's directory lock died with the process.
      service = await startService(env);
      failures += await verify(service, partner);
    }
    assert.equal(await stopService(service), 0);
    failures += await data.inspect((db) => verifyRows(db, partner.merchantId));
    failures += unexpectedAnswers;

    recordTrial({
      suite: 'crash durability',
      check: `acknowledged creates/updates survive SIGKILL exactly, unanswered ones wholly or not at all, every customer has its wallet (${CLIENTS} clients, ${customers.size} customers, ${unanswered} unanswered of which ${unansweredApplied} applied)`,
      tried: sent,
      faults: kills,
      failures,
    });
    assert.ok(customers.size > 0 && kills === KILLS);
    assert.equal(
      failures,
      0,
      `seed ${seed}, ${Date.now() - startedAt} ms:\n${problems.slice(0, 20).join('\n')}`,
    );
  });
});
