// Who looked at which customers' masked fields. The operator's auditors see every reveal; an
// institution sees the platform's reveals of its own customers (who at the operator, when, what).
import type { AccessEntry } from '../../modules/customers/customer-access.repository.js';
import { Page, type Viewer } from './layout.js';

export interface AccessLogState {
  institution: string;
  from: string;
  to: string;
}

export function AccessLogPage(props: {
  viewer: Viewer;
  state: AccessLogState;
  institutions: { id: string; title: string }[] | undefined;
  entries: AccessEntry[];
  next: string | undefined;
  csv: string;
}) {
  const operator = props.viewer.principal.kind === 'operator';
  const titles = new Map(
    (props.institutions ?? []).map((institution) => [institution.id, institution.title]),
  );
  return (
    <Page title={operator ? 'Access log' : 'Platform access'} viewer={props.viewer} section="access">
      <h1>{operator ? 'Access log' : 'The platform’s access to your customers’ data'}</h1>
      <p class="hint">
        {operator
          ? 'Every reveal of a customer’s masked fields in this console: who, when, which customer, which fields.'
          : 'Each time someone at the platform operator revealed masked fields of one of your customers.'}
      </p>
      <form method="get" action="/console/access-log" class="filters">
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
        <button type="submit" class="button secondary">
          Filter
        </button>
      </form>
      <p>
        <a href={`/console/access-log.csv?${props.csv}`} download="access-log.csv">
          Download as CSV
        </a>
      </p>
      {props.entries.length === 0 ? (
        <p>No access recorded.</p>
      ) : (
        <table class="results">
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              <th scope="col">Who</th>
              <th scope="col">Customer</th>
              {operator ? <th scope="col">Institution</th> : ''}
              <th scope="col">Fields</th>
              <th scope="col">Request</th>
            </tr>
          </thead>
          <tbody>
            {props.entries.map((entry) => (
              <tr>
                <td safe>{entry.occurredAt.toISOString().replace('T', ' ').slice(0, 19)}</td>
                <td safe>{`${entry.actor.name} (${entry.actor.type})`}</td>
                <td>
                  <a href={`/console/customers/${entry.customerId}`}>
                    <code safe>{entry.customerId}</code>
                  </a>
                </td>
                {operator ? <td safe>{titles.get(entry.institutionId) ?? entry.institutionId}</td> : ''}
                <td safe>{entry.fields.join(', ')}</td>
                <td>
                  <code safe>{entry.requestId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
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
