import { Type, type Static } from 'typebox';
import { Data, NullableString, Timestamp, Uuid } from '../../platform/http-schemas.js';
import { allScopes, defaultScopes, type Scope } from '../../platform/principal.js';

const ScopeSchema = Type.Unsafe<Scope>({
  type: 'string',
  enum: [...allScopes],
  description:
    'customers:read allows details, find, history and event find; customers:write allows create and update; ' +
    'customers:erase allows erase; webhooks:manage allows every webhook and event route',
});

const allowedIpsDescription =
  'The client addresses the key works from: IPv4 and IPv6 addresses and CIDR ranges, stored ' +
  'normalised (lower-case compressed IPv6, a range as its network address, IPv4-mapped IPv6 as ' +
  'IPv4). From any other address the key gets 401. Null: any address.';

const expiresAtDescription = 'When the key stops working (it gets 401 from then on). Null: never.';

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ 'x-normalize': 'trim', minLength: 1, maxLength: 100, examples: ['backend'] }),
    scopes: Type.Optional(
      Type.Array(ScopeSchema, {
        minItems: 1,
        uniqueItems: true,
        default: [...defaultScopes],
        description:
          'Defaults to customers:read and customers:write; customers:erase and webhooks:manage must be asked for',
      }),
    ),
    allowedIps: Type.Optional(
      Type.Unsafe<string[] | null>({
        type: 'array',
        nullable: true,
        // 49 characters hold the longest form: an IPv6 address with an IPv4 tail, and /128.
        items: { type: 'string', maxLength: 49 },
        minItems: 1,
        maxItems: 50,
        description: `${allowedIpsDescription} 1-50 entries.`,
        examples: [['203.0.113.7', '198.51.100.0/24', '2001:db8::/32']],
      }),
    ),
    expiresAt: Type.Optional(
      NullableString({
        format: 'date-time',
        description: `${expiresAtDescription} An ISO 8601 date-time with a time zone, in the future.`,
        examples: ['2030-01-01T00:00:00.000Z'],
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
  allowedIps: Type.Unsafe<string[] | null>({
    type: 'array',
    nullable: true,
    items: { type: 'string' },
    description: allowedIpsDescription,
  }),
  expiresAt: NullableString({ format: 'date-time', description: expiresAtDescription }),
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
