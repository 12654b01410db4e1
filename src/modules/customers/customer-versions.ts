// Optimistic concurrency. A customer's `version` starts at 1 and grows by one with every change;
// its strong ETag is `"<id>:<version>"`, so that tags of different customers never match. An
// update may name the version it was prepared from, in the `If-Match` header (`*` or one such
// ETag) or as `expectedVersion` in the body; it is checked under the update's row lock.
import type { FastifyReply } from 'fastify';
import { AppError, validationError } from '../../platform/errors.js';

/** The version an update expects; `customerId` is set when an ETag named the customer. */
export interface Precondition {
  version: number;
  customerId?: string;
}

export const etagOf = (customer: { id: string; version: number }): string =>
  `"${customer.id}:${customer.version}"`;

/** Sets the ETag of the one customer a route answers with. */
export function withEtag<T extends { id: string; version: number }>(reply: FastifyReply, customer: T): T {
  void reply.header('etag', etagOf(customer));
  return customer;
}

const etagPattern = /^"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([1-9][0-9]{0,9})"$/i;

/**
 * The precondition of an update from its If-Match header and expectedVersion field, or undefined
 * for none (`*` alone asks only that the customer exist, which every update requires anyway).
 * A malformed header, or a header and a field that name different versions, is a 400.
 */
export function preconditionOf(
  ifMatch: string | undefined,
  expectedVersion: number | undefined,
): Precondition | undefined {
  const fromBody = expectedVersion === undefined ? undefined : { version: expectedVersion };
  if (ifMatch === undefined || ifMatch.trim() === '*') return fromBody;
  const [, customerId, version] = etagPattern.exec(ifMatch.trim()) ?? [];
  if (customerId === undefined || version === undefined) {
    throw validationError(
      'If-Match',
      'must be * or one ETag as returned in the customer\'s ETag header, such as "<id>:<version>"',
    );
  }
  const fromHeader = { customerId: customerId.toLowerCase(), version: Number(version) };
  if (fromBody !== undefined && fromBody.version !== fromHeader.version) {
    throw validationError(
      'expectedVersion',
      `is ${fromBody.version} but the If-Match header names version ${fromHeader.version}`,
    );
  }
  return fromHeader;
}

/** Throws 409 VERSION_CONFLICT unless the (locked) customer is what the precondition expects. */
export function checkPrecondition(
  precondition: Precondition | undefined,
  current: { id: string; version: number },
): void {
  if (precondition === undefined) return;
  const now = `The customer is now at version ${current.version} (ETag ${etagOf(current)})`;
  if (precondition.customerId !== undefined && precondition.customerId !== current.id.toLowerCase()) {
    throw new AppError(
      'VERSION_CONFLICT',
      `The If-Match ETag is another customer's. ${now}; nothing was changed`,
    );
  }
  if (precondition.version !== current.version) {
    throw new AppError(
      'VERSION_CONFLICT',
      `${now}, not ${precondition.version}: it changed since you read it, and nothing was changed. ` +
        'Read it again and retry with the new version',
    );
  }
}
