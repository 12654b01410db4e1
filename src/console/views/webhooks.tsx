// The partner's webhook endpoints: the list with the create form, the signing secret shown once,
// one endpoint with its deliveries and their attempts, and the actions (test, rotate, redeliver)
// for those who may manage them.
import type { AttemptRow } from '../../modules/webhooks/webhooks.repository.js';
import type { WebhookDelivery, WebhookEndpoint } from '../../modules/webhooks/webhooks.schemas.js';
import { ErrorSummary, OnceField, Page, type Viewer } from './layout.js';

export type Problem = { field: string; message: string };

export interface CreateForm {
  url: string;
  eventTypes: readonly string[];
  description: string;
}

export interface RangeForm {
  from: string;
  to: string;
}

const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');

function problemAt(problems: readonly Problem[], field: string): Problem | undefined {
  return problems.find((problem) => problem.field === field);
}

/** GOV.UK's error message at the field, tied to its input by aria-describedby. */
function FieldError({ problem, id }: { problem: Problem | undefined; id: string }) {
  if (problem === undefined) return <></>;
  return (
    <p class="webhook-error" id={id}>
      <span class="visually-hidden">Error: </span>
      <span safe>{problem.message}</span>
    </p>
  );
}

/** Whether the endpoint's latest delivery failed its last attempt (still retrying, or given up). */
export const isFailing = (latest: WebhookDelivery | undefined) =>
  latest !== undefined && latest.status !== 'succeeded' && latest.lastAttempt?.error != null;

export function EndpointStatus({
  endpoint,
  latest,
}: {
  endpoint: WebhookEndpoint;
  /** Its newest delivery, if any. */
  latest?: WebhookDelivery | undefined;
}) {
  if (endpoint.enabled) {
    return isFailing(latest) ? (
      <>
        <span class="tag tag-active">Enabled</span>{' '}
        <span class="tag tag-blocked">Failing: the last delivery failed</span>
      </>
    ) : (
      <span class="tag tag-active">Enabled</span>
    );
  }
  if (endpoint.disabledReason === 'failing') return <span class="tag tag-blocked">Disabled: failing</span>;
  if (endpoint.disabledReason === 'gone')
    return <span class="tag tag-blocked">Disabled: the endpoint answered 410 Gone</span>;
  return <span class="tag tag-suspicious">Disabled</span>;
}

const deliveryTags: Record<string, string> = {
  succeeded: 'tag tag-active',
  failed: 'tag tag-blocked',
  pending: 'tag tag-suspicious',
};

