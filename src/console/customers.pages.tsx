// The customer pages: search, one customer with its history, reveals, the institution's edit of
// its customer's details and wallet status, and the operator's lock (choose, review, confirm with
// the password).
import type { FastifyRequest } from 'fastify';
import {
  AdminFindCustomersBody,
  CustomerIdBody,
  FindCustomersBody,
  SetWalletStatusBody,
  UpdateCustomerBody,
  type AdminCustomer,
} from '../modules/customers/customers.schemas.js';
import {
  adminCustomerDetails,
  browseCustomers,
  customerDetails,
  customerHistory,
  maskedFields,
  revealCustomer,
  setWalletStatusAsOperator,
  updateCustomer,
  type MaskedField,
} from '../modules/customers/customers.service.js';
import {
  findInstitutions,
  institutionTitle as titleOfInstitution,
} from '../modules/institutions/institutions.service.js';
import { confirmPassword } from '../modules/auth/auth.service.js';
import type { App } from '../platform/app-type.js';
import { toAppError } from '../platform/error-handler.js';
import { AppError } from '../platform/errors.js';
import { actorOf, isAllowed, type Principal } from '../platform/principal.js';
import { toE164 } from '../platform/schema-keywords.js';
import { compileValidator } from '../platform/validation.js';
import {
  dateBound,
  notices,
  PAGE_SIZE,
  render,
  tenantOf,
  text,
  uuidPattern,
  viewerOf,
  type ConsoleDeps,
} from './console-context.js';
import { CustomerPage, labels } from './views/customer.js';
import {
  clearableFields,
  CustomerEditPage,
  EDIT_FORM_ID,
  editFields,
  isMaskedField,
  type EditField,
  type EditForm,
} from './views/customer-edit.js';
import { CustomersPage, firstPageQuery, type SearchState } from './views/customers.js';
import { ConfirmLockPage, LockPage } from './views/wallet.js';

const HISTORY_SHOWN = 50;

/** This file's redirects' messages, beside the shared ones. */
const pageNotices: Record<string, string> = {
  ...notices,
  'customer-saved': 'The customer is saved.',
  'customer-unchanged': 'Nothing was changed: the customer is as it was.',
};

const validateAdminFind = compileValidator(AdminFindCustomersBody);
const validateFind = compileValidator(FindCustomersBody);
const validateCustomerId = compileValidator(CustomerIdBody);
const validateWalletStatus = compileValidator(SetWalletStatusBody);
const validateUpdate = compileValidator(UpdateCustomerBody);

function searchStateOf(query: unknown): SearchState {
  return {
    q: text(query, 'q').trim(),
    institution: text(query, 'institution'),
    status: text(query, 'status'),
    from: text(query, 'from'),
    to: text(query, 'to'),
    after: text(query, 'after'),
  };
}

const emailLike = /^[^\s@]+@[^\s@]+$/;

/**
 * The searches one box stands for, in the order tried: an email, a phone number, a customer id
 * then a wallet id, an externalId then a name. The first that finds anyone is the answer.
 */
function termSearches(q: string): { filter: Record<string, string>; label: string }[] {
  if (q === '') return [{ filter: {}, label: '' }];
  if (emailLike.test(q)) return [{ filter: { email: q }, label: ' with this email' }];
  if (toE164(q) !== undefined) return [{ filter: { phoneNumber: q }, label: ' with this phone number' }];
  if (uuidPattern.test(q)) {
    return [
      { filter: { id: q }, label: ' with this id' },
      { filter: { walletId: q }, label: ' with this wallet id' },
    ];
  }
  return [
    { filter: { externalId: q }, label: ' with this externalId' },
    { filter: { fullName: q }, label: ` whose name contains “${q}”` },
  ];
}

