// The only body type the API accepts: a JSON object of at most 64 KiB, in UTF-8 (RFC 8259). Every
// other content type is 415, and a body that is not a JSON object (an array, a string, malformed
// JSON, bytes that are not UTF-8) is INVALID_JSON.
// Keys named __proto__ or constructor.prototype are refused, so a body can never pollute prototypes.
// No string may contain U+0000, which PostgreSQL cannot store in text, nor a lone UTF-16 surrogate
// (a "\ud800" escape), which would be stored as U+FFFD instead of what was sent, nor start with a
// byte order mark (U+FEFF).
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError, validationError } from './errors.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

const invalidJson = (message: string) => new AppError('INVALID_JSON', message);

// Fatal: a byte sequence that is not UTF-8 fails instead of becoming U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function registerJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
    (_request, body, done) => {
      let value: unknown;
      try {
        value = secureJson.parse(utf8.decode(body as Buffer), undefined, {
          protoAction: 'error',
          constructorAction: 'error',
        });
      } catch {
        done(invalidJson('The request body is not valid JSON in UTF-8'), undefined);
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        done(invalidJson('The request body must be a JSON object'), undefined);
        return;
      }
      for (const [field, item] of Object.entries(value)) {
        const problem = unstorable(field) ?? firstUnstorable(item);
        if (problem !== undefined) {
          done(validationError(field, problem), undefined);
          return;
        }
      }
      done(null, value);
    },
  );
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as sent, if it cannot. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (loneSurrogate.test(text)) return 'must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF)';
  // An invisible byte-order mark left by an editor; the embedded engine's reader drops it when
  // reading text back, so it could not be returned as sent.
  if (text.startsWith('\uFEFF')) return 'must not start with a byte order mark (U+FEFF)';
  return undefined;
}

/**
 * The first unstorable string among a value's keys and strings, searched with a work list rather
 * than recursion: a body may nest thousands of levels deep within 64 KiB.
 */
export function firstUnstorable(root: unknown): string | undefined {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      const problem = unstorable(value);
      if (problem !== undefined) return problem;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const problem = unstorable(key);
        if (problem !== undefined) return problem;
        pending.push(item);
      }
    }
  }
  return undefined;
}
