/**
 * The token cache on its own: both tiers, the deadline every entry carries, and the checks on
 * entries read back from a shared store. The shared store is an in-process Keyv (the Redis suite
 * runs the same code against a real Redis); time comes from an injected clock.
 */
import { jest } from '@jest/globals';
import { createSecretKey, hash } from 'node:crypto';
import { Logger, type LoggerService } from '@nestjs/common';
import { Keyv } from 'keyv';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { entryMac } from '../utils/entry-mac.js';
import { resolveOptions } from '../utils/resolve-options.js';
import { BREAKER_FAILURES } from './store-breaker.js';
import { TokenCacheService } from './token-cache.service.js';

const BASE = { issuer: 'https://idp.example.com', audience: 'https://api.example.com' };
const SIGNING_KEY = 'a-signing-key-of-thirty-two-byte';
const START = 1_000_000;

interface Setup {
  service: TokenCacheService;
  shared: Keyv;
  clock: { now: number };
}

function setup(
  cache: Record<string, unknown> = {},
  options: Record<string, unknown> = {},
  shared = new Keyv(),
  clock = { now: START },
): Setup {
  const resolved = resolveOptions({
    ...BASE,
    ...options,
    cache: { stores: [shared], ...cache },
  } as OidcResourceModuleOptions);
  return { service: new TokenCacheService(resolved, () => clock.now), shared, clock };
}

/** The keys the shared store holds (Keyv's namespace stripped). */
function sharedKeys(shared: Keyv): string[] {
  return [...(shared.store as Map<string, unknown>).keys()].map((k) =>
    k.slice(`${shared.namespace}:`.length),
  );
}

