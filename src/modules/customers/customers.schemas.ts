// One schema per route validates, normalises (trims, upper-cases countries, writes phones in
// E.164), types and documents the customer fields.
import { Type, type Static } from 'typebox';
import { Data, NullableString, Page, Skip, Take, Timestamp, Uuid } from '../../platform/http-schemas.js';

export const walletStatuses = ['Active', 'Blocked', 'Suspicious'] as const;
export type WalletStatus = (typeof walletStatuses)[number];
export type WalletStatusSetBy = 'institution' | 'operator';

const WalletStatusSchema = Type.Unsafe<WalletStatus>({
  type: 'string',
  enum: [...walletStatuses],
  description: 'Case-sensitive',
});

const rules = {
  email: {
    'x-normalize': 'trim',
    format: 'email',
    maxLength: 254,
    description: 'Unique per institution, compared case-insensitively; stored as given (trimmed)',
  },
  phoneNumber: {
    'x-normalize': 'e164',
    description: 'A valid international number starting with +; stored and returned in E.164',
    examples: ['+380991234567'],
  },
  firstName: {
    'x-normalize': 'trim',
    minLength: 1,
    maxLength: 100,
    description: '1-100 characters, trimmed',
  },
  lastName: { 'x-normalize': 'trim', minLength: 1, maxLength: 100, description: '1-100 characters, trimmed' },
  comment: { maxLength: 1000, description: 'At most 1000 characters' },
  externalId: {
    minLength: 1,
    maxLength: 255,
    description: "The customer's id in your system; unique per institution",
  },
  country: {
    'x-normalize': 'upper',
    format: 'iso-country',
    description: 'ISO 3166-1 alpha-2 code, any letter case in, upper case out',
    examples: ['FR'],
  },
  verificationDocumentId: {
    minLength: 1,
    maxLength: 100,
    description: 'Id of the document used to verify the customer (passport, driving licence, ...)',
  },
  residenceAddress: { minLength: 1, maxLength: 500 },
  itn: { minLength: 1, maxLength: 50, description: 'Individual taxpayer number' },
} as const;

const kunaCoreCreateExample = {
  email: 'alexsmith@mail.com',
  phoneNumber: '+380991234567',
  firstName: 'Alex',
  lastName: 'Smith',
  comment: 'Alex is a special client. Hi is a refferal of Denis.',
  externalId: '12124d80-dd80-4c70-aa9c-c2aa014cc29e',
  referralId: '1f44b1c7-9fd4-4d20-b9a4-7aca3646d0d5',
  country: 'FR',
  verificationDocumentId: 'FV633452',
  residenceAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
  itn: '633-123-92-12',
};

export const CreateCustomerBody = Type.Object(
  {
    email: Type.String(rules.email),
    phoneNumber: Type.Optional(Type.String(rules.phoneNumber)),
    firstName: Type.String(rules.firstName),
    lastName: Type.String(rules.lastName),
    comment: Type.Optional(Type.String(rules.comment)),
    externalId: Type.Optional(Type.String(rules.externalId)),
    referralId: Type.Optional(
      Type.String({
        format: 'uuid',
        'x-normalize': 'lower',
        description: 'Id of an existing customer of the same institution (referral program)',
      }),
    ),
    country: Type.String(rules.country),
    verificationDocumentId: Type.String(rules.verificationDocumentId),
    residenceAddress: Type.String(rules.residenceAddress),
    itn: Type.Optional(Type.String(rules.itn)),
  },
  { additionalProperties: false, examples: [kunaCoreCreateExample] },
);
export type CreateCustomerBody = Static<typeof CreateCustomerBody>;

/** The optimistic-concurrency precondition of an update (the body's form of If-Match). */
const ExpectedVersion = Type.Integer({
  minimum: 1,
  maximum: 2147483647,
  description:
    'The customer version this change was prepared from (its `version`); if the customer has moved on, ' +
    '409 VERSION_CONFLICT and nothing changes. Same as the If-Match header; if both are sent they must agree.',
});

/** Fields that exist on a customer but that update refuses, naming them. */
export const notUpdatable = [
  'referralId',
  'walletId',
  'createdAt',
  'updatedAt',
  'walletStatusSetBy',
  'erasedAt',
];