export function WebhooksPage(props: {
  viewer: Viewer;
  endpoints: WebhookEndpoint[];
  /** Each endpoint's newest delivery, by endpoint id. */
  latest: ReadonlyMap<string, WebhookDelivery>;
  canManage: boolean;
  eventTypes: readonly string[];
  form: CreateForm;
  problems: Problem[];
  notice?: string | undefined;
}) {
  const { form, problems } = props;
  const urlProblem = problemAt(problems, 'url');
  const typesProblem = problemAt(problems, 'eventTypes');
  const descriptionProblem = problemAt(problems, 'description');
  return (
    <Page title="Webhooks" viewer={props.viewer} section="webhooks" notice={props.notice}>
      <ErrorSummary problems={problems} />
      <h1>Webhook endpoints</h1>
      <p class="hint">
        Where the service POSTs your institution’s events (customers created, updated or erased, wallet status
        changes), signed as Standard Webhooks says.
      </p>
      {props.endpoints.length === 0 ? (
        <p>No endpoint yet.</p>
      ) : (
        <table class="results">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Event types</th>
              <th scope="col">Status</th>
              <th scope="col">Created (UTC)</th>
            </tr>
          </thead>
          <tbody>
            {props.endpoints.map((endpoint) => (
              <tr>
                <td>
                  <a href={`/console/webhooks/${endpoint.id}`} safe>
                    {endpoint.url}
                  </a>
                  {endpoint.description === null ? (
                    ''
                  ) : (
                    <p class="hint" safe>
                      {endpoint.description}
                    </p>
                  )}
                </td>
                <td safe>{endpoint.eventTypes.join(', ')}</td>
                <td>
                  <EndpointStatus endpoint={endpoint} latest={props.latest.get(endpoint.id)} />
                </td>
                <td>
                  <time datetime={endpoint.createdAt} safe>
                    {when(endpoint.createdAt)}
                  </time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.canManage ? (
        <section class="panel narrow" aria-labelledby="create-heading">
          <h2 id="create-heading">Add an endpoint</h2>
          <form method="post" action="/console/webhooks" novalidate>
            <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
            <OnceField />
            <div class={urlProblem === undefined ? 'field' : 'field field-error'}>
              <label for="url">Endpoint URL</label>
              <p class="hint" id="url-hint">
                An https:// address of yours, without user:pass@ or #fragment.
              </p>
              <FieldError problem={urlProblem} id="url-error" />
              <input
                id="url"
                name="url"
                type="text"
                inputmode="url"
                spellcheck="false"
                autocomplete="off"
                value={form.url}
                aria-describedby={urlProblem === undefined ? 'url-hint' : 'url-hint url-error'}
                aria-invalid={urlProblem === undefined ? undefined : 'true'}
              />
            </div>
            <fieldset
              class={typesProblem === undefined ? 'field' : 'field field-error'}
              id="eventTypes"
              aria-describedby={
                typesProblem === undefined ? 'eventTypes-hint' : 'eventTypes-hint eventTypes-error'
              }
            >
              <legend>Event types</legend>
              <p class="hint" id="eventTypes-hint">
                The events sent to it. Test events (ping) are sent only when you ask.
              </p>
              <FieldError problem={typesProblem} id="eventTypes-error" />
              {props.eventTypes.map((type) => (
                <div class="radio">
                  <input
                    type="checkbox"
                    id={`eventType-${type}`}
                    name="eventTypes"
                    value={type}
                    checked={form.eventTypes.includes(type)}
                  />
                  <label for={`eventType-${type}`} safe>
                    {type}
                  </label>
                </div>
              ))}
            </fieldset>
            <div class={descriptionProblem === undefined ? 'field' : 'field field-error'}>
              <label for="description">Description (optional)</label>
              <p class="hint" id="description-hint">
                A note for your own use, at most 500 characters.
              </p>
              <FieldError problem={descriptionProblem} id="description-error" />
              <input
                id="description"
                name="description"
                type="text"
                value={form.description}
                aria-describedby={
                  descriptionProblem === undefined ? 'description-hint' : 'description-hint description-error'
                }
                aria-invalid={descriptionProblem === undefined ? undefined : 'true'}
              />
            </div>
            <button type="submit" class="button">
              Add the endpoint
            </button>
          </form>
        </section>
      ) : (
        ''
      )}
    </Page>
  );
}

/** The signing secret, in this page only: after a create or a rotation. */
export function SecretPage(props: {
  viewer: Viewer;
  endpoint: WebhookEndpoint;
  secret: string;
  rotated: boolean;
}) {
  const { endpoint } = props;
  return (
    <Page
      title={props.rotated ? 'New signing secret' : 'Endpoint added'}
      viewer={props.viewer}
      section="webhooks"
    >
      <div class="narrow">
        <div class="notice" role="status">
          <p>
            {props.rotated ? 'The signing secret is rotated for ' : 'The endpoint is added: '}
            <code safe>{endpoint.url}</code>
          </p>
        </div>
        <h1>{props.rotated ? 'Your new signing secret' : 'Your signing secret'}</h1>
        <div class="field">
          <label for="secret">Signing secret</label>
          <p class="hint" id="secret-hint">
            Copy it now and keep it with your receiver: it will not be shown again. Verify each request’s
            webhook-signature with it.
          </p>
          <input
            id="secret"
            name="secret"
            type="text"
            value={props.secret}
            readonly
            spellcheck="false"
            autocomplete="off"
            aria-describedby="secret-hint"
          />
        </div>
        <p>
          <button type="button" class="button secondary copy-button" data-copy-target="secret">
            Copy the secret
          </button>
        </p>
        {props.rotated ? (
          <p>
            The previous secret stays valid for 24 hours: until then each request carries both signatures, so
            your receiver can switch to the new one without missing an event.
          </p>
        ) : (
          ''
        )}
        <p>
          <a href={`/console/webhooks/${endpoint.id}`} class="button">
            Continue to the endpoint
          </a>
        </p>
      </div>
    </Page>
  );
}

export interface DeliveryWithAttempts {
  delivery: WebhookDelivery;
  attempts: AttemptRow[];
}

export function WebhookPage(props: {
  viewer: Viewer;
  endpoint: WebhookEndpoint;
  canManage: boolean;
  deliveries: DeliveryWithAttempts[];
  total: number;
  page: number;
  pageSize: number;
  range: RangeForm;
  problems: Problem[];
  notice?: string | undefined;
}) {
  const { endpoint, problems, range } = props;
  const fromProblem = problemAt(problems, 'from');
  const toProblem = problemAt(problems, 'to');
  const first = (props.page - 1) * props.pageSize + 1;
  const last = first + props.deliveries.length - 1;
  const base = `/console/webhooks/${endpoint.id}`;
  return (
    <Page title="Webhook endpoint" viewer={props.viewer} section="webhooks" notice={props.notice}>
      <ErrorSummary problems={problems} />
      <p class="breadcrumb">
        <a href="/console/webhooks">Webhook endpoints</a>
      </p>
      <h1 safe>{endpoint.url}</h1>
      <div class="panel">
        <dl class="fields">
          <div>
            <dt>Status</dt>
            <dd>
              <EndpointStatus
                endpoint={endpoint}
                latest={props.page === 1 ? props.deliveries[0]?.delivery : undefined}
              />
            </dd>
          </div>
          <div>
            <dt>Event types</dt>
            <dd safe>{endpoint.eventTypes.join(', ')}</dd>
          </div>
          <div>
            <dt>Description</dt>
            <dd safe>{endpoint.description ?? '—'}</dd>
          </div>
          <div>
            <dt>Id</dt>
            <dd>
              <code safe>{endpoint.id}</code>
            </dd>
          </div>
          <div>
            <dt>Created (UTC)</dt>
            <dd>
              <time datetime={endpoint.createdAt} safe>
                {when(endpoint.createdAt)}
              </time>
            </dd>
          </div>
        </dl>
      </div>
      {props.canManage ? (
        <section class="panel" aria-labelledby="actions-heading">
          <h2 id="actions-heading">Actions</h2>
          <form method="post" action={`${base}/test`} class="inline">
            <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
            <button type="submit" class="button">
              Send a test event
            </button>
          </form>{' '}
          <a href={`${base}/rotate`} class="button secondary">
            Rotate the secret
          </a>
          <h3>Redeliver failed deliveries</h3>
          <p class="hint" id="range-hint">
            Every failed delivery of events dated within the range (UTC, inclusive) is sent again.
          </p>
          <form method="post" action={`${base}/redeliver`} novalidate>
            <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
            <div class="filters">
              <div class={fromProblem === undefined ? 'field' : 'field field-error'}>
                <label for="from">From (UTC)</label>
                <FieldError problem={fromProblem} id="from-error" />
                <input
                  id="from"
                  name="from"
                  type="datetime-local"
                  value={range.from}
                  aria-describedby={fromProblem === undefined ? 'range-hint' : 'range-hint from-error'}
                  aria-invalid={fromProblem === undefined ? undefined : 'true'}
                />
              </div>
              <div class={toProblem === undefined ? 'field' : 'field field-error'}>
                <label for="to">To (UTC)</label>
                <FieldError problem={toProblem} id="to-error" />
                <input
                  id="to"
                  name="to"
                  type="datetime-local"
                  value={range.to}
                  aria-describedby={toProblem === undefined ? 'range-hint' : 'range-hint to-error'}
                  aria-invalid={toProblem === undefined ? undefined : 'true'}
                />
              </div>
            </div>
            <button type="submit" class="button secondary">
              Redeliver the range
            </button>
          </form>
        </section>
      ) : (
        ''
      )}
      <section aria-labelledby="deliveries-heading">
        <h2 id="deliveries-heading">Deliveries</h2>
        {props.deliveries.length === 0 ? (
          <p>No delivery yet.</p>
        ) : (
          <>
            <p class="hint" safe>
              {`${first.toLocaleString('en')}–${last.toLocaleString('en')} of ${props.total.toLocaleString('en')}, newest first`}
            </p>
            <table class="results">
              <thead>
                <tr>
                  <th scope="col">Event type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last status code</th>
                  <th scope="col">Last attempt (UTC)</th>
                  {props.canManage ? <th scope="col">Action</th> : ''}
                </tr>
              </thead>
              <tbody>
                {props.deliveries.map(({ delivery, attempts }) => (
                  <>
                    <tr class="webhook-delivery">
                      <td>
                        <span>{delivery.eventType}</span>
                        <p class="hint">
                          Event <code safe>{delivery.eventId}</code>
                        </p>
                      </td>
                      <td>
                        <span class={deliveryTags[delivery.status] ?? 'tag'}>{delivery.status}</span>
                        {delivery.nextAttemptAt === null ? (
                          ''
                        ) : (
                          <p class="hint" safe>{`next attempt ${when(delivery.nextAttemptAt)}`}</p>
                        )}
                      </td>
                      <td safe>{String(delivery.attempts)}</td>
                      <td safe>
                        {delivery.lastAttempt === null
                          ? '—'
                          : (delivery.lastAttempt.responseStatus?.toString() ??
                            `no answer (${delivery.lastAttempt.error ?? 'error'})`)}
                      </td>
                      <td safe>{delivery.lastAttempt === null ? '—' : when(delivery.lastAttempt.at)}</td>
                      {props.canManage ? (
                        <td>
                          <form method="post" action={`${base}/redeliver`} class="inline">
                            <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
                            <input type="hidden" name="eventId" value={delivery.eventId} />
                            <button
                              type="submit"
                              class="button secondary"
                              aria-label={`Redeliver event ${delivery.eventId}`}
                            >
                              Redeliver
                            </button>
                          </form>
                        </td>
                      ) : (
                        ''
                      )}
                    </tr>
                    <tr class="webhook-attempts">
                      <td colspan={props.canManage ? '6' : '5'}>
                        <details>
                          <summary safe>
                            {`Attempts of this delivery (${attempts.length.toLocaleString('en')})`}
                          </summary>
                          {attempts.length === 0 ? (
                            <p>No attempt yet.</p>
                          ) : (
                            <table>
                              <thead>
                                <tr>
                                  <th scope="col">When (UTC)</th>
                                  <th scope="col">Status code</th>
                                  <th scope="col">Duration</th>
                                  <th scope="col">Error</th>
                                </tr>
                              </thead>
                              <tbody>
                                {attempts.map((attempt) => (
                                  <tr>
                                    <td safe>{when(attempt.attemptedAt.toISOString())}</td>
                                    <td safe>{attempt.responseStatus?.toString() ?? 'no answer'}</td>
                                    <td safe>{`${attempt.durationMs.toLocaleString('en')} ms`}</td>
                                    <td safe>{attempt.error ?? '—'}</td>
                                  </tr>
                                ))}
                              </tbody>
                            </table>
                          )}
                        </details>
                      </td>
                    </tr>
                  </>
                ))}
              </tbody>
            </table>
          </>
        )}
        <nav class="pager" aria-label="Pages of deliveries">
          {props.page > 1 ? (
            <a href={props.page === 2 ? base : `${base}?page=${props.page - 1}`} rel="prev">
              Newer deliveries
            </a>
          ) : (
            ''
          )}
          {last < props.total ? (
            <a href={`${base}?page=${props.page + 1}`} rel="next">
              Older deliveries
            </a>
          ) : (
            ''
          )}
        </nav>
      </section>
    </Page>
  );
}

export function RotatePage(props: { viewer: Viewer; endpoint: WebhookEndpoint }) {
  const { endpoint } = props;
  const base = `/console/webhooks/${endpoint.id}`;
  return (
    <Page title="Rotate the signing secret" viewer={props.viewer} section="webhooks">
      <div class="narrow">
        <p class="breadcrumb">
          <a href={base} safe>
            {endpoint.url}
          </a>
        </p>
        <h1>Rotate this endpoint’s signing secret?</h1>
        <dl class="fields">
          <div>
            <dt>Endpoint</dt>
            <dd>
              <code safe>{endpoint.url}</code>
            </dd>
          </div>
        </dl>
        <p>
          A new secret is made and shown once, on the next page. The current secret stays valid for 24 hours
          beside it (each request carries both signatures meanwhile), then only the new one signs.
        </p>
        <form method="post" action={`${base}/rotate`}>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <OnceField />
          <button type="submit" class="button warning">
            Rotate the secret
          </button>{' '}
          <a href={base}>Cancel</a>
        </form>
      </div>
    </Page>
  );
}
