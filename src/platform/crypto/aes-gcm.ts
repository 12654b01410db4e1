// AES-256-GCM, the service's one authenticated cipher, and the keys it generates into the data
// directory. Every sealed form of the service (webhook secrets, wrapped keys, personal values)
// is its own header followed by what gcmSeal() returns: 12-byte nonce · ciphertext · 16-byte tag,
// with associated data that binds the value to where it belongs.
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

// Nonces come from a pool of CSPRNG bytes refilled 4 KiB at a time, as Node's randomUUID() caches
// its randomness: one getrandom() call per 341 nonces instead of one per value (a create seals
// about twenty). Each nonce is used once, so GCM's uniqueness requirement is met as with
// randomBytes(12) per call.
const noncePool = Buffer.alloc(NONCE_BYTES * 341);
let noncesLeft = 0;
function nextNonce(): Buffer {
  if (noncesLeft === 0) {
    randomFillSync(noncePool);
    noncesLeft = noncePool.length / NONCE_BYTES;
  }
  noncesLeft -= 1;
  // A copy: the pool is overwritten at the next refill.
  return Buffer.from(noncePool.subarray(noncesLeft * NONCE_BYTES, (noncesLeft + 1) * NONCE_BYTES));
}

/** nonce · ciphertext · tag of `plaintext` under `key` (32 bytes), bound to `aad`. */
export function gcmSeal(key: Buffer, aad: string | Buffer, plaintext: string | Buffer): Buffer {
  const nonce = nextNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(typeof aad === 'string' ? Buffer.from(aad) : aad);
  const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  // GCM is a stream mode: final() yields nothing, so the value is three pieces, joined once.
  return Buffer.concat([nonce, body, cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext of what gcmSeal() made with the same key and `aad`; throws on any mismatch. */
export function gcmOpen(key: Buffer, aad: string | Buffer, sealed: Uint8Array): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('Not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAAD(typeof aad === 'string' ? Buffer.from(aad) : aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const plaintext = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
  // final() checks the tag (and throws on a mismatch); in GCM it yields no more bytes.
  const rest = decipher.final();
  return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
}

/** The data directory's key `fileName` (base64 of 32 bytes), created (mode 0600) on first start. */
export function dataDirKey(dataDir: string, fileName: string): string {
  const file = path.join(dataDir, fileName);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = randomBytes(32).toString('base64');
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  }
}
