import { hash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import type { Clock } from '../utils/clock.js';
import { canonicalTokenForm } from '../utils/canonical-token.js';
import { entryMac, macMatches } from '../utils/entry-mac.js';
import { LOG_CONTEXT, RateLimitedWarn } from '../utils/failure-log.js';
import { deepFreeze } from '../utils/principal.js';
import { settingsFingerprint } from '../utils/settings-fingerprint.js';
import { LruMemoryStore } from './lru-memory.store.js';
import { ClusterFlight, lockClient, sharedTier } from './cluster-flight.js';
import { StoreBreaker, boundedCall, redisClients } from './store-breaker.js';

/**
 * Cache namespaces; logical keys are `oidc-resource:<namespace>:<sha256(token)>`. Stored keys
 * append a fingerprint of the validation settings (`…:<fingerprint>`), so APIs with different
 * settings (issuer, audience, algorithms, introspection client…) that share one store never
 * serve each other's results.
 */
export type TokenCacheNamespace = 'token' | 'userinfo';

/**
 * What is stored: the value plus the absolute time after which it must not be used, and in
 * shared stores, with `cache.signingKey`, the entry's MAC.
 */
interface Envelope<T> {
  until: number;
  value: T;
  mac?: string;
}

const LOG_INTERVAL = 30_000;

/**
 * The token cache: an in-memory LRU tier (bounded by `cache.max`) in front of optional shared
 * stores (`cache.stores`, e.g. Redis), both through cache-manager. Keys are a namespaced SHA-256
 * of the token, never the token. Every entry carries its own deadline, checked on read, so an
 * entry never outlives the TTL it was written with even if a store ignores TTLs.
 *
 * A shared store that fails or hangs never fails a request: each call is bounded by
 * `cache.storeTimeout` and then skipped, and the fault is logged at most every 30 s. A store that
 * keeps failing, or whose client is known to be disconnected, is skipped without waiting (see
 * StoreBreaker) until a probe finds it back.
 */
@Injectable()
export class TokenCacheService implements OnModuleDestroy {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly integrity = new RateLimitedWarn(this.logger);
  private readonly memoryStore: LruMemoryStore;
  private readonly memory: Cache;
  private readonly shared?: Cache;
  private readonly breaker: StoreBreaker;
  private readonly cluster?: ClusterFlight;
  private lastFaultLog = 0;
  private readonly fingerprint: string;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
  ) {
    this.fingerprint = settingsFingerprint(options);
    this.memoryStore = new LruMemoryStore(options.cache.max);
    // Values in memory are frozen plain objects; skipping serialization keeps a hit allocation-free,
    // and without a key prefix the LRU store holds exactly our keys (see peek()).
    this.memory = createCache({
      stores: [
        new Keyv({
          store: this.memoryStore,
          serialize: undefined,
          deserialize: undefined,
          useKeyPrefix: false,
          emitErrors: false,
        }),
      ],
    });
    this.shared = sharedTier(options.cache.stores, (error) => {
      this.breaker.errors += 1;
      this.fault('a shared cache store reported an error', error);
    });
    const clients = redisClients(options.cache.stores);
    this.breaker = new StoreBreaker(clients);
    if (options.cache.coalesce && this.shared) {
      const timeout = options.cache.storeTimeout;
      this.cluster = new ClusterFlight(
        lockClient(clients),
        this.breaker,
        timeout,
        options.httpTimeout + timeout,
        (m, e) => this.fault(m, e),
      );
    }
  }

  /**
   * The cache key of a token: namespaced SHA-256, so the raw token is never stored. Both
   * spellings of an ECDSA-signed JWT (high-S and low-S) share one key: see canonicalTokenForm.
   */
  static keyFor(namespace: TokenCacheNamespace, token: string): string {
    return `oidc-resource:${namespace}:${hash('sha256', canonicalTokenForm(token), 'base64url')}`;
  }

  /** Entries held by the in-memory tier. */
  get memorySize(): number {
    return this.memoryStore.size;
  }

  /**
   * Reads an entry from the in-memory tier only, synchronously: the per-request path of a cache
   * hit, with no promise and no await. The tier is written through cache-manager, whose Keyv
   * keeps each value as `{ value, expires }`; reading the LRU store directly skips two layers of
   * async calls, hooks and events for the same answer.
   */
  peek<T>(logicalKey: string): T | undefined {
    const stored = this.memoryStore.get(this.stored(logicalKey)) as
      { value?: Envelope<T> } | undefined;
    const envelope = stored?.value;
    return envelope !== undefined && envelope.until > this.clock() ? envelope.value : undefined;
  }

  /**
   * Reads an entry: memory first, then the shared stores (which then refill memory).
   * `accept` vets values from shared stores only (another writer or corruption could have put
   * anything there); the memory tier holds only what this process wrote.
   */
  async get<T>(
    logicalKey: string,
    accept?: (value: unknown) => value is T,
  ): Promise<T | undefined> {
    return this.peek<T>(logicalKey) ?? this.getShared(logicalKey, accept);
  }

  /**
   * Reads an entry from the shared stores only (`undefined` without any), and copies a hit into
   * memory: for callers that have already peeked at memory. On a shared miss, memory is read
   * again: another request may have stored the entry while this one waited for the store.
   */
  async getShared<T>(
    logicalKey: string,
    accept?: (value: unknown) => value is T,
  ): Promise<T | undefined> {
    if (!this.shared) return undefined;
    return (await this.readShared(logicalKey, accept)) ?? this.peek<T>(logicalKey);
  }

  private async readShared<T>(
    logicalKey: string,
    accept?: (value: unknown) => value is T,
  ): Promise<T | undefined> {
    const key = this.stored(logicalKey);
    const now = this.clock();
    const remote = await this.bounded('read', () => this.shared!.get<Envelope<T>>(key));
    if (
      !remote ||
      typeof remote !== 'object' ||
      typeof remote.until !== 'number' ||
      !('value' in remote)
    ) {
      if (remote !== undefined && remote !== null)
        this.fault('a shared cache store returned a corrupt entry', undefined);
      return undefined;
    }
    if (remote.until <= now) return undefined;
    const signingKey = this.options.cache.signingKey;
    if (signingKey && !macMatches(signingKey, key, remote.until, remote.value, remote.mac)) {
      this.integrity.warn(
        `Token cache: a shared cache store returned a ${key.split(':')[1]} entry without a valid MAC (cache.signingKey); ignored. Another writer, a replica with another key, or tampering`,
      );
      return undefined;
    }
    if (accept && !accept(remote.value)) {
      this.fault('a shared cache store returned a corrupt entry', undefined);
      return undefined;
    }
    // Frozen once, here, like a value built in this process: every later hit shares it.
    const entry = deepFreeze({ until: remote.until, value: remote.value });
    await this.memory.set(key, entry, remote.until - now);
    return entry.value;
  }

  /**
   * Runs `compute` (which verifies the token and writes its outcome here) once per token across
   * the replicas sharing Redis, with `cache.coalesce`; elsewhere, simply runs it.
   */
  coalesce<T>(
    logicalKey: string,
    token: string,
    compute: () => Promise<T>,
    accept: (value: unknown) => value is T,
  ): Promise<T> {
    if (!this.cluster) return compute();
    const readBack = () => this.getShared(logicalKey, accept);
    return this.cluster.run(this.stored(logicalKey), token, compute, readBack);
  }

  /** Writes an entry to every tier for `ttl` ms (nothing is written when `ttl` <= 0). */
  async set<T>(logicalKey: string, value: T, ttl: number): Promise<void> {
    // Whole milliseconds: Redis rejects a fractional PX (a JWT `exp` may be fractional).
    ttl = Math.floor(ttl);
    if (!(ttl > 0)) return;
    const key = this.stored(logicalKey);
    const envelope: Envelope<T> = Object.freeze({ until: this.clock() + ttl, value });
    await this.memory.set(key, envelope, ttl);
    if (!this.shared) return;
    const signingKey = this.options.cache.signingKey;
    const shared = signingKey
      ? { ...envelope, mac: entryMac(signingKey, key, envelope.until, value) }
      : envelope;
    await this.bounded('write', () => this.shared!.set(key, shared, ttl));
  }

  /** Removes one key from every tier. */
  async delete(logicalKey: string): Promise<void> {
    const key = this.stored(logicalKey);
    await this.memory.del(key);
    if (this.shared) await this.bounded('delete', () => this.shared!.del(key));
  }

  /**
   * Forgets everything cached about one token (its validation result and its UserInfo), in
   * every tier. For apps that receive revocation or logout events.
   */
  async evict(token: string): Promise<void> {
    await Promise.all([
      this.delete(TokenCacheService.keyFor('token', token)),
      this.delete(TokenCacheService.keyFor('userinfo', token)),
    ]);
  }

  async onModuleDestroy(): Promise<void> {
    await this.memory.clear();
  }

  /** The key as stored: the logical key scoped to these validation settings. */
  private stored(logicalKey: string): string {
    return `${logicalKey}:${this.fingerprint}`;
  }

  private bounded<T>(what: string, start: () => Promise<T>): Promise<T | undefined> {
    return boundedCall(this.breaker, this.options.cache.storeTimeout, what, start, (m, e) =>
      this.fault(m, e),
    );
  }

  private fault(message: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastFaultLog < LOG_INTERVAL) return;
    this.lastFaultLog = now;
    const detail = error instanceof Error ? `: ${error.message}` : '';
    this.logger.warn(`Token cache: ${message}${detail} (validation goes on without it)`);
  }
}
