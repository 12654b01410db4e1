// Where `customercore login` keeps its session: a file readable by its owner only (0600, in a
// 0700 directory) in the user's config directory, written atomically so that a crash never
// leaves half a file. CUSTOMERCORE_CONFIG_DIR overrides the directory (tests, several profiles).
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Session } from '@customercore/client';

export interface StoredSession {
  url: string;
  email: string;
  merchantId: string | null;
  session: Session;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CUSTOMERCORE_CONFIG_DIR !== undefined && env.CUSTOMERCORE_CONFIG_DIR !== '') {
    return env.CUSTOMERCORE_CONFIG_DIR;
  }
  if (process.platform === 'win32' && env.APPDATA !== undefined)
    return path.join(env.APPDATA, 'customercore');
  const base =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : path.join(homedir(), '.config');
  return path.join(base, 'customercore');
}

export const sessionFile = (env?: NodeJS.ProcessEnv) => path.join(configDir(env), 'session.json');

/** Writes a file only its owner can read, atomically (a temporary file renamed over it). */
export function writePrivateFile(file: string, contents: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${String(process.pid)}.tmp`;
  writeFileSync(temporary, contents, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export function readSession(env?: NodeJS.ProcessEnv): StoredSession | undefined {
  try {
    return JSON.parse(readFileSync(sessionFile(env), 'utf8')) as StoredSession;
  } catch {
    return undefined;
  }
}

export function writeSession(stored: StoredSession, env?: NodeJS.ProcessEnv): void {
  writePrivateFile(sessionFile(env), `${JSON.stringify(stored, null, 2)}\n`);
}

export function deleteSession(env?: NodeJS.ProcessEnv): void {
  rmSync(sessionFile(env), { force: true });
}
