// The operator's institutions: the list, the form that creates one with its Owner, and the page
// that shows the merchant id and, once, the password the server generated for the Owner.
import type { InstitutionCreated } from '../../modules/institutions/institutions.schemas.js';
import { ErrorSummary, OnceField, Page, type Viewer } from './layout.js';

export interface InstitutionForm {
  title: string;
  ownerEmail: string;
  problems: { field: string; message: string }[];
}

const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');

export function InstitutionsPage(props: {
  viewer: Viewer;
  institutions: { id: string; title: string; createdAt: string }[];
  notice?: string | undefined;
}) {
  return (
    <Page title="Institutions" viewer={props.viewer} section="institutions" notice={props.notice}>
      <h1>Institutions</h1>
      <p class="hint">
        Each partner institution, with its merchant id: its users give it when they sign in, and its API
        callers send it as the merchant_id header at login.
      </p>
      <p>
        <a class="button" href="/console/institutions/new">
          Create an institution
        </a>
      </p>
      <h2
        safe
      >{`${props.institutions.length} ${props.institutions.length === 1 ? 'institution' : 'institutions'}`}</h2>
      {props.institutions.length === 0 ? (
        <p>No institution yet.</p>
      ) : (
        <table class="results">
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Merchant id</th>
              <th scope="col">Created (UTC)</th>
              <th scope="col">
                <span class="visually-hidden">Links</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.institutions.map((institution) => (
              <tr>
                <td safe>{institution.title}</td>
                <td>
                  <code safe>{institution.id}</code>
                </td>
                <td>
                  <time datetime={institution.createdAt} safe>
                    {when(institution.createdAt)}
                  </time>
                </td>
                <td>
                  <a href={`/console/customers?institution=${institution.id}`}>
                    Customers<span class="visually-hidden" safe>{` of ${institution.title}`}</span>
                  </a>
                  {' · '}
                  <a href={`/console/access-log?institution=${institution.id}`}>
                    Audit log<span class="visually-hidden" safe>{` of ${institution.title}`}</span>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

function Problem({ form, field }: { form: InstitutionForm; field: string }) {
  const problem = form.problems.find((entry) => entry.field === field);
  if (problem === undefined) return <></>;
  return (
    <p class="error-message" id={`${field}-error`}>
      <span class="visually-hidden">Error: </span>
      <span safe>{problem.message}</span>
    </p>
  );
}

export function NewInstitutionPage(props: { viewer: Viewer; form: InstitutionForm }) {
  const { form } = props;
  const has = (field: string) => form.problems.some((entry) => entry.field === field);
  const fieldClass = (field: string) => (has(field) ? 'field field-error' : 'field');
  const describedBy = (field: string, hint?: string) =>
    [hint, has(field) ? `${field}-error` : undefined].filter((id) => id !== undefined).join(' ') || undefined;
  return (
    <Page title="Create an institution" viewer={props.viewer} section="institutions">
      <div class="narrow">
        <ErrorSummary problems={form.problems} />
        <p class="breadcrumb">
          <a href="/console/institutions">Institutions</a>
        </p>
        <h1>Create an institution</h1>
        <form method="post" action="/console/institutions" novalidate>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <OnceField />
          <div class={fieldClass('title')}>
            <label for="title">Title</label>
            <Problem form={form} field="title" />
            <input
              id="title"
              name="title"
              type="text"
              value={form.title}
              maxlength="200"
              autocomplete="organization"
              aria-describedby={describedBy('title')}
              aria-invalid={has('title') ? 'true' : undefined}
            />
          </div>
          <div class={fieldClass('ownerEmail')}>
            <label for="ownerEmail">Owner’s email</label>
            <p class="hint" id="ownerEmail-hint">
              The institution’s first user, with the Owner role: they can then invite the others.
            </p>
            <Problem form={form} field="ownerEmail" />
            <input
              id="ownerEmail"
              name="ownerEmail"
              type="email"
              value={form.ownerEmail}
              maxlength="254"
              autocomplete="off"
              spellcheck="false"
              aria-describedby={describedBy('ownerEmail', 'ownerEmail-hint')}
              aria-invalid={has('ownerEmail') ? 'true' : undefined}
            />
          </div>
          <div class={fieldClass('ownerPassword')}>
            <label for="ownerPassword">Owner’s password (optional)</label>
            <p class="hint" id="ownerPassword-hint">
              At least 12 characters. Leave it empty to have one generated: it is then shown once, on the next
              page.
            </p>
            <Problem form={form} field="ownerPassword" />
            <input
              id="ownerPassword"
              name="ownerPassword"
              type="password"
              autocomplete="new-password"
              aria-describedby={describedBy('ownerPassword', 'ownerPassword-hint')}
              aria-invalid={has('ownerPassword') ? 'true' : undefined}
            />
          </div>
          <button type="submit" class="button">
            Create the institution
          </button>{' '}
          <a href="/console/institutions">Cancel</a>
        </form>
      </div>
    </Page>
  );
}

export function InstitutionCreatedPage(props: { viewer: Viewer; created: InstitutionCreated }) {
  const { created } = props;
  return (
    <Page title="Institution created" viewer={props.viewer} section="institutions">
      <div class="narrow">
        <div class="notice" role="status">
          <p safe>{`${created.title} is created, with its Owner.`}</p>
        </div>
        <h1>Institution created</h1>
        <dl class="fields">
          <div>
            <dt>Title</dt>
            <dd safe>{created.title}</dd>
          </div>
          <div>
            <dt>Merchant id</dt>
            <dd>
              <code safe>{created.merchantId}</code>
            </dd>
          </div>
          <div>
            <dt>Owner’s email</dt>
            <dd safe>{created.owner.email}</dd>
          </div>
        </dl>
        {created.owner.password === null ? (
          <p>The Owner signs in with the password you chose, this merchant id and their email.</p>
        ) : (
          <section class="panel one-time" aria-labelledby="password-heading">
            <h2 id="password-heading">The Owner’s password</h2>
            <p class="one-time-secret">
              <code safe>{created.owner.password}</code>
            </p>
            <p>
              <strong>It is shown only this once and will not be shown again.</strong> Copy it now and give it
              to the Owner by a secure channel, apart from the merchant id. The service keeps only a hash of
              it, so nobody can read it later; the Owner should change it after signing in.
            </p>
          </section>
        )}
        <p>
          <a href="/console/institutions">Back to the institutions</a>
          {' · '}
          <a href="/console/institutions/new">Create another institution</a>
        </p>
      </div>
    </Page>
  );
}
