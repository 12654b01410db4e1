// The webhook and event routes (contract "Webhooks and events"). Endpoints are managed by Owners
// and Admins or API keys with webhooks:manage; Viewers may list endpoints and deliveries and find
// events; API keys with customers:read may find events.
import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { institutionPrincipalOf } from '../../platform/authenticate.js';
import { errorResponses } from '../../platform/http-schemas.js';
import {
  CreateWebhookBody,
  FindDeliveriesBody,
  FindEventsBody,
  FindWebhooksBody,
  RedeliverBody,
  RedeliverResponse,
  UpdateWebhookBody,
  WebhookDeliveryPageResponse,
  WebhookEndpointListResponse,
  WebhookEndpointResponse,
  WebhookEndpointWithSecretResponse,
  WebhookEventPageResponse,
  WebhookEventResponse,
  WebhookIdBody,
} from './webhooks.schemas.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  findInstitutionEvents,
  findWebhookDeliveries,
  findWebhookEndpoints,
  redeliverWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhookEndpoint,
  type WebhookSettings,
} from './webhooks.service.js';

const manage = 'Owners and Admins, or API keys with the webhooks:manage scope.';
const read = 'Owners, Admins and Viewers, or API keys with the webhooks:manage scope.';

export function webhooksRoutes(app: App, deps: { db: Database; webhooks: WebhookSettings }): void {
  const institutionOf = (request: Parameters<typeof institutionPrincipalOf>[0]) =>
    institutionPrincipalOf(request).institutionId;

  app.post(
    '/v2/webhook/create',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary: 'Subscribe an endpoint to events; its signing secret is shown only in this response',
        description:
          `${manage} Events are POSTed to the URL signed as Standard Webhooks says (webhook-id, ` +
          'webhook-timestamp, webhook-signature). A URL that is not allowed is 400 VALIDATION_ERROR naming url.',
        body: CreateWebhookBody,
        response: { 201: WebhookEndpointWithSecretResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request, reply) => {
      const endpoint = await createWebhookEndpoint(
        deps.db,
        deps.webhooks,
        institutionOf(request),
        request.body,
      );
      return reply.status(201).send({ data: endpoint });
    },
  );

  app.post(
    '/v2/webhook/find',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags: ['Webhooks'],
        summary: "The institution's webhook endpoints, newest first, never a secret",
        description: read,
        body: FindWebhooksBody,
        response: { 200: WebhookEndpointListResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => ({ data: await findWebhookEndpoints(deps.db, institutionOf(request)) }),
  );

  app.post(
    '/v2/webhook/update',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary: "Change an endpoint's URL, event types or description, or disable or re-enable it",
        description: manage,
        body: UpdateWebhookBody,
        response: { 200: WebhookEndpointResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({
      data: await updateWebhookEndpoint(deps.db, deps.webhooks, institutionOf(request), request.body),
    }),
  );

  app.post(
    '/v2/webhook/delete',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary: 'Delete an endpoint: nothing more is sent to it',
        description: `${manage} Its delivery log goes with it.`,
        body: WebhookIdBody,
        response: { 200: WebhookEndpointResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({
      data: await deleteWebhookEndpoint(deps.db, institutionOf(request), request.body.id),
    }),
  );

  app.post(
    '/v2/webhook/rotate-secret',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary:
          "Replace an endpoint's signing secret; the previous one keeps signing beside it for 24 hours",
        description: `${manage} During the overlap webhook-signature carries both signatures, separated by a space.`,
        body: WebhookIdBody,
        response: {
          200: WebhookEndpointWithSecretResponse,
          ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }),
        },
      },
    },
    async (request) => ({
      data: await rotateWebhookSecret(deps.db, deps.webhooks, institutionOf(request), request.body.id),
    }),
  );

  app.post(
    '/v2/webhook/test',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary: 'Send a ping event to this endpoint alone',
        description: `${manage} Answers with the queued event; its id is the webhook-id the endpoint receives.`,
        body: WebhookIdBody,
        response: { 200: WebhookEventResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({ data: await sendTestEvent(deps.db, institutionOf(request), request.body.id) }),
  );

  app.post(
    '/v2/webhook/deliveries',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags: ['Webhooks'],
        summary: "An endpoint's deliveries, newest first, with their last attempt",
        description: read,
        body: FindDeliveriesBody,
        response: {
          200: WebhookDeliveryPageResponse,
          ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }),
        },
      },
    },
    async (request) => findWebhookDeliveries(deps.db, institutionOf(request), request.body),
  );

  app.post(
    '/v2/webhook/redeliver',
    {
      config: { permission: 'webhooks:manage', idempotent: true },
      schema: {
        tags: ['Webhooks'],
        summary: 'Send an event again, or every failed delivery of a time range',
        description:
          `${manage} With eventId: that event is queued for the endpoint, whatever its delivery's status. With ` +
          'since and until: every failed delivery of events dated within the range (inclusive). A disabled ' +
          'endpoint must be re-enabled first (400).',
        body: RedeliverBody,
        response: { 200: RedeliverResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({ data: await redeliverWebhooks(deps.db, institutionOf(request), request.body) }),
  );

  app.post(
    '/v2/event/find',
    {
      config: { permission: 'events:read' },
      schema: {
        tags: ['Webhooks'],
        summary: "The institution's events, newest first (kept 30 days)",
        description:
          'Owners, Admins and Viewers, or API keys with customers:read or webhooks:manage. Bounds are ' +
          'inclusive, on timestamp.',
        body: FindEventsBody,
        response: { 200: WebhookEventPageResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => findInstitutionEvents(deps.db, institutionOf(request), request.body),
  );
}