/** The one key the shared store holds. */
function onlyKey(shared: Keyv): string {
  const keys = sharedKeys(shared);
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

/** Warnings logged while `run` runs. */
async function warnings(run: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const capture: LoggerService = {
    log: () => undefined,
    error: () => undefined,
    warn: (message: unknown) => lines.push(String(message)),
  };
  Logger.overrideLogger(capture);
  try {
    await run();
  } finally {
    Logger.overrideLogger(false);
  }
  return lines;
}

const isName = (value: unknown): value is { name: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { name?: unknown }).name === 'string';

beforeAll(() => Logger.overrideLogger(false));

describe('TokenCacheService.keyFor', () => {
  it('is the namespaced SHA-256 of the token, never the token', () => {
    const token = 'opaque-token-value';
    const digest = hash('sha256', token, 'base64url');
    expect(TokenCacheService.keyFor('token', token)).toBe(`oidc-resource:token:${digest}`);
    expect(TokenCacheService.keyFor('userinfo', token)).toBe(`oidc-resource:userinfo:${digest}`);
  });
});

describe('the in-memory tier', () => {
  it('serves an entry until its deadline, and not at it', async () => {
    const { service, clock } = setup({ stores: undefined });
    await service.set('k', { name: 'a' }, 1000);
    expect(service.memorySize).toBe(1);
    expect(service.peek('k')).toEqual({ name: 'a' });
    clock.now += 999;
    expect(service.peek('k')).toEqual({ name: 'a' });
    await expect(service.get('k')).resolves.toEqual({ name: 'a' });
    clock.now += 1;
    expect(service.peek('k')).toBeUndefined();
    await expect(service.get('k')).resolves.toBeUndefined();
    expect(service.peek('other')).toBeUndefined();
  });

  it('floors a fractional ttl to whole milliseconds', async () => {
    const { service, shared, clock } = setup();
    await service.set('k', 'v', 1000.9);
    expect((await shared.get<{ until: number }>(onlyKey(shared)))?.until).toBe(START + 1000);
    clock.now += 1000;
    expect(service.peek('k')).toBeUndefined();
  });

  it.each([0, -5, 0.5, Number.NaN])('writes nothing for a ttl of %s', async (ttl) => {
    const { service, shared } = setup();
    await service.set('k', 'v', ttl);
    expect(service.memorySize).toBe(0);
    expect(service.peek('k')).toBeUndefined();
    expect(sharedKeys(shared)).toEqual([]);
  });

  it('is read before the shared store, which is then not asked', async () => {
    const { service, shared } = setup();
    await service.set('k', 'mine', 60_000);
    const key = onlyKey(shared);
    await shared.set(key, { until: START + 60_000, value: 'theirs' });
    await expect(service.get('k')).resolves.toBe('mine');
  });

  it('getShared ignores memory without a shared store', async () => {
    const { service } = setup({ stores: undefined });
    await service.set('k', 'v', 60_000);
    await expect(service.getShared('k')).resolves.toBeUndefined();
    expect(service.peek('k')).toBe('v');
  });

  it('without a shared store, writes and deletes touch memory only, with nothing to report', async () => {
    const { service } = setup({ stores: undefined });
    const logged = await warnings(async () => {
      await service.set('k', 'v', 60_000);
      await service.delete('k');
      await service.set('k2', 'v', 60_000);
      await service.evict('opaque-token-value');
    });
    expect(logged).toEqual([]);
    expect(service.peek('k')).toBeUndefined();
    expect(service.peek('k2')).toBe('v');
  });

  it('is emptied when the module is destroyed', async () => {
    const { service } = setup({ stores: undefined });
    await service.set('k', 'v', 60_000);
    await service.onModuleDestroy();
    expect(service.memorySize).toBe(0);
    expect(service.peek('k')).toBeUndefined();
  });
});

describe('the shared tier', () => {
  it('holds the envelope (deadline and value) under the key scoped to the settings', async () => {
    const { service, shared } = setup();
    await service.set('oidc-resource:token:abc', { name: 'a' }, 5000);
    const key = onlyKey(shared);
    expect(key).toMatch(/^oidc-resource:token:abc:[^:]+$/);
    expect(await shared.get(key)).toEqual({ until: START + 5000, value: { name: 'a' } });
  });

  it('with cache.signingKey, the envelope carries the entry MAC', async () => {
    const { service, shared } = setup({ signingKey: SIGNING_KEY });
    await service.set('k', { name: 'a' }, 5000);
    const key = onlyKey(shared);
    const mac = entryMac(createSecretKey(Buffer.from(SIGNING_KEY)), key, START + 5000, {
      name: 'a',
    });
    expect(await shared.get(key)).toEqual({ until: START + 5000, value: { name: 'a' }, mac });
  });

  it('another replica reads it, keeps a frozen copy in memory until the same deadline', async () => {
    const writer = setup();
    await writer.service.set('k', { name: 'a', nested: { list: [1] } }, 5000);
    const reader = setup({}, {}, writer.shared, writer.clock);
    writer.clock.now += 1000;
    const value = await reader.service.get<{ nested: { list: number[] } }>('k');
    expect(value).toEqual({ name: 'a', nested: { list: [1] } });
    expect(Object.isFrozen(value!.nested.list)).toBe(true);
    // Now in the reader's memory: served with the shared store emptied, until the deadline.
    await writer.shared.clear();
    expect(reader.service.peek('k')).toEqual({ name: 'a', nested: { list: [1] } });
    writer.clock.now += 3999;
    expect(reader.service.peek('k')).toEqual({ name: 'a', nested: { list: [1] } });
    writer.clock.now += 1;
    expect(reader.service.peek('k')).toBeUndefined();
  });

  it('a shared miss reads memory again (another request may have filled it)', async () => {
    const { service, shared } = setup();
    await service.set('k', 'v', 60_000);
    await shared.clear();
    await expect(service.getShared('k')).resolves.toBe('v');
  });

  it('APIs with other validation settings never see each other’s entries', async () => {
    const first = setup();
    await first.service.set('k', 'v', 60_000);
    const other = setup({}, { audience: 'https://other.example.com' }, first.shared, first.clock);
    await expect(other.service.get('k')).resolves.toBeUndefined();
    const same = setup({}, {}, first.shared, first.clock);
    await expect(same.service.get('k')).resolves.toBe('v');
  });

  it('delete removes one key from both tiers; evict both of a token’s keys', async () => {
    const { service, shared } = setup();
    const token = 'opaque-token-value';
    const tokenKey = TokenCacheService.keyFor('token', token);
    const userInfoKey = TokenCacheService.keyFor('userinfo', token);
    await service.set('kept', 'v', 60_000);
    await service.set(tokenKey, 'principal', 60_000);
    await service.set(userInfoKey, 'claims', 60_000);
    expect(sharedKeys(shared)).toHaveLength(3);
    await service.evict(token);
    expect(service.peek(tokenKey)).toBeUndefined();
    expect(service.peek(userInfoKey)).toBeUndefined();
    expect(sharedKeys(shared)).toEqual([onlyKeyOf(sharedKeys(shared), 'kept')]);
    await service.delete('kept');
    expect(service.memorySize).toBe(0);
    expect(sharedKeys(shared)).toEqual([]);
  });
});

function onlyKeyOf(keys: string[], logical: string): string {
  const found = keys.filter((k) => k.startsWith(`${logical}:`));
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('entries read back from the shared store are checked', () => {
  const KEY = TokenCacheService.keyFor('token', 'opaque-token-value');

  /** Plants `entry` under the key KEY gets, read by a replica with an empty memory tier. */
  async function readPlanted(
    entry: unknown,
    cache: Record<string, unknown> = {},
  ): Promise<{ value: unknown; logged: string[] }> {
    const writer = setup(cache);
    await writer.service.set(KEY, { name: 'genuine' }, 60_000);
    const key = onlyKey(writer.shared);
    await writer.shared.set(key, entry);
    const reader = setup(cache, {}, writer.shared, writer.clock);
    let value: unknown;
    const logged = await warnings(async () => {
      value = await reader.service.get(KEY, isName);
    });
    return { value, logged };
  }

  const CORRUPT = [
    'Token cache: a shared cache store returned a corrupt entry (validation goes on without it)',
  ];

  it('control: a well-formed entry is served, nothing logged', async () => {
    await expect(readPlanted({ until: START + 1, value: { name: 'x' } })).resolves.toEqual({
      value: { name: 'x' },
      logged: [],
    });
  });

  it.each([
    ['a string', 'entry'],
    ['a number', 7],
    ['no deadline', { value: { name: 'x' } }],
    ['a deadline that is not a number', { until: String(START + 60_000), value: { name: 'x' } }],
    ['no value', { until: START + 60_000 }],
    ['a value the caller does not accept', { until: START + 60_000, value: { name: 7 } }],
  ])('an entry with %s is a miss, logged as corrupt', async (_name, entry) => {
    await expect(readPlanted(entry)).resolves.toEqual({ value: undefined, logged: CORRUPT });
  });

  it('null, or no entry at all, is a plain miss, not logged', async () => {
    await expect(readPlanted(null)).resolves.toEqual({ value: undefined, logged: [] });
    const { service } = setup();
    expect(await warnings(() => expect(service.get(KEY)).resolves.toBeUndefined())).toEqual([]);
  });

  it('an entry at its deadline is a miss, not logged', async () => {
    await expect(readPlanted({ until: START, value: { name: 'x' } })).resolves.toEqual({
      value: undefined,
      logged: [],
    });
  });

  it('a value without a valid MAC is a miss, logged as such (cache.signingKey)', async () => {
    const entry = { until: START + 60_000, value: { name: 'x' } };
    const cache = { signingKey: SIGNING_KEY };
    const line =
      'Token cache: a shared cache store returned a token entry without a valid MAC (cache.signingKey); ignored. Another writer, a replica with another key, or tampering';
    for (const planted of [entry, { ...entry, mac: 'forged' }]) {
      const { value, logged } = await readPlanted(planted, cache);
      expect(value).toBeUndefined();
      expect(logged).toEqual([expect.stringContaining('without a valid MAC')]);
    }
    // The namespace of the key is named, never the rest of the key.
    expect((await readPlanted(entry, cache)).logged).toEqual([line]);
  });
});

describe('store faults are logged at most once per 30 s', () => {
  it('a second fault within 30 s is not logged, one 30 s later is', async () => {
    const writer = setup();
    await writer.service.set('k', 'v', 60_000);
    await writer.shared.set(onlyKey(writer.shared), 'corrupt');
    const reader = setup({}, {}, writer.shared, writer.clock);
    const read = () => reader.service.get('k');
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(10_000_000);
      expect(await warnings(async () => [await read(), await read()])).toHaveLength(1);
      now.mockReturnValue(10_000_000 + 29_999);
      expect(await warnings(read)).toEqual([]);
      now.mockReturnValue(10_000_000 + 30_000);
      expect(await warnings(read)).toHaveLength(1);
    } finally {
      now.mockRestore();
    }
  });
});

describe('a failing shared store never fails a call', () => {
  /** A Keyv whose store reports an error on every read and answers a miss, as adapters do. */
  function failingStore(): { shared: Keyv; reads: () => number } {
    let reads = 0;
    const map = new Map<string, unknown>();
    const shared: Keyv = new Keyv({
      store: {
        get: async () => {
          reads += 1;
          shared.emit('error', new Error('connection lost'));
          return undefined;
        },
        set: async (key: string, value: unknown) => map.set(key, value),
        delete: async (key: string) => map.delete(key),
        clear: async () => map.clear(),
      } as never,
    });
    return { shared, reads: () => reads };
  }

  it('a store that does not answer within cache.storeTimeout is skipped, and that is logged', async () => {
    const never = new Promise<never>(() => undefined);
    const shared = new Keyv({
      store: { get: () => never, set: () => never, delete: () => never, clear: async () => {} },
    } as never);
    const now = jest.spyOn(Date, 'now');
    try {
      for (const [what, call] of [
        ['read', (s: TokenCacheService) => s.get('k')],
        ['write', (s: TokenCacheService) => s.set('k', 'v', 60_000)],
        ['delete', (s: TokenCacheService) => s.delete('k')],
      ] as const) {
        // A fresh service per call: the log allows one line per 30 s.
        const { service } = setup({ storeTimeout: 20 }, {}, shared);
        now.mockReturnValue(10_000_000);
        expect(await warnings(() => call(service))).toEqual([
          `Token cache: a shared cache store did not ${what} within 20 ms; skipped (validation goes on without it)`,
        ]);
      }
    } finally {
      now.mockRestore();
    }
  });

  it('logs the error the store reported', async () => {
    const { shared } = failingStore();
    const { service } = setup({}, {}, shared);
    const logged = await warnings(() => expect(service.get('k')).resolves.toBeUndefined());
    expect(logged).toEqual([
      'Token cache: a shared cache store reported an error: connection lost (validation goes on without it)',
    ]);
  });

  it(`a store that reports errors is skipped after ${BREAKER_FAILURES} failed calls`, async () => {
    const { shared, reads } = failingStore();
    const { service } = setup({}, {}, shared);
    for (let i = 0; i < BREAKER_FAILURES + 2; i++)
      await expect(service.get(`k${i}`)).resolves.toBeUndefined();
    expect(reads()).toBe(BREAKER_FAILURES);
  });
});

describe('coalesce', () => {
  it.each([
    ['no shared store', { coalesce: true, stores: undefined }],
    ['a shared store without a lock client', { coalesce: true }],
    ['cache.coalesce off', {}],
  ])('with %s, simply runs the computation', async (_name, cache) => {
    const { service } = setup(cache);
    let runs = 0;
    const compute = async () => ({ name: `run ${++runs}` });
    await expect(service.coalesce('k', 'opaque', compute, isName)).resolves.toEqual({
      name: 'run 1',
    });
    await expect(service.coalesce('k', 'opaque', compute, isName)).resolves.toEqual({
      name: 'run 2',
    });
  });
});
