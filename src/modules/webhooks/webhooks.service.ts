// Webhook endpoints, their deliveries, and the institution's events: the use cases behind the
// routes (and the console). Every function is scoped by the caller's institution; another
// institution's endpoint or event is 404 NOT_FOUND.
import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.js';
import { AppError, validationError } from '../../platform/errors.js';
import { announceDeliveries, subscribableEventTypes } from './events.js';
import { urlProblem } from './webhook-destinations.js';
import { generateWebhookSecret, type SecretBox } from './webhook-secrets.js';
import {
  deleteEndpoint,
  failPendingDeliveries,
  findAttempts,
  findDeliveries,
  findEndpoint,
  findEvents,
  insertEndpoint,
  insertPing,
  listEndpoints,
  redeliverEvent,
  redeliverFailed,
  rotateEndpointSecret,
  updateEndpoint,
  type AttemptRow,
  type DeliveryRow,
  type EndpointRow,
  type EventRow,
} from './webhooks.repository.js';
import type {
  CreateWebhookBody,
  FindDeliveriesBody,
  FindEventsBody,
  RedeliverBody,
  UpdateWebhookBody,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookEvent,
} from './webhooks.schemas.js';

/** What the webhook routes need besides the database. */
export interface WebhookSettings {
  secretBox: SecretBox;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: http:// and inside addresses allowed (development, tests). */
  allowPrivateNetworks: boolean;
}

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

const endpointNotFound = () => new AppError('NOT_FOUND', 'Webhook endpoint not found');

export function toWebhookEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export const toWebhookEvent = (row: EventRow): WebhookEvent =>
  ({
    id: row.id,
    type: row.type,
    timestamp: row.createdAt.toISOString(),
    data: row.data,
  }) as WebhookEvent;

function toWebhookDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    lastAttempt:
      row.lastAttemptAt === null
        ? null
        : {
            at: row.lastAttemptAt.toISOString(),
            responseStatus: row.lastResponseStatus,
            durationMs: row.lastDurationMs ?? 0,
            error: row.lastError,
          },
  };
}

function checkUrl(url: string, settings: WebhookSettings): void {
  const problem = urlProblem(url, settings.allowPrivateNetworks);
  if (problem !== undefined) throw validationError('url', problem);
}

const pageOf = (body: { take?: number; skip?: number }) => ({ take: body.take ?? 20, skip: body.skip ?? 0 });

/** Creates an endpoint; its secret is in this answer only. */
export async function createWebhookEndpoint(
  db: Database,
  settings: WebhookSettings,
  institutionId: string,
  input: CreateWebhookBody,
): Promise<WebhookEndpointWithSecret> {
  checkUrl(input.url, settings);
  const id = randomUUID();
  const secret = generateWebhookSecret();
  const row = await insertEndpoint(db, institutionId, {
    id,
    url: input.url,
    description: input.description ?? null,
    eventTypes: input.eventTypes ?? subscribableEventTypes,
    secret: settings.secretBox.seal(secret, { institutionId, endpointId: id }),
  });
  return { ...toWebhookEndpoint(row), secret };
}

/** The institution's endpoints, newest first, without secrets. */
export async function findWebhookEndpoints(db: Database, institutionId: string): Promise<WebhookEndpoint[]> {
  return (await listEndpoints(db, institutionId)).map(toWebhookEndpoint);
}

/** One endpoint, without its secret. */
export async function webhookEndpointDetails(
  db: Database,
  institutionId: string,
  id: string,
): Promise<WebhookEndpoint> {
  const row = await findEndpoint(db, institutionId, id);
  if (row === undefined) throw endpointNotFound();
  return toWebhookEndpoint(row);
}

export async function updateWebhookEndpoint(
  db: Database,
  settings: WebhookSettings,
  institutionId: string,
  input: UpdateWebhookBody,
): Promise<WebhookEndpoint> {
  if (input.url !== undefined) checkUrl(input.url, settings);
  return db.transaction(async (tx) => {
    const current = await findEndpoint(tx, institutionId, input.id, { lock: true });
    if (current === undefined) throw endpointNotFound();
    const row = await updateEndpoint(tx, institutionId, input.id, {
      ...(input.url === undefined ? {} : { url: input.url }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.eventTypes === undefined ? {} : { eventTypes: input.eventTypes }),
      ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
    });
    // Disabled: what is waiting for it is recorded failed, for a redelivery once re-enabled.
    if (input.enabled === false && current.enabled) await failPendingDeliveries(tx, institutionId, input.id);
    return toWebhookEndpoint(row);
  });
}

