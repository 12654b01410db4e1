// The vault's sealed values (src/platform/crypto/vault.ts): AES-256-GCM with a fresh nonce per
// value, bound to its label. Nonces come from a refilled pool of random bytes; none may repeat.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ephemeralVault, fieldLabel } from '../src/platform/crypto/vault.js';

describe('the vault', () => {
  it('when a thousand values are sealed, across refills of the nonce pool, then every nonce differs and every value opens only under its own label', () => {
    const vault = ephemeralVault();
    const key = randomBytes(32);
    const nonces = new Set<string>();
    for (let n = 0; n < 1000; n++) {
      const label = fieldLabel(`customer-${n}`, 'email');
      const sealed = vault.seal(key, label, `person${n}@mail.test`);
      nonces.add(Buffer.from(sealed, 'base64').subarray(1, 13).toString('hex'));
      assert.equal(vault.open(key, label, sealed), `person${n}@mail.test`);
      assert.throws(() => vault.open(key, fieldLabel(`customer-${n}`, 'itn'), sealed));
    }
    assert.equal(nonces.size, 1000);
  });
});
