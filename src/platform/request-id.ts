// Every response carries x-request-id. A caller's own id is kept when it is safe to echo and log
// (1-128 letters, digits, '-', '_' or '.'); anything else is replaced by a generated UUID.
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';

const acceptable = /^[A-Za-z0-9._-]{1,128}$/;

export function requestIdOf(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && acceptable.test(incoming) ? incoming : randomUUID();
}
