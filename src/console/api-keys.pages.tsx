// The institution's API keys, for its Owners and Admins (api-keys:manage, as the JSON routes):
// list, create (the secret shown once, on the answer to the form only), and revoke after a
// confirmation page. Input is checked with the API's own CreateApiKeyBody.
import type { FastifyRequest } from 'fastify';
import { ApiKeyIdBody, CreateApiKeyBody } from '../modules/api-keys/api-keys.schemas.js';
import { createApiKey, findApiKeys, revokeApiKeyById } from '../modules/api-keys/api-keys.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError, forbidden } from '../platform/errors.js';
import { defaultScopes, type Principal } from '../platform/principal.js';
import { compileValidator } from '../platform/validation.js';
import {
  alreadySent,
  dateBound,
  render,
  submitOnce,
  text,
  viewerOf,
  type ConsoleDeps,
} from './console-context.js';
import { ApiKeyCreatedPage, ApiKeysPage, RevokeApiKeyPage, type CreateKeyForm } from './views/api-keys.js';

const validateCreate = compileValidator(CreateApiKeyBody);
const validateId = compileValidator(ApiKeyIdBody);

const keyNotices: Record<string, string> = {
  'key-revoked': 'The API key is revoked: it no longer works.',
  'already-sent': alreadySent,
};

/** The form's fields as the API names them, and their labels for the messages at each field. */
const keyFields: Record<string, string> = {
  name: 'Name',
  scopes: 'Scopes',
  allowedIps: 'Allowed addresses',
  expiresAt: 'Expiry',
};

/** Every value a form sent under one name (checkboxes send one each). */
export function values(source: unknown, name: string): string[] {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * The API's error as problems at the form's fields: each detail at the field it names (the
 * field's label, then the API's message), anything else at `fallback`.
 */
export function problemsOf(error: AppError, fields: Record<string, string>, fallback: string) {
  if (error.details === undefined || error.details.length === 0) {
    return [{ field: fallback, message: error.message }];
  }
  return error.details.map((detail) =>
    fields[detail.field] === undefined
      ? { field: fallback, message: `${detail.field} ${detail.message}` }
      : { field: detail.field, message: `${fields[detail.field]} ${detail.message}` },
  );
}

/** A form error the person can fix (validation, a conflict), as opposed to one the page cannot show. */
export const isFormError = (error: AppError | undefined): error is AppError =>
  error !== undefined && (error.statusCode === 400 || error.statusCode === 409);

function institutionUserOf(principal: Principal) {
  if (principal.kind !== 'user') throw forbidden();
  return principal;
}

function keyIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  try {
    return validateId({ id }).id;
  } catch {
    throw new AppError('NOT_FOUND', 'API key not found');
  }
}

const emptyForm: CreateKeyForm = { name: '', scopes: defaultScopes, allowedIps: '', expiresOn: '' };

export function apiKeyPages(app: App, deps: ConsoleDeps): void {
  const config = { permission: 'public', consoleAccess: 'api-keys:manage' } as const;

  app.get('/api-keys', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    return render(
      reply,
      <ApiKeysPage
        viewer={viewer}
        keys={await findApiKeys(deps.db, principal.institutionId)}
        form={emptyForm}
        problems={[]}
        notice={keyNotices[text(request.query, 'done')]}
      />,
    );
  });

  app.post('/api-keys', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    const form: CreateKeyForm = {
      name: text(request.body, 'name'),
      scopes: values(request.body, 'scopes'),
      allowedIps: text(request.body, 'allowedIps'),
      expiresOn: text(request.body, 'expiresOn').trim(),
    };
    const allowedIps = form.allowedIps
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '');
    try {
      // The API's body: no scope ticked is an empty list (refused), not the defaults.
      const input = validateCreate({
        name: form.name,
        scopes: form.scopes,
        ...(allowedIps.length === 0 ? {} : { allowedIps }),
        ...(form.expiresOn === '' ? {} : { expiresAt: dateBound(form.expiresOn, true) }),
      });
      const sent = await submitOnce(deps, request, () =>
        createApiKey(deps.db, { institutionId: principal.institutionId, userId: principal.userId }, input),
      );
      if (sent.outcome !== 'done') return await reply.redirect('/console/api-keys?done=already-sent', 303);
      // The secret is in this answer only (no redirect, nothing in a URL; pages are no-store).
      return await render(reply, <ApiKeyCreatedPage viewer={viewer} apiKey={sent.result} />, 201);
    } catch (error) {
      const known = toAppError(error);
      if (!isFormError(known)) throw error;
      return render(
        reply,
        <ApiKeysPage
          viewer={viewer}
          keys={await findApiKeys(deps.db, principal.institutionId)}
          form={form}
          problems={problemsOf(known, keyFields, 'name')}
        />,
        known.statusCode,
      );
    }
  });

  // The confirmation page, naming the key; reached by a POST from the list's Revoke button.
  app.post('/api-keys/:id/confirm-revoke', { config }, async (request, reply) => {
    const viewer = viewerOf(request);
    const principal = institutionUserOf(viewer.principal);
    const id = keyIdOf(request);
    const apiKey = (await findApiKeys(deps.db, principal.institutionId)).find((key) => key.id === id);
    if (apiKey === undefined) throw new AppError('NOT_FOUND', 'API key not found');
    return render(reply, <RevokeApiKeyPage viewer={viewer} apiKey={apiKey} />);
  });

  // As the JSON route: this instance forgets the credentials it remembers as the answer leaves.
  app.post(
    '/api-keys/:id/revoke',
    { config: { ...config, revokesCredentials: true } },
    async (request, reply) => {
      const principal = institutionUserOf(viewerOf(request).principal);
      await revokeApiKeyById(deps.db, principal.institutionId, keyIdOf(request));
      return reply.redirect('/console/api-keys?done=key-revoked', 303);
    },
  );
}
