// Bearer secrets (refresh tokens, API keys): 256 random bits, stored only as a SHA-256 hash. With
// that much entropy a fast hash is safe, and it lets a secret be looked up by its hash.
import { createHash, randomBytes } from 'node:crypto';

export const generateSecret = (prefix: string): string => prefix + randomBytes(32).toString('base64url');

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
