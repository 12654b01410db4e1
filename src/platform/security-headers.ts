// Response hardening. The API serves JSON to programs, so its responses allow nothing to be
// loaded, framed, sniffed or cached (they carry personal data); the /docs page sets its own, looser
// CSP for Swagger UI's assets. Browsers may call the API from other origins only when CORS_ORIGINS
// names them: closed by default.
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export async function registerSecurityHeaders(
  app: FastifyInstance,
  options: { corsOrigins: readonly string[] },
): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
  });
  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'api-key', 'content-type', 'merchant_id', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    });
  }
  app.addHook('onSend', (request, reply, _payload, done) => {
    if (request.url.startsWith('/v2/')) reply.header('cache-control', 'no-store');
    done();
  });
}
