import { hash } from 'node:crypto';
import type { SharedCacheStore } from '../interfaces/oidc-resource-options.interface.js';
import { StoreBreaker, boundedCall, redisClients } from '../services/store-breaker.js';
import type { Clock } from '../utils/clock.js';

/** Most proofs remembered in memory: about 150 bytes each, so about 15 MB when full. */
export const MEMORY_REPLAY_MAX = 100_000;

/** The outcome of recording a proof: first use, a replay, or no answer from the shared store. */
export type ReplayVerdict = 'fresh' | 'replayed' | 'unavailable';

/**
 * The replay-cache key of a proof: its `jti` is only unique per client key and URI (RFC 9449
 * §11.1), and hashing keeps the stored key short and free of client-chosen text.
 */
export function replayKey(jkt: string, htu: string, jti: string): string {
  return `oidc-resource:dpop-jti:${hash('sha256', JSON.stringify([jkt, htu, jti]), 'base64url')}`;
}

/**
 * A bounded in-memory record of proofs seen, for one process. Entries are kept until their proof
 * could no longer be accepted; when full, the oldest entry goes first. Being both bounded and
 * exact is impossible under a flood, so the bound wins: only proofs of valid, bound tokens are
 * recorded, and filling 100 000 entries within one proof lifetime takes over 300 such requests a
 * second from clients holding valid tokens (see docs/dpop.md).
 */
export class MemoryReplayCache {
  /** Key → expiry (ms). Insertion order approximates expiry order: proofs are short-lived. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly max = MEMORY_REPLAY_MAX,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Records `key` for `ttl` ms: true when it was not already recorded. Synchronous, atomic. */
  claim(key: string, ttl: number): boolean {
    const now = this.clock();
    const expiry = this.entries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.entries.delete(key);
    this.entries.set(key, now + ttl);
    for (const [oldest, until] of this.entries) {
      if (until > now && this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
    return true;
  }
}

/** The atomic "set if absent" of a store: true when set, false when present, throws on failure. */
type SetIfAbsent = (key: string, ttl: number) => Promise<boolean>;

/** What is needed of a node-redis client (v4 and v5 both take `{ NX, PX }`). */
interface NodeRedisClient {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<unknown>;
}

/** A `@keyv/redis` adapter: `getClient()` connects on first use and returns the node-redis client. */
interface RedisAdapter {
  getClient(): Promise<NodeRedisClient>;
}

function isRedisAdapter(value: unknown): value is RedisAdapter {
  const adapter = value as Partial<RedisAdapter> | null | undefined;
  return typeof adapter?.getClient === 'function' && 'client' in adapter;
}

/**
 * The atomic claim of a store, if it has one: a `@keyv/redis` adapter, given as is or inside a
 * Keyv instance, through its node-redis client's `SET key 1 NX PX ttl`. Keyv itself (5.x) and
 * `@keyv/redis` (5.x) offer only `get`/`set`/`has`, whose check-then-write lets two replicas both
 * see "absent" and both accept one proof; such stores are refused at start (see dpopStoreProblem).
 */
export function atomicClaim(store: SharedCacheStore): SetIfAbsent | undefined {
  const candidate = store as unknown as { store?: unknown };
  const adapter = isRedisAdapter(candidate)
    ? candidate
    : isRedisAdapter(candidate.store)
      ? candidate.store
      : undefined;
  if (!adapter) return undefined;
  return async (key, ttl) => {
    const client = await adapter.getClient();
    const reply = await client.set(key, '1', { NX: true, PX: ttl });
    if (reply === 'OK') return true;
    if (reply === null) return false;
    throw new Error(`unexpected SET NX reply: ${typeof reply}`);
  };
}

/** Why a store cannot hold the replay cache, or `undefined` when it can. */
export function dpopStoreProblem(store: SharedCacheStore): string | undefined {
  return atomicClaim(store)
    ? undefined
    : 'needs an atomic set-if-absent so that two replicas cannot both accept one proof: ' +
        'a @keyv/redis store (new KeyvRedis(url), or a Keyv instance over one)';
}

/**
 * The proof `jti` replay cache (RFC 9449 §11.1): in memory by default; with shared stores, in
 * each of them through its atomic set-if-absent, so that a proof replayed at another replica, or
 * raced to two replicas at once, is accepted once. A shared store that fails, hangs past
 * `timeout` ms, or is being skipped by its breaker gives `unavailable`: the caller then refuses
 * the request, since accepting it would let replays through.
 */
export class DpopReplayCache {
  private readonly memory?: MemoryReplayCache;
  private readonly claims: readonly SetIfAbsent[];
  private readonly breaker: StoreBreaker;

  constructor(
    stores: readonly SharedCacheStore[],
    clock: Clock,
    private readonly timeout: number,
    private readonly fault: (message: string, error: unknown) => void,
  ) {
    this.claims = stores.map((store, i) => {
      const claim = atomicClaim(store);
      if (!claim) throw new Error(`dpop.stores[${i}] ${dpopStoreProblem(store)!}`);
      return claim;
    });
    if (this.claims.length === 0) this.memory = new MemoryReplayCache(clock);
    this.breaker = new StoreBreaker(redisClients(stores));
  }

  /** Records a proof for `ttl` ms (at least 1 ms, whole ms for Redis's `PX`). */
  async record(key: string, ttl: number): Promise<ReplayVerdict> {
    ttl = Math.max(1, Math.ceil(ttl));
    if (this.memory) return this.memory.claim(key, ttl) ? 'fresh' : 'replayed';
    // In order: the first store decides between two racing replicas; later ones only add.
    for (const claim of this.claims) {
      const set = await boundedCall(
        this.breaker,
        this.timeout,
        'record a DPoP proof',
        () => claim(key, ttl),
        this.fault,
      );
      if (set === undefined) return 'unavailable';
      if (!set) return 'replayed';
    }
    return 'fresh';
  }
}
