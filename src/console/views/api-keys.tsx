// The institution's API keys: the list, the create form (the API's own fields), the page that
// shows a new key's secret once, and the confirmation before a key is revoked.
import type { ApiKey, ApiKeyWithSecret } from '../../modules/api-keys/api-keys.schemas.js';
import { allScopes, type Scope } from '../../platform/principal.js';
import { ErrorSummary, OnceField, Page, type Viewer } from './layout.js';

export interface Problem {
  field: string;
  message: string;
}

/** A time as the console shows it: `2030-01-01 23:59 UTC`, or the text for none. */
export const when = (iso: string | null, none = '—'): string =>
  iso === null ? none : `${iso.replace('T', ' ').slice(0, 16)} UTC`;

/** The class of a form field's wrapper: marked when the field has a problem. */
export const fieldClass = (problems: readonly Problem[], field: string): string =>
  problems.some((problem) => problem.field === field) ? 'field field-error' : 'field';

/** A field's own problems, shown at the field (GOV.UK's error message), or nothing. */
export function FieldError(props: { problems: readonly Problem[]; field: string }) {
  const mine = props.problems.filter((problem) => problem.field === props.field);
  if (mine.length === 0) return <></>;
  return (
    <p class="field-message" id={`${props.field}-error`}>
      <span class="visually-hidden">Error: </span>
      <span safe>{mine.map((problem) => problem.message).join('. ')}</span>
    </p>
  );
}

/** The ids an input is described by: its hint, and its error when it has one. */
export const describedBy = (problems: readonly Problem[], field: string, hint?: string): string =>
  [hint, problems.some((problem) => problem.field === field) ? `${field}-error` : undefined]
    .filter((id) => id !== undefined)
    .join(' ');

/**
 * A secret shown once: selectable in a read-only input without JavaScript, with a Copy button
 * that console.js reveals and wires to the clipboard, saying what happened in a live region.
 */
export function ShownOnce(props: { id: string; label: string; value: string; hint: string }) {
  return (
    <div class="field shown-once">
      <label for={props.id} safe>
        {props.label}
      </label>
      <p class="hint" id={`${props.id}-hint`} safe>
        {props.hint}
      </p>
      <div class="copy-row">
        <input
          id={props.id}
          type="text"
          class="secret"
          value={props.value}
          readonly
          autocomplete="off"
          spellcheck="false"
          aria-describedby={`${props.id}-hint`}
        />
        <button
          type="button"
          class="button secondary"
          data-copy-target={props.id}
          data-copy-status={`${props.id}-status`}
          hidden
        >
          Copy
        </button>
      </div>
      <p class="copy-status" id={`${props.id}-status`} role="status" aria-live="polite"></p>
    </div>
  );
}

const scopeHints: Readonly<Record<Scope, string>> = {
  'customers:read': 'Customer details, find, history and events.',
  'customers:write': 'Create and update customers.',
  'customers:erase': 'Erase customers’ personal data.',
  'webhooks:manage': 'Webhook endpoints, deliveries and events.',
};

export interface CreateKeyForm {
  name: string;
  scopes: readonly string[];
  /** The textarea as typed: one address or range a line. */
  allowedIps: string;
  /** YYYY-MM-DD, or as typed. */
  expiresOn: string;
}

function keyStatus(key: ApiKey, now: number) {
  if (key.revokedAt !== null)
    return (
      <>
        <span class="tag tag-blocked">Revoked</span>
        <br />
        <span class="hint" safe>
          {when(key.revokedAt)}
        </span>
      </>
    );
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now)
    return <span class="tag tag-suspicious">Expired</span>;
  return <span class="tag tag-active">Active</span>;
}

