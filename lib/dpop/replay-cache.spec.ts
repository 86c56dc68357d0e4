import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import {
  DpopReplayCache,
  MemoryReplayCache,
  atomicClaim,
  dpopStoreProblem,
  replayKey,
} from './replay-cache.js';

describe('MemoryReplayCache', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('accepts a key once until it expires', () => {
    const cache = new MemoryReplayCache(clock);
    expect(cache.claim('a', 1000)).toBe(true);
    expect(cache.claim('a', 1000)).toBe(false);
    expect(cache.claim('b', 1000)).toBe(true);
    now += 999;
    expect(cache.claim('a', 1000)).toBe(false);
    now += 1;
    expect(cache.claim('a', 1000)).toBe(true);
  });

  it('never holds more than max entries, dropping the oldest first, and expired ones early', () => {
    const cache = new MemoryReplayCache(clock, 3);
    for (const key of ['a', 'b', 'c', 'd']) expect(cache.claim(key, 1000)).toBe(true);
    expect(cache.size).toBe(3);
    expect(cache.claim('d', 1000)).toBe(false);
    expect(cache.claim('a', 1000)).toBe(true); // dropped: the bound wins
    now += 1000;
    expect(cache.claim('e', 1000)).toBe(true);
    expect(cache.size).toBe(1);
  });
});

it('replayKey: one key per (jkt, htu, jti), never ambiguous, never the raw jti', () => {
  const key = replayKey('jkt', 'https://a/x', 'id');
  expect(key).toMatch(/^oidc-resource:dpop-jti:[A-Za-z0-9_-]{43}$/);
  expect(replayKey('jkt', 'https://a/x', 'my-jti-value')).not.toContain('my-jti-value');
  expect(replayKey('jkt', 'https://a/x', 'id')).toBe(key);
  expect(replayKey('jkt2', 'https://a/x', 'id')).not.toBe(key);
  expect(replayKey('jkt', 'https://a/y', 'id')).not.toBe(key);
  expect(replayKey('jkt', 'https://a/x","id', '')).not.toBe(
    replayKey('jkt', 'https://a/x', '","id'),
  );
});

/** Stands for a node-redis client behind a @keyv/redis adapter: SET NX PX semantics. */
function fakeRedisAdapter(behaviour: 'ok' | 'fail' | 'hang' = 'ok') {
  const keys = new Set<string>();
  const client = {
    isOpen: true,
    isReady: true,
    calls: 0,
    async set(key: string, _value: string, options: { NX: true; PX: number }) {
      client.calls += 1;
      expect(options).toEqual({ NX: true, PX: expect.any(Number) });
      if (behaviour === 'fail') throw new Error('connection lost');
      if (behaviour === 'hang') return new Promise(() => undefined);
      if (keys.has(key)) return null;
      keys.add(key);
      return 'OK';
    },
  };
  return {
    client,
    getClient: async () => client,
    get: async () => undefined,
    set: async () => undefined,
    delete: async () => undefined,
  };
}

describe('DpopReplayCache', () => {
  const clock = () => 1_000_000;
  const faults: string[] = [];
  const fault = (message: string) => faults.push(message);

  it('without stores: in memory', async () => {
    const cache = new DpopReplayCache([], clock, 100, fault);
    expect(await cache.record('k', 1000)).toBe('fresh');
    expect(await cache.record('k', 1000)).toBe('replayed');
  });

  it('with a @keyv/redis store, bare or inside Keyv: SET NX through its client', async () => {
    const adapter = fakeRedisAdapter();
    for (const store of [adapter, { store: adapter }]) {
      const cache = new DpopReplayCache([store as never], clock, 100, fault);
      const key = `k${Math.random()}`;
      expect(await cache.record(key, 1000.4)).toBe('fresh');
      expect(await cache.record(key, 1000)).toBe('replayed');
    }
    expect(adapter.client.calls).toBe(4);
  });

  it('a store that fails or hangs gives "unavailable", never throws', async () => {
    for (const behaviour of ['fail', 'hang'] as const) {
      const cache = new DpopReplayCache([fakeRedisAdapter(behaviour) as never], clock, 20, fault);
      expect(await cache.record('k', 1000)).toBe('unavailable');
    }
    expect(faults.length).toBeGreaterThanOrEqual(2);
  });

  it('finds the atomic claim of a real @keyv/redis store, bare or in Keyv (no connection made)', async () => {
    const redis = new KeyvRedis('redis://127.0.0.1:1');
    expect(atomicClaim(redis as never)).toBeDefined();
    expect(atomicClaim(new Keyv(redis) as never)).toBeDefined();
    expect(redis.client.isOpen).toBe(false);
  });

  it('refuses a store without an atomic set-if-absent', () => {
    const plain = new Keyv();
    expect(atomicClaim(plain as never)).toBeUndefined();
    expect(dpopStoreProblem(plain as never)).toMatch(/atomic set-if-absent/);
    expect(() => new DpopReplayCache([plain as never], clock, 100, fault)).toThrow(
      /dpop\.stores\[0\] needs an atomic set-if-absent/,
    );
  });
});
