// The data access log: every reveal for the operator's auditors, the platform's reveals of its
// customers for an institution; as pages and as CSV.
import type { FastifyRequest } from 'fastify';
import { findDataAccess } from '../modules/customers/customers.service.js';
import { findInstitutions } from '../modules/institutions/institutions.service.js';
import type { App } from '../platform/app-type.js';
import { AppError } from '../platform/errors.js';
import {
  csvCell,
  dateBound,
  PAGE_SIZE,
  render,
  tenantOf,
  text,
  uuidPattern,
  viewerOf,
  type ConsoleDeps,
} from './console-context.js';
import { AccessLogPage } from './views/access-log.js';

export function accessLogPages(app: App, deps: ConsoleDeps): void {
  // ---- the data access log ----
  function accessLog(request: FastifyRequest) {
    const viewer = viewerOf(request);
    const operator = viewer.principal.kind === 'operator';
    const state = {
      institution: operator ? text(request.query, 'institution') : '',
      from: text(request.query, 'from'),
      to: text(request.query, 'to'),
    };
    const before = text(request.query, 'before');
    const [beforeAt, beforeId] = before.split('_');
    const cursor =
      beforeAt !== undefined &&
      beforeId !== undefined &&
      uuidPattern.test(beforeId) &&
      !Number.isNaN(Date.parse(beforeAt))
        ? { occurredAt: new Date(beforeAt), id: beforeId }
        : undefined;
    for (const [field, value] of [['institution', state.institution]] as const) {
      if (value !== '' && !uuidPattern.test(value))
        throw new AppError('VALIDATION_ERROR', `${field} must be a UUID`);
    }
    const bounds = {
      from: state.from === '' ? undefined : dateBound(state.from, false),
      to: state.to === '' ? undefined : dateBound(state.to, true),
    };
    for (const bound of [bounds.from, bounds.to]) {
      if (bound !== undefined && Number.isNaN(Date.parse(bound)))
        throw new AppError('VALIDATION_ERROR', 'Dates must be YYYY-MM-DD');
    }
    const filters = {
      ...(state.institution === '' ? {} : { institutionId: state.institution }),
      ...(operator ? {} : { actorType: 'operator' as const }),
      ...bounds,
    };
    return { viewer, operator, state, filters, cursor };
  }

  app.get(
    '/access-log',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const { viewer, operator, state, filters, cursor } = accessLog(request);
      const entries = await findDataAccess(deps, tenantOf(viewer.principal), filters, {
        take: PAGE_SIZE + 1,
        ...(cursor === undefined ? {} : { before: cursor }),
      });
      const shown = entries.slice(0, PAGE_SIZE);
      const last = shown.at(-1);
      const query = new URLSearchParams(Object.entries(state).filter(([, value]) => value !== ''));
      const next =
        entries.length > PAGE_SIZE && last !== undefined
          ? `${query.toString()}${query.size > 0 ? '&' : ''}before=${encodeURIComponent(`${last.occurredAt.toISOString()}_${last.id}`)}`
          : undefined;
      return render(
        reply,
        <AccessLogPage
          viewer={viewer}
          state={state}
          institutions={operator ? await findInstitutions(deps.db) : undefined}
          entries={shown}
          next={next}
          csv={query.toString()}
        />,
      );
    },
  );

  // The same entries as CSV, every page, streamed in pages of a thousand.
  app.get(
    '/access-log.csv',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const { viewer, filters } = accessLog(request);
      const tenant = tenantOf(viewer.principal);
      const lines = ['occurredAt,actorType,actorId,actorName,institutionId,customerId,fields,requestId'];
      let before: { occurredAt: Date; id: string } | undefined;
      for (;;) {
        const page = await findDataAccess(deps, tenant, filters, {
          take: 1000,
          ...(before === undefined ? {} : { before }),
        });
        for (const entry of page) {
          lines.push(
            [
              entry.occurredAt.toISOString(),
              entry.actor.type,
              entry.actor.id,
              entry.actor.name,
              entry.institutionId,
              entry.customerId,
              entry.fields.join(' '),
              entry.requestId,
            ]
              .map(csvCell)
              .join(','),
          );
        }
        const last = page.at(-1);
        if (page.length < 1000 || last === undefined) break;
        before = { occurredAt: last.occurredAt, id: last.id };
      }
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="access-log.csv"')
        .send(lines.join('\r\n') + '\r\n');
    },
  );
}
