// The partner's form to change a customer's details: every field /v2/customer/update changes but
// the wallet status (its own form on the customer page, where the platform's lock is shown). The
// masked fields are never put in the page, not even in the form (that would be an unrecorded
// reveal): their inputs start empty, and an empty one keeps the value. GOV.UK's error pattern:
// a summary at the top, and each message at its field, linked with aria-describedby.
import type { AdminCustomer } from '../../modules/customers/customers.schemas.js';
import { maskedFields, type MaskedField } from '../../modules/customers/customers.service.js';
import { labels } from './customer.js';
import { fullName } from './customers.js';
import { ErrorSummary, Page, type Viewer } from './layout.js';

/** The form's fields, in the order shown; each is named as in UpdateCustomerBody. */
export const editFields = [
  'firstName',
  'lastName',
  'email',
  'phoneNumber',
  'country',
  'residenceAddress',
  'verificationDocumentId',
  'itn',
  'externalId',
  'comment',
] as const;
export type EditField = (typeof editFields)[number];

/** The fields the API lets an update clear (it takes null for them). */
export const clearableFields: readonly EditField[] = ['phoneNumber', 'itn', 'externalId', 'comment'];

export const isMaskedField = (field: string): field is MaskedField =>
  (maskedFields as readonly string[]).includes(field);

/** The id of the form, where a problem of no one field (a version conflict, say) links to. */
export const EDIT_FORM_ID = 'customer-edit';

export interface EditForm {
  /** What each input holds: the current value of a plain field, or what the person typed. */
  values: Record<EditField, string>;
  /** The masked optional fields whose "Remove the current value" is ticked. */
  remove: readonly MaskedField[];
  /** The version the form was prepared from, sent back as expectedVersion. */
  expectedVersion: string;
  problems: { field: string; message: string }[];
}

const hints: Partial<Record<EditField, string>> = {
  phoneNumber: 'An international number: + and the country code first.',
  country: 'The ISO 3166-1 alpha-2 code, such as FR.',
  externalId: "The customer's id in your system, unique in your institution. Leave it empty to remove it.",
  comment: 'At most 1000 characters. Leave it empty to remove it.',
};

function FieldError({ field, message }: { field: string; message: string | undefined }) {
  if (message === undefined) return <></>;
  return (
    <p class="error-message" id={`${field}-error`}>
      <span class="visually-hidden">Error: </span>
      <span safe>{message}</span>
    </p>
  );
}

function EditInput(props: { field: EditField; customer: AdminCustomer; form: EditForm }) {
  const { field, customer, form } = props;
  const label = labels[field] ?? field;
  const masked = isMaskedField(field);
  const problem = form.problems.find((entry) => entry.field === field)?.message;
  const hintId = `${field}-hint`;
  const hint = masked
    ? `${customer[field] === null ? 'Not set. Type a value to set it; leave empty to keep it unset.' : 'Hidden. Type a new value to replace it; leave empty to keep it.'}${hints[field] === undefined ? '' : ` ${hints[field]}`}`
    : hints[field];
  const describedBy = [hint === undefined ? '' : hintId, problem === undefined ? '' : `${field}-error`]
    .filter((id) => id !== '')
    .join(' ');
  const common = {
    id: field,
    name: field,
    'aria-describedby': describedBy === '' ? undefined : describedBy,
    'aria-invalid': problem === undefined ? undefined : 'true',
  };
  const removable = masked && clearableFields.includes(field) && customer[field] !== null;
  return (
    <div class={problem === undefined ? 'field' : 'field field-error'}>
      <label for={field} safe>
        {label}
      </label>
      {hint === undefined ? (
        ''
      ) : (
        <p class="hint" id={hintId} safe>
          {hint}
        </p>
      )}
      <FieldError field={field} message={problem} />
      {field === 'comment' ? (
        // The first newline after <textarea> is dropped by every parser: this one, not the value's.
        <textarea {...common} rows="4" safe>
          {`\n${form.values[field]}`}
        </textarea>
      ) : (
        <input
          {...common}
          type={field === 'email' ? 'email' : 'text'}
          value={form.values[field]}
          inputmode={field === 'phoneNumber' ? 'tel' : undefined}
          autocomplete="off"
          spellcheck={field === 'firstName' || field === 'lastName' ? undefined : 'false'}
        />
      )}
      {removable ? (
        <div class="checkbox">
          <input
            type="checkbox"
            id={`${field}-remove`}
            name="remove"
            value={field}
            checked={(form.remove as readonly string[]).includes(field)}
          />
          <label for={`${field}-remove`}>
            Remove the current value<span class="visually-hidden" safe>{` of ${label}`}</span>
          </label>
        </div>
      ) : (
        ''
      )}
    </div>
  );
}

export function CustomerEditPage(props: { viewer: Viewer; customer: AdminCustomer; form: EditForm }) {
  const { customer, form, viewer } = props;
  const name = fullName(customer);
  const conflict = form.problems.some((problem) => problem.field === EDIT_FORM_ID);
  return (
    <Page title={`Edit ${name}`} viewer={viewer} section="customers">
      <div class="narrow">
        <ErrorSummary problems={form.problems} />
        <p class="breadcrumb">
          <a href="/console/customers">Customers</a>
          {' › '}
          <a href={`/console/customers/${customer.id}`} safe>
            {name}
          </a>
        </p>
        <h1 safe>{`Edit the details of ${name}`}</h1>
        <p class="hint">
          Only what you change is saved, as one new version in the customer’s history. The wallet status is
          changed on the customer’s page.
        </p>
        {customer.referralId === null ? (
          ''
        ) : (
          <dl class="fields">
            <div>
              <dt safe>{labels.referralId}</dt>
              <dd>
                <code safe>{customer.referralId}</code>
                <span class="hint"> (cannot be changed)</span>
              </dd>
            </div>
          </dl>
        )}
        {conflict ? (
          <p>
            <a href={`/console/customers/${customer.id}/edit`}>Start again from the current details</a>
          </p>
        ) : (
          ''
        )}
        <form
          method="post"
          action={`/console/customers/${customer.id}/edit`}
          id={EDIT_FORM_ID}
          tabindex="-1"
          novalidate
        >
          <input type="hidden" name="_csrf" value={viewer.csrfToken} />
          <input type="hidden" name="expectedVersion" value={form.expectedVersion} />
          {editFields.map((field) => (
            <EditInput field={field} customer={customer} form={form} />
          ))}
          <button type="submit" class="button">
            Save the changes
          </button>{' '}
          <a href={`/console/customers/${customer.id}`}>Cancel</a>
        </form>
      </div>
    </Page>
  );
}
