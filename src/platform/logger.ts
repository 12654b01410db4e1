// Structured JSON logs. Nothing personal or secret is ever logged: request bodies are never
// logged at all, credentials headers are redacted, and errors are reduced to their type, message,
// code and stack (database errors carry the failing row's values in `detail`, `params`, `query`).
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from '../config.js';

interface SafeError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SafeError;
}

export function safeError(error: unknown, depth = 0): SafeError {
  if (!(error instanceof Error)) return { type: typeof error, message: 'non-error thrown' };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.cause !== undefined && depth < 3 ? { cause: safeError(error.cause, depth + 1) } : {}),
  };
}

export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { service: 'customercore' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: safeError, error: safeError },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["api-key"]',
        'req.headers.cookie',
        'headers.authorization',
        'headers["api-key"]',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
  };
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(level)) : pino(loggerOptions(level), destination);
}
