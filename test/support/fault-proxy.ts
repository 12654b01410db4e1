// A proxy in front of the real server that answers some requests itself, as an overloaded or
// rate-limiting deployment would (503, 429 with retry-after and RateLimit headers, 409
// IDEMPOTENCY_IN_PROGRESS), and records every request it sees, so a test can check what a client
// retried, when, and with which Idempotency-Key.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  code: string;
}

export interface SeenRequest {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The fault answered, or undefined when the request went through. */
  fault: Fault | undefined;
}

export interface FaultProxy {
  baseUrl: string;
  /** Faults to answer, in order, to the next requests on this path. */
  inject(path: string, ...faults: Fault[]): void;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const queues = new Map<string, Fault[]>();
  const seen: SeenRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '/';
      const fault = queues.get(path)?.shift();
      seen.push({ at: Date.now(), path, headers: request.headers, body, fault });
      if (fault !== undefined) {
        response.writeHead(fault.status, {
          'content-type': 'application/json',
          'x-request-id': `proxy-${seen.length}`,
          ...fault.headers,
        });
        response.end(
          JSON.stringify({
            statusCode: fault.status,
            error: 'Injected',
            code: fault.code,
            message: `injected ${fault.code}`,
            requestId: `proxy-${seen.length}`,
          }),
        );
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          // fetch sets the framing headers itself (and refuses a second content-length).
          (entry): entry is [string, string] =>
            typeof entry[1] === 'string' && !['host', 'connection', 'content-length'].includes(entry[0]),
        ),
      );
      fetch(`${target}${path}`, {
        method: request.method ?? 'GET',
        headers,
        ...(request.method === 'GET' ? {} : { body }),
      })
        .then(async (answer) => {
          const text = await answer.text();
          const out: Record<string, string> = {};
          answer.headers.forEach((value, name) => {
            if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection')
              out[name] = value;
          });
          response.writeHead(answer.status, out);
          response.end(text);
        })
        .catch((error: unknown) => {
          response.writeHead(502);
          response.end(String(error));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    inject(path, ...faults) {
      queues.set(path, [...(queues.get(path) ?? []), ...faults]);
    },
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
