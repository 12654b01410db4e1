// Typed errors with the contract's stable codes. Services throw these; the one error handler
// (error-handler.ts) renders them. Nothing chooses a status by matching message text.

export type ErrorCode =
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
  | 'SERVICE_UNAVAILABLE';

export const statusOf: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  REFERRAL_NOT_FOUND: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  WALLET_STATUS_LOCKED: 403,
  CUSTOMER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  CUSTOMER_EMAIL_TAKEN: 409,
  CUSTOMER_EXTERNAL_ID_TAKEN: 409,
  CUSTOMER_ERASED: 409,
  CUSTOMER_ON_HOLD: 409,
  USER_EMAIL_TAKEN: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  VERSION_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

export interface FieldProblem {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldProblem[],
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = statusOf[code];
  }
}

export const validationError = (field: string, message: string): AppError =>
  new AppError('VALIDATION_ERROR', `Invalid request: ${field} ${message}`, [{ field, message }]);

export const unauthorized = (message = 'Missing or invalid credentials'): AppError =>
  new AppError('UNAUTHORIZED', message);

export const forbidden = (message = 'Your role or key scope does not allow this action'): AppError =>
  new AppError('FORBIDDEN', message);

export const customerNotFound = (): AppError => new AppError('CUSTOMER_NOT_FOUND', 'Customer not found');

export const serviceUnavailable = (
  message = 'The database cannot be reached; nothing was changed',
): AppError => new AppError('SERVICE_UNAVAILABLE', message);
