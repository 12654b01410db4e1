// The client's generated types must be those of the document the server serves now: a route or
// schema changed without regenerating fails here, saying what to run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drifted, generateClientFiles, REGENERATE } from '../scripts/client-generate.js';

describe('generated client', () => {
  it("when the committed generated files are compared with the server's /openapi.json, then they are the same", async () => {
    const stale = drifted(await generateClientFiles());
    assert.deepEqual(
      stale,
      [],
      `The client's generated files differ from the server's OpenAPI document (${stale.join(', ')}). ` +
        `Run \`${REGENERATE}\` and commit the result.`,
    );
  });
});