export function ApiKeysPage(props: {
  viewer: Viewer;
  keys: readonly ApiKey[];
  form: CreateKeyForm;
  problems: readonly Problem[];
  notice?: string;
}) {
  const { form, problems } = props;
  const now = Date.now();
  return (
    <Page
      title={problems.length > 0 ? 'Error: API keys' : 'API keys'}
      viewer={props.viewer}
      section="api-keys"
      notice={props.notice}
    >
      <ErrorSummary problems={problems} />
      <h1>API keys</h1>
      <p class="hint">
        Your systems call the API with these keys, in the <code>api-key</code> header. A key’s secret is shown
        only once, when it is created.
      </p>
      {props.keys.length === 0 ? (
        <p>No API keys yet.</p>
      ) : (
        <table class="results">
          <caption class="visually-hidden">Your institution’s API keys, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Allowed from</th>
              <th scope="col">Expires</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.keys.map((key) => (
              <tr>
                <td safe>{key.name}</td>
                <td>
                  <code safe>{`${key.prefix}…`}</code>
                  <br />
                  <span class="hint">
                    id <code safe>{key.id}</code>
                  </span>
                </td>
                <td safe>{key.scopes.join(', ')}</td>
                <td safe>{key.allowedIps === null ? 'Any address' : key.allowedIps.join(', ')}</td>
                <td safe>{when(key.expiresAt, 'Never')}</td>
                <td safe>{when(key.createdAt)}</td>
                <td safe>{when(key.lastUsedAt, 'Never')}</td>
                <td>{keyStatus(key, now)}</td>
                <td>
                  {key.revokedAt === null ? (
                    <form method="post" action={`/console/api-keys/${key.id}/confirm-revoke`} class="inline">
                      <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
                      <button type="submit" class="link-button">
                        Revoke<span class="visually-hidden" safe>{` ${key.name}`}</span>
                      </button>
                    </form>
                  ) : (
                    ''
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <section class="panel create-panel" aria-labelledby="create-heading">
        <h2 id="create-heading">Create an API key</h2>
        <form method="post" action="/console/api-keys" novalidate>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <OnceField />
          <div class={fieldClass(problems, 'name')}>
            <label for="name">Name</label>
            <p class="hint" id="name-hint">
              What the key is for, such as the system that uses it.
            </p>
            <FieldError problems={problems} field="name" />
            <input
              id="name"
              name="name"
              type="text"
              value={form.name}
              maxlength="100"
              autocomplete="off"
              aria-describedby={describedBy(problems, 'name', 'name-hint')}
            />
          </div>
          <fieldset
            class={fieldClass(problems, 'scopes')}
            id="scopes"
            aria-describedby={describedBy(problems, 'scopes', 'scopes-hint')}
          >
            <legend>Scopes</legend>
            <p class="hint" id="scopes-hint">
              What the key may do. An API key can never manage API keys or users.
            </p>
            <FieldError problems={problems} field="scopes" />
            {allScopes.map((scope) => (
              <div class="radio">
                <input
                  type="checkbox"
                  id={`scope-${scope.replace(':', '-')}`}
                  name="scopes"
                  value={scope}
                  checked={form.scopes.includes(scope)}
                  aria-describedby={`scope-${scope.replace(':', '-')}-hint`}
                />
                <label for={`scope-${scope.replace(':', '-')}`}>
                  <code>{scope}</code>
                </label>
                <p class="hint" id={`scope-${scope.replace(':', '-')}-hint`} safe>
                  {scopeHints[scope]}
                </p>
              </div>
            ))}
          </fieldset>
          <div class={fieldClass(problems, 'allowedIps')}>
            <label for="allowedIps">Allowed addresses (optional)</label>
            <p class="hint" id="allowedIps-hint">
              One IPv4 or IPv6 address or CIDR range a line, such as 203.0.113.7 or 2001:db8::/32. From any
              other address the key gets 401. Leave empty to allow any address.
            </p>
            <FieldError problems={problems} field="allowedIps" />
            <textarea
              id="allowedIps"
              name="allowedIps"
              rows="3"
              spellcheck="false"
              aria-describedby={describedBy(problems, 'allowedIps', 'allowedIps-hint')}
              safe
            >
              {form.allowedIps}
            </textarea>
          </div>
          <div class={fieldClass(problems, 'expiresAt')}>
            <label for="expiresAt">Expires on (optional)</label>
            <p class="hint" id="expiresAt-hint">
              The key stops working at the end of this day (UTC). Leave empty for a key that does not expire.
            </p>
            <FieldError problems={problems} field="expiresAt" />
            <input
              id="expiresAt"
              name="expiresOn"
              type="date"
              value={form.expiresOn}
              aria-describedby={describedBy(problems, 'expiresAt', 'expiresAt-hint')}
            />
          </div>
          <button type="submit" class="button">
            Create the key
          </button>
        </form>
      </section>
    </Page>
  );
}

/** The details of one key, as the created and the revoke pages list them. */
function KeyDetails({ apiKey }: { apiKey: ApiKey }) {
  return (
    <dl class="fields">
      <div>
        <dt>Name</dt>
        <dd safe>{apiKey.name}</dd>
      </div>
      <div>
        <dt>Key</dt>
        <dd>
          <code safe>{`${apiKey.prefix}…`}</code> (id <code safe>{apiKey.id}</code>)
        </dd>
      </div>
      <div>
        <dt>Scopes</dt>
        <dd safe>{apiKey.scopes.join(', ')}</dd>
      </div>
      <div>
        <dt>Allowed from</dt>
        <dd safe>{apiKey.allowedIps === null ? 'Any address' : apiKey.allowedIps.join(', ')}</dd>
      </div>
      <div>
        <dt>Expires</dt>
        <dd safe>{when(apiKey.expiresAt, 'Never')}</dd>
      </div>
      <div>
        <dt>Last used</dt>
        <dd safe>{when(apiKey.lastUsedAt, 'Never')}</dd>
      </div>
    </dl>
  );
}

export function ApiKeyCreatedPage(props: { viewer: Viewer; apiKey: ApiKeyWithSecret }) {
  const { apiKey } = props;
  return (
    <Page title="API key created" viewer={props.viewer} section="api-keys">
      <div class="narrow">
        <h1>API key created</h1>
        <div class="notice" role="status">
          <p>
            Copy the key now and store it safely. <strong>It will not be shown again</strong>: only a hash of
            it is kept.
          </p>
        </div>
        <ShownOnce
          id="secret-value"
          label={`The key “${apiKey.name}”`}
          value={apiKey.key}
          hint="Send it in the api-key header of your requests."
        />
        <KeyDetails apiKey={apiKey} />
        <p>
          <a href="/console/api-keys" class="button secondary">
            Back to API keys
          </a>
        </p>
      </div>
    </Page>
  );
}

export function RevokeApiKeyPage(props: { viewer: Viewer; apiKey: ApiKey }) {
  const { apiKey } = props;
  return (
    <Page title="Revoke the API key" viewer={props.viewer} section="api-keys">
      <div class="narrow">
        <h1 safe>{`Revoke the API key “${apiKey.name}”?`}</h1>
        <KeyDetails apiKey={apiKey} />
        {apiKey.revokedAt === null ? (
          <>
            <p>
              Requests made with this key get 401 at once, from every address. This cannot be undone: the
              systems that use it will need a new key.
            </p>
            <form method="post" action={`/console/api-keys/${apiKey.id}/revoke`} class="confirm">
              <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
              <button type="submit" class="button warning">
                Revoke the key
              </button>{' '}
              <a href="/console/api-keys">Cancel</a>
            </form>
          </>
        ) : (
          <>
            <p safe>{`This key was revoked on ${when(apiKey.revokedAt)}.`}</p>
            <p>
              <a href="/console/api-keys">Back to API keys</a>
            </p>
          </>
        )}
      </div>
    </Page>
  );
}
