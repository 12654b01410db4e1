// What an instance remembers of the credentials it has verified (API keys by hash, sessions by
// id), so that authenticating a request costs no database round trip.
//
// Revocation stays immediate because the database announces every change a remembered credential
// depends on (migration 0010: triggers NOTIFY on the `customercore_credentials` channel when it
// commits) and every instance LISTENs and forgets everything at once; revocations are rare, so
// forgetting all is simpler than tracking which entry a change touched, and as cheap. Three rules
// keep a stale entry from ever being served:
// - Nothing is remembered while the instance is not listening (before the first LISTEN, and from
//   the moment the listening connection fails until it is back): every request then asks the
//   database, as it did before this cache existed. Coming back forgets everything, since
//   notifications may have been missed meanwhile.
// - A lookup that was in flight when a notification arrived may have read the row before the
//   change: its result is used for that request (it was true when read) but not remembered.
// - The instance that made the change forgets at once, without waiting for its own notification
//   (forget(), called when a route that revokes credentials answers).
// Entries also expire after a minute, a bound on anything else, and the cache holds a bounded
// number of entries, dropping the oldest first.

export interface CredentialCacheOptions {
  /** How long an entry may be served; a bound, not the mechanism of revocation. */
  ttlMs: number;
  maxEntries: number;
}

export const defaultCredentialCacheOptions: CredentialCacheOptions = { ttlMs: 60_000, maxEntries: 50_000 };

/** The channel the database announces credential changes on (migration 0010). */
export const CREDENTIALS_CHANNEL = 'customercore_credentials';

export interface CredentialCache {
  /**
   * The value remembered under `key`, or else what `load` finds (remembered when it is defined
   * and nothing changed while it was loading). `validUntil` may end an entry's life sooner than
   * the TTL, e.g. an API key's own expiry (epoch milliseconds).
   */
  lookup<V extends object>(
    key: string,
    load: () => Promise<V | undefined>,
    validUntil?: (value: V) => number | undefined,
  ): Promise<V | undefined>;
  /** Forgets everything (a credential changed). */
  forget(): void;
  /** Whether changes are being heard; while not, nothing is remembered. */
  setListening(listening: boolean): void;
  readonly size: number;
}

interface Entry {
  value: object;
  expiresAt: number;
}

export function createCredentialCache(
  options: CredentialCacheOptions = defaultCredentialCacheOptions,
  now: () => number = Date.now,
): CredentialCache {
  const entries = new Map<string, Entry>();
  let generation = 0;
  let listening = false;

  const forget = () => {
    generation += 1;
    entries.clear();
  };

  return {
    async lookup<V extends object>(
      key: string,
      load: () => Promise<V | undefined>,
      validUntil?: (value: V) => number | undefined,
    ): Promise<V | undefined> {
      const entry = entries.get(key);
      if (entry !== undefined) {
        if (entry.expiresAt > now()) return entry.value as V;
        entries.delete(key);
      }
      const loadedIn = generation;
      const value = await load();
      if (value === undefined || !listening || generation !== loadedIn) return value;
      const expiresAt = Math.min(now() + options.ttlMs, validUntil?.(value) ?? Infinity);
      if (entries.size >= options.maxEntries) {
        // Maps iterate in insertion order: the first key is the oldest entry.
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(key, { value, expiresAt });
      return value;
    },
    forget,
    setListening(value) {
      listening = value;
      forget();
    },
    get size() {
      return entries.size;
    },
  };
}
