// The operations the throughput bench measures, each in two forms: the HTTP request a partner
// sends, and the same database work done by calling the service's own functions on a raw driver
// (the baseline). Both forms get the same inputs: the HTTP body as a client writes it, the direct
// call as the route's schema leaves it (trimmed, country upper-cased, phone in E.164).
import type { Actor } from '../src/platform/principal.js';
import {
  createCustomer,
  customerDetails,
  findInstitutionCustomers,
  updateCustomer,
  type CustomerStore,
} from '../src/modules/customers/customers.service.js';

export interface Seeded {
  id: string;
  email: string;
}

export interface WorkloadContext {
  institutionId: string;
  actor: Actor;
  /** Customers that exist before the runs, read and updated at random. */
  seeded: readonly Seeded[];
}

export interface Request {
  path: string;
  body: string;
}

export interface Operation {
  name: OperationName;
  /** The n-th request of a run; `tag` keeps the emails of different runs apart. */
  request(n: number, tag: string): Request;
  direct(store: CustomerStore, n: number, tag: string): Promise<unknown>;
}

export type OperationName = 'create' | 'details' | 'update' | 'find' | 'mix';
export const operationNames: readonly OperationName[] = ['create', 'details', 'update', 'find', 'mix'];

/** A realistic partner: mostly reads, some updates, a tenth of the traffic new customers. */
const mixWeights = { create: 10, details: 50, update: 15, find: 25 } as const;

export function createFields(n: number, tag: string) {
  return {
    email: `bench.${tag}.${n}@example.test`,
    phoneNumber: '+380991234567',
    firstName: 'Alex',
    lastName: 'Smith',
    comment: 'Opened at the Lyon branch',
    country: 'FR',
    verificationDocumentId: 'FV633452',
    residenceAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
  };
}

export function operations(context: WorkloadContext): Record<OperationName, Operation> {
  const { institutionId, actor, seeded } = context;
  const pick = (): Seeded => {
    const customer = seeded[Math.floor(Math.random() * seeded.length)];
    if (customer === undefined) throw new Error('no seeded customers');
    return customer;
  };
  const updateFields = (n: number) => ({ firstName: `Alexandre${n % 100}`, comment: `Update ${n}` });

  const create: Operation = {
    name: 'create',
    request: (n, tag) => ({ path: '/v2/customer/create', body: JSON.stringify(createFields(n, tag)) }),
    direct: (db, n, tag) =>
      createCustomer(db, { institutionId, actor, requestId: `bench-${tag}-${n}` }, createFields(n, tag)),
  };
  const details: Operation = {
    name: 'details',
    request: () => ({ path: '/v2/customer/details', body: JSON.stringify({ id: pick().id }) }),
    direct: (db) => customerDetails(db, institutionId, pick().id),
  };
  const update: Operation = {
    name: 'update',
    request: (n) => ({
      path: '/v2/customer/update',
      body: JSON.stringify({ id: pick().id, ...updateFields(n) }),
    }),
    direct: (db, n) =>
      updateCustomer(
        db,
        { institutionId, actor, requestId: `bench-update-${n}` },
        { id: pick().id, ...updateFields(n) },
      ),
  };
  const find: Operation = {
    name: 'find',
    request: () => ({ path: '/v2/customer/find', body: JSON.stringify({ email: pick().email }) }),
    // The route's schema fills in the page defaults.
    direct: (db) => findInstitutionCustomers(db, institutionId, { email: pick().email, take: 20, skip: 0 }),
  };

  const table = [
    ...Array<Operation>(mixWeights.create).fill(create),
    ...Array<Operation>(mixWeights.details).fill(details),
    ...Array<Operation>(mixWeights.update).fill(update),
    ...Array<Operation>(mixWeights.find).fill(find),
  ];
  const drawn = (): Operation => table[Math.floor(Math.random() * table.length)] ?? details;
  const mix: Operation = {
    name: 'mix',
    request: (n, tag) => drawn().request(n, tag),
    direct: (db, n, tag) => drawn().direct(db, n, tag),
  };
  return { create, details, update, find, mix };
}

export const mixDescription = Object.entries(mixWeights)
  .map(([name, weight]) => `${weight}% ${name}`)
  .join(', ');