/** Deletes the endpoint with its deliveries: nothing more is sent to it. */
export async function deleteWebhookEndpoint(
  db: Database,
  institutionId: string,
  id: string,
): Promise<WebhookEndpoint> {
  const row = await deleteEndpoint(db, institutionId, id);
  if (row === undefined) throw endpointNotFound();
  return toWebhookEndpoint(row);
}

/**
 * A new secret, shown in this answer only. The secret it replaces keeps signing beside it for 24
 * hours (a secret rotated out earlier, still in its overlap, stops at once).
 */
export async function rotateWebhookSecret(
  db: Database,
  settings: WebhookSettings,
  institutionId: string,
  id: string,
): Promise<WebhookEndpointWithSecret> {
  return db.transaction(async (tx) => {
    const current = await findEndpoint(tx, institutionId, id, { lock: true });
    if (current === undefined) throw endpointNotFound();
    const secret = generateWebhookSecret();
    const row = await rotateEndpointSecret(tx, institutionId, id, {
      secret: settings.secretBox.seal(secret, { institutionId, endpointId: id }),
      // Sealed for this same endpoint, so it moves as it is.
      previousSecret: Buffer.from(current.secret),
      previousValidMs: SECRET_OVERLAP_MS,
    });
    return { ...toWebhookEndpoint(row), secret };
  });
}

/** Queues a ping event to this endpoint alone; returns the event (its id is the webhook-id). */
export async function sendTestEvent(db: Database, institutionId: string, id: string): Promise<WebhookEvent> {
  const { event, queued } = await db.transaction(async (tx) => {
    const endpoint = await findEndpoint(tx, institutionId, id, { lock: true });
    if (endpoint === undefined) throw endpointNotFound();
    return { event: await insertPing(tx, institutionId, id), queued: endpoint.enabled ? 1 : 0 };
  });
  announceDeliveries(db, queued);
  return toWebhookEvent(event);
}

/** An endpoint's deliveries, newest first. */
export async function findWebhookDeliveries(db: Database, institutionId: string, body: FindDeliveriesBody) {
  if ((await findEndpoint(db, institutionId, body.endpointId)) === undefined) throw endpointNotFound();
  const page = pageOf(body);
  const found = await findDeliveries(
    db,
    institutionId,
    body.endpointId,
    {
      ...(body.eventId === undefined ? {} : { eventId: body.eventId }),
      ...(body.status === undefined ? {} : { status: body.status }),
    },
    page,
  );
  return { data: found.rows.map(toWebhookDelivery), meta: { total: found.total, ...page } };
}

/** Every attempt of one delivery of the endpoint, newest first (the console's delivery log). */
export async function webhookDeliveryAttempts(
  db: Database,
  institutionId: string,
  endpointId: string,
  deliveryId: string,
): Promise<AttemptRow[]> {
  if ((await findEndpoint(db, institutionId, endpointId)) === undefined) throw endpointNotFound();
  return findAttempts(db, institutionId, endpointId, deliveryId);
}

/** Queues an event again, or every failed delivery in a time range; returns how many. */
export async function redeliverWebhooks(
  db: Database,
  institutionId: string,
  body: RedeliverBody,
): Promise<{ queued: number }> {
  const byEvent = body.eventId !== undefined;
  const byRange = body.since !== undefined || body.until !== undefined;
  if (byEvent === byRange) {
    throw validationError('eventId', 'or since and until must be given, not both and not neither');
  }
  if (byRange && (body.since === undefined || body.until === undefined)) {
    throw validationError(body.since === undefined ? 'since' : 'until', 'must be given with the other bound');
  }
  const redelivered = await db.transaction(async (tx) => {
    const endpoint = await findEndpoint(tx, institutionId, body.endpointId, { lock: true });
    if (endpoint === undefined) throw endpointNotFound();
    if (!endpoint.enabled) {
      throw validationError('endpointId', 'is disabled: re-enable it with /v2/webhook/update first');
    }
    if (body.eventId !== undefined) {
      const queued = await redeliverEvent(tx, institutionId, body.endpointId, body.eventId);
      if (queued === undefined) throw new AppError('NOT_FOUND', 'Event not found');
      return { queued };
    }
    return {
      queued: await redeliverFailed(tx, institutionId, body.endpointId, {
        since: body.since as string,
        until: body.until as string,
      }),
    };
  });
  announceDeliveries(db, redelivered.queued);
  return redelivered;
}

/** The institution's events, newest first. */
export async function findInstitutionEvents(db: Database, institutionId: string, body: FindEventsBody) {
  const { take, skip, ...filters } = body;
  const page = pageOf({ take, skip });
  const found = await findEvents(db, institutionId, filters, page);
  return { data: found.rows.map(toWebhookEvent), meta: { total: found.total, ...page } };
}
