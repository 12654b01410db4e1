// The vault's cache of unwrapped data keys: a read does not ask the key provider again for a key
// it unwrapped a moment ago, and the cache never answers for a wrapped key it did not unwrap, past
// its age or its size, or after an erasure dropped the key.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { localKeyProvider, type KeyProvider } from '../src/platform/crypto/key-provider.js';
import { createVault } from '../src/platform/crypto/vault.js';

/** The local provider, counting its unwraps. */
function countingProvider(): KeyProvider & { unwraps: number } {
  const inner = localKeyProvider(randomBytes(32));
  const counting = {
    unwraps: 0,
    get currentVersion() {
      return inner.currentVersion;
    },
    get versions() {
      return inner.versions;
    },
    wrap: (key: Buffer, context: string) => inner.wrap(key, context),
    unwrap(wrapped: Uint8Array, context: string) {
      counting.unwraps++;
      return inner.unwrap(wrapped, context);
    },
  };
  return counting;
}

const ids = () => ({ institutionId: randomUUID(), customerId: randomUUID() });

describe('data key cache', () => {
  it('when a key is opened twice, then the provider unwraps it once, and a new customer’s key not at all', async () => {
    const provider = countingProvider();
    const vault = createVault(provider, randomBytes(32));
    const customer = ids();
    const { key, wrapped } = await vault.newDataKey(customer);
    assert.deepEqual(await vault.openDataKey(wrapped, customer), key);
    assert.equal(provider.unwraps, 0);

    // Another process's vault (same KEK) has it cached after its first read only.
    const other = createVault(provider, randomBytes(32));
    assert.deepEqual(await other.openDataKey(wrapped, customer), key);
    assert.deepEqual(await other.openDataKey(wrapped, customer), key);
    assert.equal(provider.unwraps, 1);
  });

  it('when the row holds another wrapped key than the cached one, then the provider decides, and a forged one fails', async () => {
    const provider = countingProvider();
    const vault = createVault(provider, randomBytes(32));
    const customer = ids();
    const { key, wrapped } = await vault.newDataKey(customer);
    // Re-wrapped (a rotation): the same key under a new wrapping.
    const rewrapped = await vault.rewrapDataKey(wrapped, customer);
    assert.equal(provider.unwraps, 1);
    assert.deepEqual(await vault.openDataKey(rewrapped, customer), key);
    assert.equal(provider.unwraps, 2);
    // Another customer's wrapped key copied onto this one: unwrapping fails on its context.
    const stranger = await vault.newDataKey(ids());
    await assert.rejects(vault.openDataKey(stranger.wrapped, customer));
  });

  it('when a key is older than the cache’s age, then it is unwrapped again', async () => {
    const provider = countingProvider();
    const vault = createVault(provider, randomBytes(32), { maxAgeMs: 30, maxEntries: 10 });
    const customer = ids();
    const { wrapped } = await vault.newDataKey(customer);
    await vault.openDataKey(wrapped, customer);
    assert.equal(provider.unwraps, 0);
    await sleep(60);
    await vault.openDataKey(wrapped, customer);
    assert.equal(provider.unwraps, 1);
  });

  it('when more keys are opened than the cache holds, or one is forgotten, then the oldest or the forgotten is unwrapped again', async () => {
    const provider = countingProvider();
    const vault = createVault(provider, randomBytes(32), { maxAgeMs: 60_000, maxEntries: 2 });
    const [a, b, c] = [ids(), ids(), ids()];
    const wrappedA = (await vault.newDataKey(a)).wrapped;
    const wrappedB = (await vault.newDataKey(b)).wrapped;
    await vault.newDataKey(c); // holds B and C: A, the oldest, went
    await vault.openDataKey(wrappedB, b);
    assert.equal(provider.unwraps, 0);
    await vault.openDataKey(wrappedA, a);
    assert.equal(provider.unwraps, 1, 'pushed out');
    await vault.openDataKey(wrappedA, a);
    assert.equal(provider.unwraps, 1);

    vault.forgetDataKey(a);
    await vault.openDataKey(wrappedA, a);
    assert.equal(provider.unwraps, 2, 'forgotten');
  });
});
