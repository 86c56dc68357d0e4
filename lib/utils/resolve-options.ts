import { createSecretKey, KeyObject } from 'node:crypto';
import { DEFAULT_ALGORITHMS, DEFAULTS, SUPPORTED_ALGORITHMS } from '../oidc-resource.constants.js';
import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';
import {
  DEFAULT_ROLE_CLAIMS,
  DEFAULT_SCOPE_CLAIMS,
  resolveClaimPaths,
  type ClaimSegments,
} from '../authorization/claim-path.js';
import type {
  IntrospectionAuthMethod,
  JsonWebKeyObject,
  OidcResourceModuleOptions,
  SharedCacheStore,
} from '../interfaces/oidc-resource-options.interface.js';

/** Options after validation, with every default applied. Internal. */
export interface ResolvedOidcResourceOptions {
  issuer: string;
  /** `false` when the audience check is switched off. */
  audiences: readonly string[] | false;
  tokenFormat: 'auto' | 'jwt' | 'opaque';
  algorithms: readonly string[];
  jwksUri?: string;
  /** Seconds. */
  clockTolerance: number;
  requireJwtAccessTokenType: boolean;
  /** Where scopes are read, as path segments; the first present claim wins. */
  scopeClaims: readonly ClaimSegments[];
  /** Where roles are read, as path segments; all are merged. */
  roleClaims: readonly ClaimSegments[];
  introspection?: {
    clientId: string;
    clientSecret?: string;
    authMethod: IntrospectionAuthMethod;
    privateKey?: JsonWebKeyObject | KeyObject;
    endpoint?: string;
    allowUntypedResponses: boolean;
  };
  cache: {
    ttl: number;
    negativeTtl: number;
    max: number;
    stores: readonly SharedCacheStore[];
    storeTimeout: number;
    /** The MAC key of shared-store entries. */
    signingKey?: KeyObject;
  };
  userInfo: { ttl: number; endpoint?: string };
  global: boolean;
  realm: string;
  allowQueryToken: boolean;
  maxTokenLength: number;
  httpTimeout: number;
  unsafeAllowInsecureIssuer: boolean;
}

const KNOWN_KEYS = new Set<string>([
  'issuer',
  'audience',
  'tokenFormat',
  'algorithms',
  'jwksUri',
  'clockTolerance',
  'requireJwtAccessTokenType',
  'scopeClaims',
  'roleClaims',
  'introspection',
  'cache',
  'userInfo',
  'global',
  'realm',
  'allowQueryToken',
  'maxTokenLength',
  'httpTimeout',
  'unsafeAllowInsecureIssuer',
]);

