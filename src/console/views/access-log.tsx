// The operator's audit log: who revealed which customers' masked fields, and who locked or
// unlocked which wallets, newest first. An institution sees the platform's reveals of its own
// customers (who at the operator, when, what).
import type { AccessEntry } from '../../modules/customers/customer-access.repository.js';
import type { OperatorWalletChange } from '../../modules/wallets/wallets.service.js';
import { Page, type Viewer } from './layout.js';

export const auditKinds = ['all', 'reveal', 'lock', 'unlock'] as const;
export type AuditKind = (typeof auditKinds)[number];

export type AuditEntry = (AccessEntry & { kind: 'reveal' }) | OperatorWalletChange;

export interface AccessLogState {
  kind: AuditKind;
  institution: string;
  from: string;
  to: string;
}

const kindLabels: Record<AuditKind, string> = {
  all: 'All entries',
  reveal: 'Reveals',
  lock: 'Locks',
  unlock: 'Unlocks',
};

const entryLabels = { reveal: 'Reveal', lock: 'Lock', unlock: 'Unlock' } as const;

const setBy = (by: string) => (by === 'operator' ? 'platform' : 'institution');

function What({ entry }: { entry: AuditEntry }) {
  if (entry.kind === 'reveal') return <td safe>{entry.fields.join(', ')}</td>;
  return (
    <td>
      <span safe>{`${entry.from.status} (${setBy(entry.from.setBy)}) → ${entry.to.status}`}</span>
      {entry.reason === null ? (
        ''
      ) : (
        <>
          <br />
          <span class="hint" safe>
            {`Reason: ${entry.reason}`}
          </span>
        </>
      )}
    </td>
  );
}

export function AccessLogPage(props: {
  viewer: Viewer;
  state: AccessLogState;
  institutions: { id: string; title: string }[] | undefined;
  entries: AuditEntry[];
  next: string | undefined;
  /** The first page's query, when this is a later page. */
  firstPage: string | undefined;
  csv: string;
}) {
  const operator = props.viewer.principal.kind === 'operator';
  const titles = new Map(
    (props.institutions ?? []).map((institution) => [institution.id, institution.title]),
  );
  return (
    <Page title={operator ? 'Audit log' : 'Platform access'} viewer={props.viewer} section="access">
      <h1>{operator ? 'Audit log' : 'The platform’s access to your customers’ data'}</h1>
      <p class="hint">
        {operator
          ? 'Every reveal of a customer’s masked fields in this console, and every lock and unlock of a wallet by the platform: who, when, which customer, what.'
          : 'Each time someone at the platform operator revealed masked fields of one of your customers.'}
      </p>
      <form method="get" action="/console/access-log" class="filters audit-filters">
        {operator ? (
          <div class="field">
            <label for="kind">Kind</label>
            <select id="kind" name="kind">
              {auditKinds.map((kind) => (
                <option value={kind} selected={kind === props.state.kind} safe>
                  {kindLabels[kind]}
                </option>
              ))}
            </select>
          </div>
        ) : (
          ''
        )}
        {props.institutions === undefined ? (
          ''
        ) : (
          <div class="field">
            <label for="institution">Institution</label>
            <select id="institution" name="institution">
              <option value="">All institutions</option>
              {props.institutions.map((institution) => (
                <option value={institution.id} selected={institution.id === props.state.institution} safe>
                  {institution.title}
                </option>
              ))}
            </select>
          </div>
        )}
        <div class="field">
          <label for="from">From (UTC)</label>
          <input id="from" name="from" type="date" value={props.state.from} />
        </div>
        <div class="field">
          <label for="to">To (UTC)</label>
          <input id="to" name="to" type="date" value={props.state.to} />
        </div>
        <button type="submit" class="button">
          Filter
        </button>
      </form>
      <p>
        <a
          href={`/console/access-log.csv?${props.csv}`}
          download={operator ? 'audit-log.csv' : 'access-log.csv'}
        >
          Download as CSV
        </a>
      </p>
      {props.entries.length === 0 ? (
        <p>{operator ? 'No entries match. Clear a filter to see more.' : 'No access recorded.'}</p>
      ) : (
        <table class="results">
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              {operator ? <th scope="col">Kind</th> : ''}
              <th scope="col">Who</th>
              <th scope="col">{operator ? 'Customer, institution' : 'Customer'}</th>
              <th scope="col">{operator ? 'What' : 'Fields'}</th>
              <th scope="col">Request</th>
            </tr>
          </thead>
          <tbody>
            {props.entries.map((entry) => (
              <tr>
                <td class="audit-when" safe>
                  {entry.occurredAt.toISOString().replace('T', ' ').slice(0, 19)}
                </td>
                {operator ? (
                  <td>
                    <span
                      class={`tag tag-${entry.kind === 'reveal' ? 'reveal' : entry.kind === 'lock' ? 'blocked' : 'active'}`}
                    >
                      {entryLabels[entry.kind]}
                    </span>
                  </td>
                ) : (
                  ''
                )}
                <td safe>{`${entry.actor.name} (${entry.actor.type})`}</td>
                <td>
                  <a href={`/console/customers/${entry.customerId}`}>
                    <code safe>{entry.customerId}</code>
                  </a>
                  {operator ? (
                    <>
                      <br />
                      <span class="hint" safe>
                        {titles.get(entry.institutionId) ?? entry.institutionId}
                      </span>
                    </>
                  ) : (
                    ''
                  )}
                </td>
                <What entry={entry} />
                <td>{entry.kind === 'reveal' ? <code safe>{entry.requestId}</code> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {props.firstPage === undefined ? (
          ''
        ) : (
          <a href={`/console/access-log?${props.firstPage}`}>Newest entries</a>
        )}
        {props.next === undefined ? (
          ''
        ) : (
          <a href={`/console/access-log?${props.next}`} rel="next">
            Older entries
          </a>
        )}
      </nav>
    </Page>
  );
}
