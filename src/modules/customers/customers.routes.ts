import type { App } from '../../platform/app-type.js';
import { institutionPrincipalOf } from '../../platform/authenticate.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { actorOf } from '../../platform/principal.js';
import type { FastifyRequest } from 'fastify';
import { preconditionOf, withEtag } from './customer-versions.js';
import {
  CreateCustomerBody,
  CustomerHistoryBody,
  CustomerIdBody,
  CustomerPageResponse,
  CustomerResponse,
  EraseCustomerBody,
  FindCustomersBody,
  HistoryPageResponse,
  IfMatchHeaders,
  UpdateCustomerBody,
} from './customers.schemas.js';
import {
  createCustomer,
  customerDetails,
  customerHistory,
  eraseCustomer,
  findInstitutionCustomers,
  toCustomer,
  updateCustomer,
  type Caller,
  type CustomerStore,
} from './customers.service.js';

/** The institution, actor and request id a change is recorded with. */
function callerOf(request: FastifyRequest): Caller {
  const principal = institutionPrincipalOf(request);
  return { institutionId: principal.institutionId, actor: actorOf(principal), requestId: request.id };
}

const etagNote = ' The response carries the customer\'s ETag, `"<id>:<version>"`.';

export function customersRoutes(app: App, deps: CustomerStore): void {
  app.post(
    '/v2/customer/create',
    {
      config: { permission: 'customers:write', idempotent: true, holdsCustomer: true },
      schema: {
        tags: ['Customers'],
        summary: 'Create a customer and its wallet',
        description:
          'Creates the customer and its wallet in one transaction. The email (case-insensitive) and ' +
          'externalId are unique per institution; concurrent creates with one email yield one customer. ' +
          "Starts the customer's history." +
          etagNote,
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
      const customer = await createCustomer(deps, callerOf(request), request.body);
      return reply.status(201).send({ data: withEtag(reply, customer) });
    },
  );

  app.post(
    '/v2/customer/update',
    {
      config: { permission: 'customers:write', idempotent: true, holdsCustomer: true },
      schema: {
        tags: ['Customers'],
        summary: "Change a customer's fields or wallet status",
        description:
          'Applies atomically. `null` clears an optional field. A wallet status the operator set to Blocked ' +
          'or Suspicious cannot be changed by the institution (403 WALLET_STATUS_LOCKED, nothing changed). ' +
          'With If-Match or expectedVersion, applies only if the customer is still at that version ' +
          "(else 409 VERSION_CONFLICT, nothing changed). A change adds an entry to the customer's history " +
          'and bumps its version; a request that changes nothing does neither. An erased customer cannot ' +
          'be changed (409 CUSTOMER_ERASED).' +
          etagNote,
        headers: IfMatchHeaders,
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
              'VERSION_CONFLICT',
              'CUSTOMER_ERASED',
            ],
          }),
        },
      },
    },
    async (request, reply) => {
      const { expectedVersion, ...input } = request.body;
      const precondition = preconditionOf(request.headers['if-match'], expectedVersion);
      const customer = await updateCustomer(deps, callerOf(request), input, precondition);
      return { data: withEtag(reply, customer) };
    },
  );

  app.post(
    '/v2/customer/details',
    {
      config: { permission: 'customers:read' },
      schema: {
        tags: ['Customers'],
        summary: 'One customer, with every field',
        description: etagNote.trim(),
        body: CustomerIdBody,
        response: { 200: CustomerResponse, ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }) },
      },
    },
    async (request, reply) => ({
      data: withEtag(
        reply,
        await customerDetails(deps, institutionPrincipalOf(request).institutionId, request.body.id),
      ),
    }),
  );

  app.post(
    '/v2/customer/find',
    {
      config: { permission: 'customers:read' },
      schema: {
        tags: ['Customers'],
        summary: 'Search customers; newest first, paged with take and skip or by cursor',
        body: FindCustomersBody,
        response: {
          200: CustomerPageResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request) =>
      findInstitutionCustomers(deps, institutionPrincipalOf(request).institutionId, request.body),
  );

  app.post(
    '/v2/customer/history',
    {
      config: { permission: 'customers:read' },
      schema: {
        tags: ['Customers'],
        summary: "A customer's change history, newest first, paged with take and skip",
        description:
          'Every create, update and wallet-status change of the customer: when, who, the request id, the ' +
          'action, and each changed field with its old and new value. Entries are never changed or deleted.',
        body: CustomerHistoryBody,
        response: {
          200: HistoryPageResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND'] }),
        },
      },
    },
    async (request) =>
      customerHistory(
        deps,
        { kind: 'institution', institutionId: institutionPrincipalOf(request).institutionId },
        request.body,
      ),
  );

  app.post(
    '/v2/customer/erase',
    {
      config: { permission: 'customers:erase', idempotent: true },
      schema: {
        tags: ['Customers'],
        summary: "Erase a customer's personal data for good (right to erasure)",
        description:
          'Owners and Admins, or API keys with the customers:erase scope. The personal data becomes ' +
          'unrecoverable, in the customer and in every history entry, even to someone holding the database ' +
          'and the keys: its data key is destroyed. id, walletId, country, the wallet status, version and ' +
          'times stay; every other field reads null and erasedAt is set. The version goes up by one and the ' +
          'history gains an erase entry with the reason and the erased fields, without values. The email and ' +
          'externalId may be used again; stored idempotent responses that held the customer answer 409 ' +
          'CUSTOMER_ERASED. Erasing an erased customer answers the same again. A customer whose wallet the ' +
          'operator set to Blocked or Suspicious cannot be erased by the institution (409 CUSTOMER_ON_HOLD). ' +
          'Emits customer.erased.',
        body: EraseCustomerBody,
        response: {
          200: CustomerResponse,
          ...errorResponses({ auth: true, codes: ['CUSTOMER_NOT_FOUND', 'CUSTOMER_ON_HOLD'] }),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const erased = await eraseCustomer(
        deps,
        { kind: 'institution', institutionId: caller.institutionId },
        caller,
        request.body,
      );
      return { data: withEtag(reply, toCustomer(erased)) };
    },
  );
}
