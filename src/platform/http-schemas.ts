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