export const UpdateCustomerBody = Type.Object(
  {
    id: Uuid('The customer to update'),
    email: Type.Optional(Type.String(rules.email)),
    phoneNumber: Type.Optional(NullableString(rules.phoneNumber)),
    firstName: Type.Optional(Type.String(rules.firstName)),
    lastName: Type.Optional(Type.String(rules.lastName)),
    comment: Type.Optional(NullableString(rules.comment)),
    externalId: Type.Optional(NullableString(rules.externalId)),
    country: Type.Optional(Type.String(rules.country)),
    verificationDocumentId: Type.Optional(Type.String(rules.verificationDocumentId)),
    residenceAddress: Type.Optional(Type.String(rules.residenceAddress)),
    itn: Type.Optional(NullableString(rules.itn)),
    walletStatus: Type.Optional(WalletStatusSchema),
    walletStatusReason: Type.Optional(
      Type.String({ maxLength: 500, description: 'Why the wallet status changes; needs walletStatus' }),
    ),
    expectedVersion: Type.Optional(ExpectedVersion),
  },
  {
    additionalProperties: false,
    'x-immutable': notUpdatable,
    'x-requires': { walletStatusReason: ['walletStatus'] },
    description:
      'Send `id` and the fields to change; `null` clears an optional field. ' +
      `${notUpdatable.join(', ')} cannot be updated.`,
    examples: [
      { id: 'd0eab186-19f1-446f-8b9e-739945941b89', email: 'alexander@mail.com', firstName: 'Alexander' },
    ],
  },
);
export type UpdateCustomerBody = Static<typeof UpdateCustomerBody>;

export const CustomerIdBody = Type.Object({ id: Uuid() }, { additionalProperties: false });

const findFilters = {
  email: Type.Optional(Type.String({ ...rules.email, description: 'Exact, case-insensitive' })),
  walletId: Type.Optional(Uuid()),
  externalId: Type.Optional(Type.String(rules.externalId)),
  referralId: Type.Optional(Uuid()),
  phoneNumber: Type.Optional(
    Type.String({ ...rules.phoneNumber, description: 'Exact, after normalising to E.164' }),
  ),
  fullName: Type.Optional(
    Type.String({
      'x-normalize': 'trim',
      minLength: 1,
      maxLength: 201,
      description: 'Case-insensitive substring of "{firstName} {lastName}"',
    }),
  ),
  comment: Type.Optional(
    Type.String({ minLength: 1, maxLength: 1000, description: 'Case-insensitive substring' }),
  ),
  walletStatus: Type.Optional(WalletStatusSchema),
  createdFrom: Type.Optional(Timestamp('Inclusive lower bound on createdAt')),
  createdTo: Type.Optional(Timestamp('Inclusive upper bound on createdAt')),
  take: Type.Optional(Take),
  // No default (0 is the service's), so that a skip the client did not send is not one it combined
  // with startingAfter.
  skip: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'How many to skip; 0 if left out',
    }),
  ),
  startingAfter: Type.Optional(
    Uuid(
      "A cursor: the previous page's `meta.nextCursor` (the id of its last customer); the page starts right after that customer. Deep pages stay as fast as the first. Not with `skip`.",
    ),
  ),
};

/** find's meta: the page as for skip, and the cursor of the next page. */
const CursorPage = Type.Object(
  {
    ...Page.properties,
    nextCursor: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'Send it as `startingAfter` for the next page; null when no customer follows this page',
    }),
  },
  { additionalProperties: false },
);

export const FindCustomersBody = Type.Object(findFilters, {
  additionalProperties: false,
  description: 'All filters are optional and combined with AND. Newest first.',
  'x-excludes': { skip: ['startingAfter'] },
});
export type FindCustomersBody = Static<typeof FindCustomersBody>;

export const AdminFindCustomersBody = Type.Object(
  { ...findFilters, institutionId: Type.Optional(Uuid('Only this institution')) },
  {
    additionalProperties: false,
    description: 'Across institutions. All filters optional, ANDed. Newest first.',
    'x-excludes': { skip: ['startingAfter'] },
  },
);
export type AdminFindCustomersBody = Static<typeof AdminFindCustomersBody>;

/** Null on an erased customer only (erasedAt set). */
const ErasableString = () => NullableString({ description: 'Null only once the customer is erased' });

const customerProperties = {
  id: Uuid(),
  walletId: Uuid('All operations in KunaCore run on this wallet'),
  email: ErasableString(),
  phoneNumber: NullableString(),
  firstName: ErasableString(),
  lastName: ErasableString(),
  comment: NullableString(),
  externalId: NullableString(),
  referralId: NullableString({ format: 'uuid' }),
  country: Type.String(),
  verificationDocumentId: ErasableString(),
  residenceAddress: ErasableString(),
  itn: NullableString(),
  walletStatus: WalletStatusSchema,
  walletStatusSetBy: Type.Unsafe<WalletStatusSetBy>({
    type: 'string',
    enum: ['institution', 'operator'],
    description: 'Who set the current wallet status',
  }),
  version: Type.Integer({
    minimum: 1,
    description:
      'Starts at 1 and grows by one with every change (fields or wallet status); the ETag header is "<id>:<version>"',
  }),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
  erasedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description:
      'When the customer was erased (POST /v2/customer/erase): every personal field then reads null. Null otherwise.',
  }),
};

