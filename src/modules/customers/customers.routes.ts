import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { institutionPrincipalOf } from '../../platform/authenticate.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { actorOf } from '../../platform/principal.js';
import {
  CreateCustomerBody,
  CustomerIdBody,
  CustomerPageResponse,
  CustomerResponse,
  FindCustomersBody,
  UpdateCustomerBody,
} from './customers.schemas.js';
import {
  createCustomer,
  customerDetails,
  findInstitutionCustomers,
  updateCustomer,
} from './customers.service.js';

export function customersRoutes(app: App, deps: { db: Database }): void {
  app.post(
    '/v2/customer/create',
    {
      config: { permission: 'customers:write', idempotent: true },
      schema: {
        tags: ['Customers'],
        summary: 'Create a customer and its wallet',
        description:
          'Creates the customer and its wallet in one transaction. The email (case-insensitive) and ' +
          'externalId are unique per institution; concurrent creates with one email yield one customer.',
        body: CreateCustomerBody,
        response: {
          201: CustomerResponse,
          ...errorResponses({
            auth: true,
            codes: ['REFERRAL_NOT_FOUND', 'CUSTOMER_EMAIL_TAKEN', 'CUSTOMER_EXTERNAL_ID_TAKEN'],
          }),
        },
      },
    },
    async (request, reply) => {
      const customer = await createCustomer(
        deps.db,
        institutionPrincipalOf(request).institutionId,
        request.body,
      );
      return reply.status(201).send({ data: customer });
    },
  );

  app.post(
    '/v2/customer/update',
    {
      config: { permission: 'customers:write', idempotent: true },
      schema: {
        tags: ['Customers'],
        summary: "Change a customer's fields or wallet status",
        description:
          'Applies atomically. `null` clears an optional field. A wallet status the operator set to Blocked ' +
          'or Suspicious cannot be changed by the institution (403 WALLET_STATUS_LOCKED, nothing changed).',
        body: UpdateCustomerBody,
        response: {
          200: CustomerResponse,
          ...errorResponses({
            auth: true,
            codes: [
              'WALLET_STATUS_LOCKED',
              'CUSTOMER_NOT_FOUND',
              'CUSTOMER_EMAIL_TAKEN',
              'CUSTOMER_EXTERNAL_ID_TAKEN',
            ],
          }),
        },
      },
    },
    async (request) => {
      const principal = institutionPrincipalOf(request);
      const customer = await updateCustomer(
        deps.db,
        { institutionId: principal.institutionId, actor: actorOf(principal) },
        request.body,
      );
      return { data: customer };
    },
  );

  app.post(
    '/v2/customer/details',
    {
      config: { permission: 'customers:read' },
      schema: {
        tags: ['Customers'],
        summary: 'One customer, with every field',
        body: CustomerIdBody,
        response: { 200: CustomerResponse, ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }) },
      },
    },
    async (request) => ({
      data: await customerDetails(deps.db, institutionPrincipalOf(request).institutionId, request.body.id),
    }),
  );

  app.post(
    '/v2/customer/find',
    {
      config: { permission: 'customers:read' },
      schema: {
        tags: ['Customers'],
        summary: 'Search customers; newest first, paged with take and skip',
        body: FindCustomersBody,
        response: { 200: CustomerPageResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) =>
      findInstitutionCustomers(deps.db, institutionPrincipalOf(request).institutionId, request.body),
  );
}
