// The institution's users, for its Owners: the list, the form that adds one (the API's fields),
// the page that shows a generated password once, and the confirmation before a deactivation.
import type { CreatedUser, User } from '../../modules/users/users.schemas.js';
import type { InstitutionRole } from '../../platform/principal.js';
import { describedBy, fieldClass, FieldError, ShownOnce, when, type Problem } from './api-keys.js';
import { ErrorSummary, OnceField, Page, type Viewer } from './layout.js';

const roles: readonly { role: InstitutionRole; hint: string }[] = [
  { role: 'Viewer', hint: 'Reads customers and webhook deliveries.' },
  { role: 'Admin', hint: 'Customers, webhooks and API keys.' },
  { role: 'Owner', hint: 'Everything, including the users.' },
];

export interface CreateUserForm {
  email: string;
  role: string;
}

export function UsersPage(props: {
  viewer: Viewer;
  users: readonly User[];
  form: CreateUserForm;
  problems: readonly Problem[];
  notice?: string;
}) {
  const { form, problems } = props;
  const self = props.viewer.principal.kind === 'user' ? props.viewer.principal.userId : undefined;
  return (
    <Page
      title={problems.length > 0 ? 'Error: Users' : 'Users'}
      viewer={props.viewer}
      section="users"
      notice={props.notice}
    >
      <ErrorSummary problems={problems} />
      <h1>Users</h1>
      <p class="hint">The people of your institution who may sign in to this console and the API.</p>
      <table class="results">
        <caption class="visually-hidden">Your institution’s users, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.users.map((user) => (
            <tr>
              <td safe>{user.email}</td>
              <td>{user.role}</td>
              <td safe>{when(user.createdAt)}</td>
              <td>
                {user.deactivatedAt === null ? (
                  <span class="tag tag-active">Active</span>
                ) : (
                  <>
                    <span class="tag tag-blocked">Deactivated</span>
                    <br />
                    <span class="hint" safe>
                      {when(user.deactivatedAt)}
                    </span>
                  </>
                )}
              </td>
              <td>
                {user.id === self ? (
                  'You'
                ) : user.deactivatedAt === null ? (
                  <form method="post" action={`/console/users/${user.id}/confirm-deactivate`} class="inline">
                    <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
                    <button type="submit" class="link-button">
                      Deactivate<span class="visually-hidden" safe>{` ${user.email}`}</span>
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

      <section class="panel create-panel" aria-labelledby="create-heading">
        <h2 id="create-heading">Add a user</h2>
        <form method="post" action="/console/users" novalidate>
          <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
          <OnceField />
          <div class={fieldClass(problems, 'email')}>
            <label for="email">Email</label>
            <FieldError problems={problems} field="email" />
            <input
              id="email"
              name="email"
              type="email"
              value={form.email}
              autocomplete="off"
              spellcheck="false"
              aria-describedby={describedBy(problems, 'email')}
            />
          </div>
          <fieldset
            class={fieldClass(problems, 'role')}
            id="role"
            aria-describedby={describedBy(problems, 'role')}
          >
            <legend>Role</legend>
            <FieldError problems={problems} field="role" />
            {roles.map((choice) => (
              <div class="radio">
                <input
                  type="radio"
                  id={`role-${choice.role}`}
                  name="role"
                  value={choice.role}
                  checked={form.role === choice.role}
                  aria-describedby={`role-${choice.role}-hint`}
                />
                <label for={`role-${choice.role}`}>{choice.role}</label>
                <p class="hint" id={`role-${choice.role}-hint`} safe>
                  {choice.hint}
                </p>
              </div>
            ))}
          </fieldset>
          <div class={fieldClass(problems, 'password')}>
            <label for="password">Password (optional)</label>
            <p class="hint" id="password-hint">
              At least 12 characters. Leave empty to have one generated: it is shown once, when the user is
              added.
            </p>
            <FieldError problems={problems} field="password" />
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="new-password"
              aria-describedby={describedBy(problems, 'password', 'password-hint')}
            />
          </div>
          <button type="submit" class="button">
            Add the user
          </button>
        </form>
      </section>
    </Page>
  );
}

function UserDetails({ user }: { user: User }) {
  return (
    <dl class="fields">
      <div>
        <dt>Email</dt>
        <dd safe>{user.email}</dd>
      </div>
      <div>
        <dt>Role</dt>
        <dd>{user.role}</dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd safe>{when(user.createdAt)}</dd>
      </div>
      <div>
        <dt>Id</dt>
        <dd>
          <code safe>{user.id}</code>
        </dd>
      </div>
    </dl>
  );
}

export function UserCreatedPage(props: { viewer: Viewer; user: CreatedUser & { password: string } }) {
  const { user } = props;
  return (
    <Page title="User added" viewer={props.viewer} section="users">
      <div class="narrow">
        <h1>User added</h1>
        <div class="notice" role="status">
          <p>
            Give this password to the user by a safe channel. <strong>It will not be shown again</strong>.
          </p>
        </div>
        <ShownOnce
          id="secret-value"
          label={`The password of ${user.email}`}
          value={user.password}
          hint="They sign in with your institution’s merchant id, their email and this password."
        />
        <UserDetails user={user} />
        <p>
          <a href="/console/users" class="button secondary">
            Back to users
          </a>
        </p>
      </div>
    </Page>
  );
}

export function DeactivateUserPage(props: { viewer: Viewer; user: User; problems: readonly Problem[] }) {
  const { user } = props;
  return (
    <Page
      title={props.problems.length > 0 ? 'Error: Deactivate the user' : 'Deactivate the user'}
      viewer={props.viewer}
      section="users"
    >
      <div class="narrow">
        <ErrorSummary problems={props.problems} />
        <h1 safe>{`Deactivate ${user.email}?`}</h1>
        <UserDetails user={user} />
        {user.deactivatedAt === null ? (
          <>
            <p>
              Their console sessions and access tokens end at once, and they can no longer sign in. This
              cannot be undone.
            </p>
            <form method="post" action={`/console/users/${user.id}/deactivate`} class="confirm">
              <input type="hidden" name="_csrf" value={props.viewer.csrfToken} />
              <button type="submit" class="button warning" id="confirm">
                Deactivate the user
              </button>{' '}
              <a href="/console/users">Cancel</a>
            </form>
          </>
        ) : (
          <>
            <p safe>{`This user was deactivated on ${when(user.deactivatedAt)}.`}</p>
            <p>
              <a href="/console/users">Back to users</a>
            </p>
          </>
        )}
      </div>
    </Page>
  );
}
