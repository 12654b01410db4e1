// The operator's lock, in GOV.UK's pattern for consequential actions: choose and give a reason,
// then a confirmation page that names the customer and the wallet and asks for the password again.
import type { AdminCustomer } from '../../modules/customers/customers.schemas.js';
import { ErrorSummary, Page, type Viewer } from './layout.js';
import { fullName } from './customers.js';

export interface LockForm {
  status: string;
  reason: string;
  problems: { field: string; message: string }[];
}

const choices = [
  { status: 'Blocked', hint: 'No operation may run on the wallet. The institution cannot change it.' },
  { status: 'Suspicious', hint: 'Flagged for review. The institution cannot change it.' },
  { status: 'Active', hint: 'Lifts the platform’s lock: the institution may change the status again.' },
] as const;

export function LockPage(props: { viewer: Viewer; customer: AdminCustomer; form: LockForm }) {
  const { customer, form } = props;
  const problem = (field: string) => form.problems.some((entry) => entry.field === field);
  return (
    <Page title="Wallet status" viewer={props.viewer} section="customers">
      <div class="narrow">
        <ErrorSummary problems={form.problems} />
        <p class="breadcrumb">
          <a href={`/console/customers/${customer.id}`} safe>
            {fullName(customer)}
          </a>
        </p>
        <h1>Set the wallet’s status as the platform</h1>
        <form method="post" action={`/console/customers/${customer.id}/wallet/review`} novalidate>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <fieldset class={problem('status') ? 'field field-error' : 'field'} id="status">
            <legend>Status</legend>
            {choices.map((choice) => (
              <div class="radio">
                <input
                  type="radio"
                  id={`status-${choice.status}`}
                  name="status"
                  value={choice.status}
                  checked={form.status === choice.status}
                  aria-describedby={`status-${choice.status}-hint`}
                />
                <label for={`status-${choice.status}`}>{choice.status}</label>
                <p class="hint" id={`status-${choice.status}-hint`}>
                  {choice.hint}
                </p>
              </div>
            ))}
          </fieldset>
          <div class={problem('reason') ? 'field field-error' : 'field'}>
            <label for="reason">Reason</label>
            <p class="hint" id="reason-hint">
              Kept in the customer’s history and shown to the institution.
            </p>
            <textarea id="reason" name="reason" rows="3" maxlength="500" aria-describedby="reason-hint" safe>
              {form.reason}
            </textarea>
          </div>
          <button type="submit" class="button">
            Continue
          </button>{' '}
          <a href={`/console/customers/${customer.id}`}>Cancel</a>
        </form>
      </div>
    </Page>
  );
}

export function ConfirmLockPage(props: {
  viewer: Viewer;
  customer: AdminCustomer;
  status: string;
  reason: string;
  problems: { field: string; message: string }[];
}) {
  const { customer } = props;
  return (
    <Page title="Confirm the wallet status" viewer={props.viewer} section="customers">
      <div class="narrow">
        <ErrorSummary problems={props.problems} />
        <h1 safe>
          {props.status === 'Active'
            ? `Lift the platform’s lock on ${fullName(customer)}’s wallet?`
            : `Set ${fullName(customer)}’s wallet to ${props.status}?`}
        </h1>
        <dl class="fields">
          <div>
            <dt>Customer</dt>
            <dd>
              <span safe>{fullName(customer)}</span> (<code safe>{customer.id}</code>)
            </dd>
          </div>
          <div>
            <dt>Wallet</dt>
            <dd>
              <code safe>{customer.walletId}</code>
            </dd>
          </div>
          <div>
            <dt>Status now</dt>
            <dd
              safe
            >{`${customer.walletStatus}, set by the ${customer.walletStatusSetBy === 'operator' ? 'platform' : 'institution'}`}</dd>
          </div>
          <div>
            <dt>New status</dt>
            <dd safe>{props.status}</dd>
          </div>
          <div>
            <dt>Reason</dt>
            <dd safe>{props.reason}</dd>
          </div>
        </dl>
        <form method="post" action={`/console/customers/${customer.id}/wallet`} novalidate>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <input type="hidden" name="status" value={props.status} />
          <input type="hidden" name="reason" value={props.reason} />
          <input type="hidden" name="expectedVersion" value={String(customer.version)} />
          <div class={props.problems.length > 0 ? 'field field-error' : 'field'}>
            <label for="password">Your password, to confirm</label>
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              required
              autofocus
            />
          </div>
          <button type="submit" class={props.status === 'Active' ? 'button' : 'button warning'} safe>
            {props.status === 'Active' ? 'Lift the lock' : `Set to ${props.status}`}
          </button>{' '}
          <a href={`/console/customers/${customer.id}`}>Cancel</a>
        </form>
      </div>
    </Page>
  );
}
