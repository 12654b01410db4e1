// Verifying the webhooks CustomerCore sends, as the Standard Webhooks specification signs them,
// with its published library underneath. Pass the raw body, exactly the bytes received: a body
// parsed and serialised again (a JSON middleware's `req.body`) no longer matches its signature.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { CustomerCoreError } from './errors.js';

export type WalletStatus = 'Active' | 'Blocked' | 'Suspicious';

interface EventBase<Type extends string, Data> {
  id: string;
  type: Type;
  timestamp: string;
  data: Data;
}

/** The events of the contract ("Webhooks and events"); they carry no personal values. */
export type WebhookEvent =
  | EventBase<
      'customer.created',
      { customerId: string; walletId: string; version: number; externalId: string | null }
    >
  | EventBase<
      'customer.updated',
      { customerId: string; walletId: string; version: number; changedFields: string[] }
    >
  | EventBase<
      'wallet.status_changed',
      {
        customerId: string;
        walletId: string;
        version: number;
        previousStatus: WalletStatus;
        status: WalletStatus;
        setBy: 'institution' | 'operator';
        locked: boolean;
        reason: string | null;
      }
    >
  | EventBase<'customer.erased', { customerId: string; walletId: string; version: number }>
  | EventBase<'ping', { endpointId: string }>;

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function headerRecord(headers: WebhookHeaders): Record<string, string> {
  const record: Record<string, string> = {};
  const entries: [string, string | string[] | undefined][] =
    headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    record[name.toLowerCase()] = Array.isArray(value) ? value.join(' ') : value;
  }
  return record;
}

/**
 * Verifies a webhook's signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`; any of
 * several space-separated signatures, as sent while a rotated-out secret is still valid) and its
 * timestamp (within five minutes), and returns the event. Throws a CustomerCoreError with code
 * WEBHOOK_VERIFICATION_FAILED otherwise: answer such a request with a 400 and ignore it.
 */
export function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
): WebhookEvent {
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
    throw new CustomerCoreError({
      statusCode: 400,
      code: 'WEBHOOK_VERIFICATION_FAILED',
      message:
        'verifyWebhook needs the raw request body (a string or the bytes received), not a parsed object: ' +
        'a body parsed and serialised again no longer matches its signature',
    });
  }
  const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  const record = headerRecord(headers);
  try {
    return new Webhook(secret).verify(body, record) as WebhookEvent;
  } catch (error) {
    const reason =
      error instanceof WebhookVerificationError || error instanceof SyntaxError
        ? error.message
        : String(error);
    throw new CustomerCoreError({
      statusCode: 400,
      code: 'WEBHOOK_VERIFICATION_FAILED',
      message: `The webhook did not verify: ${reason}`,
      requestId: record['webhook-id'],
      cause: error,
    });
  }
}

/** Signs a body as CustomerCore does (for tests of a webhook receiver). */
export function signWebhook(
  secret: string,
  input: { id: string; timestamp: Date; body: string },
): Record<string, string> {
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(Math.floor(input.timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(input.id, input.timestamp, input.body),
  };
}
