// Passwords are stored only as argon2id hashes (the library's defaults: 64 MiB, 3 passes).
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export const hashPassword = (password: string): Promise<string> =>
  argon2.hash(password, { type: argon2.argon2id });

let decoy: Promise<string> | undefined;

/**
 * The hash checked for unknown accounts, made with the same parameters as real ones. It is made
 * once, at start-up (see authRoutes), so that not even the first unknown account's login is slower.
 */
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

/**
 * Checks a password against a stored hash. With no hash (unknown account) it still spends the same
 * work on a decoy hash, so a failed login takes as long whether or not the account exists.
 */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  const ok = await argon2.verify(hash ?? (await decoyHash()), password).catch(() => false);
  return hash !== undefined && ok;
}

/** A generated password: 24 characters, 144 random bits. */
export const generatePassword = (): string => randomBytes(18).toString('base64url');
