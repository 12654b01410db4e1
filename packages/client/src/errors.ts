// One error class for everything the API answers with an error, carrying the contract's error
// body: `code` (stable, machine-readable), `details` (one entry per rejected field), `requestId`
// (the x-request-id to quote to support) and the HTTP status.

/** The contract's error codes (a server newer than this client may send others). */
export type KnownErrorCode =
  | 'VALIDATION_ERROR'
  | 'INVALID_JSON'
  | 'REFERRAL_NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'INVALID_CREDENTIALS'
  | 'FORBIDDEN'
  | 'WALLET_STATUS_LOCKED'
  | 'CUSTOMER_NOT_FOUND'
  | 'NOT_FOUND'
  | 'CUSTOMER_EMAIL_TAKEN'
  | 'CUSTOMER_EXTERNAL_ID_TAKEN'
  | 'CUSTOMER_ERASED'
  | 'CUSTOMER_ON_HOLD'
  | 'USER_EMAIL_TAKEN'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'VERSION_CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR'
  | 'SERVICE_UNAVAILABLE'
  /** No answer at all: the connection failed or timed out (statusCode 0). */
  | 'CONNECTION_ERROR'
  /** A webhook whose signature, timestamp or body did not verify (verifyWebhook). */
  | 'WEBHOOK_VERIFICATION_FAILED';

export type ErrorCode = KnownErrorCode | (string & {});

export interface ErrorDetail {
  field: string;
  message: string;
}

export class CustomerCoreError extends Error {
  override readonly name: string = 'CustomerCoreError';
  /** The HTTP status; 0 when no answer came. */
  readonly statusCode: number;
  readonly code: ErrorCode;
  /** One entry per rejected field for validation errors; empty otherwise. */
  readonly details: ErrorDetail[];
  /** The request's x-request-id: quote it to support. */
  readonly requestId: string | undefined;
  /** The answer's headers (retry-after, etag, ...), when there was an answer. */
  readonly headers: Headers | undefined;

  constructor(init: {
    statusCode: number;
    code: ErrorCode;
    message: string;
    details?: ErrorDetail[];
    requestId?: string | undefined;
    headers?: Headers;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.statusCode = init.statusCode;
    this.code = init.code;
    this.details = init.details ?? [];
    this.requestId = init.requestId;
    this.headers = init.headers;
  }

  /** The field the error names first, if any (`email` for CUSTOMER_EMAIL_TAKEN). */
  get field(): string | undefined {
    return this.details[0]?.field;
  }

  /** Reads an error answer's contract body; an answer without one still gives a typed error. */
  static async fromResponse(response: Response): Promise<CustomerCoreError> {
    const requestId = response.headers.get('x-request-id') ?? undefined;
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    const parsed = (typeof body === 'object' && body !== null ? body : {}) as {
      code?: unknown;
      message?: unknown;
      details?: unknown;
      requestId?: unknown;
    };
    return new CustomerCoreError({
      statusCode: response.status,
      code: typeof parsed.code === 'string' ? parsed.code : `HTTP_${response.status}`,
      message: typeof parsed.message === 'string' ? parsed.message : `HTTP ${response.status}`,
      details: Array.isArray(parsed.details) ? (parsed.details as ErrorDetail[]) : [],
      requestId: typeof parsed.requestId === 'string' ? parsed.requestId : requestId,
      headers: response.headers,
    });
  }
}
