// Routes for the platform operator's accounts: across institutions, and the wallet-status lock.
import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { principalOf } from '../../platform/authenticate.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { actorOf } from '../../platform/principal.js';
import {
  AdminCustomerPageResponse,
  AdminCustomerResponse,
  AdminFindCustomersBody,
  CustomerIdBody,
  SetWalletStatusBody,
} from '../customers/customers.schemas.js';
import {
  adminCustomerDetails,
  adminFindCustomers,
  setWalletStatusAsOperator,
} from '../customers/customers.service.js';

export function operatorRoutes(app: App, deps: { db: Database }): void {
  app.post(
    '/v2/admin/wallet/status',
    {
      config: { permission: 'operator', idempotent: true },
      schema: {
        tags: ['Operator'],
        summary: "Set a wallet's status as the operator",
        description:
          'Sets the status with walletStatusSetBy = operator. Blocked or Suspicious locks it: the institution ' +
          'can no longer change it. Active lifts the lock.',
        body: SetWalletStatusBody,
        response: { 200: AdminCustomerResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({
      data: await setWalletStatusAsOperator(deps.db, actorOf(principalOf(request)), request.body),
    }),
  );

  app.post(
    '/v2/admin/customer/find',
    {
      config: { permission: 'operator' },
      schema: {
        tags: ['Operator'],
        summary: 'Search customers across institutions',
        body: AdminFindCustomersBody,
        response: { 200: AdminCustomerPageResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => adminFindCustomers(deps.db, request.body),
  );

  app.post(
    '/v2/admin/customer/details',
    {
      config: { permission: 'operator' },
      schema: {
        tags: ['Operator'],
        summary: "Any institution's customer",
        body: CustomerIdBody,
        response: {
          200: AdminCustomerResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request) => ({ data: await adminCustomerDetails(deps.db, request.body.id) }),
  );
}
