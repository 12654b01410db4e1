import { Type, type Static } from 'typebox';
import { Data, NullableString, Page, Skip, Take, Timestamp, Uuid } from '../../platform/http-schemas.js';
import { eventTypes, subscribableEventTypes, type EventType, type SubscribableEventType } from './events.js';

const SubscribableEventTypeSchema = Type.Unsafe<SubscribableEventType>({
  type: 'string',
  enum: [...subscribableEventTypes],
});
const EventTypeSchema = Type.Unsafe<EventType>({ type: 'string', enum: [...eventTypes] });

const urlDescription =
  'Where events are POSTed: https:// only, no user:pass@, no fragment, never a loopback, private, ' +
  'link-local, multicast or reserved address (IP literals are refused here; names are checked again ' +
  'on every delivery, after DNS resolution). At most 2048 characters.';

const Url = Type.String({
  'x-normalize': 'trim',
  minLength: 1,
  maxLength: 2048,
  description: urlDescription,
  examples: ['https://partner.example.com/webhooks/customercore'],
});
const Description = NullableString({ maxLength: 500, description: 'A note for your own use' });
const EventTypes = Type.Array(SubscribableEventTypeSchema, {
  minItems: 1,
  uniqueItems: true,
  description:
    'The event types sent to it; every type but ping when absent (ping is sent by /v2/webhook/test only)',
});

