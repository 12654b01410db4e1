// What the command prints, and the exit codes scripts can rely on. Results go to stdout (as JSON
// with --json); errors to stderr, with the contract's code and the request id to quote.
import { CustomerCoreError } from '@customercore/client';

export const EXIT = {
  ok: 0,
  /** The API refused the request (a contract error: validation, conflict, not found, ...). */
  refused: 1,
  /** The command line itself is wrong (unknown option, missing argument). */
  usage: 2,
  /** No credentials, or they were refused (401, 403). */
  auth: 3,
  /** The service could not be reached or failed (connection, 5xx): safe to retry. */
  unavailable: 4,
  /** An import finished, but some rows were rejected (see its report). */
  rowsRejected: 5,
  /** Interrupted (Ctrl-C); an import resumes where it stopped when run again. */
  interrupted: 130,
} as const;

export class UsageError extends Error {}

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

function human(value: unknown, indent = ''): string {
  if (value === null || value === undefined) return `${indent}-`;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}(none)`;
    return value.map((item) => human(item, indent)).join(`\n${indent}---\n`);
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const width = Math.max(...entries.map(([key]) => key.length));
    return entries
      .map(([key, item]) =>
        typeof item === 'object' && item !== null && !Array.isArray(item)
          ? `${indent}${key}:\n${human(item, `${indent}  `)}`
          : `${indent}${key.padEnd(width)}  ${Array.isArray(item) ? item.map(String).join(', ') : item === null ? '-' : typeof item === 'string' ? item : JSON.stringify(item)}`,
      )
      .join('\n');
  }
  return `${indent}${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

export function printResult(output: Output, value: unknown): void {
  output.out(output.json ? JSON.stringify(value, null, 2) : human(value));
}

/** Prints an error and returns the exit code it means. */
export function printError(output: Output, error: unknown): number {
  if (error instanceof UsageError) {
    output.err(
      output.json
        ? JSON.stringify({ error: { code: 'USAGE', message: error.message } })
        : `error: ${error.message}`,
    );
    return EXIT.usage;
  }
  if (error instanceof CustomerCoreError) {
    if (output.json) {
      output.err(
        JSON.stringify({
          error: {
            statusCode: error.statusCode,
            code: error.code,
            message: error.message,
            details: error.details,
            requestId: error.requestId ?? null,
          },
        }),
      );
    } else {
      const details = error.details.map((detail) => `\n  ${detail.field}: ${detail.message}`).join('');
      const request =
        error.requestId === undefined ? '' : `\n  request id: ${error.requestId} (quote it to support)`;
      output.err(`error: ${error.code}: ${error.message}${details}${request}`);
    }
    if (error.statusCode === 401 || error.statusCode === 403) return EXIT.auth;
    if (error.statusCode === 0 || error.statusCode >= 500) return EXIT.unavailable;
    return EXIT.refused;
  }
  const message = error instanceof Error ? error.message : String(error);
  output.err(output.json ? JSON.stringify({ error: { code: 'CLI_ERROR', message } }) : `error: ${message}`);
  return EXIT.refused;
}