function fail(key: string, problem: string): never {
  throw new InvalidConfigurationError(`nestjs-oidc-resource: option "${key}" ${problem}`);
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Parses a URL option; plain http is accepted for loopback hosts only, unless `unsafe`. */
export function checkUrl(key: string, value: unknown, unsafe: boolean): string {
  if (typeof value !== 'string' || value.length === 0) fail(key, 'must be a non-empty URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // A URL from configuration is no secret; echoing a bounded prefix shows the typo at once.
    const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
      ? ''
      : ' (the scheme is missing: https://…)';
    return fail(key, `is not a valid URL: ${shown}${hint}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(key, 'must be an https URL');
  if (url.protocol === 'http:' && !unsafe && !isLoopbackHost(url.hostname)) {
    fail(
      key,
      'must use https (plain http is accepted only for loopback hosts; see unsafeAllowInsecureIssuer)',
    );
  }
  if (url.hash) fail(key, 'must not contain a fragment');
  return value;
}

function checkNumber(
  key: string,
  value: unknown,
  fallback: number,
  min: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    fail(key, `must be a${integer ? 'n integer' : ' number'} >= ${min}`);
  }
  return value;
}

function checkBoolean(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(key, 'must be true or false');
  return value;
}

function checkAlgorithms(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_ALGORITHMS;
  if (!Array.isArray(value) || value.length === 0) fail('algorithms', 'must be a non-empty array');
  for (const alg of value) {
    if (typeof alg !== 'string') fail('algorithms', 'must contain strings only');
    if (alg.toLowerCase() === 'none' || /^HS\d+$/i.test(alg)) {
      fail(
        'algorithms',
        `must not contain "${alg}": "none" and HMAC algorithms are never accepted`,
      );
    }
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      fail(
        'algorithms',
        `contains unsupported algorithm "${alg}" (supported: ${SUPPORTED_ALGORITHMS.join(', ')})`,
      );
    }
  }
  return Object.freeze([...new Set(value as string[])]);
}

function checkAudience(value: unknown): readonly string[] | false {
  if (value === false) return false;
  if (value === undefined || value === null) {
    fail(
      'audience',
      'is required: set it to this API\'s identifier as it appears in the tokens\' "aud" ' +
        "claim, usually the API's URL or its client id (audience: 'https://api.example.com'); " +
        'only if the tokens carry no usable audience, opt out explicitly with audience: false',
    );
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail('audience', 'must not be an empty array');
  for (const aud of list) {
    if (typeof aud !== 'string' || aud.length === 0)
      fail('audience', 'must be a non-empty string, an array of them, or false');
  }
  return Object.freeze([...(list as string[])]);
}

function checkIntrospection(
  value: unknown,
  unsafe: boolean,
): ResolvedOidcResourceOptions['introspection'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) fail('introspection', 'must be an object');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (
      ![
        'clientId',
        'clientSecret',
        'authMethod',
        'privateKey',
        'endpoint',
        'allowUntypedResponses',
      ].includes(key)
    ) {
      fail(`introspection.${key}`, 'is not a known option');
    }
  }
  if (typeof v.clientId !== 'string' || v.clientId.length === 0)
    fail('introspection.clientId', 'must be a non-empty string');
  const authMethod = (v.authMethod ?? 'client_secret_basic') as IntrospectionAuthMethod;
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(authMethod)) {
    fail(
      'introspection.authMethod',
      "must be 'client_secret_basic', 'client_secret_post' or 'private_key_jwt'",
    );
  }
  if (
    authMethod !== 'private_key_jwt' &&
    (typeof v.clientSecret !== 'string' || v.clientSecret.length === 0)
  ) {
    fail('introspection.clientSecret', `is required for ${authMethod}`);
  }
  if (authMethod === 'private_key_jwt') {
    const key = v.privateKey as { kty?: unknown; type?: unknown } | undefined;
    if (!key || typeof key !== 'object')
      fail(
        'introspection.privateKey',
        'is required for private_key_jwt (a private JWK or KeyObject)',
      );
    const isKeyObject = key.type === 'private';
    const isJwk =
      typeof key.kty === 'string' && typeof (key as Record<string, unknown>).d === 'string';
    if (!isKeyObject && !isJwk)
      fail('introspection.privateKey', 'must be a private JWK (with "d") or a private KeyObject');
  }
  return {
    clientId: v.clientId,
    ...(typeof v.clientSecret === 'string' ? { clientSecret: v.clientSecret } : {}),
    authMethod,
    ...(v.privateKey ? { privateKey: v.privateKey as JsonWebKeyObject | KeyObject } : {}),
    ...(v.endpoint !== undefined
      ? { endpoint: checkUrl('introspection.endpoint', v.endpoint, unsafe) }
      : {}),
    allowUntypedResponses: checkBoolean(
      'introspection.allowUntypedResponses',
      v.allowUntypedResponses,
      false,
    ),
  };
}

function checkStores(value: unknown): readonly SharedCacheStore[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    fail('cache.stores', 'must be an array of Keyv instances or Keyv store adapters');
  value.forEach((store, i) => {
    const s = store as Record<string, unknown> | null;
    if (
      !s ||
      typeof s !== 'object' ||
      typeof s.get !== 'function' ||
      typeof s.set !== 'function' ||
      typeof s.delete !== 'function'
    ) {
      fail(
        `cache.stores[${i}]`,
        'must be a Keyv instance or a Keyv store adapter (get/set/delete)',
      );
    }
  });
  return Object.freeze([...(value as SharedCacheStore[])]);
}

/** At least 256 bits: the key of an HMAC-SHA-256 should be no shorter than its output. */
const MIN_SIGNING_KEY_BYTES = 32;

function checkSigningKey(value: unknown): KeyObject | undefined {
  if (value === undefined) return undefined;
  const problem = `must be a string or Buffer of at least ${MIN_SIGNING_KEY_BYTES} bytes, or a secret KeyObject`;
  if (value instanceof KeyObject) {
    if (value.type !== 'secret' || (value.symmetricKeySize ?? 0) < MIN_SIGNING_KEY_BYTES)
      fail('cache.signingKey', problem);
    return value;
  }
  const bytes =
    typeof value === 'string'
      ? Buffer.from(value, 'utf8')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : undefined;
  if (!bytes || bytes.length < MIN_SIGNING_KEY_BYTES) fail('cache.signingKey', problem);
  return createSecretKey(bytes);
}

/**
 * Validates the options once, at application start, with messages that name the key.
 * @throws InvalidConfigurationError
 */
export function resolveOptions(options: OidcResourceModuleOptions): ResolvedOidcResourceOptions {
  if (!options || typeof options !== 'object') fail('options', 'must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) fail(key, 'is not a known option');
  }
  const unsafe = checkBoolean(
    'unsafeAllowInsecureIssuer',
    options.unsafeAllowInsecureIssuer,
    false,
  );
  const issuer = checkUrl('issuer', options.issuer, unsafe);
  if (new URL(issuer).search) fail('issuer', 'must not contain a query');
  const audiences = checkAudience(options.audience);
  const tokenFormat = options.tokenFormat ?? DEFAULTS.tokenFormat;
  if (!['auto', 'jwt', 'opaque'].includes(tokenFormat))
    fail('tokenFormat', "must be 'auto', 'jwt' or 'opaque'");
  const introspection = checkIntrospection(options.introspection, unsafe);
  if (tokenFormat === 'opaque' && !introspection)
    fail('introspection', "is required when tokenFormat is 'opaque'");

  const cache = options.cache ?? {};
  if (typeof cache !== 'object' || cache === null) fail('cache', 'must be an object');
  for (const key of Object.keys(cache)) {
    if (!['ttl', 'negativeTtl', 'max', 'stores', 'storeTimeout', 'signingKey'].includes(key))
      fail(`cache.${key}`, 'is not a known option');
  }
  const userInfo = options.userInfo ?? {};
  if (typeof userInfo !== 'object' || userInfo === null) fail('userInfo', 'must be an object');
  for (const key of Object.keys(userInfo)) {
    if (key !== 'ttl' && key !== 'endpoint') fail(`userInfo.${key}`, 'is not a known option');
  }
  if (
    options.realm !== undefined &&
    (typeof options.realm !== 'string' || options.realm.length === 0)
  ) {
    fail('realm', 'must be a non-empty string');
  }
  const realm = options.realm ?? (audiences ? audiences[0]! : issuer);

  return Object.freeze({
    issuer,
    audiences,
    tokenFormat,
    algorithms: checkAlgorithms(options.algorithms),
    ...(options.jwksUri !== undefined
      ? { jwksUri: checkUrl('jwksUri', options.jwksUri, unsafe) }
      : {}),
    clockTolerance: checkNumber(
      'clockTolerance',
      options.clockTolerance,
      DEFAULTS.clockTolerance,
      0,
    ),
    requireJwtAccessTokenType: checkBoolean(
      'requireJwtAccessTokenType',
      options.requireJwtAccessTokenType,
      DEFAULTS.requireJwtAccessTokenType,
    ),
    // Both change what a token grants; per-issuer values will resolve through the same call.
    scopeClaims: resolveClaimPaths('scopeClaims', options.scopeClaims, DEFAULT_SCOPE_CLAIMS),
    roleClaims: resolveClaimPaths('roleClaims', options.roleClaims, DEFAULT_ROLE_CLAIMS),
    ...(introspection ? { introspection } : {}),
    cache: {
      ttl: checkNumber('cache.ttl', cache.ttl, DEFAULTS.cacheTtl, 0),
      negativeTtl: checkNumber(
        'cache.negativeTtl',
        cache.negativeTtl,
        DEFAULTS.cacheNegativeTtl,
        0,
      ),
      max: checkNumber('cache.max', cache.max, DEFAULTS.cacheMax, 1, true),
      stores: checkStores(cache.stores),
      storeTimeout: checkNumber(
        'cache.storeTimeout',
        cache.storeTimeout,
        DEFAULTS.cacheStoreTimeout,
        1,
      ),
      ...(cache.signingKey !== undefined ? { signingKey: checkSigningKey(cache.signingKey) } : {}),
    },
    userInfo: {
      ttl: checkNumber('userInfo.ttl', userInfo.ttl, DEFAULTS.userInfoTtl, 0),
      ...(userInfo.endpoint !== undefined
        ? { endpoint: checkUrl('userInfo.endpoint', userInfo.endpoint, unsafe) }
        : {}),
    },
    global: checkBoolean('global', options.global, DEFAULTS.global),
    realm,
    allowQueryToken: checkBoolean(
      'allowQueryToken',
      options.allowQueryToken,
      DEFAULTS.allowQueryToken,
    ),
    maxTokenLength: checkNumber(
      'maxTokenLength',
      options.maxTokenLength,
      DEFAULTS.maxTokenLength,
      16,
      true,
    ),
    httpTimeout: checkNumber('httpTimeout', options.httpTimeout, DEFAULTS.httpTimeout, 1),
    unsafeAllowInsecureIssuer: unsafe,
  });
}
