// The page every console screen is drawn in: one stylesheet and one script, both served by the
// service (the CSP allows nothing else), a skip link, the navigation of the signed-in role, and
// the session's end for the idle warning.
import { randomUUID } from 'node:crypto';
import type { Children } from '@kitajs/html';
import { isAllowed, type Principal } from '../../platform/principal.js';

export type Section = 'customers' | 'institutions' | 'api-keys' | 'users' | 'webhooks' | 'access';

export interface Viewer {
  principal: Principal;
  /** The institution's title, for its users. */
  institutionTitle: string | null;
  csrfToken: string;
  sessionEndsAt: Date;
}

export interface PageOptions {
  title: string;
  viewer?: Viewer;
  /** The navigation entry to mark as current. */
  section?: Section;
  /** A message shown once, after a redirect (saved, locked, signed out). */
  notice?: string;
  children?: Children;
}

/** The console's sections, each shown to those whose role may open it. */
const sections: readonly {
  name: Section;
  href: string;
  label: (operator: boolean) => string;
  shown: (principal: Principal) => boolean;
}[] = [
  { name: 'customers', href: '/console/customers', label: () => 'Customers', shown: () => true },
  {
    name: 'institutions',
    href: '/console/institutions',
    label: () => 'Institutions',
    shown: (principal) => principal.kind === 'operator',
  },
  {
    name: 'api-keys',
    href: '/console/api-keys',
    label: () => 'API keys',
    shown: (principal) => isAllowed(principal, 'api-keys:manage'),
  },
  {
    name: 'users',
    href: '/console/users',
    label: () => 'Users',
    shown: (principal) => isAllowed(principal, 'users:manage'),
  },
  {
    name: 'webhooks',
    href: '/console/webhooks',
    label: () => 'Webhooks',
    shown: (principal) => isAllowed(principal, 'webhooks:read'),
  },
  {
    name: 'access',
    href: '/console/access-log',
    label: (operator) => (operator ? 'Audit log' : 'Platform access'),
    shown: () => true,
  },
];

function Navigation({ viewer, section }: { viewer: Viewer; section: PageOptions['section'] }) {
  const operator = viewer.principal.kind === 'operator';
  const who =
    viewer.principal.kind === 'operator'
      ? 'Operator'
      : viewer.principal.kind === 'user'
        ? viewer.principal.role
        : '';
  return (
    <header class="masthead">
      <a class="brand" href="/console/customers">
        CustomerCore
      </a>
      <nav aria-label="Main">
        <ul>
          {sections
            .filter((entry) => entry.shown(viewer.principal))
            .map((entry) => (
              <li>
                <a href={entry.href} aria-current={section === entry.name ? 'page' : undefined} safe>
                  {entry.label(operator)}
                </a>
              </li>
            ))}
        </ul>
      </nav>
      <div class="account">
        <span class="who">
          <span safe>{viewer.principal.kind === 'api_key' ? '' : viewer.principal.email}</span>
          {' · '}
          <span safe>{viewer.institutionTitle === null ? who : `${who}, ${viewer.institutionTitle}`}</span>
        </span>
        <form method="post" action="/console/sign-out">
          <input type="hidden" name="_csrf" value={viewer.csrfToken} />
          <button type="submit" class="link-button">
            Sign out
          </button>
        </form>
      </div>
    </header>
  );
}

export function Page(options: PageOptions) {
  return (
    <>
      {'<!doctype html>'}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="color-scheme" content="light dark" />
          <title safe>{`${options.title} · CustomerCore`}</title>
          <link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml" />
          <link rel="stylesheet" href="/console/assets/console.css" />
          <script src="/console/assets/console.js" defer></script>
        </head>
        <body data-session-ends-at={options.viewer?.sessionEndsAt.toISOString()}>
          <a class="skip-link" href="#main">
            Skip to main content
          </a>
          {options.viewer === undefined ? (
            <header class="masthead">
              <span class="brand">CustomerCore</span>
            </header>
          ) : (
            <Navigation viewer={options.viewer} section={options.section} />
          )}
          <div id="session-warning" class="session-warning" role="alert" hidden>
            <p>
              Your session ends in <span data-countdown>2 minutes</span> unless you keep it open.
            </p>
            <button type="button" data-keep-alive>
              Stay signed in
            </button>
          </div>
          <main id="main" tabindex="-1">
            {options.notice === undefined ? (
              ''
            ) : (
              <div class="notice" role="status">
                <p safe>{options.notice}</p>
              </div>
            )}
            {options.children}
          </main>
        </body>
      </html>
    </>
  );
}

/** GOV.UK's error summary: every problem of a form at its top, each linking to its field. */
export function ErrorSummary({ problems }: { problems: readonly { field: string; message: string }[] }) {
  if (problems.length === 0) return <></>;
  return (
    <div class="error-summary" role="alert" tabindex="-1" data-focus-on-load>
      <h2>There is a problem</h2>
      <ul>
        {problems.map((problem) => (
          <li>
            <a href={`#${problem.field}`} safe>
              {problem.message}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * The one-time token of a form that creates something: the server runs its submission once
 * (runOnce), so a refreshed answer page or a second click creates nothing twice.
 */
export function OnceField() {
  return <input type="hidden" name="_once" value={randomUUID()} />;
}
