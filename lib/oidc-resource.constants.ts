/**
 * Injection tokens, metadata keys and defaults. Kept apart from the module
 * definition so that the guard and the services can import the tokens without
 * importing the module (an ESM import cycle that fails at load time).
 */

/** Injection token of the raw options given to `forRoot()` / `forRootAsync()`. */
export const OIDC_RESOURCE_OPTIONS = Symbol.for('nestjs-oidc-resource:options');

/** Injection token of the validated options with every default applied. */
export const OIDC_RESOURCE_RESOLVED_OPTIONS = Symbol.for('nestjs-oidc-resource:resolved-options');

/**
 * Injection token of the clock (`() => number`, milliseconds since the epoch).
 * Override it in tests (`overrideProvider(OIDC_RESOURCE_CLOCK)`) instead of faking global timers.
 */
export const OIDC_RESOURCE_CLOCK = Symbol.for('nestjs-oidc-resource:clock');

/** Name under which the bearer strategy is registered with passport. */
export const OIDC_BEARER_STRATEGY = 'oidc-resource-bearer';

/**
 * Where the guard leaves its own `TokenValidationService`. passport's strategy registry is
 * process-wide, so with several Nest apps in one process the strategy registered last would
 * validate tokens for all of them, against its own issuer and audience; the guard's service
 * travels with the request instead. `Symbol.for`, like every token here: a process that loads
 * both the CommonJS and the ESM build (two module instances) must still agree on the keys, as
 * the strategy registered last may come from the other build.
 */
export const TOKEN_VALIDATOR = Symbol.for('nestjs-oidc-resource:validator');
/** Where the guard's passport view carries how the request presented its token (scheme, proof key). */
export const TOKEN_PRESENTATION = Symbol.for('nestjs-oidc-resource:presentation');

/** Metadata keys set by the decorators; stable and namespaced. */
export const PUBLIC_METADATA_KEY = 'oidc-resource:public';
export const SCOPES_METADATA_KEY = 'oidc-resource:scopes';
export const ANY_SCOPE_METADATA_KEY = 'oidc-resource:any-scope';
export const ROLES_METADATA_KEY = 'oidc-resource:roles';
export const ANY_ROLE_METADATA_KEY = 'oidc-resource:any-role';
export const POLICIES_METADATA_KEY = 'oidc-resource:policies';
export const STEP_UP_METADATA_KEY = 'oidc-resource:step-up';

export const DEFAULT_ALGORITHMS = Object.freeze(['RS256', 'PS256', 'ES256', 'EdDSA'] as const);

/** Every asymmetric JWS algorithm this library can verify. `none` and HMAC are never accepted. */
export const SUPPORTED_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);

export const DEFAULTS = Object.freeze({
  tokenFormat: 'auto' as const,
  clockTolerance: 30,
  requireJwtAccessTokenType: true,
  cacheTtl: 300_000,
  cacheNegativeTtl: 5_000,
  cacheMax: 10_000,
  maxIssuers: 100,
  cacheStoreTimeout: 250,
  userInfoTtl: 300_000,
  global: true,
  allowQueryToken: false,
  maxTokenLength: 8192,
  httpTimeout: 5_000,
  /** How long discovered metadata is trusted before it is fetched again. */
  metadataMaxAge: 3_600_000,
  /** After a failed metadata refresh, the previous document is kept this long before another try. */
  metadataRetryDelay: 30_000,
  /** How long a JWKS is trusted before it is fetched again (a failed refresh keeps the old keys). */
  jwksMaxAge: 600_000,
  /** Minimum delay between two JWKS fetches triggered by an unknown `kid`. */
  jwksCooldown: 30_000,
  /**
   * After a failed first discovery or JWKS fetch, requests fail fast (503, `Retry-After`) for
   * this long plus up to `failureCooldownJitter` ms, rather than each asking again.
   */
  failureCooldown: 1_000,
  failureCooldownJitter: 1_000,
  /** Largest response body read from the authorization server. */
  maxResponseBytes: 1_048_576,
});
