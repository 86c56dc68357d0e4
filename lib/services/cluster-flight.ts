import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import type { SharedCacheStore } from '../interfaces/oidc-resource-options.interface.js';
import { StoreBreaker, boundedCall } from './store-breaker.js';

function isKeyvInstance(store: SharedCacheStore): boolean {
  const candidate = store as unknown as { getRaw?: unknown; hooks?: unknown };
  return (
    typeof candidate.getRaw === 'function' &&
    typeof candidate.hooks === 'object' &&
    candidate.hooks !== null
  );
}

/**
 * The shared tier over `cache.stores` (none without stores): Keyv instances as given, bare
 * adapters wrapped in one. `onError` hears every error a store reports as an event.
 */
export function sharedTier(
  stores: readonly SharedCacheStore[],
  onError: (error: unknown) => void,
): Cache | undefined {
  if (stores.length === 0) return undefined;
  const keyvs = stores.map((store) => {
    const keyv = isKeyvInstance(store)
      ? (store as unknown as Keyv)
      : new Keyv({ store: store as never, namespace: 'nestjs-oidc-resource' });
    // Keyv re-emits store errors; without a listener they would crash the process.
    keyv.on('error', onError);
    return keyv;
  });
  return createCache({ stores: keyvs });
}

/** What the lock needs from a node-redis client (`SET … NX PX`, `DEL`, `EXISTS`). */
interface LockClient {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<unknown>;
  del(key: string): Promise<unknown>;
  exists(key: string): Promise<unknown>;
}

/** The first shared store's node-redis client that can take a lock, if any. */
export function lockClient(clients: readonly unknown[]): LockClient | undefined {
  return clients.find((c): c is LockClient => {
    const client = c as Partial<LockClient>;
    return (
      typeof client.set === 'function' &&
      typeof client.del === 'function' &&
      typeof client.exists === 'function'
    );
  });
}

/** How often a waiting replica looks for the result (ms). */
const POLL_INTERVAL = 15;

/** JWS-shaped tokens are checked locally, faster than a lock round trip: never coalesced. */
const JWS_SHAPE = /^[^.]+\.[^.]+\.[^.]*$/;

/**
 * Cluster-wide coalescing of introspections through the shared Redis: the replica that sets the
 * short lock (`SET key:lock NX PX`) introspects and writes the result; the others poll the shared
 * store for it instead of introspecting too, and introspect themselves only if the lock goes away
 * without a result (the holder's call failed) or outlives `lockTtl`. Every Redis call goes through
 * the tier's breaker and timeout, so a slow or dead Redis means introspecting, never failing.
 */
export class ClusterFlight {
  constructor(
    private readonly client: LockClient | undefined,
    private readonly breaker: StoreBreaker,
    private readonly storeTimeout: number,
    /** Longest a holder may take: the introspection's own timeout plus a store call. */
    private readonly lockTtl: number,
    private readonly fault: (message: string, error: unknown) => void,
  ) {}

  async run<T>(
    storedKey: string,
    token: string,
    compute: () => Promise<T>,
    readBack: () => Promise<T | undefined>,
  ): Promise<T> {
    const client = this.client;
    if (!client || JWS_SHAPE.test(token)) return compute();
    const lock = `${storedKey}:lock`;
    const call = <R>(what: string, start: () => Promise<R>) =>
      boundedCall(this.breaker, this.storeTimeout, what, start, this.fault);
    const taken = await call('lock', () => client.set(lock, '1', { NX: true, PX: this.lockTtl }));
    if (taken === 'OK') {
      try {
        return await compute();
      } finally {
        void call('unlock', () => client.del(lock));
      }
    }
    // Not taken: another replica holds it (null), or Redis did not answer (undefined).
    if (taken === null) {
      const deadline = Date.now() + this.lockTtl;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL));
        const value = await readBack();
        if (value !== undefined) return value;
        if ((await call('read a lock', () => client.exists(lock))) !== 1) break;
      }
      const value = await readBack();
      if (value !== undefined) return value;
    }
    return compute();
  }
}
