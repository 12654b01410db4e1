import { Type, type Static } from 'typebox';
import { Data, NullableString, Timestamp, Uuid } from '../../platform/http-schemas.js';
import { allScopes, type Scope } from '../../platform/principal.js';

const ScopeSchema = Type.Unsafe<Scope>({
  type: 'string',
  enum: [...allScopes],
  description: 'customers:read allows details and find; customers:write allows create and update',
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ 'x-normalize': 'trim', minLength: 1, maxLength: 100, examples: ['backend'] }),
    scopes: Type.Optional(
      Type.Array(ScopeSchema, {
        minItems: 1,
        uniqueItems: true,
        default: [...allScopes],
        description: 'Defaults to both scopes',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>;

export const FindApiKeysBody = Type.Object({}, { additionalProperties: false });

export const ApiKeyIdBody = Type.Object({ id: Uuid() }, { additionalProperties: false });

const apiKeyProperties = {
  id: Uuid(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart' }),
  scopes: Type.Array(ScopeSchema),
  createdAt: Timestamp(),
  lastUsedAt: NullableString({ format: 'date-time', description: 'Updated at most once a minute' }),
  revokedAt: NullableString({ format: 'date-time' }),
};

export const ApiKey = Type.Object(apiKeyProperties, { additionalProperties: false });
export type ApiKey = Static<typeof ApiKey>;

export const ApiKeyWithSecret = Type.Object(
  {
    ...apiKeyProperties,
    key: Type.String({ description: 'The secret: send it as the api-key header. Shown only here.' }),
  },
  { additionalProperties: false },
);
export type ApiKeyWithSecret = Static<typeof ApiKeyWithSecret>;

export const ApiKeyCreatedResponse = Data(ApiKeyWithSecret);
export const ApiKeyResponse = Data(ApiKey);
export const ApiKeyListResponse = Data(Type.Array(ApiKey));
