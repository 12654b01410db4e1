// Webhook signing secrets at rest. A secret must be usable for signing, so it cannot be hashed:
// it is encrypted with AES-256-GCM under the service's webhook secrets key (configuration, or a
// file generated into the data directory), which the database never sees. A dump of the database
// holds only ciphertext. The endpoint's institution and id are the associated data, so a
// ciphertext copied to another endpoint's row fails to decrypt instead of signing for it.
// Stored form: version byte 1 · 8-byte key id · 12-byte nonce · ciphertext · 16-byte tag. The key
// id (the first bytes of the key's SHA-256) names the key a value was made with, for a future
// rotation of the key itself.
import { createHash, randomBytes } from 'node:crypto';
import { dataDirKey, gcmOpen, gcmSeal } from '../../platform/crypto/aes-gcm.js';

const FORMAT_VERSION = 1;
const SECRET_PREFIX = 'whsec_';

export interface SecretBox {
  seal(secret: string, endpoint: EndpointKey): Buffer;
  open(sealed: Buffer, endpoint: EndpointKey): string;
}

export interface EndpointKey {
  institutionId: string;
  endpointId: string;
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks' form). */
export const generateWebhookSecret = (): string => SECRET_PREFIX + randomBytes(32).toString('base64');

const associatedData = (endpoint: EndpointKey) =>
  Buffer.from(`webhook-secret:${endpoint.institutionId}:${endpoint.endpointId}`);

export function createSecretBox(keyBase64: string): SecretBox {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== 32) throw new Error('The webhook secrets key must be 32 bytes');
  const keyId = createHash('sha256').update(key).digest().subarray(0, 8);
  const header = Buffer.concat([Buffer.from([FORMAT_VERSION]), keyId]);
  return {
    seal: (secret, endpoint) => Buffer.concat([header, gcmSeal(key, associatedData(endpoint), secret)]),
    open(sealed, endpoint) {
      if (!sealed.subarray(0, header.length).equals(header)) {
        throw new Error('The webhook secret was sealed with another key than WEBHOOK_SECRETS_KEY');
      }
      return gcmOpen(key, associatedData(endpoint), sealed.subarray(header.length)).toString('utf8');
    },
  };
}

/** The data directory's key (base64), created (mode 0600) on first start. */
export const dataDirSecretsKey = (dataDir: string): string => dataDirKey(dataDir, 'webhook-secrets.key');
