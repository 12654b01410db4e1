// The partner's webhook endpoints: list and create (the signing secret shown once, in the answer
// to the create), one endpoint with its deliveries and their attempts, a test event, the secret's
// rotation after a confirmation, and redelivery of one event or of a time range. The same services
// and request schemas as /v2/webhook/*; Viewers read, Owners and Admins (webhooks:manage) act.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { subscribableEventTypes } from '../modules/webhooks/events.js';
import {
  CreateWebhookBody,
  FindDeliveriesBody,
  RedeliverBody,
  WebhookIdBody,
} from '../modules/webhooks/webhooks.schemas.js';
import {
  createWebhookEndpoint,
  findWebhookDeliveries,
  findWebhookEndpoints,
  redeliverWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  webhookDeliveryAttempts,
  webhookEndpointDetails,
} from '../modules/webhooks/webhooks.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError } from '../platform/errors.js';
import { isAllowed } from '../platform/principal.js';
import { compileValidator } from '../platform/validation.js';
import {
  alreadySent,
  PAGE_SIZE,
  render,
  submitOnce,
  text,
  uuidPattern,
  viewerOf,
  type ConsoleDeps,
} from './console-context.js';
import {
  RotatePage,
  SecretPage,
  WebhookPage,
  WebhooksPage,
  type CreateForm,
  type Problem,
  type RangeForm,
} from './views/webhooks.js';

const validateCreate = compileValidator(CreateWebhookBody);
const validateId = compileValidator(WebhookIdBody);
const validateFindDeliveries = compileValidator(FindDeliveriesBody);
const validateRedeliver = compileValidator(RedeliverBody);

/** The form's names for the API's fields, and how each is called in a message. */
const createLabels: Record<string, string> = {
  url: 'Endpoint URL',
  eventTypes: 'Event types',
  description: 'Description',
};
const rangeFields: Record<string, { field: string; label: string }> = {
  since: { field: 'from', label: 'From' },
  until: { field: 'to', label: 'To' },
};

function institutionOf(request: FastifyRequest): string {
  const { principal } = viewerOf(request);
  if (principal.kind === 'operator') throw new AppError('FORBIDDEN', 'Webhooks belong to an institution');
  return principal.institutionId;
}

function endpointIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  try {
    return validateId({ id }).id;
  } catch {
    throw new AppError('NOT_FOUND', 'Webhook endpoint not found');
  }
}

