// The Ed25519 key that signs access tokens. It must survive restarts (or every session would end
// with the process) and be the same on every instance. On a server deployment it is configuration
// (JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE); with the embedded database it is generated once into
// the data directory, readable by its owner only.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** JWK thumbprint of the public key (RFC 7638), sent as the token's `kid`. */
  kid: string;
}

export async function signingKeyFromPem(pem: string): Promise<SigningKey> {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      'The JWT signing key must be an Ed25519 private key (openssl genpkey -algorithm ed25519)',
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
}

export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Reads the data directory's key, creating it on first start. */
export async function dataDirSigningKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, 'jwt-signing-key.pem');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    pem = generateSigningKeyPem();
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  }
  return signingKeyFromPem(pem);
}

export interface VerificationKey {
  publicKey: KeyObject;
  kid: string;
}

/**
 * Public keys from a PEM bundle (one or more "PUBLIC KEY" blocks): the previous signing keys whose
 * tokens stay valid during a key rotation.
 */
export async function verificationKeysFromPem(bundle: string): Promise<VerificationKey[]> {
  const blocks = bundle.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  return Promise.all(
    blocks.map(async (block) => {
      const publicKey = createPublicKey(block);
      if (publicKey.asymmetricKeyType !== 'ed25519')
        throw new Error('Verification keys must be Ed25519 public keys');
      return { publicKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
    }),
  );
}