async function searchCustomers(deps: ConsoleDeps, principal: Principal, search: SearchState) {
  const base: Record<string, unknown> = { take: PAGE_SIZE };
  if (search.status !== '') base.walletStatus = search.status;
  if (search.from !== '') base.createdFrom = dateBound(search.from, false);
  if (search.to !== '') base.createdTo = dateBound(search.to, true);
  if (search.after !== '') base.startingAfter = search.after;
  if (principal.kind === 'operator' && search.institution !== '') base.institutionId = search.institution;
  const tries = termSearches(search.q);
  for (const [index, attempt] of tries.entries()) {
    const body = { ...base, ...attempt.filter };
    if (attempt.filter.id !== undefined) {
      // find has no id filter: a customer id is a direct lookup, within the caller's tenancy.
      const found = await customerFor(deps, principal, attempt.filter.id).catch((error: unknown) => {
        if (toAppError(error)?.code === 'CUSTOMER_NOT_FOUND') return undefined;
        throw error;
      });
      if (found !== undefined) return { rows: [found], total: 1, matchedBy: attempt.label, next: undefined };
      continue;
    }
    let page;
    try {
      // A page, not a count of every match: at a million customers a broad search's count costs
      // more than its page (docs/performance.md, "The console at a million customers").
      page = await browseCustomers(
        deps,
        tenantOf(principal),
        principal.kind === 'operator' ? validateAdminFind(body) : validateFind(body),
      );
    } catch (error) {
      // A term that cannot be this kind of value (an externalId too long, say) is the next kind.
      const known = toAppError(error);
      const field = known?.details?.[0]?.field;
      if (
        known?.code === 'VALIDATION_ERROR' &&
        field !== undefined &&
        field in attempt.filter &&
        index < tries.length - 1
      ) {
        continue;
      }
      throw error;
    }
    if (page.data.length > 0 || index === tries.length - 1 || search.after !== '') {
      const cursor = page.nextCursor;
      const query = firstPageQuery(search);
      return {
        rows: page.data,
        // Known when the first page holds every match.
        total: cursor === null && search.after === '' ? page.data.length : undefined,
        matchedBy: attempt.label,
        next: cursor === null ? undefined : `${query}${query === '' ? '' : '&'}after=${cursor}`,
      };
    }
  }
  throw new Error('unreachable: the last search always answers');
}

/** Problems of a search's filters, shown at the fields whose names the form uses. */
const searchFieldOf: Record<string, string> = {
  institutionId: 'institution',
  walletStatus: 'status',
  createdFrom: 'from',
  createdTo: 'to',
  startingAfter: 'q',
};

function customerIdOf(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  try {
    return validateCustomerId({ id }).id;
  } catch {
    throw new AppError('CUSTOMER_NOT_FOUND', 'There is no such customer');
  }
}

async function customerFor(deps: ConsoleDeps, principal: Principal, id: string): Promise<AdminCustomer> {
  if (principal.kind === 'operator') return adminCustomerDetails(deps, id);
  return {
    ...(await customerDetails(deps, principal.institutionId, id)),
    institutionId: principal.institutionId,
  };
}

// ---- the edit form ----

/** The form's inputs as typed (a masked input is empty unless the person typed a new value). */
function editFormOf(body: unknown): Pick<EditForm, 'values' | 'remove' | 'expectedVersion'> {
  const values = Object.fromEntries(editFields.map((field) => [field, text(body, field)])) as Record<
    EditField,
    string
  >;
  const asked = (body as Record<string, unknown> | undefined)?.remove;
  const remove = (Array.isArray(asked) ? asked : [asked]).filter(
    (field): field is MaskedField => typeof field === 'string' && isMaskedField(field),
  );
  return { values, remove: [...new Set(remove)], expectedVersion: text(body, 'expectedVersion') };
}

/** The form as first shown: the plain fields hold their values, the masked ones nothing. */
function initialEditForm(customer: AdminCustomer): EditForm {
  const values = Object.fromEntries(
    editFields.map((field) => [field, isMaskedField(field) ? '' : (customer[field] ?? '')]),
  ) as Record<EditField, string>;
  return { values, remove: [], expectedVersion: String(customer.version), problems: [] };
}

/** A textarea's value as sent (browsers send CRLF line ends) compared and stored with LF. */
const lineEnds = (value: string) => value.replace(/\r\n?/g, '\n');

