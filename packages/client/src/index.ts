// @customercore/client: a typed client for the CustomerCore API.
export {
  CustomerCore,
  type CreateCustomerInput,
  type Customer,
  type CustomerCoreOptions,
  type FindCustomersInput,
  type OperationId,
  type RequestBody,
  type RequestOptions,
  type ResponseMeta,
  type Session,
  type SuccessBody,
  type UpdateCustomerInput,
} from './client.js';
export { CustomerCoreError, type ErrorCode, type ErrorDetail, type KnownErrorCode } from './errors.js';
export { signWebhook, verifyWebhook, type WebhookEvent, type WebhookHeaders } from './webhooks.js';
export type { components, operations, paths } from './generated/openapi.js';
export { operationRoutes } from './generated/operations.js';
