// The data access log: who looked at which of a customer's masked fields, and when. Written in the
// transaction that reads the customer for them, so no reveal goes unrecorded.
import type { Queryable } from '../../db/database.js';
import type { Actor } from '../../platform/principal.js';

export interface AccessEntry {
  id: string;
  institutionId: string;
  customerId: string;
  actor: { type: 'operator' | 'user'; id: string; name: string };
  fields: string[];
  requestId: string;
  occurredAt: Date;
}

export async function insertAccess(
  db: Queryable,
  entry: {
    institutionId: string;
    customerId: string;
    actor: Actor;
    fields: readonly string[];
    requestId: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO data_access_log (institution_id, customer_id, actor_type, actor_id, actor_name, fields, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      entry.institutionId,
      entry.customerId,
      entry.actor.type,
      entry.actor.id,
      entry.actor.name,
      entry.fields,
      entry.requestId,
    ],
  );
}

export interface AccessFilters {
  /** One institution's customers only (always set for an institution's own view). */
  institutionId?: string;
  actorType?: 'operator' | 'user';
  customerId?: string;
  from?: string;
  to?: string;
}

/** Newest first, `take` at most, after the entry `before` names (a cursor) when given. */
export async function findAccess(
  db: Queryable,
  filters: AccessFilters,
  page: { take: number; before?: { occurredAt: Date; id: string } },
): Promise<AccessEntry[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.institutionId !== undefined) add((p) => `institution_id = ${p}`, filters.institutionId);
  if (filters.actorType !== undefined) add((p) => `actor_type = ${p}`, filters.actorType);
  if (filters.customerId !== undefined) add((p) => `customer_id = ${p}`, filters.customerId);
  if (filters.from !== undefined) add((p) => `occurred_at >= ${p}`, filters.from);
  if (filters.to !== undefined) add((p) => `occurred_at <= ${p}`, filters.to);
  if (page.before !== undefined) {
    params.push(page.before.occurredAt, page.before.id);
    where.push(`(occurred_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(page.take);
  const rows = await db.query<{
    id: string;
    institution_id: string;
    customer_id: string;
    actor_type: 'operator' | 'user';
    actor_id: string;
    actor_name: string;
    fields: string[];
    request_id: string;
    occurred_at: Date;
  }>(
    `SELECT id, institution_id, customer_id, actor_type, actor_id, actor_name, fields, request_id, occurred_at
       FROM data_access_log
      ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY occurred_at DESC, id DESC
      LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    institutionId: row.institution_id,
    customerId: row.customer_id,
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    fields: row.fields,
    requestId: row.request_id,
    occurredAt: row.occurred_at,
  }));
}
