// PGlite is single-process: two processes on one data directory both "succeed" and silently lose
// acknowledged writes. We hold a kernel lock (an open-file-description lock, released by the kernel
// when the process exits however it exits) on a file in the data directory for the process's life.
// A heartbeat or mtime lock would be wrong here: PGlite runs on the event loop, so a long query
// would make a live holder look stale.
import { closeSync, mkdirSync, openSync, readFileSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import fsx from 'fs-native-extensions';

export class DataDirLockedError extends Error {
  constructor(dataDir: string, holderPid: string) {
    super(
      `The data directory ${dataDir} is in use by another CustomerCore process` +
        (holderPid ? ` (pid ${holderPid})` : '') +
        '. Embedded PGlite allows one process per data directory: stop the other process, ' +
        'choose another DATA_DIR, or set DATABASE_URL to share a PostgreSQL server between instances.',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'customercore.lock');
  const fd = openSync(file, 'a+', 0o600);
  if (!fsx.tryLock(fd)) {
    closeSync(fd);
    let holder = '';
    try {
      holder = readFileSync(file, 'utf8').trim();
    } catch {
      // the pid is only for the message
    }
    throw new DataDirLockedError(dataDir, holder);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  return {
    release: () => {
      closeSync(fd);
    },
  };
}
