// Liveness says the process runs; readiness says it can serve, i.e. the database answers.
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { serviceUnavailable } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http-schemas.js';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

export function healthRoutes(app: App, deps: { db: Database }): void {
  app.get(
    '/health/live',
    {
      config: { permission: 'public' },
      schema: { tags: ['Health'], summary: 'The process is running', response: { 200: Status } },
    },
    () => ({ status: 'ok' }),
  );

  app.get(
    '/health/ready',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['Health'],
        summary: 'The service can serve requests (its database answers)',
        response: { 200: Status, 503: errorResponses({ auth: false })[503] },
      },
    },
    async () => {
      try {
        await deps.db.query('SELECT 1');
      } catch {
        throw serviceUnavailable('The database cannot be reached');
      }
      return { status: 'ok' };
    },
  );
}
