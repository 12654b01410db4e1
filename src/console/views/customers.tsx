// The search-first list (Stripe's dashboard): one box, a few filters, every one in the URL.
import type { AdminCustomer } from '../../modules/customers/customers.schemas.js';
import { ErrorSummary, Page, type Viewer } from './layout.js';

export interface SearchState {
  q: string;
  institution: string;
  status: string;
  from: string;
  to: string;
  after: string;
}

export interface SearchResult {
  rows: AdminCustomer[];
  /** The link's query of the next page, when there is one. */
  next: string | undefined;
  /** How the term was understood, said above the results. */
  matchedBy: string;
  /** How many match, when the page shows them all (lists are not counted: see browseCustomers). */
  total: number | undefined;
}

const statuses = ['Active', 'Blocked', 'Suspicious'] as const;

export function fullName(customer: {
  firstName: string | null;
  lastName: string | null;
  erasedAt: string | null;
}) {
  if (customer.erasedAt !== null) return 'Erased customer';
  return `${customer.firstName ?? ''} ${customer.lastName ?? ''}`.trim();
}

export function StatusTag({ status, setBy }: { status: string; setBy: string }) {
  return (
    <span class={`tag tag-${status.toLowerCase()}`}>
      <span safe>{status}</span>
      {setBy === 'operator' && status !== 'Active' ? ' · set by the platform' : ''}
    </span>
  );
}

export function CustomersPage(props: {
  viewer: Viewer;
  search: SearchState;
  institutions: { id: string; title: string }[] | undefined;
  result: SearchResult | undefined;
  problems: { field: string; message: string }[];
}) {
  const { search, result } = props;
  const operator = props.viewer.principal.kind === 'operator';
  const titles = new Map(
    (props.institutions ?? []).map((institution) => [institution.id, institution.title]),
  );
  return (
    <Page title="Customers" viewer={props.viewer} section="customers">
      <ErrorSummary problems={props.problems} />
      <h1>Customers</h1>
      <form method="get" action="/console/customers" class="search" role="search">
        <div class="field search-box">
          <label for="q">Search</label>
          <p class="hint" id="q-hint">
            An email, a phone number (+…), a customer or wallet id, or an externalId finds that customer;
            anything else searches names.
          </p>
          {/* autocomplete off: so that Back shows the term of that page, not the last one typed */}
          <input
            id="q"
            name="q"
            type="search"
            value={search.q}
            aria-describedby="q-hint"
            autocomplete="off"
            autofocus
          />
        </div>
        <div class="filters">
          {props.institutions === undefined ? (
            ''
          ) : (
            <div class="field">
              <label for="institution">Institution</label>
              <select id="institution" name="institution">
                <option value="">All institutions</option>
                {props.institutions.map((institution) => (
                  <option value={institution.id} selected={institution.id === search.institution} safe>
                    {institution.title}
                  </option>
                ))}
              </select>
            </div>
          )}
          <div class="field">
            <label for="status">Wallet status</label>
            <select id="status" name="status">
              <option value="">Any status</option>
              {statuses.map((status) => (
                <option value={status} selected={status === search.status}>
                  {status}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="from">Created from (UTC)</label>
            <input id="from" name="from" type="date" value={search.from} />
          </div>
          <div class="field">
            <label for="to">Created to (UTC)</label>
            <input id="to" name="to" type="date" value={search.to} />
          </div>
        </div>
        <button type="submit" class="button">
          Search
        </button>
      </form>
      {result === undefined ? (
        ''
      ) : (
        <section aria-labelledby="results-heading">
          <h2 id="results-heading" safe>
            {result.total === undefined
              ? `Customers${result.matchedBy}, newest first`
              : `${result.total.toLocaleString('en')} ${result.total === 1 ? 'customer' : 'customers'}${result.matchedBy}`}
          </h2>
          {result.rows.length === 0 ? (
            <p>No customer matches. Check the term, or clear a filter.</p>
          ) : (
            <table class="results">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  {operator ? <th scope="col">Institution</th> : ''}
                  <th scope="col">externalId</th>
                  <th scope="col">Wallet</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {result.rows.map((customer) => (
                  <tr>
                    <td>
                      <a href={`/console/customers/${customer.id}`} safe>
                        {fullName(customer)}
                      </a>
                    </td>
                    {operator ? (
                      <td safe>{titles.get(customer.institutionId) ?? customer.institutionId}</td>
                    ) : (
                      ''
                    )}
                    <td safe>{customer.externalId ?? '—'}</td>
                    <td>
                      <StatusTag status={customer.walletStatus} setBy={customer.walletStatusSetBy} />
                    </td>
                    <td>
                      <time datetime={customer.createdAt} safe>
                        {customer.createdAt.slice(0, 16).replace('T', ' ')}
                      </time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <nav class="pager" aria-label="Pages">
            {search.after === '' ? (
              ''
            ) : (
              <a href={`/console/customers?${firstPageQuery(search)}`}>First page</a>
            )}
            {result.next === undefined ? (
              ''
            ) : (
              <a href={`/console/customers?${result.next}`} rel="next">
                Next page
              </a>
            )}
          </nav>
        </section>
      )}
    </Page>
  );
}

/** The search's query string, without the page. */
export function firstPageQuery(search: SearchState): string {
  const query = new URLSearchParams();
  for (const name of ['q', 'institution', 'status', 'from', 'to'] as const) {
    if (search[name] !== '') query.set(name, search[name]);
  }
  return query.toString();
}
