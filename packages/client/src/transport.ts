// How a request leaves the client. By default through undici's `request` (the HTTP client under
// Node's own `fetch`) instead of `fetch` itself: `fetch`'s WHATWG layer (request and response
// streams, header lists, an abort signal and timer per request) cost the importer about twice the
// CPU of the service's whole create for each row (docs/performance.md, "Import"). The answer is
// still handed back as a standard `Response`, so everything above this file reads one type.
import { request as undiciRequest, type Dispatcher } from 'undici';

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  signal: AbortSignal | undefined;
  /** Waiting for the answer's headers, and then between two chunks of its body. */
  timeoutMs: number;
}

export type Transport = (request: OutgoingRequest) => Promise<Response>;

/** Through a `fetch` implementation (one given for tests or another runtime). */
export function fetchTransport(fetchImpl: typeof globalThis.fetch): Transport {
  return async (request) => {
    const timeout = AbortSignal.timeout(request.timeoutMs);
    return fetchImpl(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      signal: request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]),
    });
  };
}

/** Statuses whose answers have no body (the Response constructor refuses one). */
const bodiless = new Set([101, 204, 205, 304]);

/** Through undici's `request`, on the given dispatcher or undici's global one (keep-alive pools). */
export function undiciTransport(dispatcher?: Dispatcher): Transport {
  return async (request) => {
    const answer = await undiciRequest(request.url, {
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: request.body ?? null,
      signal: request.signal ?? null,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const text = await answer.body.text();
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const each of value) headers.append(name, each);
      else if (value !== undefined) headers.append(name, value);
    }
    return new Response(bodiless.has(answer.statusCode) ? null : text, {
      status: answer.statusCode,
      headers,
    });
  };
}
