import { createSecretKey, KeyObject } from 'node:crypto';
import type {
  CacheOptions,
  SharedCacheStore,
} from '../interfaces/oidc-resource-options.interface.js';
import { DEFAULTS } from '../oidc-resource.constants.js';
import { checkBoolean, checkNumber, checkObject, fail } from './option-checks.js';

const CACHE_KEYS = [
  'ttl',
  'negativeTtl',
  'max',
  'stores',
  'storeTimeout',
  'coalesce',
  'signingKey',
];

/** A list of shared stores: Keyv instances or bare Keyv store adapters. */
export function checkStores(key: string, value: unknown): readonly SharedCacheStore[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(key, 'must be an array of Keyv instances or Keyv store adapters');
  value.forEach((store, i) => {
    const s = store as Record<string, unknown> | null;
    if (
      !s ||
      typeof s !== 'object' ||
      typeof s.get !== 'function' ||
      typeof s.set !== 'function' ||
      typeof s.delete !== 'function'
    ) {
      fail(`${key}[${i}]`, 'must be a Keyv instance or a Keyv store adapter (get/set/delete)');
    }
  });
  return Object.freeze([...(value as SharedCacheStore[])]);
}

/** At least 256 bits: the key of an HMAC-SHA-256 should be no shorter than its output. */
const MIN_SIGNING_KEY_BYTES = 32;

/** A secret of at least 32 bytes (string, Buffer or secret KeyObject), as a KeyObject. */
export function checkSecretKey(key: string, value: unknown): KeyObject | undefined {
  if (value === undefined) return undefined;
  const problem = `must be a string or Buffer of at least ${MIN_SIGNING_KEY_BYTES} bytes, or a secret KeyObject`;
  if (value instanceof KeyObject) {
    if (value.type !== 'secret' || (value.symmetricKeySize ?? 0) < MIN_SIGNING_KEY_BYTES)
      fail(key, problem);
    return value;
  }
  const bytes =
    typeof value === 'string'
      ? Buffer.from(value, 'utf8')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : undefined;
  if (!bytes || bytes.length < MIN_SIGNING_KEY_BYTES) fail(key, problem);
  return createSecretKey(bytes);
}

/** The `cache` option, checked, every default applied. */
export function resolveCache(value: CacheOptions | undefined) {
  const cache = checkObject('cache', value, CACHE_KEYS);
  return {
    ttl: checkNumber('cache.ttl', cache.ttl, DEFAULTS.cacheTtl, 0),
    negativeTtl: checkNumber('cache.negativeTtl', cache.negativeTtl, DEFAULTS.cacheNegativeTtl, 0),
    max: checkNumber('cache.max', cache.max, DEFAULTS.cacheMax, 1, true),
    stores: checkStores('cache.stores', cache.stores),
    storeTimeout: checkNumber(
      'cache.storeTimeout',
      cache.storeTimeout,
      DEFAULTS.cacheStoreTimeout,
      1,
    ),
    coalesce: checkBoolean('cache.coalesce', cache.coalesce, false),
    ...(cache.signingKey !== undefined
      ? { signingKey: checkSecretKey('cache.signingKey', cache.signingKey) }
      : {}),
  };
}