export const Customer = Type.Object(customerProperties, { additionalProperties: false });
export type Customer = Static<typeof Customer>;

export const AdminCustomer = Type.Object(
  { ...customerProperties, institutionId: Uuid('The institution the customer belongs to') },
  { additionalProperties: false },
);
export type AdminCustomer = Static<typeof AdminCustomer>;

export const CustomerResponse = Data(Customer);
export const CustomerPageResponse = Type.Object(
  { data: Type.Array(Customer), meta: CursorPage },
  { additionalProperties: false },
);
export const AdminCustomerResponse = Data(AdminCustomer);
export const AdminCustomerPageResponse = Type.Object(
  { data: Type.Array(AdminCustomer), meta: CursorPage },
  { additionalProperties: false },
);

export const SetWalletStatusBody = Type.Object(
  {
    walletId: Uuid(),
    status: WalletStatusSchema,
    reason: Type.Optional(Type.String({ maxLength: 500 })),
    expectedVersion: Type.Optional(ExpectedVersion),
  },
  {
    additionalProperties: false,
    description:
      'Blocked or Suspicious set here locks the status against the institution; Active lifts the lock.',
  },
);
export type SetWalletStatusBody = Static<typeof SetWalletStatusBody>;

/** The optional If-Match header of the routes that change one customer. */
export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description:
        'Optimistic concurrency: `*`, or the ETag a customer response carried (`"<id>:<version>"`). ' +
        'A stale one gets 409 VERSION_CONFLICT and changes nothing; a malformed one is a 400.',
    }),
  ),
});

export const CustomerHistoryBody = Type.Object(
  { id: Uuid('The customer'), take: Type.Optional(Take), skip: Type.Optional(Skip) },
  { additionalProperties: false, examples: [{ id: 'd0eab186-19f1-446f-8b9e-739945941b89', take: 20 }] },
);
export type CustomerHistoryBody = Static<typeof CustomerHistoryBody>;

const historyActions = ['create', 'update', 'wallet_status', 'erase'] as const;

export const HistoryEntry = Type.Object(
  {
    id: Uuid(),
    customerId: Uuid(),
    version: Type.Integer({ minimum: 1, description: "The customer's version after this change" }),
    occurredAt: Timestamp('When the change was made; equals the updatedAt (createdAt) it produced'),
    action: Type.Unsafe<(typeof historyActions)[number]>({
      type: 'string',
      enum: [...historyActions],
      description:
        "create, update (/v2/customer/update), wallet_status (the operator's wallet route), or erase",
    }),
    actor: Type.Object(
      {
        type: Type.Unsafe<'user' | 'api_key' | 'operator'>({
          type: 'string',
          enum: ['user', 'api_key', 'operator'],
        }),
        id: NullableString({ format: 'uuid', description: 'The user, API key or operator account' }),
        name: NullableString({
          description:
            "The user's or operator's email, or the API key's name, as they were then. Institutions see null " +
            "for the operator's id and name.",
        }),
      },
      { additionalProperties: false },
    ),
    requestId: Type.String({ description: 'The x-request-id of the request that made the change' }),
    reason: NullableString({
      description: 'The wallet status reason, when the change set one, or the reason of an erasure',
    }),
    changes: Type.Array(
      Type.Object(
        { field: Type.String(), old: NullableString(), new: NullableString() },
        { additionalProperties: false },
      ),
      {
        description:
          'Each changed field with its old and new value (old is null on create). Once the customer is ' +
          'erased, every old and new value reads null; an erase entry lists the erased fields without values.',
      },
    ),
  },
  { additionalProperties: false },
);
export type HistoryEntry = Static<typeof HistoryEntry>;

export const HistoryPageResponse = Type.Object(
  { data: Type.Array(HistoryEntry), meta: Page },
  { additionalProperties: false },
);

export const EraseCustomerBody = Type.Object(
  {
    id: Uuid('The customer to erase'),
    reason: Type.String({
      'x-normalize': 'trim',
      minLength: 1,
      maxLength: 500,
      description: 'Why (a data subject request, its reference): kept in the history',
    }),
  },
  {
    additionalProperties: false,
    examples: [{ id: 'd0eab186-19f1-446f-8b9e-739945941b89', reason: 'GDPR art. 17 request #4711' }],
  },
);
export type EraseCustomerBody = Static<typeof EraseCustomerBody>;
