// The only body type the API accepts: a JSON object of at most 64 KiB. Every other content type is
// 415, and a body that is not a JSON object (an array, a string, malformed JSON) is INVALID_JSON.
// Keys named __proto__ or constructor.prototype are refused, so a body can never pollute prototypes.
// No string may contain U+0000, which PostgreSQL cannot store in text.
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError, validationError } from './errors.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

const invalidJson = (message: string) => new AppError('INVALID_JSON', message);

export function registerJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_request, body, done) => {
      let value: unknown;
      try {
        value = secureJson.parse(body, undefined, {
          protoAction: 'error',
          constructorAction: 'error',
        });
      } catch {
        done(invalidJson('The request body is not valid JSON'), undefined);
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        done(invalidJson('The request body must be a JSON object'), undefined);
        return;
      }
      const field = Object.entries(value).find(([key, item]) => containsNul(key) || containsNul(item))?.[0];
      if (field !== undefined) {
        done(validationError(field, 'must not contain the NUL character (U+0000)'), undefined);
        return;
      }
      done(null, value);
    },
  );
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => key.includes('\u0000') || containsNul(item));
  }
  return false;
}
