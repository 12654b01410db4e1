// Webhook receivers for the tests: real HTTP servers on 127.0.0.1 in the test process, verifying
// what arrives with the `standardwebhooks` package as a partner would; and the dispatcher, started
// in the test process on the test app's database with a seconds-long retry schedule.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createLogger } from '../../src/platform/logger.js';
import {
  startWebhookDispatcher,
  type DispatcherOptions,
  type WebhookDispatcher,
} from '../../src/modules/webhooks/webhook-dispatcher.js';
import type { TestApp } from './app.js';
import { Writable } from 'node:stream';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  event: { id: string; type: string; timestamp: string; data: Record<string, any> };
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `predicate` holds for what arrived (checked on each arrival), or rejects after timeoutMs. */
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(
  answer: (request: Received, index: number) => Answer | Promise<Answer> = () => ({ status: 200 }),
): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event: Received['event'];
      try {
        event = JSON.parse(body) as Received['event'];
      } catch {
        event = { id: '', type: 'unparsable', timestamp: '', data: {} };
      }
      const entry: Received = { headers: request.headers, body, event, at: Date.now() };
      const index = received.length;
      received.push(entry);
      for (const waiter of waiters) waiter();
      void Promise.resolve(answer(entry, index)).then(async (reply) => {
        if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
        if (response.destroyed) return;
        response.writeHead(reply.status, reply.headers ?? {});
        response.end(reply.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor(predicate, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(received)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(received);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `receiver: condition not met in ${timeoutMs} ms; got ${received.map((r) => r.event.type).join(', ')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Verifies a received request as a partner's receiver would; throws when it does not verify. */
export function verify(secret: string, received: Pick<Received, 'headers' | 'body'>): unknown {
  return new Webhook(secret).verify(received.body, {
    'webhook-id': String(received.headers['webhook-id']),
    'webhook-timestamp': String(received.headers['webhook-timestamp']),
    'webhook-signature': String(received.headers['webhook-signature']),
  });
}

/** The dispatcher on the test app's database, with test-sized timings. */
export async function startTestDispatcher(
  t: TestApp,
  options: Partial<Omit<DispatcherOptions, 'db' | 'secretBox'>> = {},
): Promise<WebhookDispatcher & { logs: string[] }> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      t.logs.push(chunk.toString());
      callback();
    },
  });
  const dispatcher = await startWebhookDispatcher({
    db: t.db,
    secretBox: t.webhooks.secretBox,
    logger: createLogger('debug', sink),
    timeoutMs: 2000,
    retrySchedule: [0, 300, 300, 300, 300],
    disableAfterMs: 3_600_000,
    allowPrivateNetworks: true,
    concurrency: 8,
    pollIntervalMs: 100,
    ...options,
  });
  return Object.assign(dispatcher, { logs });
}
