import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { institutionPrincipalOf, principalOf } from '../../platform/authenticate.js';
import { forbidden } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http-schemas.js';
import {
  ChangePasswordBody,
  CreatedUserResponse,
  CreateUserBody,
  FindUsersBody,
  PasswordChangedResponse,
  UserIdBody,
  UserListResponse,
  UserResponse,
} from './users.schemas.js';
import { changePassword, createUser, deactivateUser, findUsers } from './users.service.js';

export function usersRoutes(app: App, deps: { db: Database }): void {
  const description = "The institution's Owners only, by access token.";

  app.post(
    '/v2/user/create',
    {
      config: { permission: 'users:manage', idempotent: true },
      schema: {
        tags: ['Users'],
        summary: 'Add a user to the institution',
        description,
        body: CreateUserBody,
        response: {
          201: CreatedUserResponse,
          ...errorResponses({ auth: true, codes: ['USER_EMAIL_TAKEN'] }),
        },
      },
    },
    async (request, reply) => {
      const user = await createUser(deps.db, institutionPrincipalOf(request).institutionId, request.body);
      return reply.status(201).send({ data: user });
    },
  );

  app.post(
    '/v2/user/find',
    {
      config: { permission: 'users:manage' },
      schema: {
        tags: ['Users'],
        summary: "List the institution's users, newest first",
        description,
        body: FindUsersBody,
        response: { 200: UserListResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => ({ data: await findUsers(deps.db, institutionPrincipalOf(request).institutionId) }),
  );

  app.post(
    '/v2/user/deactivate',
    {
      config: { permission: 'users:manage', revokesCredentials: true, idempotent: true },
      schema: {
        tags: ['Users'],
        summary: 'Deactivate a user: their sessions end at once and they can no longer log in',
        description: `${description} An Owner cannot deactivate themselves.`,
        body: UserIdBody,
        response: { 200: UserResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => {
      const principal = institutionPrincipalOf(request);
      if (principal.kind !== 'user') throw forbidden();
      return {
        data: await deactivateUser(
          deps.db,
          { institutionId: principal.institutionId, userId: principal.userId },
          request.body.id,
        ),
      };
    },
  );

  app.post(
    '/v2/user/change-password',
    {
      config: { permission: 'session', revokesCredentials: true },
      schema: {
        tags: ['Users'],
        summary: "Change the caller's own password",
        description:
          'Any user or operator, by access token. The old password is required. Every session of the user ends ' +
          '(all refresh and access tokens), so the next request needs a new login.',
        body: ChangePasswordBody,
        response: {
          200: PasswordChangedResponse,
          ...errorResponses({ auth: true, codes: ['INVALID_CREDENTIALS'] }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (principal.kind === 'api_key') throw forbidden();
      await changePassword(deps.db, principal.userId, request.body);
      return { data: { passwordChanged: true } };
    },
  );
}
