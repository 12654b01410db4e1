// Our additions to the request validator (Ajv), so that one route schema validates, normalises and
// documents every field at the edge:
//   x-normalize: 'trim' | 'upper' | 'lower' | 'e164'
//                                            rewrites the string in place, before length and format
//                                            checks ('upper' trims too and upper-cases ASCII letters
//                                            only, 'lower' lower-cases them (ids kept as the database
//                                            writes them); 'e164' also validates).
//   x-immutable: ['field', ...]              rejects a body that names any of these fields.
//   x-requires: { field: ['other', ...] }    a body that has `field` must have the others too
//                                            (JSON Schema's `dependencies`, which OpenAPI 3.0
//                                            lacks: a document carrying it is invalid OpenAPI).
//   x-excludes: { field: ['other', ...] }    a body that has `field` must not have the others (Ajv
//                                            fills defaults in first: give these fields none).
//   format 'iso-country'                     an assigned ISO 3166-1 alpha-2 code.
//   format 'uuid'                            the canonical 8-4-4-4-12 form only (ajv-formats also
//                                            accepts a urn:uuid: prefix, which PostgreSQL refuses).
//   format 'date-time'                       ajv-formats' RFC 3339 check, without year 0000, which
//                                            PostgreSQL refuses (1 BC is followed by AD 1).
import type { Ajv, ErrorObject, KeywordDefinition } from 'ajv';
import type { DataValidateFunction, DataValidationCxt } from 'ajv/dist/types/index.js';
import countries from 'i18n-iso-countries';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';

// i18n-iso-countries also lists XK (Kosovo), a user-assigned code that ISO 3166-1 has not assigned.
const assignedCountryCodes = new Set(Object.keys(countries.getAlpha2Codes()).filter((code) => code !== 'XK'));

export const isAssignedCountryCode = (code: string): boolean => assignedCountryCodes.has(code);

/** A valid international number written with a leading `+`, in E.164; undefined if not valid. */
export function toE164(input: string): string | undefined {
  const value = input.trim();
  if (!value.startsWith('+') || value.length > 40) return undefined;
  try {
    const phone = parsePhoneNumberWithError(value);
    return phone.isValid() ? phone.number : undefined;
  } catch {
    return undefined;
  }
}

type Normalisation = 'trim' | 'upper' | 'lower' | 'e164';

function replace(ctx: DataValidationCxt | undefined, value: string): void {
  if (ctx?.parentData !== undefined) {
    (ctx.parentData as Record<string | number, unknown>)[ctx.parentDataProperty] = value;
  }
}

export function schemaKeywords(ajv: Ajv): void {
  ajv.addFormat('iso-country', { type: 'string', validate: isAssignedCountryCode });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  const rfc3339 = ajv.formats['date-time'];
  if (typeof rfc3339 !== 'object' || rfc3339 instanceof RegExp || typeof rfc3339.validate !== 'function') {
    throw new Error("Expected ajv-formats' date-time format to be registered");
  }
  const isRfc3339 = rfc3339.validate as (value: string) => boolean;
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (value: string) => isRfc3339(value) && !value.startsWith('0000'),
  });

  ajv.addKeyword({
    keyword: 'x-normalize',
    type: 'string',
    schemaType: 'string',
    modifying: true,
    errors: true,
    // Run before the other string keywords, so lengths and formats see the normalised value.
    before: 'maxLength',
    compile(kind: Normalisation) {
      const validate: DataValidateFunction = (data: string, ctx?: DataValidationCxt) => {
        if (kind === 'trim') {
          replace(ctx, data.trim());
          return true;
        }
        if (kind === 'lower') {
          replace(
            ctx,
            data.replace(/[A-Z]/g, (letter) => letter.toLowerCase()),
          );
          return true;
        }
        if (kind === 'upper') {
          // ASCII letters only: toUpperCase() would turn 'ß' into 'SS' and 'ſe' into 'SE', both codes.
          replace(
            ctx,
            data.trim().replace(/[a-z]/g, (letter) => letter.toUpperCase()),
          );
          return true;
        }
        const e164 = toE164(data);
        if (e164 === undefined) {
          validate.errors = [
            {
              keyword: 'x-normalize',
              message: 'must be a valid international phone number starting with +',
              params: {},
            } as Partial<ErrorObject> as ErrorObject,
          ];
          return false;
        }
        replace(ctx, e164);
        return true;
      };
      return validate;
    },
  });

  ajv.addKeyword({
    keyword: 'x-immutable',
    type: 'object',
    schemaType: 'array',
    errors: true,
    compile(fields: string[]) {
      const validate: DataValidateFunction = (data: Record<string, unknown>) => {
        const present = fields.filter((field) => Object.hasOwn(data, field));
        if (present.length === 0) return true;
        validate.errors = present.map(
          (field) =>
            ({
              keyword: 'x-immutable',
              message: 'cannot be updated',
              params: { field },
            }) as Partial<ErrorObject> as ErrorObject,
        );
        return false;
      };
      return validate;
    },
  });

  // a body that has `property` must have (x-requires) or must not have (x-excludes) the others.
  ajv.addKeyword(
    fieldRelation(
      'x-requires',
      'missingProperty',
      (data, other) => !Object.hasOwn(data, other),
      (property, other) => `must have property ${other} when property ${property} is present`,
    ),
  );
  ajv.addKeyword(
    fieldRelation(
      'x-excludes',
      'other',
      (data, other) => Object.hasOwn(data, other),
      (property, other) => `must not have property ${other} when property ${property} is present`,
    ),
  );
}

/**
 * A keyword `{ property: ['other', ...] }` that fails, for a body that has `property`, on each
 * other field for which `broken` holds; the error names both in `params`.
 */
function fieldRelation(
  keyword: 'x-requires' | 'x-excludes',
  otherParam: string,
  broken: (data: Record<string, unknown>, other: string) => boolean,
  message: (property: string, other: string) => string,
): KeywordDefinition {
  return {
    keyword,
    type: 'object',
    schemaType: 'object',
    errors: true,
    compile(relations: Record<string, string[]>) {
      const validate: DataValidateFunction = (data: Record<string, unknown>) => {
        const errors = Object.entries(relations).flatMap(([property, others]) =>
          Object.hasOwn(data, property)
            ? others
                .filter((other) => broken(data, other))
                .map(
                  (other) =>
                    ({
                      keyword,
                      message: message(property, other),
                      params: { property, [otherParam]: other },
                    }) as Partial<ErrorObject> as ErrorObject,
                )
            : [],
        );
        if (errors.length === 0) return true;
        validate.errors = errors;
        return false;
      };
      return validate;
    },
  };
}
