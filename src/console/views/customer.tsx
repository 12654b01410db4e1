// One customer: every field, the masked ones hidden until revealed (a POST that is recorded), the
// link to edit them for those who may, the wallet with who set its status, and the history as a
// timeline of per-field changes.
import type { AdminCustomer, HistoryEntry } from '../../modules/customers/customers.schemas.js';
import { maskedFields, type MaskedField } from '../../modules/customers/customers.service.js';
import { ErrorSummary, Page, type Viewer } from './layout.js';
import { fullName, StatusTag } from './customers.js';

export const labels: Record<string, string> = {
  email: 'Email',
  phoneNumber: 'Phone number',
  firstName: 'First name',
  lastName: 'Last name',
  comment: 'Comment',
  externalId: 'externalId',
  referralId: 'Referred by',
  country: 'Country',
  verificationDocumentId: 'Verification document',
  residenceAddress: 'Residence address',
  itn: 'Tax number (ITN)',
  walletStatus: 'Wallet status',
  walletStatusSetBy: 'Wallet status set by',
};

const shownFields = [
  'firstName',
  'lastName',
  'email',
  'phoneNumber',
  'country',
  'residenceAddress',
  'verificationDocumentId',
  'itn',
  'externalId',
  'referralId',
  'comment',
] as const;

export interface CustomerView {
  viewer: Viewer;
  customer: AdminCustomer;
  institutionTitle: string | undefined;
  history: HistoryEntry[];
  historyTotal: number;
  revealed: readonly MaskedField[];
  notice?: string;
  problems?: { field: string; message: string }[];
  /** May the viewer change this customer (its role; the wallet's lock is checked apart). */
  canWrite: boolean;
}

const isMasked = (field: string): field is MaskedField => (maskedFields as readonly string[]).includes(field);

function Hidden() {
  return (
    <span class="masked">
      <span aria-hidden="true">••••••••</span>
      <span class="visually-hidden">hidden</span>
    </span>
  );
}

function RevealButton({
  csrf,
  customerId,
  fields,
  label,
}: {
  csrf: string;
  customerId: string;
  fields: readonly string[];
  label: string;
}) {
  return (
    <form method="post" action={`/console/customers/${customerId}/reveal`} class="inline">
      <input type="hidden" name="_csrf" value={csrf} />
      {fields.map((field) => (
        <input type="hidden" name="fields" value={field} />
      ))}
      <button type="submit" class="link-button" safe>
        {label}
      </button>
    </form>
  );
}

