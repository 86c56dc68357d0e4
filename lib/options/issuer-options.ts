import type { KeyObject } from 'node:crypto';
import {
  DEFAULT_ROLE_CLAIMS,
  DEFAULT_SCOPE_CLAIMS,
  resolveClaimPaths,
  type ClaimSegments,
} from '../authorization/claim-path.js';
import type {
  IntrospectionAuthMethod,
  IssuerOptions,
  JsonWebKeyObject,
} from '../interfaces/oidc-resource-options.interface.js';
import { DEFAULT_ALGORITHMS, DEFAULTS, SUPPORTED_ALGORITHMS } from '../oidc-resource.constants.js';
import { checkBoolean, checkNumber, checkObject, checkUrl, fail } from './option-checks.js';

/** One issuer's settings after validation, every default applied. Internal. */
export interface ResolvedIssuerOptions {
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
  userInfoEndpoint?: string;
}

/** The keys an `issuers` entry (or a `resolveIssuer` answer) may hold. */
export const ISSUER_KEYS: readonly (keyof IssuerOptions)[] = [
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
  'userInfo',
];

const INTROSPECTION_KEYS = [
  'clientId',
  'clientSecret',
  'authMethod',
  'privateKey',
  'endpoint',
  'allowUntypedResponses',
];

export function checkIssuerUrl(key: string, value: unknown, unsafe: boolean): string {
  const issuer = checkUrl(key, value, unsafe);
  if (new URL(issuer).search) fail(key, 'must not contain a query');
  return issuer;
}

/** A list of JWS algorithms: asymmetric, supported, never `none` or HMAC. */
export function checkAlgorithms(
  key: string,
  value: unknown,
  fallback: readonly string[] = DEFAULT_ALGORITHMS,
): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length === 0) fail(key, 'must be a non-empty array');
  for (const alg of value) {
    if (typeof alg !== 'string') fail(key, 'must contain strings only');
    if (alg.toLowerCase() === 'none' || /^HS\d+$/i.test(alg)) {
      fail(key, `must not contain "${alg}": "none" and HMAC algorithms are never accepted`);
    }
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      fail(
        key,
        `contains unsupported algorithm "${alg}" (supported: ${SUPPORTED_ALGORITHMS.join(', ')})`,
      );
    }
  }
  return Object.freeze([...new Set(value as string[])]);
}

function checkAudience(key: string, value: unknown): readonly string[] | false {
  if (value === false) return false;
  if (value === undefined || value === null) {
    fail(
      key,
      'is required: set it to this API\'s identifier as it appears in the tokens\' "aud" ' +
        "claim, usually the API's URL or its client id (audience: 'https://api.example.com'); " +
        'only if the tokens carry no usable audience, opt out explicitly with audience: false',
    );
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail(key, 'must not be an empty array');
  for (const aud of list) {
    if (typeof aud !== 'string' || aud.length === 0)
      fail(key, 'must be a non-empty string, an array of them, or false');
  }
  return Object.freeze([...(list as string[])]);
}

function checkIntrospection(
  key: string,
  value: unknown,
  unsafe: boolean,
): ResolvedIssuerOptions['introspection'] {
  if (value === undefined) return undefined;
  const v = checkObject(key, value, INTROSPECTION_KEYS);
  if (typeof v.clientId !== 'string' || v.clientId.length === 0)
    fail(`${key}.clientId`, 'must be a non-empty string');
  const authMethod = (v.authMethod ?? 'client_secret_basic') as IntrospectionAuthMethod;
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(authMethod)) {
    fail(
      `${key}.authMethod`,
      "must be 'client_secret_basic', 'client_secret_post' or 'private_key_jwt'",
    );
  }
  if (
    authMethod !== 'private_key_jwt' &&
    (typeof v.clientSecret !== 'string' || v.clientSecret.length === 0)
  ) {
    fail(`${key}.clientSecret`, `is required for ${authMethod}`);
  }
  if (authMethod === 'private_key_jwt') {
    const privateKey = v.privateKey as { kty?: unknown; type?: unknown } | undefined;
    if (!privateKey || typeof privateKey !== 'object')
      fail(`${key}.privateKey`, 'is required for private_key_jwt (a private JWK or KeyObject)');
    const isKeyObject = privateKey.type === 'private';
    const isJwk =
      typeof privateKey.kty === 'string' &&
      typeof (privateKey as Record<string, unknown>).d === 'string';
    if (!isKeyObject && !isJwk)
      fail(`${key}.privateKey`, 'must be a private JWK (with "d") or a private KeyObject');
  }
  return {
    clientId: v.clientId,
    ...(typeof v.clientSecret === 'string' ? { clientSecret: v.clientSecret } : {}),
    authMethod,
    ...(v.privateKey ? { privateKey: v.privateKey as JsonWebKeyObject | KeyObject } : {}),
    ...(v.endpoint !== undefined
      ? { endpoint: checkUrl(`${key}.endpoint`, v.endpoint, unsafe) }
      : {}),
    allowUntypedResponses: checkBoolean(
      `${key}.allowUntypedResponses`,
      v.allowUntypedResponses,
      false,
    ),
  };
}

