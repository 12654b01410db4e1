// Schema pieces shared by every module: ids, timestamps, the success envelope and the one error
// body, with the error responses each route documents in OpenAPI.
import { Type, type Static, type TSchema } from 'typebox';
import { statusOf, type ErrorCode } from './errors.js';

export const Uuid = (description?: string) =>
  Type.String({ format: 'uuid', ...(description === undefined ? {} : { description }) });

export const Timestamp = (description?: string) =>
  Type.String({
    format: 'date-time',
    examples: ['2024-02-26T16:36:14.499Z'],
    ...(description === undefined ? {} : { description }),
  });

/** A string that may also be `null` (returned as null when unset; sent as null to clear it). */
export const NullableString = (options: Record<string, unknown> = {}) =>
  Type.Unsafe<string | null>({ type: 'string', nullable: true, ...options });

export const Data = <T extends TSchema>(data: T) => Type.Object({ data }, { additionalProperties: false });

export const Page = Type.Object(
  {
    total: Type.Integer({ description: 'How many match the filters in all' }),
    take: Type.Integer(),
    skip: Type.Integer(),
  },
  { additionalProperties: false },
);

export const Take = Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size (1-100)' });
// Capped at 2^53 - 1: beyond it JSON numbers lose precision, and PostgreSQL's OFFSET (a bigint)
// would fail on 1e19 or 1e308.
export const Skip = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  default: 0,
  description: 'How many to skip',
});

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String({ description: 'The HTTP reason phrase of statusCode' }),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    message: Type.String(),
    requestId: Type.String(),
    details: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'Present for validation errors: one entry per rejected field',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

const errorResponse = (codes: ErrorCode[]) =>
  Type.Unsafe<ErrorResponse>({
    ...ErrorResponse,
    description: codes.map((code) => `\`${code}\``).join(', '),
  });

/**
 * The error responses of a route, for the OpenAPI document: always the request-level ones
 * (validation, auth, body size and type, internal, database), plus the route's own codes.
 */
export function errorResponses(options: { auth: boolean; codes?: ErrorCode[] }) {
  const codes: ErrorCode[] = [
    'VALIDATION_ERROR',
    'INVALID_JSON',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
    'INTERNAL_ERROR',
    'SERVICE_UNAVAILABLE',
    ...(options.auth ? (['UNAUTHORIZED', 'FORBIDDEN', 'RATE_LIMITED'] as const) : []),
    ...(options.codes ?? []),
  ];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(statusOf[code], [...(byStatus.get(statusOf[code]) ?? []), code]);
  return Object.fromEntries([...byStatus].map(([status, list]) => [status, errorResponse(list)]));
}

/** The `Idempotency-Key` request header of every write route (src/platform/idempotency.ts). */
export const IdempotencyKeyHeader = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x20-\\x7E]+$',
  description:
    'Optional, 1-255 printable ASCII characters; a random UUID is best. The first completed response ' +
    "(2xx or 4xx) to a request with this key is stored for 24 hours, per caller's institution (operators: " +
    'one operator scope). Repeating the request with the same key and body returns that response again, ' +
    'with `idempotent-replayed: true`, and changes nothing; the same key with another body or on another ' +
    'route is `422 IDEMPOTENCY_KEY_REUSED`; a repeat while the first is still running is ' +
    '`409 IDEMPOTENCY_IN_PROGRESS`. A 5xx is not stored: the request may be retried with the same key.',
  examples: ['5f0c2d1e-8b7a-4c3d-9e6f-1a2b3c4d5e6f'],
});

/** The response header of a replayed answer. */
export const IdempotentReplayedHeader = Type.String({
  enum: ['true'],
  description:
    'Present when this is the stored response of an earlier request with the same Idempotency-Key: ' +
    "the status and body are the first response's, except that an error body's `requestId` is this " +
    "request's own, like its `x-request-id` header.",
});

/**
 * A write route's OpenAPI schema with idempotency documented: the request header, the replay
 * header on its success responses, and the two error codes. For the document only; the header is
 * checked by the idempotency hook.
 */
export function withIdempotencyDocumented(schema: Record<string, unknown>): Record<string, unknown> {
  const headers = (schema.headers ?? { type: 'object', properties: {} }) as {
    properties?: Record<string, unknown>;
  };
  const responses: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) };
  for (const [status, response] of Object.entries(responses)) {
    if (!status.startsWith('2')) continue;
    const existing = response as { headers?: Record<string, unknown> };
    responses[status] = {
      ...existing,
      headers: { ...existing.headers, 'idempotent-replayed': IdempotentReplayedHeader },
    };
  }
  for (const code of ['IDEMPOTENCY_IN_PROGRESS', 'IDEMPOTENCY_KEY_REUSED'] as const) {
    const status = String(statusOf[code]);
    const existing = responses[status] as { description?: string } | undefined;
    responses[status] =
      existing === undefined
        ? errorResponse([code])
        : { ...existing, description: `${existing.description ?? ''}, \`${code}\`` };
  }
  return {
    ...schema,
    headers: {
      ...headers,
      type: 'object',
      properties: { ...headers.properties, 'Idempotency-Key': IdempotencyKeyHeader },
    },
    response: responses,
  };
}
