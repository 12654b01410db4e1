// Key-encryption keys (KEKs): what wraps each customer's data key and the blind-index key. The
// service never uses a KEK on personal values directly; it asks a KeyProvider to wrap and unwrap
// the small keys that do. Every wrapped key names the KEK version that wrapped it, so that a
// rotation can find what is left to re-wrap, and a provider holding several versions (the
// current one and those being rotated out) can unwrap any of them.
//
// Built here: the local provider, AES-256-GCM under 32-byte keys from configuration
// (ENCRYPTION_KEY / ENCRYPTION_KEY_FILE, ENCRYPTION_PREVIOUS_KEYS) or from a file generated into
// the data directory. A KMS or Vault Transit provider implements the same four members with the
// service's encrypt/decrypt calls (docs/decisions.md, "Personal data at rest").
import { createHmac } from 'node:crypto';
import { dataDirKey, gcmOpen, gcmSeal } from './aes-gcm.js';

export interface KeyProvider {
  /** The version new keys are wrapped with. */
  readonly currentVersion: string;
  /** Every version this provider can unwrap, the current one first. */
  readonly versions: readonly string[];
  /** Wraps `key` under the current version; `context` is bound to it (associated data). */
  wrap(key: Buffer, context: string): Promise<Buffer>;
  /** Unwraps what wrap() made with any held version and the same context; throws otherwise. */
  unwrap(wrapped: Uint8Array, context: string): Promise<Buffer>;
}

const FORMAT = 1;
const VERSION_BYTES = 8;

/** A key's version: a keyed hash of a constant, so it names the key without revealing it. */
export const keyVersionOf = (key: Buffer): string =>
  createHmac('sha256', key)
    .update('customercore key version')
    .digest('hex')
    .slice(0, VERSION_BYTES * 2);

/** The KEK version a wrapped key names (any provider's format: byte 0 format, then 8 bytes). */
export const wrappedVersion = (wrapped: Uint8Array): string =>
  Buffer.from(wrapped.subarray(1, 1 + VERSION_BYTES)).toString('hex');

export class KeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyMismatchError';
  }
}

/** Decodes a base64 key and checks it is 32 bytes. */
export function decodeKey(base64: string, name: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== base64.trim()) {
    throw new Error(`${name} must be 32 random bytes in base64 (openssl rand -base64 32)`);
  }
  return key;
}

/** The local provider: `current` wraps, every key given unwraps. */
export function localKeyProvider(current: Buffer, previous: readonly Buffer[] = []): KeyProvider {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) keys.set(keyVersionOf(key), key);
  const currentVersion = keyVersionOf(current);
  return {
    currentVersion,
    versions: [...keys.keys()],
    wrap(key, context) {
      const header = Buffer.concat([Buffer.from([FORMAT]), Buffer.from(currentVersion, 'hex')]);
      return Promise.resolve(Buffer.concat([header, gcmSeal(current, context, key)]));
    },
    unwrap(wrapped, context) {
      const kek = wrapped[0] === FORMAT ? keys.get(wrappedVersion(wrapped)) : undefined;
      if (kek === undefined) {
        return Promise.reject(
          new KeyMismatchError(
            `a key wrapped with key version ${wrappedVersion(wrapped)}, which is not held`,
          ),
        );
      }
      try {
        return Promise.resolve(gcmOpen(kek, context, wrapped.subarray(1 + VERSION_BYTES)));
      } catch {
        return Promise.reject(new KeyMismatchError('a wrapped key failed authentication'));
      }
    },
  };
}

/** The data directory's key (base64), created (mode 0600) on first start. */
export const dataDirEncryptionKey = (dataDir: string): string => dataDirKey(dataDir, 'encryption.key');
