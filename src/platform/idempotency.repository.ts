// Idempotency keys (migration 0011), always addressed by the caller's scope and the key's hash.
// Every statement runs on its own, outside any handler's transaction, so that a claim is committed
// (and seen by every instance) before the handler starts. Times are the database's clock, so all
// instances agree on when a claim is abandoned or an entry expired.
import { prepared, type Queryable } from '../db/database.js';

/** How long a completed response is replayed. */
export const IDEMPOTENCY_RETENTION = '24 hours';

export interface IdempotencyEntry extends Record<string, unknown> {
  route: string;
  request_hash: string;
  claim_id: string;
  status_code: number | null;
  headers: Record<string, string> | null;
  body: Uint8Array | null;
  /** The customer the stored response held was erased since: the response is gone. */
  erased: boolean;
  /** The claim is older than the lease and was never completed: its request is presumed dead. */
  abandoned: boolean;
}

export interface Claim {
  scope: string;
  keyHash: string;
  claimId: string;
}

const claimSql = prepared(
  'idempotency_claim',
  `INSERT INTO idempotency_keys (scope, key_hash, route, request_hash, claim_id)
   VALUES ($1, $2, $3, $4, $5)
   ON CONFLICT (scope, key_hash) DO UPDATE
      SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash, claim_id = EXCLUDED.claim_id,
          created_at = now(), claimed_at = now(), completed_at = NULL, status_code = NULL,
          headers = NULL, body = NULL, customer_id = NULL, erased = false
    WHERE idempotency_keys.created_at <= now() - interval '${IDEMPOTENCY_RETENTION}'
       OR (idempotency_keys.completed_at IS NULL
           AND idempotency_keys.claimed_at <= now() - $6::integer * interval '1 millisecond'
           AND idempotency_keys.route = EXCLUDED.route
           AND idempotency_keys.request_hash = EXCLUDED.request_hash)
   RETURNING claim_id`,
);

/**
 * Claims the key for one attempt, atomically: inserts it, or takes over an expired entry or an
 * abandoned claim of the same request. False when another attempt holds it or completed it.
 */
export async function claimIdempotencyKey(
  db: Queryable,
  claim: Claim & { route: string; requestHash: string; leaseMs: number },
): Promise<boolean> {
  const rows = await db.query(claimSql, [
    claim.scope,
    claim.keyHash,
    claim.route,
    claim.requestHash,
    claim.claimId,
    claim.leaseMs,
  ]);
  return rows.length === 1;
}

const findSql = prepared(
  'idempotency_find',
  `SELECT route, request_hash, claim_id, status_code, headers, body, erased,
          completed_at IS NULL AND claimed_at <= now() - $3::integer * interval '1 millisecond' AS abandoned
     FROM idempotency_keys
    WHERE scope = $1 AND key_hash = $2 AND created_at > now() - interval '${IDEMPOTENCY_RETENTION}'`,
);

/** The unexpired entry of a key, if any. */
export async function findIdempotencyKey(
  db: Queryable,
  scope: string,
  keyHash: string,
  leaseMs: number,
): Promise<IdempotencyEntry | undefined> {
  const [row] = await db.query<IdempotencyEntry>(findSql, [scope, keyHash, leaseMs]);
  return row;
}

// A response that holds a customer is stored after its change committed, so an erasure may have
// come between them, and have blanked that customer's stored responses before this one was
// stored. The customer's row is therefore read under a lock that waits for an erasure in progress
// (which holds the row FOR UPDATE): a response stored after its customer was erased is stored
// blank (`erased`), and one stored first is found by the erasure's blanking, which runs later.
const completeSql = prepared(
  'idempotency_complete',
  `WITH c AS (
     SELECT erased_at IS NOT NULL AS erased FROM customers WHERE id = $7::uuid FOR KEY SHARE
   )
   UPDATE idempotency_keys
      SET completed_at = now(), status_code = $4,
          headers = CASE WHEN (SELECT erased FROM c) THEN '{}'::jsonb ELSE $5::text::jsonb END,
          body = CASE WHEN (SELECT erased FROM c) THEN ''::bytea ELSE $6::bytea END,
          customer_id = $7::uuid, erased = coalesce((SELECT erased FROM c), false)
    WHERE scope = $1 AND key_hash = $2 AND claim_id = $3 AND completed_at IS NULL`,
);

/** Stores the response of the attempt that holds the claim. */
export async function completeIdempotencyKey(
  db: Queryable,
  claim: Claim,
  response: {
    statusCode: number;
    headers: Record<string, string>;
    body: Buffer;
    /** The customer whose data the body holds, so that its erasure can blank it. */
    customerId: string | null;
  },
): Promise<void> {
  await db.query(completeSql, [
    claim.scope,
    claim.keyHash,
    claim.claimId,
    response.statusCode,
    JSON.stringify(response.headers),
    response.body,
    response.customerId,
  ]);
}

const releaseSql = prepared(
  'idempotency_release',
  'DELETE FROM idempotency_keys WHERE scope = $1 AND key_hash = $2 AND claim_id = $3 AND completed_at IS NULL',
);

/** Gives the key up, so that a retry runs the request again. */
export async function releaseIdempotencyKey(db: Queryable, claim: Claim): Promise<void> {
  await db.query(releaseSql, [claim.scope, claim.keyHash, claim.claimId]);
}

/** Deletes the entries past their retention; returns how many. */
export async function deleteExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  const rows = await db.query(
    `DELETE FROM idempotency_keys WHERE created_at <= now() - interval '${IDEMPOTENCY_RETENTION}' RETURNING 1`,
  );
  return rows.length;
}
