import { Page, type Viewer } from './layout.js';

export function ErrorPage(props: {
  status: number;
  title: string;
  message: string;
  requestId: string;
  viewer?: Viewer;
}) {
  return (
    <Page title={props.title} viewer={props.viewer}>
      <h1 safe>{props.title}</h1>
      <p safe>{props.message}</p>
      <p class="hint">
        Request id <code safe>{props.requestId}</code>: quote it to support.
      </p>
      <p>
        <a href="/console/customers">Back to customers</a>
      </p>
    </Page>
  );
}
