// The README's webhook receiver, run as it is printed: the code block is written to a file next to
// the project's node_modules and started as its own process; the service's dispatcher delivers a
// customer's events to it, and it must print each one as verified.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createCustomer, createInstitution, post } from './support/client.js';
import { startTestDispatcher } from './support/webhooks.js';

const root = path.resolve(import.meta.dirname, '..');

function readmeReceiver(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /```js\n(\/\/ receiver\.mjs[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'the README has the receiver example');
  return block;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });

describe(`the README's webhook receiver (${engine})`, () => {
  let t: TestApp;
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  const file = path.join(root, 'test', `.readme-receiver-${process.pid}.mjs`);

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    dispatcher = await startTestDispatcher(t);
  });

  after(async () => {
    await dispatcher.stop(1000);
    await t.close();
    rmSync(file, { force: true });
  });

  it('when events are sent to the receiver copied from the README, then it verifies and prints each', async () => {
    writeFileSync(file, readmeReceiver());
    const institution = await createInstitution(t);
    const port = await freePort();
    const created = await post(
      t,
      '/v2/webhook/create',
      { url: `http://127.0.0.1:${port}/hooks` },
      institution.owner,
    );
    assert.equal(created.status, 201);
    const child = spawn(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: created.body.data.secret, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const customer = await createCustomer(t, institution.owner);
      await post(t, '/v2/customer/update', { id: customer.id, walletStatus: 'Blocked' }, institution.owner);
      const deadline = Date.now() + 15_000;
      while (!/wallet\.status_changed/.test(output) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const events = await post(t, '/v2/event/find', {}, institution.owner);
      const [statusEvent, createdEvent] = events.body.data;
      assert.match(output, new RegExp(`verified customer.created ${createdEvent.id} version 1`));
      assert.match(output, new RegExp(`verified wallet.status_changed ${statusEvent.id} version 2`));
      const deliveries = await post(
        t,
        '/v2/webhook/deliveries',
        { endpointId: created.body.data.id },
        institution.owner,
      );
      assert.deepEqual(
        deliveries.body.data.map((delivery: any) => [delivery.status, delivery.lastAttempt.responseStatus]),
        [
          ['succeeded', 204],
          ['succeeded', 204],
        ],
      );
    } finally {
      child.kill();
    }
  });
});
