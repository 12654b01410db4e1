// The operator's institutions: the list, and the creation of one with its Owner through the API's
// own service and request schema. The generated password is rendered once, in the answer to the
// POST (no redirect, so it is never in a URL, a history entry or a log line), with no-store.
import type { FastifyRequest } from 'fastify';
import { CreateInstitutionBody } from '../modules/institutions/institutions.schemas.js';
import { createInstitution, findInstitutions } from '../modules/institutions/institutions.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { compileValidator } from '../platform/validation.js';
import { alreadySent, render, submitOnce, text, viewerOf, type ConsoleDeps } from './console-context.js';
import {
  InstitutionCreatedPage,
  InstitutionsPage,
  NewInstitutionPage,
  type InstitutionForm,
} from './views/institutions.js';

const validateCreate = compileValidator(CreateInstitutionBody);

/** The form's field for a problem the API names (its request's fields, or a constraint's). */
const fieldOf: Record<string, string> = {
  title: 'title',
  ownerEmail: 'ownerEmail',
  ownerPassword: 'ownerPassword',
  email: 'ownerEmail',
  password: 'ownerPassword',
};

const labelOf: Record<string, string> = {
  title: 'The title',
  ownerEmail: 'The owner’s email',
  ownerPassword: 'The owner’s password',
};

/** Newest first, so that the one just created is at the top. */
const newestFirst = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) =>
  b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

export function institutionPages(app: App, deps: ConsoleDeps): void {
  app.get(
    '/institutions',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request, reply) =>
      render(
        reply,
        <InstitutionsPage
          viewer={viewerOf(request)}
          institutions={(await findInstitutions(deps.db)).sort(newestFirst)}
          notice={text(request.query, 'done') === 'already-sent' ? alreadySent : undefined}
        />,
      ),
  );

  app.get(
    '/institutions/new',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request, reply) =>
      render(
        reply,
        <NewInstitutionPage viewer={viewerOf(request)} form={{ title: '', ownerEmail: '', problems: [] }} />,
      ),
  );

  app.post(
    '/institutions',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request: FastifyRequest, reply) => {
      const viewer = viewerOf(request);
      const body = request.body;
      const password = text(body, 'ownerPassword');
      const form: InstitutionForm = {
        title: text(body, 'title'),
        ownerEmail: text(body, 'ownerEmail'),
        problems: [],
      };
      try {
        const input = validateCreate({
          title: form.title,
          ownerEmail: form.ownerEmail,
          ...(password === '' ? {} : { ownerPassword: password }),
        });
        const sent = await submitOnce(deps, request, () => createInstitution(deps.db, input));
        if (sent.outcome !== 'done')
          return await reply.redirect('/console/institutions?done=already-sent', 303);
        return await render(reply, <InstitutionCreatedPage viewer={viewer} created={sent.result} />, 201);
      } catch (error) {
        const known = toAppError(error);
        if (known === undefined || known.statusCode >= 500) throw error;
        const problems = (known.details ?? []).map((problem) => {
          const field = fieldOf[problem.field] ?? 'title';
          return { field, message: `${labelOf[field] ?? problem.field} ${problem.message}` };
        });
        // The password typed is never sent back: the form asks for it again.
        return render(
          reply,
          <NewInstitutionPage
            viewer={viewer}
            form={{
              ...form,
              problems: problems.length > 0 ? problems : [{ field: 'title', message: known.message }],
            }}
          />,
          known.statusCode,
        );
      }
    },
  );
}