/**
 * The update's body: only what the form changes. An empty masked input keeps the value, a ticked
 * "Remove" clears it; a plain field equal to its current value is left out, and an emptied
 * optional one is cleared (null). The problems are the form's own (a value typed and removed).
 */
function updateBodyOf(
  customer: AdminCustomer,
  form: Pick<EditForm, 'values' | 'remove'>,
): { body: Record<string, unknown>; problems: { field: string; message: string }[] } {
  const body: Record<string, unknown> = { id: customer.id };
  const problems: { field: string; message: string }[] = [];
  for (const field of editFields) {
    const typed = field === 'comment' ? lineEnds(form.values[field]) : form.values[field];
    const empty = typed.trim() === '';
    if (isMaskedField(field)) {
      const removed = form.remove.includes(field);
      if (removed && !empty) {
        problems.push({
          field,
          message: `${labels[field] ?? field}: type a new value or remove the current one, not both`,
        });
      } else if (removed) {
        body[field] = null;
      } else if (!empty) {
        body[field] = typed;
      }
      continue;
    }
    const current = customer[field] ?? '';
    if (typed === (field === 'comment' ? lineEnds(current) : current)) continue;
    body[field] = empty && clearableFields.includes(field) ? null : typed;
  }
  return { body, problems };
}

/** An error of the update as the form shows it: each detail at its field, the rest at the form. */
function editProblemsOf(error: AppError): { field: string; message: string }[] {
  const details = error.details ?? [];
  const atField = (detail: { field: string }) => (editFields as readonly string[]).includes(detail.field);
  const problems = details.filter(atField).map((detail) => ({
    field: detail.field,
    message: `${labels[detail.field] ?? detail.field} ${detail.message}`,
  }));
  const rest = details.filter((detail) => !atField(detail));
  if (problems.length === 0 || rest.length > 0) {
    problems.push({
      field: EDIT_FORM_ID,
      message:
        rest.length === 0
          ? error.message
          : rest.map((detail) => `${detail.field} ${detail.message}`).join('; '),
    });
  }
  return problems;
}

