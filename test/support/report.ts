// What the reliability suite tried and what held, and what every test's service wrote to its log.
// Test files run in separate processes, so both are written as files under the results
// directory; scripts/test.ts prints the figures and scans the logs once every file has run.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Set by scripts/test.ts; a test file run on its own (node --test) writes to a directory of its own. */
export const resultsDir =
  process.env.CUSTOMERCORE_TEST_RESULTS ?? path.join(tmpdir(), `customercore-test-${process.pid}`);

export interface Trial {
  /** The attack, e.g. 'concurrency', 'crash durability', 'fuzzing'. */
  suite: string;
  /** What was checked, as a rule. */
  check: string;
  /** Requests (or operations) sent. */
  tried: number;
  /** Faults injected: kills, outages, cut connections. */
  faults?: number;
  /** Requests or checks that broke the rule: 0 when it held. */
  failures: number;
}

/** Records one attack's figures for the run's summary (the engine is added). */
export function recordTrial(trial: Trial): void {
  mkdirSync(resultsDir, { recursive: true });
  const engine = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
  appendFileSync(path.join(resultsDir, 'trials.jsonl'), JSON.stringify({ ...trial, engine }) + '\n');
}

/** Request and response fields whose values are personal data or secrets. */
const SENSITIVE_FIELDS = new Set([
  'email',
  'ownerEmail',
  'phoneNumber',
  'verificationDocumentId',
  'residenceAddress',
  'itn',
  'password',
  'ownerPassword',
  'oldPassword',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'key',
]);

/**
 * Values too short or too plain to be told apart from ordinary log words ("completed") are left
 * out; everything personal the suite uses (addresses, emails, phone numbers, tokens) is longer.
 */
function isDistinctive(value: string): boolean {
  const trimmed = value.trim();
  return trimmed.length >= 6 && !/^[A-Za-z]+$/.test(trimmed);
}

/**
 * Collects the sensitive values of a parsed JSON request or response body into `into`, with a
 * work list rather than recursion: the fuzzing tests send bodies nested thousands deep.
 */
export function collectSensitive(body: unknown, into: Set<string>): void {
  const pending: { value: unknown; field: string | undefined }[] = [{ value: body, field: undefined }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, field } = next;
    if (typeof value === 'string') {
      if (field !== undefined && SENSITIVE_FIELDS.has(field) && isDistinctive(value)) into.add(value.trim());
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push({ value: item, field });
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) pending.push({ value: item, field: key });
    }
  }
}

/** Collects credentials sent in request headers. */
export function collectCredentialHeaders(
  headers: Record<string, unknown> | undefined,
  into: Set<string>,
): void {
  for (const name of ['authorization', 'api-key']) {
    const header = headers?.[name];
    if (typeof header !== 'string') continue;
    const secret = header.replace(/^Bearer\s+/i, '').trim();
    if (secret.length >= 20) into.add(secret);
  }
}

let written = 0;

/**
 * Writes one service's log lines and the sensitive values its callers used, for the scan at the
 * end of the run (every value is checked against every log, across test files).
 */
export function recordLogs(source: string, lines: readonly string[], sensitive: Iterable<string>): void {
  const dir = path.join(resultsDir, 'logs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${process.pid}-${++written}.json`),
    JSON.stringify({ source, lines, sensitive: [...sensitive] }),
  );
}
