import { ErrorSummary, Page } from './layout.js';

export interface SignInForm {
  merchantId: string;
  email: string;
  next: string;
  problems: { field: string; message: string }[];
  notice?: string;
}

export function SignInPage(form: SignInForm) {
  const problem = (field: string) => form.problems.find((entry) => entry.field === field);
  return (
    <Page title="Sign in" notice={form.notice}>
      <div class="narrow">
        <ErrorSummary problems={form.problems} />
        <h1>Sign in</h1>
        <form method="post" action="/console/sign-in" novalidate>
          <input type="hidden" name="next" value={form.next} />
          <div class={problem('merchantId') === undefined ? 'field' : 'field field-error'}>
            <label for="merchantId">Merchant id</label>
            <p class="hint" id="merchantId-hint">
              Your institution's id. Leave it empty to sign in with an operator account.
            </p>
            <input
              id="merchantId"
              name="merchantId"
              type="text"
              value={form.merchantId}
              autocomplete="organization"
              spellcheck="false"
              aria-describedby="merchantId-hint"
            />
          </div>
          <div class={problem('email') === undefined ? 'field' : 'field field-error'}>
            <label for="email">Email</label>
            <input id="email" name="email" type="email" value={form.email} autocomplete="username" required />
          </div>
          <div class={problem('password') === undefined ? 'field' : 'field field-error'}>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required />
          </div>
          <button type="submit" class="button">
            Sign in
          </button>
        </form>
      </div>
    </Page>
  );
}
