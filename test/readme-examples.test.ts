// The README's client and command-line examples, run as written against the real server: the
// integration example (create, handle CUSTOMER_EMAIL_TAKEN, verify a webhook) and the import
// example, whose output must be the README's (rates and timings aside).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signWebhook } from '@customercore/client';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution } from './support/client.js';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The first fenced block of `language` in the README section under `heading`. */
function block(heading: string, language: string, nth = 0): string {
  const section = readme.split(`\n## ${heading}\n`)[1]?.split('\n## ')[0];
  assert.ok(section !== undefined, `README has a "${heading}" section`);
  const blocks = [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map(
    (match) => match[1]!,
  );
  assert.ok(blocks[nth] !== undefined, `"${heading}" has a ${language} block`);
  return blocks[nth];
}

function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => {
      resolve({ code, output });
    });
  });
}

/** Rates and timings vary from run to run; nothing else may. */
const normalise = (text: string) =>
  text
    .replace(/\d+ rows\/s/g, 'N rows/s')
    .replace(/in [\d.]+ s/g, 'in N s')
    .replace(/ETA [\d:?]+/g, 'ETA N');

describe(`README examples (${engine})`, () => {
  let t: TestApp;
  let baseUrl: string;
  let apiKey: string;
  let dir: string;

  before(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    apiKey = (await createApiKey(t, await createInstitution(t))).apiKey;
    dir = mkdtempSync(path.join(tmpdir(), 'customercore-readme-'));
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('when the client example runs twice, then it creates the customer once, handles CUSTOMER_EMAIL_TAKEN and verifies the webhook', async () => {
    const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
    const rawBody = JSON.stringify({
      id: randomUUID(),
      type: 'ping',
      timestamp: new Date().toISOString(),
      data: { endpointId: randomUUID() },
    });
    const headers = signWebhook(webhookSecret, { id: randomUUID(), timestamp: new Date(), body: rawBody });
    const newCustomer = {
      email: `readme-${randomUUID()}@mail.com`,
      firstName: 'Alex',
      lastName: 'Smith',
      country: 'FR',
      verificationDocumentId: 'FV633452',
      residenceAddress: 'Champ de Mars, Paris',
    };
    const prelude = [
      `const baseUrl = ${JSON.stringify(baseUrl)};`,
      `const apiKey = ${JSON.stringify(apiKey)};`,
      `const webhookSecret = ${JSON.stringify(webhookSecret)};`,
      `const rawBody = ${JSON.stringify(rawBody)};`,
      `const headers = ${JSON.stringify(headers)};`,
      `const newCustomer = ${JSON.stringify(newCustomer)};`,
    ].join('\n');
    const example = block('Client library', 'ts');
    const [imports, ...body] = example.split('\n\n');
    // Inside the repository, so that @customercore/client resolves as it does for a user.
    const file = path.join(root, `.readme-example-${String(process.pid)}.mts`);
    writeFileSync(
      file,
      `${imports}\n${prelude}\n${body.join('\n\n')}\nconsole.log(JSON.stringify({ id: customer?.id ?? null, type: event.type }));\n`,
    );
    try {
      const outputs = [];
      for (let time = 0; time < 2; time++) {
        const result = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env: {} });
        assert.equal(result.code, 0, result.output);
        outputs.push(JSON.parse(result.output.trim().split('\n').at(-1)!));
      }
      assert.match(outputs[0].id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(outputs[1], { id: null, type: 'ping' }, 'the second run met CUSTOMER_EMAIL_TAKEN');
      assert.equal(outputs[0].type, 'ping');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("when the import example runs, then its output and report are the README's", async () => {
    writeFileSync(path.join(dir, 'customers.csv'), block('Command line', 'csv'));
    const transcript = block('Command line', 'console');
    const [importPart, reportPart] = transcript.split('$ cat customers.csv.rejected.csv\n') as [
      string,
      string,
    ];
    const expected = importPart
      .split('\n')
      .slice(1)
      .filter((line) => line !== '');

    const result = await run(path.join(root, 'node_modules/.bin/customercore'), ['import', 'customers.csv'], {
      cwd: dir,
      env: {
        CUSTOMERCORE_URL: baseUrl,
        CUSTOMERCORE_API_KEY: apiKey,
        CUSTOMERCORE_CONFIG_DIR: path.join(dir, 'config'),
      },
    });

    assert.equal(result.code, 5, result.output);
    const lines = normalise(result.output).split('\n');
    for (const line of expected)
      assert.ok(lines.includes(normalise(line)), `output has: ${line}\n${result.output}`);
    assert.equal(readFileSync(path.join(dir, 'customers.csv.rejected.csv'), 'utf8'), reportPart);
  });
});
