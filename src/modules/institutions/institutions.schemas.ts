import { Type, type Static } from 'typebox';
import { Data, Timestamp, NullableString, Uuid } from '../../platform/http-schemas.js';

export const CreateInstitutionBody = Type.Object(
  {
    title: Type.String({ 'x-normalize': 'trim', minLength: 1, maxLength: 200, examples: ['Acme Pay'] }),
    ownerEmail: Type.String({
      'x-normalize': 'trim',
      format: 'email',
      maxLength: 254,
      description: "The first user's email; they get the Owner role",
      examples: ['owner@acme.test'],
    }),
    ownerPassword: Type.Optional(
      Type.String({
        minLength: 12,
        maxLength: 1024,
        description: 'At least 12 characters. Leave out to have the server generate one and return it once.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateInstitutionBody = Static<typeof CreateInstitutionBody>;

export const InstitutionCreated = Type.Object(
  {
    id: Uuid(),
    merchantId: Uuid('The institution id, sent as the merchant_id header at login'),
    title: Type.String(),
    createdAt: Timestamp(),
    owner: Type.Object(
      {
        id: Uuid(),
        email: Type.String(),
        password: NullableString({
          description: 'The generated password, shown only here; null when ownerPassword was given',
        }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type InstitutionCreated = Static<typeof InstitutionCreated>;

export const InstitutionCreatedResponse = Data(InstitutionCreated);
