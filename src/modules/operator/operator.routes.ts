// Routes for the platform operator's accounts: across institutions, and the wallet-status lock.
import type { App } from '../../platform/app-type.js';
import { principalOf } from '../../platform/authenticate.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { actorOf } from '../../platform/principal.js';
import { preconditionOf, withEtag } from '../customers/customer-versions.js';
import {
  AdminCustomerPageResponse,
  AdminCustomerResponse,
  AdminFindCustomersBody,
  CustomerHistoryBody,
  CustomerIdBody,
  EraseCustomerBody,
  HistoryPageResponse,
  IfMatchHeaders,
  SetWalletStatusBody,
} from '../customers/customers.schemas.js';
import {
  adminCustomerDetails,
  adminFindCustomers,
  customerHistory,
  eraseCustomer,
  setWalletStatusAsOperator,
  toAdminCustomer,
  type CustomerStore,
} from '../customers/customers.service.js';

export function operatorRoutes(app: App, deps: CustomerStore): void {
  app.post(
    '/v2/admin/wallet/status',
    {
      config: { permission: 'operator', idempotent: true, holdsCustomer: true },
      schema: {
        tags: ['Operator'],
        summary: "Set a wallet's status as the operator",
        description:
          'Sets the status with walletStatusSetBy = operator. Blocked or Suspicious locks it: the institution ' +
          "can no longer change it. Active lifts the lock. A change bumps the customer's version and adds a " +
          'history entry; If-Match or expectedVersion make it conditional (409 VERSION_CONFLICT). ' +
          "The response carries the customer's ETag.",
        headers: IfMatchHeaders,
        body: SetWalletStatusBody,
        response: {
          200: AdminCustomerResponse,
          ...errorResponses({ auth: true, codes: ['NOT_FOUND', 'VERSION_CONFLICT'] }),
        },
      },
    },
    async (request, reply) => {
      const { expectedVersion, ...input } = request.body;
      const precondition = preconditionOf(request.headers['if-match'], expectedVersion);
      const customer = await setWalletStatusAsOperator(
        deps,
        { actor: actorOf(principalOf(request)), requestId: request.id },
        input,
        precondition,
      );
      return { data: withEtag(reply, customer) };
    },
  );

  app.post(
    '/v2/admin/customer/find',
    {
      config: { permission: 'operator' },
      schema: {
        tags: ['Operator'],
        summary: 'Search customers across institutions',
        body: AdminFindCustomersBody,
        response: {
          200: AdminCustomerPageResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request) => adminFindCustomers(deps, request.body),
  );

  app.post(
    '/v2/admin/customer/details',
    {
      config: { permission: 'operator' },
      schema: {
        tags: ['Operator'],
        summary: "Any institution's customer",
        description: 'The response carries the customer\'s ETag, `"<id>:<version>"`.',
        body: CustomerIdBody,
        response: {
          200: AdminCustomerResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request, reply) => ({
      data: withEtag(reply, await adminCustomerDetails(deps, request.body.id)),
    }),
  );

  app.post(
    '/v2/admin/customer/history',
    {
      config: { permission: 'operator' },
      schema: {
        tags: ['Operator'],
        summary: "Any institution's customer's change history, newest first",
        description: 'As /v2/customer/history, with the operator staff who acted named.',
        body: CustomerHistoryBody,
        response: {
          200: HistoryPageResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request) => customerHistory(deps, { kind: 'operator' }, request.body),
  );

  app.post(
    '/v2/admin/customer/erase',
    {
      config: { permission: 'operator', idempotent: true },
      schema: {
        tags: ['Operator'],
        summary: "Erase any institution's customer's personal data for good",
        description:
          'As /v2/customer/erase, for any institution, and also when the operator holds the wallet ' +
          '(Blocked or Suspicious). Emits customer.erased to the institution.',
        body: EraseCustomerBody,
        response: {
          200: AdminCustomerResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request, reply) => {
      const erased = await eraseCustomer(
        deps,
        { kind: 'operator' },
        { actor: actorOf(principalOf(request)), requestId: request.id },
        request.body,
      );
      return { data: withEtag(reply, toAdminCustomer(erased)) };
    },
  );
}
