// One validator for every edge. The JSON routes get it from Fastify (app.ts passes these options
// and our keywords to its Ajv); the console, whose forms and links arrive as strings, builds the
// API's own request body from them and checks it with the same schema and the same rules here,
// failing with the same VALIDATION_ERROR and field details.
import type { TSchema, Static } from 'typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { validationFailed } from './error-handler.js';
import { schemaKeywords } from './schema-keywords.js';

/** Ajv's options for request validation, Fastify's and the console's alike. */
export const ajvOptions = {
  allErrors: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: true,
  strict: true,
  keywords: ['example'],
} as const;

let shared: Ajv | undefined;

function ajv(): Ajv {
  if (shared === undefined) {
    shared = new Ajv({ ...ajvOptions, keywords: [...ajvOptions.keywords] });
    addFormats.default(shared);
    schemaKeywords(shared);
  }
  return shared;
}

/**
 * A function that validates (and normalises, in place) a value against `schema`, returning it typed,
 * or throws the API's VALIDATION_ERROR.
 */
export function compileValidator<S extends TSchema>(schema: S): (value: unknown) => Static<S> {
  const validate = ajv().compile(schema);
  return (value) => {
    if (!validate(value)) throw validationFailed(validate.errors ?? []);
    return value as Static<S>;
  };
}