export const CreateWebhookBody = Type.Object(
  { url: Url, eventTypes: Type.Optional(EventTypes), description: Type.Optional(Description) },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    id: Uuid(),
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'true re-enables a disabled endpoint (disabledReason back to null; deliveries recorded failed ' +
          'meanwhile are not sent: use redeliver); false disables it (nothing is sent to it)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const WebhookIdBody = Type.Object({ id: Uuid() }, { additionalProperties: false });
export const FindWebhooksBody = Type.Object({}, { additionalProperties: false });

const endpointProperties = {
  id: Uuid(),
  url: Type.String({ description: urlDescription }),
  description: NullableString(),
  eventTypes: Type.Array(SubscribableEventTypeSchema),
  enabled: Type.Boolean(),
  disabledReason: Type.Unsafe<'gone' | 'failing' | null>({
    type: 'string',
    enum: ['gone', 'failing'],
    nullable: true,
    description:
      'Why the service disabled it: gone (it answered 410), failing (no success for WEBHOOK_DISABLE_AFTER, ' +
      'default 5 days); null when enabled, or disabled by you',
  }),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
};

export const WebhookEndpoint = Type.Object(endpointProperties, { additionalProperties: false });
export type WebhookEndpoint = Static<typeof WebhookEndpoint>;
export const WebhookEndpointWithSecret = Type.Object(
  {
    ...endpointProperties,
    secret: Type.String({
      description:
        'The signing secret (whsec_ + base64 of 32 random bytes), for the Standard Webhooks libraries. Shown ' +
        'only in this response.',
    }),
  },
  { additionalProperties: false },
);
export type WebhookEndpointWithSecret = Static<typeof WebhookEndpointWithSecret>;

export const WebhookEndpointResponse = Data(WebhookEndpoint);
export const WebhookEndpointWithSecretResponse = Data(WebhookEndpointWithSecret);
export const WebhookEndpointListResponse = Data(Type.Array(WebhookEndpoint));

// ---- events ----

const about = { customerId: Uuid(), walletId: Uuid(), version: Type.Integer({ minimum: 1 }) };
const EventData = Type.Union([
  Type.Object(
    {
      ...about,
      previousStatus: Type.String({ enum: ['Active', 'Blocked', 'Suspicious'] }),
      status: Type.String({ enum: ['Active', 'Blocked', 'Suspicious'] }),
      setBy: Type.String({ enum: ['institution', 'operator'] }),
      locked: Type.Boolean({ description: 'true when the institution cannot undo it' }),
      reason: NullableString(),
    },
    { additionalProperties: false, title: 'wallet.status_changed' },
  ),
  Type.Object(
    { ...about, changedFields: Type.Array(Type.String(), { description: 'Names only, never values' }) },
    { additionalProperties: false, title: 'customer.updated' },
  ),
  Type.Object(
    { ...about, externalId: NullableString() },
    { additionalProperties: false, title: 'customer.created' },
  ),
  Type.Object(about, { additionalProperties: false, title: 'customer.erased' }),
  Type.Object({ endpointId: Uuid() }, { additionalProperties: false, title: 'ping' }),
]);

export const WebhookEvent = Type.Object(
  {
    id: Uuid('The event id: the webhook-id header of its deliveries'),
    type: EventTypeSchema,
    timestamp: Timestamp('When the change was made'),
    data: EventData,
  },
  {
    additionalProperties: false,
    description:
      'No personal values: read the customer with /v2/customer/details. `version` is the customer version ' +
      'after the change.',
  },
);
export type WebhookEvent = Static<typeof WebhookEvent>;

export const FindEventsBody = Type.Object(
  {
    type: Type.Optional(EventTypeSchema),
    customerId: Type.Optional(Uuid()),
    createdFrom: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive, on timestamp' })),
    createdTo: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive, on timestamp' })),
    take: Type.Optional(Take),
    skip: Type.Optional(Skip),
  },
  { additionalProperties: false },
);
export type FindEventsBody = Static<typeof FindEventsBody>;

export const WebhookEventResponse = Data(WebhookEvent);
export const WebhookEventPageResponse = Type.Object(
  { data: Type.Array(WebhookEvent), meta: Page },
  { additionalProperties: false },
);

// ---- deliveries ----

const DeliveryStatusSchema = Type.Unsafe<'pending' | 'succeeded' | 'failed'>({
  type: 'string',
  enum: ['pending', 'succeeded', 'failed'],
});

export const FindDeliveriesBody = Type.Object(
  {
    endpointId: Uuid(),
    eventId: Type.Optional(Uuid()),
    status: Type.Optional(DeliveryStatusSchema),
    take: Type.Optional(Take),
    skip: Type.Optional(Skip),
  },
  { additionalProperties: false },
);
export type FindDeliveriesBody = Static<typeof FindDeliveriesBody>;

export const WebhookDelivery = Type.Object(
  {
    id: Uuid(),
    eventId: Uuid(),
    eventType: EventTypeSchema,
    status: DeliveryStatusSchema,
    attempts: Type.Integer({ description: 'Attempts made so far, redeliveries included' }),
    nextAttemptAt: NullableString({ format: 'date-time', description: 'When pending: the next attempt' }),
    lastAttempt: Type.Unsafe<{
      at: string;
      responseStatus: number | null;
      durationMs: number;
      error: string | null;
    } | null>({
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['at', 'responseStatus', 'durationMs', 'error'],
      properties: {
        at: { type: 'string', format: 'date-time' },
        responseStatus: { type: 'integer', nullable: true, description: 'null when no answer came' },
        durationMs: { type: 'integer' },
        error: {
          type: 'string',
          nullable: true,
          description:
            'null on success; else one of http_status, redirect, timeout, connection_refused, connection_reset, ' +
            'dns, tls, blocked_destination, network',
        },
      },
    }),
  },
  { additionalProperties: false },
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveryPageResponse = Type.Object(
  { data: Type.Array(WebhookDelivery), meta: Page },
  { additionalProperties: false },
);

export const RedeliverBody = Type.Object(
  {
    endpointId: Uuid(),
    eventId: Type.Optional(Uuid('Send this event again (whatever its delivery status)')),
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'With until: every failed delivery of events in the range',
      }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive' })),
  },
  {
    additionalProperties: false,
    description: 'Either eventId, or since and until (inclusive, on the event timestamp).',
    // Each alternative names the properties it requires (Ajv's strict mode wants them defined there).
    anyOf: [
      { properties: { eventId: Uuid() }, required: ['eventId'] },
      { properties: { since: Type.String(), until: Type.String() }, required: ['since', 'until'] },
    ],
    not: { properties: { eventId: Uuid(), since: Type.String() }, required: ['eventId', 'since'] },
    'x-requires': { since: ['until'], until: ['since'] },
  },
);
export type RedeliverBody = Static<typeof RedeliverBody>;

export const RedeliverResponse = Data(
  Type.Object(
    { queued: Type.Integer({ description: 'Deliveries queued' }) },
    { additionalProperties: false },
  ),
);
