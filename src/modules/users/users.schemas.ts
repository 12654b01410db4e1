import { Type, type Static } from 'typebox';
import { Data, NullableString, Timestamp, Uuid } from '../../platform/http-schemas.js';
import type { InstitutionRole } from '../../platform/principal.js';

const RoleSchema = Type.Unsafe<InstitutionRole>({
  type: 'string',
  enum: ['Owner', 'Admin', 'Viewer'],
  description: 'Owner: everything, including users. Admin: customers and API keys. Viewer: reads customers.',
});

const Password = (description: string) => Type.String({ minLength: 12, maxLength: 1024, description });

export const CreateUserBody = Type.Object(
  {
    email: Type.String({
      'x-normalize': 'trim',
      format: 'email',
      maxLength: 254,
      examples: ['analyst@acme.test'],
    }),
    role: RoleSchema,
    password: Type.Optional(
      Password('At least 12 characters. Leave out to have the server generate one and return it once.'),
    ),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const FindUsersBody = Type.Object({}, { additionalProperties: false });

export const UserIdBody = Type.Object({ id: Uuid() }, { additionalProperties: false });

export const ChangePasswordBody = Type.Object(
  {
    oldPassword: Type.String({ minLength: 1, maxLength: 1024 }),
    newPassword: Password('At least 12 characters'),
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

const userProperties = {
  id: Uuid(),
  email: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp(),
  deactivatedAt: NullableString({ format: 'date-time' }),
};

export const User = Type.Object(userProperties, { additionalProperties: false });
export type User = Static<typeof User>;

export const CreatedUser = Type.Object(
  {
    ...userProperties,
    password: NullableString({
      description: 'The generated password, shown only here; null when one was given',
    }),
  },
  { additionalProperties: false },
);
export type CreatedUser = Static<typeof CreatedUser>;

export const UserResponse = Data(User);
export const CreatedUserResponse = Data(CreatedUser);
export const UserListResponse = Data(Type.Array(User));
export const PasswordChangedResponse = Data(
  Type.Object(
    { passwordChanged: Type.Boolean({ description: 'Every session of the user was ended; log in again' }) },
    { additionalProperties: false },
  ),
);