function WalletPanel(props: CustomerView) {
  const { customer, viewer } = props;
  const operator = viewer.principal.kind === 'operator';
  const locked = customer.walletStatusSetBy === 'operator' && customer.walletStatus !== 'Active';
  const lastChange = props.history.find((entry) =>
    entry.changes.some((change) => change.field === 'walletStatus'),
  );
  return (
    <section class="panel" aria-labelledby="wallet-heading">
      <h2 id="wallet-heading">Wallet</h2>
      <dl class="fields">
        <div>
          <dt>Wallet id</dt>
          <dd>
            <code safe>{customer.walletId}</code>
          </dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            <StatusTag status={customer.walletStatus} setBy={customer.walletStatusSetBy} />
          </dd>
        </div>
        <div>
          <dt>Set by</dt>
          <dd safe>
            {customer.walletStatusSetBy === 'operator'
              ? `the platform${lastChange?.actor.name == null ? '' : ` (${lastChange.actor.name})`}`
              : `the institution${lastChange?.actor.name == null ? '' : ` (${lastChange.actor.name})`}`}
          </dd>
        </div>
        {lastChange?.reason == null ? (
          ''
        ) : (
          <div>
            <dt>Reason</dt>
            <dd safe>{lastChange.reason}</dd>
          </div>
        )}
      </dl>
      {customer.erasedAt !== null ? (
        ''
      ) : operator ? (
        <p>
          <a class="button" href={`/console/customers/${customer.id}/wallet`}>
            {locked ? 'Change or lift the lock' : 'Lock the wallet'}
          </a>
        </p>
      ) : !props.canWrite ? (
        ''
      ) : locked ? (
        <div class="locked-note">
          <label for="walletStatus">Change the status</label>
          <select id="walletStatus" disabled aria-describedby="locked-reason">
            <option>{customer.walletStatus}</option>
          </select>
          <p id="locked-reason" class="hint">
            The platform set this status: only the operator can change it.
          </p>
        </div>
      ) : (
        <form method="post" action={`/console/customers/${customer.id}/wallet-status`}>
          <input type="hidden" name="_csrf" value={viewer.csrfToken} />
          <input type="hidden" name="expectedVersion" value={String(customer.version)} />
          <div class="field">
            <label for="walletStatus">Change the status</label>
            <select id="walletStatus" name="walletStatus">
              {(['Active', 'Blocked', 'Suspicious'] as const).map((status) => (
                <option value={status} selected={status === customer.walletStatus}>
                  {status}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="button secondary">
            Save the status
          </button>
        </form>
      )}
    </section>
  );
}

function Timeline({ history, total }: { history: HistoryEntry[]; total: number }) {
  return (
    <section class="panel" aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      {total > history.length ? (
        <p class="hint" safe>{`The latest ${history.length} of ${total} changes.`}</p>
      ) : (
        ''
      )}
      <ol class="timeline">
        {history.map((entry) => (
          <li>
            <p class="entry-head">
              <strong safe>{`Version ${entry.version} · ${entry.action.replace('_', ' ')}`}</strong>{' '}
              <time datetime={entry.occurredAt} safe>
                {entry.occurredAt.replace('T', ' ').slice(0, 19)}
              </time>
            </p>
            <p class="hint">
              <span
                safe
              >{`By ${entry.actor.type === 'api_key' ? 'API key' : entry.actor.type}${entry.actor.name === null ? '' : ` ${entry.actor.name}`}`}</span>
              {' · request '}
              <code safe>{entry.requestId}</code>
              {entry.reason === null ? '' : <span safe>{` · reason: ${entry.reason}`}</span>}
            </p>
            {entry.changes.length === 0 ? (
              ''
            ) : (
              <table class="changes">
                <thead>
                  <tr>
                    <th scope="col">Field</th>
                    <th scope="col">Old</th>
                    <th scope="col">New</th>
                  </tr>
                </thead>
                <tbody>
                  {entry.changes.map((change) => (
                    <tr>
                      <th scope="row" safe>
                        {labels[change.field] ?? change.field}
                      </th>
                      {isMasked(change.field) && (change.old !== null || change.new !== null) ? (
                        <>
                          <td>{change.old === null ? '—' : <Hidden />}</td>
                          <td>{change.new === null ? '—' : <Hidden />}</td>
                        </>
                      ) : (
                        <>
                          <td safe>{change.old ?? '—'}</td>
                          <td safe>{change.new ?? '—'}</td>
                        </>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function CustomerPage(props: CustomerView) {
  const { customer, viewer } = props;
  const hidden = maskedFields.filter((field) => customer[field] !== null && !props.revealed.includes(field));
  return (
    <Page title={fullName(customer)} viewer={viewer} section="customers" notice={props.notice}>
      <ErrorSummary problems={props.problems ?? []} />
      <p class="breadcrumb">
        <a href="/console/customers">Customers</a>
      </p>
      <h1 safe>{fullName(customer)}</h1>
      <p class="hint">
        Customer <code safe>{customer.id}</code>
        {props.institutionTitle === undefined ? '' : <span safe>{` · ${props.institutionTitle}`}</span>}
        <span safe>{` · version ${customer.version}`}</span>
        {customer.erasedAt === null ? '' : <span safe>{` · erased ${customer.erasedAt}`}</span>}
      </p>
      <div class="columns">
        <section class="panel" aria-labelledby="fields-heading">
          <h2 id="fields-heading">Details</h2>
          {props.canWrite && viewer.principal.kind !== 'operator' && customer.erasedAt === null ? (
            <p>
              <a class="button secondary" href={`/console/customers/${customer.id}/edit`}>
                Edit details
              </a>
            </p>
          ) : (
            ''
          )}
          {hidden.length === 0 ? (
            ''
          ) : (
            <div class="reveal-all">
              <RevealButton
                csrf={viewer.csrfToken}
                customerId={customer.id}
                fields={hidden}
                label="Reveal all hidden fields"
              />
              <p class="hint">Every reveal is recorded: who, when, and which fields.</p>
            </div>
          )}
          <dl class="fields">
            {shownFields.map((field) => {
              const value = customer[field];
              return (
                <div>
                  <dt safe>{labels[field]}</dt>
                  <dd>
                    {value === null ? (
                      '—'
                    ) : isMasked(field) && !props.revealed.includes(field) ? (
                      <>
                        <Hidden />{' '}
                        <RevealButton
                          csrf={viewer.csrfToken}
                          customerId={customer.id}
                          fields={[field]}
                          label={`Reveal ${labels[field] ?? field}`}
                        />
                      </>
                    ) : field === 'referralId' ? (
                      <a href={`/console/customers/${value}`} safe>
                        {value}
                      </a>
                    ) : (
                      <span safe>{value}</span>
                    )}
                  </dd>
                </div>
              );
            })}
            <div>
              <dt>Created</dt>
              <dd safe>{customer.createdAt}</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd safe>{customer.updatedAt}</dd>
            </div>
          </dl>
        </section>
        <WalletPanel {...props} />
      </div>
      <Timeline history={props.history} total={props.historyTotal} />
    </Page>
  );
}
