// The institution's users, for its Owners (users:manage, as the JSON routes): list, add (a
// generated password shown once, on the answer to the form only), and deactivate after a
// confirmation page. Input is checked with the API's own CreateUserBody.
import type { FastifyRequest } from 'fastify';
import { CreateUserBody, UserIdBody } from '../modules/users/users.schemas.js';
import { createUser, deactivateUser, findUsers } from '../modules/users/users.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError, forbidden } from '../platform/errors.js';
import type { Principal } from '../platform/principal.js';
import { compileValidator } from '../platform/validation.js';
import { isFormError, problemsOf } from './api-keys.pages.js';
import { alreadySent, render, submitOnce, text, viewerOf, type ConsoleDeps } from './console-context.js';
import { DeactivateUserPage, UserCreatedPage, UsersPage, type CreateUserForm } from './views/users.js';

const validateCreate = compileValidator(CreateUserBody);
const validateId = compileValidator(UserIdBody);

const userNotices: Record<string, string> = {
  'user-added': 'The user is added. They can sign in with the password you chose.',
  'user-deactivated': 'The user is deactivated: their sessions have ended.',
  'already-sent': alreadySent,
};

const userFields: Record<string, string> = { email: 'Email', role: 'Role', password: 'Password' };

function institutionUserOf(principal: Principal) {
  if (principal.kind !== 'user') throw forbidden();
  return principal;
}

function userIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  try {
    return validateId({ id }).id;
  } catch {
    throw new AppError('NOT_FOUND', 'User not found');
  }
}

async function userFor(deps: ConsoleDeps, institutionId: string, id: string) {
  const user = (await findUsers(deps.db, institutionId)).find((candidate) => candidate.id === id);
  if (user === undefined) throw new AppError('NOT_FOUND', 'User not found');
  return user;
}

const emptyForm: CreateUserForm = { email: '', role: 'Viewer' };

export function userPages(app: App, deps: ConsoleDeps): void {
  const config = { permission: 'public', consoleAccess: 'users:manage' } as const;

  app.get('/users', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    return render(
      reply,
      <UsersPage
        viewer={viewer}
        users={await findUsers(deps.db, principal.institutionId)}
        form={emptyForm}
        problems={[]}
        notice={userNotices[text(request.query, 'done')]}
      />,
    );
  });

  app.post('/users', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    const form: CreateUserForm = { email: text(request.body, 'email'), role: text(request.body, 'role') };
    const password = text(request.body, 'password');
    try {
      const input = validateCreate({
        email: form.email,
        role: form.role,
        ...(password === '' ? {} : { password }),
      });
      const sent = await submitOnce(deps, request, () => createUser(deps.db, principal.institutionId, input));
      if (sent.outcome !== 'done') return await reply.redirect('/console/users?done=already-sent', 303);
      const created = sent.result;
      if (created.password === null) return await reply.redirect('/console/users?done=user-added', 303);
      // The generated password is in this answer only (no redirect, nothing in a URL; no-store).
      return await render(
        reply,
        <UserCreatedPage viewer={viewer} user={{ ...created, password: created.password }} />,
        201,
      );
    } catch (error) {
      const known = toAppError(error);
      if (!isFormError(known)) throw error;
      return render(
        reply,
        <UsersPage
          viewer={viewer}
          users={await findUsers(deps.db, principal.institutionId)}
          form={form}
          problems={problemsOf(known, userFields, 'email')}
        />,
        known.statusCode,
      );
    }
  });

  // The confirmation page, naming the user; reached by a POST from the list's Deactivate button.
  app.post('/users/:id/confirm-deactivate', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    const user = await userFor(deps, principal.institutionId, userIdOf(request));
    return render(reply, <DeactivateUserPage viewer={viewer} user={user} problems={[]} />);
  });

  // As the JSON route: the user's sessions end, and this instance forgets what it remembers of
  // their credentials as the answer leaves. The API refuses an Owner's own deactivation.
  app.post(
    '/users/:id/deactivate',
    { config: { ...config, revokesCredentials: true } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const principal = institutionUserOf(viewer.principal);
      const id = userIdOf(request);
      try {
        await deactivateUser(
          deps.db,
          { institutionId: principal.institutionId, userId: principal.userId },
          id,
        );
        return await reply.redirect('/console/users?done=user-deactivated', 303);
      } catch (error) {
        const known = toAppError(error);
        if (known?.code !== 'VALIDATION_ERROR') throw error;
        const user = await userFor(deps, principal.institutionId, id);
        return render(
          reply,
          <DeactivateUserPage
            viewer={viewer}
            user={user}
            problems={[{ field: 'confirm', message: known.message }]}
          />,
          known.statusCode,
        );
      }
    },
  );
}
