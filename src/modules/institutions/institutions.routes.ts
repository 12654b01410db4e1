import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { CreateInstitutionBody, InstitutionCreatedResponse } from './institutions.schemas.js';
import { createInstitution } from './institutions.service.js';

export function institutionsRoutes(app: App, deps: { db: Database }): void {
  app.post(
    '/v2/admin/institution/create',
    {
      config: { permission: 'operator', idempotent: true },
      schema: {
        tags: ['Operator'],
        summary: 'Create an institution and its Owner user (operator only)',
        body: CreateInstitutionBody,
        response: { 201: InstitutionCreatedResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request, reply) =>
      reply.status(201).send({ data: await createInstitution(deps.db, request.body) }),
  );
}
