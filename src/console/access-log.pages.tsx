// The operator's audit log: every reveal of a customer's masked fields and every lock and unlock
// of a wallet by the platform, across institutions. An institution sees, at the same address, the
// platform's reveals of its own customers. As pages and as CSV, with the same filters.
import type { FastifyRequest } from 'fastify';
import { findDataAccess } from '../modules/customers/customers.service.js';
import { findInstitutions } from '../modules/institutions/institutions.service.js';
import { operatorWalletChanges } from '../modules/wallets/wallets.service.js';
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
import { AccessLogPage, auditKinds, type AuditEntry, type AuditKind } from './views/access-log.js';

type Cursor = { occurredAt: Date; id: string };

/** Newest first; the id breaks ties, as the queries order them (uuids compare as their hex). */
const newestFirst = (a: AuditEntry, b: AuditEntry) =>
  b.occurredAt.getTime() - a.occurredAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export function accessLogPages(app: App, deps: ConsoleDeps): void {
  function accessLog(request: FastifyRequest) {
    const viewer = viewerOf(request);
    const operator = viewer.principal.kind === 'operator';
    const kind = operator ? text(request.query, 'kind') || 'all' : 'reveal';
    if (!(auditKinds as readonly string[]).includes(kind))
      throw new AppError('VALIDATION_ERROR', `kind must be one of ${auditKinds.join(', ')}`);
    const state = {
      kind: kind as AuditKind,
      institution: operator ? text(request.query, 'institution') : '',
      from: text(request.query, 'from'),
      to: text(request.query, 'to'),
    };
    const before = text(request.query, 'before');
    const [beforeAt, beforeId] = before.split('_');
    const cursor: Cursor | undefined =
      beforeAt !== undefined &&
      beforeId !== undefined &&
      uuidPattern.test(beforeId) &&
      !Number.isNaN(Date.parse(beforeAt))
        ? { occurredAt: new Date(beforeAt), id: beforeId }
        : undefined;
    if (state.institution !== '' && !uuidPattern.test(state.institution))
      throw new AppError('VALIDATION_ERROR', 'institution must be a UUID');
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
      ...(bounds.from === undefined ? {} : { from: bounds.from }),
      ...(bounds.to === undefined ? {} : { to: bounds.to }),
    };
    return { viewer, operator, state, filters, cursor };
  }

  /**
   * One page of entries, newest first: the reveals (for an institution, the operator's reveals of
   * its customers only) and, for the operator, its locks and unlocks, merged on (time, id).
   */
  async function entries(
    request: FastifyRequest,
    page: { take: number; before?: Cursor },
  ): Promise<AuditEntry[]> {
    const { viewer, operator, state, filters } = accessLog(request);
    const found: AuditEntry[] = [];
    if (state.kind === 'all' || state.kind === 'reveal') {
      const reveals = await findDataAccess(
        deps,
        tenantOf(viewer.principal),
        { ...filters, ...(operator ? {} : { actorType: 'operator' as const }) },
        page,
      );
      found.push(...reveals.map((entry) => ({ ...entry, kind: 'reveal' as const })));
    }
    if (operator && state.kind !== 'reveal') {
      const changes = await operatorWalletChanges(
        deps,
        { ...filters, ...(state.kind === 'all' ? {} : { kind: state.kind }) },
        page,
      );
      found.push(...changes);
    }
    return found.sort(newestFirst).slice(0, page.take);
  }

  /** The filters' query string (without the page), as the form sends it. */
  function filterQuery(state: ReturnType<typeof accessLog>['state']): URLSearchParams {
    return new URLSearchParams(
      Object.entries(state).filter(([name, value]) => value !== '' && !(name === 'kind' && value === 'all')),
    );
  }

  app.get(
    '/access-log',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const { viewer, operator, state, cursor } = accessLog(request);
      const found = await entries(request, {
        take: PAGE_SIZE + 1,
        ...(cursor === undefined ? {} : { before: cursor }),
      });
      const shown = found.slice(0, PAGE_SIZE);
      const last = shown.at(-1);
      const query = filterQuery(state);
      if (!operator) query.delete('kind');
      const next =
        found.length > PAGE_SIZE && last !== undefined
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
          firstPage={cursor === undefined ? undefined : query.toString()}
          csv={query.toString()}
        />,
      );
    },
  );

  // The same entries as CSV, every page, read in pages of a thousand.
  app.get(
    '/access-log.csv',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const { operator } = accessLog(request);
      const lines = [
        operator
          ? 'occurredAt,kind,actorType,actorId,actorName,institutionId,customerId,fields,requestId,walletId,fromStatus,toStatus,reason'
          : 'occurredAt,actorType,actorId,actorName,institutionId,customerId,fields,requestId',
      ];
      let before: Cursor | undefined;
      for (;;) {
        const page = await entries(request, { take: 1000, ...(before === undefined ? {} : { before }) });
        for (const entry of page) {
          const common = [
            entry.occurredAt.toISOString(),
            ...(operator ? [entry.kind] : []),
            entry.actor.type,
            entry.actor.id,
            entry.actor.name,
            entry.institutionId,
            entry.customerId,
          ];
          const rest =
            entry.kind === 'reveal'
              ? [entry.fields.join(' '), entry.requestId, ...(operator ? ['', '', '', ''] : [])]
              : ['', '', entry.walletId, entry.from.status, entry.to.status, entry.reason ?? ''];
          lines.push([...common, ...rest].map(csvCell).join(','));
        }
        const last = page.at(-1);
        if (page.length < 1000 || last === undefined) break;
        before = { occurredAt: last.occurredAt, id: last.id };
      }
      const name = operator ? 'audit-log.csv' : 'access-log.csv';
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(lines.join('\r\n') + '\r\n');
    },
  );
}