/** A multi-valued form field as a list. */
function list(source: unknown, name: string): string[] {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** A datetime-local value (YYYY-MM-DDTHH:MM[:SS], UTC) as the start or the end of that minute. */
function instantOf(value: string, end: boolean): string {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) return `${value}:${end ? '59.999' : '00.000'}Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(value)) return `${value}.${end ? '999' : '000'}Z`;
  return value;
}

/** What a redirect after an action says on the endpoint page (only known words and numbers). */
function noticeOf(query: unknown): string | undefined {
  const done = text(query, 'done');
  const queued = Number(text(query, 'queued'));
  const count = Number.isSafeInteger(queued) && queued >= 0 ? queued : 0;
  if (done === 'test') {
    const event = text(query, 'event');
    return `A test event (ping) is queued for this endpoint${uuidPattern.test(event) ? `: event ${event}` : ''}. Its delivery is listed below.`;
  }
  if (done === 'already-rotated') {
    return 'That form was already sent: the secret was rotated then, and nothing was rotated a second time. The new secret was shown once, on the answer to the first sending; rotate again if it was not kept.';
  }
  if (done === 'redelivered-event') {
    return count > 0
      ? 'The event is queued to be sent again: its delivery below shows the new attempt once made.'
      : 'Nothing was queued: an attempt of this event is in progress.';
  }
  if (done === 'redelivered-range') {
    if (count === 0) return 'No failed delivery in that range: nothing was queued.';
    return `${count.toLocaleString('en')} failed ${count === 1 ? 'delivery is' : 'deliveries are'} queued to be sent again.`;
  }
  return undefined;
}

export function webhookPages(app: App, deps: ConsoleDeps): void {
  const emptyForm: CreateForm = { url: '', eventTypes: subscribableEventTypes, description: '' };

  async function listPage(
    request: FastifyRequest,
    reply: FastifyReply,
    form: CreateForm,
    problems: Problem[],
    status = 200,
    notice?: string,
  ) {
    const viewer = viewerOf(request);
    const institutionId = institutionOf(request);
    const endpoints = await findWebhookEndpoints(deps.db, institutionId);
    // The newest delivery of each, to say which are failing.
    const latest = new Map(
      (
        await Promise.all(
          endpoints.map(async (endpoint) => {
            const found = await findWebhookDeliveries(
              deps.db,
              institutionId,
              validateFindDeliveries({ endpointId: endpoint.id, take: 1 }),
            );
            return found.data.map((delivery) => [endpoint.id, delivery] as const);
          }),
        )
      ).flat(),
    );
    return render(
      reply,
      <WebhooksPage
        viewer={viewer}
        endpoints={endpoints}
        latest={latest}
        canManage={isAllowed(viewer.principal, 'webhooks:manage')}
        eventTypes={subscribableEventTypes}
        form={form}
        problems={problems}
        notice={notice}
      />,
      status,
    );
  }

  async function endpointPage(
    request: FastifyRequest,
    reply: FastifyReply,
    extra: { range?: RangeForm; problems?: Problem[]; notice?: string | undefined; status?: number } = {},
  ) {
    const viewer = viewerOf(request);
    const institutionId = institutionOf(request);
    const id = endpointIdOf(request);
    const endpoint = await webhookEndpointDetails(deps.db, institutionId, id);
    const asked = Number(text(request.query, 'page'));
    const page = Number.isSafeInteger(asked) && asked >= 1 ? asked : 1;
    const found = await findWebhookDeliveries(
      deps.db,
      institutionId,
      validateFindDeliveries({ endpointId: id, take: PAGE_SIZE, skip: (page - 1) * PAGE_SIZE }),
    );
    const deliveries = await Promise.all(
      found.data.map(async (delivery) => ({
        delivery,
        attempts: await webhookDeliveryAttempts(deps.db, institutionId, id, delivery.id),
      })),
    );
    return render(
      reply,
      <WebhookPage
        viewer={viewer}
        endpoint={endpoint}
        canManage={isAllowed(viewer.principal, 'webhooks:manage')}
        deliveries={deliveries}
        total={found.meta.total}
        page={page}
        pageSize={PAGE_SIZE}
        range={extra.range ?? { from: '', to: '' }}
        problems={extra.problems ?? []}
        notice={extra.notice}
      />,
      extra.status ?? 200,
    );
  }

  app.get(
    '/webhooks',
    { config: { permission: 'public', consoleAccess: 'webhooks:read' } },
    async (request, reply) =>
      listPage(
        request,
        reply,
        emptyForm,
        [],
        200,
        text(request.query, 'done') === 'already-sent' ? alreadySent : undefined,
      ),
  );

  app.post(
    '/webhooks',
    { config: { permission: 'public', consoleAccess: 'webhooks:manage' } },
    async (request, reply) => {
      const institutionId = institutionOf(request);
      const form: CreateForm = {
        url: text(request.body, 'url'),
        eventTypes: list(request.body, 'eventTypes'),
        description: text(request.body, 'description').trim(),
      };
      let created;
      try {
        const input = validateCreate({
          url: form.url,
          eventTypes: form.eventTypes,
          ...(form.description === '' ? {} : { description: form.description }),
        });
        const sent = await submitOnce(deps, request, () =>
          createWebhookEndpoint(deps.db, deps.webhooks, institutionId, input),
        );
        if (sent.outcome !== 'done') return await reply.redirect('/console/webhooks?done=already-sent', 303);
        created = sent.result;
      } catch (error) {
        const known = toAppError(error);
        if (known?.code !== 'VALIDATION_ERROR') throw error;
        const problems = (known.details ?? [{ field: 'url', message: known.message }]).map((problem) => {
          const field = problem.field in createLabels ? problem.field : 'url';
          return { field, message: `${createLabels[field] ?? field} ${problem.message}` };
        });
        return listPage(request, reply, form, problems, 400);
      }
      const { secret, ...endpoint } = created;
      // The secret is in this answer only: never in a URL, a redirect or a log.
      return render(
        reply,
        <SecretPage viewer={viewerOf(request)} endpoint={endpoint} secret={secret} rotated={false} />,
        201,
      );
    },
  );

  app.get(
    '/webhooks/:id',
    { config: { permission: 'public', consoleAccess: 'webhooks:read' } },
    async (request, reply) => endpointPage(request, reply, { notice: noticeOf(request.query) }),
  );

  app.post(
    '/webhooks/:id/test',
    { config: { permission: 'public', consoleAccess: 'webhooks:manage' } },
    async (request, reply) => {
      const id = endpointIdOf(request);
      const event = await sendTestEvent(deps.db, institutionOf(request), id);
      return reply.redirect(`/console/webhooks/${id}?done=test&event=${event.id}`, 303);
    },
  );

  app.get(
    '/webhooks/:id/rotate',
    { config: { permission: 'public', consoleAccess: 'webhooks:manage' } },
    async (request, reply) => {
      const endpoint = await webhookEndpointDetails(deps.db, institutionOf(request), endpointIdOf(request));
      return render(reply, <RotatePage viewer={viewerOf(request)} endpoint={endpoint} />);
    },
  );

  app.post(
    '/webhooks/:id/rotate',
    { config: { permission: 'public', consoleAccess: 'webhooks:manage' } },
    async (request, reply) => {
      const id = endpointIdOf(request);
      const sent = await submitOnce(deps, request, () =>
        rotateWebhookSecret(deps.db, deps.webhooks, institutionOf(request), id),
      );
      if (sent.outcome !== 'done') return reply.redirect(`/console/webhooks/${id}?done=already-rotated`, 303);
      const { secret, ...endpoint } = sent.result;
      return render(
        reply,
        <SecretPage viewer={viewerOf(request)} endpoint={endpoint} secret={secret} rotated={true} />,
      );
    },
  );

  // One event again (the button of a delivery), or every failed delivery of a time range.
  app.post(
    '/webhooks/:id/redeliver',
    { config: { permission: 'public', consoleAccess: 'webhooks:manage' } },
    async (request, reply) => {
      const institutionId = institutionOf(request);
      const id = endpointIdOf(request);
      const eventId = text(request.body, 'eventId');
      const range: RangeForm = { from: text(request.body, 'from'), to: text(request.body, 'to') };
      const byEvent = eventId !== '';
      try {
        const input = validateRedeliver(
          byEvent
            ? { endpointId: id, eventId }
            : {
                endpointId: id,
                ...(range.from === '' ? {} : { since: instantOf(range.from, false) }),
                ...(range.to === '' ? {} : { until: instantOf(range.to, true) }),
              },
        );
        const { queued } = await redeliverWebhooks(deps.db, institutionId, input);
        return await reply.redirect(
          `/console/webhooks/${id}?done=${byEvent ? 'redelivered-event' : 'redelivered-range'}&queued=${queued}`,
          303,
        );
      } catch (error) {
        const known = toAppError(error);
        if (known?.code !== 'VALIDATION_ERROR') throw error;
        const details = known.details ?? [];
        const problems = byEvent
          ? [{ field: 'deliveries-heading', message: known.message }]
          : details.flatMap((problem) => {
              const named = rangeFields[problem.field];
              if (named !== undefined)
                return [{ field: named.field, message: `${named.label} ${problem.message}` }];
              // The endpoint itself (disabled): said at the range's first field.
              if (problem.field === 'endpointId')
                return [{ field: 'from', message: `This endpoint ${problem.message}` }];
              return [];
            });
        return endpointPage(request, reply, {
          range,
          problems: problems.length > 0 ? problems : [{ field: 'from', message: known.message }],
          status: 400,
        });
      }
    },
  );
}
