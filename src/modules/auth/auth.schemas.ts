import { Type } from 'typebox';
import { Data } from '../../platform/http-schemas.js';

export const LoginHeaders = Type.Object({
  merchant_id: Type.Optional(
    Type.String({ description: 'Institution id, for institution users. Operators send no merchant_id.' }),
  ),
});

export const LoginBody = Type.Object(
  {
    token: Type.String({
      minLength: 1,
      maxLength: 254,
      description: "The user's email (KunaCore names this field `token`)",
      examples: ['owner@acme.test'],
    }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const TokenPairResponse = Data(
  Type.Object(
    {
      accessToken: Type.String({
        description: 'EdDSA-signed JWT; send as Authorization: Bearer <accessToken>',
      }),
      refreshToken: Type.String({ description: 'Opaque secret, shown once' }),
      tokenType: Type.Literal('Bearer'),
      expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
    },
    { additionalProperties: false },
  ),
);

export const RefreshBody = Type.Object(
  {
    refreshToken: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The refresh token of the last login or refresh; it can be used once',
    }),
  },
  { additionalProperties: false },
);

export const LogoutBody = Type.Object(
  {
    refreshToken: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'A refresh token of the session to end (RFC 7009 style): works with an expired access token, or none',
      }),
    ),
  },
  { additionalProperties: false, examples: [{}, { refreshToken: 'ccr_…' }] },
);

export const LogoutResponse = Data(
  Type.Object(
    { loggedOut: Type.Boolean({ description: 'The session and all its tokens are revoked' }) },
    { additionalProperties: false },
  ),
);

export const JwksResponse = Type.Object(
  {
    keys: Type.Array(
      Type.Object({
        kty: Type.String(),
        crv: Type.String(),
        x: Type.String(),
        kid: Type.String(),
        alg: Type.String(),
        use: Type.String(),
      }),
    ),
  },
  { additionalProperties: false },
);