export function customerPages(app: App, deps: ConsoleDeps): void {
  // ---- customers ----
  app.get(
    '/customers',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const search = searchStateOf(request.query);
      const institutions = viewer.principal.kind === 'operator' ? await findInstitutions(deps.db) : undefined;
      try {
        const result = await searchCustomers(deps, viewer.principal, search);
        return await render(
          reply,
          <CustomersPage
            viewer={viewer}
            search={search}
            institutions={institutions}
            result={result}
            problems={[]}
          />,
        );
      } catch (error) {
        const known = toAppError(error);
        if (known?.code !== 'VALIDATION_ERROR' && known?.code !== 'CUSTOMER_NOT_FOUND') throw error;
        const problems = (known.details ?? [{ field: 'q', message: known.message }]).map((problem) => ({
          field: searchFieldOf[problem.field] ?? 'q',
          message: `${problem.field} ${problem.message}`,
        }));
        return render(
          reply,
          <CustomersPage
            viewer={viewer}
            search={search}
            institutions={institutions}
            result={undefined}
            problems={problems}
          />,
          400,
        );
      }
    },
  );

  async function customerView(
    request: FastifyRequest,
    revealed: readonly MaskedField[],
    extra: { notice?: string; problems?: { field: string; message: string }[] } = {},
  ) {
    const viewer = viewerOf(request);
    const id = customerIdOf(request);
    const tenant = tenantOf(viewer.principal);
    const customer =
      revealed.length > 0
        ? await revealCustomer(
            deps,
            tenant,
            { actor: actorOf(viewer.principal), requestId: request.id },
            { id, fields: revealed },
          )
        : viewer.principal.kind === 'operator'
          ? await adminCustomerDetails(deps, id)
          : await customerFor(deps, viewer.principal, id);
    const history = await customerHistory(deps, tenant, { id, take: HISTORY_SHOWN });
    const institutionTitle =
      viewer.principal.kind === 'operator'
        ? await titleOfInstitution(deps.db, customer.institutionId)
        : undefined;
    return (
      <CustomerPage
        viewer={viewer}
        customer={customer}
        institutionTitle={institutionTitle}
        history={history.data}
        historyTotal={history.meta.total}
        revealed={revealed}
        canWrite={isAllowed(viewer.principal, 'customers:write')}
        {...extra}
      />
    );
  }

  app.get(
    '/customers/:id',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) =>
      render(reply, await customerView(request, [], { notice: pageNotices[text(request.query, 'done')] })),
  );

  app.post(
    '/customers/:id/reveal',
    { config: { permission: 'public', consoleAccess: 'read' } },
    async (request, reply) => {
      const asked = (request.body as Record<string, unknown> | undefined)?.fields;
      const list = (Array.isArray(asked) ? asked : [asked]).filter((field): field is MaskedField =>
        (maskedFields as readonly unknown[]).includes(field),
      );
      if (list.length === 0) throw new AppError('VALIDATION_ERROR', 'Choose the fields to reveal');
      return render(reply, await customerView(request, [...new Set(list)]));
    },
  );

  // The institution's own change of its customer's wallet status (refused when the platform holds it).
  app.post(
    '/customers/:id/wallet-status',
    { config: { permission: 'public', consoleAccess: 'customers:write' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const principal = viewer.principal;
      if (principal.kind === 'operator')
        throw new AppError('FORBIDDEN', 'The operator sets wallet statuses from the lock page');
      const id = customerIdOf(request);
      try {
        const input = validateUpdate({
          id,
          walletStatus: text(request.body, 'walletStatus'),
          expectedVersion: Number(text(request.body, 'expectedVersion')),
        });
        const { expectedVersion, ...change } = input;
        await updateCustomer(
          deps,
          { institutionId: principal.institutionId, actor: actorOf(principal), requestId: request.id },
          change,
          expectedVersion === undefined ? undefined : { version: expectedVersion },
        );
        return await reply.redirect(`/console/customers/${id}?done=wallet-saved`, 303);
      } catch (error) {
        const known = toAppError(error);
        if (known === undefined || known.statusCode >= 500 || known.code === 'CUSTOMER_NOT_FOUND')
          throw error;
        return render(
          reply,
          await customerView(request, [], {
            problems: [{ field: 'walletStatus', message: known.message }],
          }),
          known.statusCode,
        );
      }
    },
  );

  // ---- the institution's edit of its customer's details (as /v2/customer/update) ----
  app.get(
    '/customers/:id/edit',
    { config: { permission: 'public', consoleAccess: 'customers:write' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const principal = viewer.principal;
      if (principal.kind === 'operator')
        throw new AppError('FORBIDDEN', 'The operator does not edit customers');
      const customer = await customerFor(deps, principal, customerIdOf(request));
      if (customer.erasedAt !== null) {
        throw new AppError(
          'CUSTOMER_ERASED',
          'This customer was erased: its data is gone and it cannot be changed',
        );
      }
      return render(
        reply,
        <CustomerEditPage viewer={viewer} customer={customer} form={initialEditForm(customer)} />,
      );
    },
  );

  app.post(
    '/customers/:id/edit',
    { config: { permission: 'public', consoleAccess: 'customers:write' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const principal = viewer.principal;
      if (principal.kind === 'operator')
        throw new AppError('FORBIDDEN', 'The operator does not edit customers');
      const id = customerIdOf(request);
      const customer = await customerFor(deps, principal, id);
      const form = editFormOf(request.body);
      const { body, problems } = updateBodyOf(customer, form);
      const again = (found: { field: string; message: string }[], status: number) =>
        render(
          reply,
          <CustomerEditPage viewer={viewer} customer={customer} form={{ ...form, problems: found }} />,
          status,
        );
      if (problems.length > 0) return again(problems, 400);
      try {
        const { expectedVersion, ...change } = validateUpdate({
          ...body,
          expectedVersion: Number(form.expectedVersion),
        });
        const updated = await updateCustomer(
          deps,
          { institutionId: principal.institutionId, actor: actorOf(principal), requestId: request.id },
          change,
          expectedVersion === undefined ? undefined : { version: expectedVersion },
        );
        const done = updated.version === customer.version ? 'customer-unchanged' : 'customer-saved';
        return await reply.redirect(`/console/customers/${id}?done=${done}`, 303);
      } catch (error) {
        const known = toAppError(error);
        if (known === undefined || known.statusCode >= 500 || known.code === 'CUSTOMER_NOT_FOUND')
          throw error;
        return again(editProblemsOf(known), known.statusCode);
      }
    },
  );

  // ---- the operator's lock: choose, review, confirm with the password ----
  const lockForm = (request: FastifyRequest) => ({
    status: text(request.body, 'status'),
    reason: text(request.body, 'reason').trim(),
  });

  function lockProblems(form: { status: string; reason: string }) {
    const problems: { field: string; message: string }[] = [];
    if (!['Active', 'Blocked', 'Suspicious'].includes(form.status)) {
      problems.push({ field: 'status', message: 'Choose the status' });
    }
    if (form.reason === '') problems.push({ field: 'reason', message: 'Give the reason' });
    else if (form.reason.length > 500)
      problems.push({ field: 'reason', message: 'The reason must be at most 500 characters' });
    return problems;
  }

  app.get(
    '/customers/:id/wallet',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request, reply) => {
      const customer = await adminCustomerDetails(deps, customerIdOf(request));
      const suggested =
        customer.walletStatusSetBy === 'operator' && customer.walletStatus !== 'Active'
          ? 'Active'
          : 'Blocked';
      return render(
        reply,
        <LockPage
          viewer={viewerOf(request)}
          customer={customer}
          form={{ status: suggested, reason: '', problems: [] }}
        />,
      );
    },
  );

  app.post(
    '/customers/:id/wallet/review',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const customer = await adminCustomerDetails(deps, customerIdOf(request));
      const form = lockForm(request);
      const problems = lockProblems(form);
      if (problems.length > 0) {
        return render(
          reply,
          <LockPage viewer={viewer} customer={customer} form={{ ...form, problems }} />,
          400,
        );
      }
      return render(reply, <ConfirmLockPage viewer={viewer} customer={customer} {...form} problems={[]} />);
    },
  );

  app.post(
    '/customers/:id/wallet',
    { config: { permission: 'public', consoleAccess: 'operator' } },
    async (request, reply) => {
      const viewer = viewerOf(request);
      const principal = viewer.principal;
      if (principal.kind !== 'operator') throw new AppError('FORBIDDEN', 'Only the operator can do this');
      const id = customerIdOf(request);
      const form = lockForm(request);
      const problems = lockProblems(form);
      const customer = await adminCustomerDetails(deps, id);
      if (problems.length > 0) {
        return render(
          reply,
          <LockPage viewer={viewer} customer={customer} form={{ ...form, problems }} />,
          400,
        );
      }
      try {
        await confirmPassword(deps, {
          userId: principal.userId,
          account: { merchantId: undefined, email: principal.email },
          password: text(request.body, 'password'),
          clientAddress: request.ip,
        });
      } catch (error) {
        const known = toAppError(error);
        if (known?.code !== 'INVALID_CREDENTIALS' && known?.code !== 'RATE_LIMITED') throw error;
        return render(
          reply,
          <ConfirmLockPage
            viewer={viewer}
            customer={customer}
            {...form}
            problems={[{ field: 'password', message: known.message }]}
          />,
          known.statusCode,
        );
      }
      const { expectedVersion, ...input } = validateWalletStatus({
        walletId: customer.walletId,
        status: form.status,
        reason: form.reason,
        expectedVersion: Number(text(request.body, 'expectedVersion')),
      });
      await setWalletStatusAsOperator(
        deps,
        { actor: actorOf(principal), requestId: request.id },
        input,
        expectedVersion === undefined ? undefined : { version: expectedVersion },
      );
      return reply.redirect(`/console/customers/${id}?done=wallet-locked`, 303);
    },
  );
}
