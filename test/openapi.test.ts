// The OpenAPI document as other people's tools see it: a well-kept validator accepts it as
// OpenAPI 3.0, Redocly's recommended ruleset finds no problem in it, and every operation has the
// stable operationId that generated clients (ours among them) name their methods after.
import SwaggerParser from '@apidevtools/swagger-parser';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { operationIdOf } from '../src/platform/openapi.js';
import { startTestApp, type TestApp } from './support/app.js';

const root = path.resolve(import.meta.dirname, '..');

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: any;

  before(async () => {
    t = await startTestApp();
    const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    document = response.json();
  });

  after(async () => {
    await t.close();
  });

  const operations = (): { path: string; method: string; operation: any }[] =>
    Object.entries(document.paths).flatMap(([route, item]: [string, any]) =>
      Object.entries(item).map(([method, operation]) => ({ path: route, method, operation })),
    );

  it('when @apidevtools/swagger-parser validates it, then it is valid OpenAPI 3.0', async () => {
    // validate() dereferences in place: give it a copy.
    const validated: any = await SwaggerParser.validate(structuredClone(document));
    assert.match(validated.openapi, /^3\.0\./);
  });

  it("when Redocly's recommended ruleset lints it, then there is no error and no warning", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'customercore-openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      const lint = spawnSync(
        process.execPath,
        [
          path.join(root, 'node_modules/@redocly/cli/bin/cli.js'),
          'lint',
          '--extends',
          'recommended',
          '--format',
          'json',
          file,
        ],
        {
          encoding: 'utf8',
          // No telemetry and no update check: CI has no network, and a lint needs none.
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          timeout: 120_000,
        },
      );
      const report = JSON.parse(lint.stdout) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
      };
      const listed = report.problems
        .map(
          (problem) =>
            `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer ?? ''}`,
        )
        .join('\n');
      assert.equal(report.totals.errors, 0, listed);
      assert.equal(report.totals.warnings, 0, listed);
      assert.equal(lint.status, 0, lint.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the operations are read, then each has a unique operationId derived from its route unless overridden', () => {
    const ids = operations().map(({ operation }) => operation.operationId as string);
    assert.ok(
      ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(id)),
      ids.join(', '),
    );
    assert.equal(new Set(ids).size, ids.length, `duplicated: ${ids.join(', ')}`);
    assert.equal(document.paths['/v2/customer/create'].post.operationId, 'customerCreate');
    assert.equal(document.paths['/v2/admin/customer/find'].post.operationId, 'adminCustomerFind');
    assert.equal(document.paths['/v2/user/change-password'].post.operationId, 'userChangePassword');
    assert.equal(document.paths['/.well-known/jwks.json'].get.operationId, 'jwks', 'an explicit override');
  });

  it('when a route is named, then its operationId is its path without the version, in camel case', () => {
    assert.equal(operationIdOf('/v2/customer/create'), 'customerCreate');
    assert.equal(operationIdOf('/v2/api-key/revoke'), 'apiKeyRevoke');
    assert.equal(operationIdOf('/v2/webhook/rotate-secret'), 'webhookRotateSecret');
    assert.equal(operationIdOf('/v2/admin/institution/create'), 'adminInstitutionCreate');
    assert.equal(operationIdOf('/health/ready'), 'healthReady');
  });

  it('when the operations are read, then each documents a client error and every tag it uses has a description', () => {
    const tags = new Map<string, string | undefined>(
      document.tags.map((tag: { name: string; description?: string }) => [tag.name, tag.description]),
    );
    for (const { path: route, method, operation } of operations()) {
      assert.ok(
        Object.keys(operation.responses).some((status) => status.startsWith('4')),
        `${method} ${route} has a 4xx answer`,
      );
      for (const tag of operation.tags ?? []) {
        assert.ok((tags.get(tag) ?? '') !== '', `tag ${tag} of ${route} is declared with a description`);
      }
    }
  });

  it('when the document is read, then it names its servers and its license', () => {
    assert.ok(document.servers.length > 0);
    assert.equal(document.info.license.name, 'Apache-2.0');
  });
});
