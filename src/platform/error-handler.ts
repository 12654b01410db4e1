// The one place where anything thrown becomes the contract's error body. Typed AppErrors carry
// their code; database constraint violations are translated by constraint name; Fastify's own
// errors (validation, body parsing) by their error code. Anything else is a 500 whose details go
// only to the log, never to the client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { DatabaseUnavailableError, isSqlError } from '../db/database-errors.js';
import { AppError, customerNotFound, serviceUnavailable, type FieldProblem } from './errors.js';
import type { ErrorResponse } from './http-schemas.js';
import { RateLimitedError } from './rate-limits.js';

/** Constraint name (see /migrations) → the error it means for the client. */
const constraintErrors: Readonly<Record<string, () => AppError>> = {
  customers_email_index_key: () =>
    new AppError('CUSTOMER_EMAIL_TAKEN', 'A customer with this email already exists', [
      { field: 'email', message: 'is already used by another customer' },
    ]),
  customers_external_id_key: () =>
    new AppError('CUSTOMER_EXTERNAL_ID_TAKEN', 'A customer with this externalId already exists', [
      { field: 'externalId', message: 'is already used by another customer' },
    ]),
  customers_referral_fkey: () =>
    new AppError('REFERRAL_NOT_FOUND', 'referralId names no customer of this institution', [
      { field: 'referralId', message: 'names no customer of this institution' },
    ]),
  users_institution_email_key: () =>
    new AppError('USER_EMAIL_TAKEN', 'A user with this email already exists in the institution', [
      { field: 'email', message: 'is already used by another user of the institution' },
    ]),
  // A wallet whose customer vanished cannot happen (customers are never deleted); if it did, the
  // customer is simply not there.
  wallets_customer_fkey: customerNotFound,
};

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

const formatMessages: Readonly<Record<string, string>> = {
  email: 'must be a valid email address',
  uuid: 'must be a UUID',
  'date-time': 'must be an ISO 8601 date-time with a time zone, such as 2024-02-26T16:36:14.499Z',
  'iso-country': 'must be an assigned ISO 3166-1 alpha-2 country code, such as FR',
};

function describe(error: AjvError): FieldProblem {
  const fromPath = error.instancePath.split('/')[1] ?? '';
  switch (error.keyword) {
    case 'required':
      return { field: String(error.params.missingProperty), message: 'is required' };
    case 'additionalProperties':
      return { field: String(error.params.additionalProperty), message: 'is not a known field' };
    case 'x-requires':
      return {
        field: String(error.params.property),
        message: `can only be sent with ${String(error.params.missingProperty)}`,
      };
    case 'x-excludes':
      return {
        field: String(error.params.property),
        message: `cannot be combined with ${String(error.params.other)}`,
      };
    case 'x-immutable':
      return { field: String(error.params.field), message: 'cannot be updated' };
    case 'type': {
      const expected = String(error.params.type).replace(',null', ' or null');
      return {
        field: fromPath || 'body',
        message: `must be ${expected === 'integer' ? 'an integer' : 'a ' + expected}`,
      };
    }
    case 'format':
      return {
        field: fromPath,
        message:
          formatMessages[String(error.params.format)] ?? `must be a valid ${String(error.params.format)}`,
      };
    case 'minLength':
      return {
        field: fromPath,
        message:
          error.params.limit === 1
            ? 'must not be empty'
            : `must be at least ${String(error.params.limit)} characters`,
      };
    case 'maxLength':
      return { field: fromPath, message: `must be at most ${String(error.params.limit)} characters` };
    case 'enum':
      return {
        field: fromPath,
        message: `must be one of ${(error.params.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    default:
      return { field: fromPath || 'body', message: error.message ?? 'is invalid' };
  }
}

export function validationFailed(errors: readonly AjvError[]): AppError {
  const seen = new Set<string>();
  const details: FieldProblem[] = [];
  // A non-updatable field is also an unknown one; say the more useful thing.
  const ordered = [...errors].sort(
    (a, b) => Number(b.keyword === 'x-immutable') - Number(a.keyword === 'x-immutable'),
  );
  for (const problem of ordered.map(describe)) {
    if (seen.has(problem.field)) continue;
    seen.add(problem.field);
    details.push(problem);
  }
  const first = details[0] ?? { field: 'body', message: 'is invalid' };
  return new AppError('VALIDATION_ERROR', `Invalid request: ${first.field} ${first.message}`, details);
}

/** Maps anything thrown to an AppError; undefined means "unexpected" (a 500). */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof DatabaseUnavailableError) return serviceUnavailable();
  if (isSqlError(error)) {
    const translate = error.constraint === undefined ? undefined : constraintErrors[error.constraint];
    return translate?.();
  }
  const fastifyError = error as Partial<FastifyError>;
  if (Array.isArray(fastifyError.validation)) return validationFailed(fastifyError.validation);
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'The request body is larger than 64 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_JSON', 'The request body must be a JSON object');
    default:
      break;
  }
  // Other client errors raised by the HTTP layer itself (a malformed URL, say).
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new AppError('NOT_FOUND', 'Route not found');
  }
  return undefined;
}

export function errorBody(error: AppError, requestId: string): ErrorResponse {
  return {
    statusCode: error.statusCode,
    error: STATUS_CODES[error.statusCode] ?? 'Error',
    code: error.code,
    message: error.message,
    requestId,
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const known = toAppError(error);
  if (known === undefined) {
    request.log.error({ err: error }, 'unexpected error');
  } else if (known.code === 'SERVICE_UNAVAILABLE') {
    request.log.warn({ err: error }, 'database unavailable');
  }
  const appError = known ?? new AppError('INTERNAL_ERROR', 'Internal error; quote the request id to support');
  if (appError.code === 'RATE_LIMITED') {
    // Whole seconds, at least 1 (RFC 9110 delay-seconds).
    const seconds = appError instanceof RateLimitedError ? appError.retryAfterSeconds : 1;
    reply.header('retry-after', String(Math.max(1, Math.ceil(seconds))));
  }
  // Set here too: errors raised before the onRequest hooks (a malformed URL) skip them.
  reply.header('x-request-id', request.id);
  return reply.status(appError.statusCode).send(errorBody(appError, request.id));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new AppError('NOT_FOUND', 'Route not found')),
  );
}