/**
 * One issuer's settings: each key from `entry` when it has it, else from `defaults` (the
 * top-level options). Errors name the key where the value was written: `issuers[1].audience`
 * for an entry's, `audience` for an inherited one.
 *
 * @param path how the entry is named in errors (`issuers[1]`), `''` for the top level itself
 * @throws InvalidConfigurationError
 */
export function resolveIssuerOptions(
  entry: Partial<IssuerOptions>,
  defaults: Partial<IssuerOptions>,
  path: string,
  unsafe: boolean,
): ResolvedIssuerOptions {
  const pick = <K extends keyof IssuerOptions>(key: K): [string, IssuerOptions[K] | undefined] =>
    entry[key] !== undefined ? [path ? `${path}.${key}` : key, entry[key]] : [key, defaults[key]];
  const issuer = checkIssuerUrl(path ? `${path}.issuer` : 'issuer', entry.issuer, unsafe);
  const [formatKey, tokenFormat = DEFAULTS.tokenFormat] = pick('tokenFormat');
  if (!['auto', 'jwt', 'opaque'].includes(tokenFormat))
    fail(formatKey, "must be 'auto', 'jwt' or 'opaque'");
  const introspection = checkIntrospection(...pick('introspection'), unsafe);
  if (tokenFormat === 'opaque' && !introspection)
    fail(
      path ? `${path}.introspection` : 'introspection',
      "is required when tokenFormat is 'opaque'",
    );
  const [jwksKey, jwksUri] = pick('jwksUri');
  const [userInfoKey, userInfo] = pick('userInfo');
  // In an entry only the endpoint is per issuer; the ttl belongs to the top level.
  const userInfoKeys = path && entry.userInfo !== undefined ? ['endpoint'] : ['ttl', 'endpoint'];
  const userInfoEndpoint = checkObject(userInfoKey, userInfo, userInfoKeys).endpoint;
  return Object.freeze({
    issuer,
    audiences: checkAudience(...pick('audience')),
    tokenFormat,
    algorithms: checkAlgorithms(...pick('algorithms')),
    ...(jwksUri !== undefined ? { jwksUri: checkUrl(jwksKey, jwksUri, unsafe) } : {}),
    clockTolerance: checkNumber(...pick('clockTolerance'), DEFAULTS.clockTolerance, 0),
    requireJwtAccessTokenType: checkBoolean(
      ...pick('requireJwtAccessTokenType'),
      DEFAULTS.requireJwtAccessTokenType,
    ),
    // Both change what a token grants.
    scopeClaims: resolveClaimPaths(...pick('scopeClaims'), DEFAULT_SCOPE_CLAIMS),
    roleClaims: resolveClaimPaths(...pick('roleClaims'), DEFAULT_ROLE_CLAIMS),
    ...(introspection ? { introspection } : {}),
    ...(userInfoEndpoint !== undefined
      ? { userInfoEndpoint: checkUrl(`${userInfoKey}.endpoint`, userInfoEndpoint, unsafe) }
      : {}),
  });
}
