import { createHash } from 'node:crypto';
import type { IssuerOptions } from '../interfaces/oidc-resource-options.interface.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';
import type { ResolvedOidcResourceOptions } from './resolve-options.js';

type Resolved = ResolvedOidcResourceOptions;
type IntrospectionSettings = NonNullable<ResolvedIssuerOptions['introspection']>;

/** Why an option is left out of the fingerprint: it never changes a verdict or a principal. */
type Excluded = { excluded: string };

/** How an option enters the fingerprint (order-free values are sorted), or why it does not. */
type Table<T> = { [K in keyof T]-?: ((value: T[K]) => unknown) | Excluded };

const asIs = <T>(value: T) => value;
const orNull = <T>(value: T | undefined) => value ?? null;
const sorted = (list: readonly string[]) => [...list].sort();

/**
 * Every resolved option, in or out: the compiler refuses a new option until it is placed, and
 * the order of the included ones is the order of the hashed document.
 */
export const FINGERPRINT_OPTIONS: Table<Resolved> = {
  // Each issuer with its own settings, in list order (the order opaque tokens are introspected in).
  issuers: (issuers) => issuers.map((issuer) => pick(issuer, FINGERPRINT_ISSUER)),
  // A function cannot be hashed; its answers are vetted when read back (the issuer must be one
  // this API trusts), and the defaults it is resolved against are below.
  resolveIssuer: (resolver) => resolver !== undefined,
  issuerDefaults: fingerprintDefaults,
  maxIssuers: { excluded: 'how many resolveIssuer answers are remembered, not what they are' },
  cache: { excluded: 'how long and where outcomes are kept, not what they are' },
  userInfo: { excluded: 'UserInfo answers are cached apart, under their own key namespace' },
  global: { excluded: 'which routes are guarded, not what a token is worth' },
  realm: { excluded: 'only the text of a challenge' },
  allowQueryToken: { excluded: 'where a token is read, checked before the cache' },
  maxTokenLength: { excluded: 'checked on every request, before the cache is consulted' },
  httpTimeout: { excluded: 'a timeout is an outage, and outages are never cached' },
  rpc: { excluded: "where a message's token is read, before the cache" },
  unsafeAllowInsecureIssuer: { excluded: 'checked once, when the options are resolved' },
  telemetry: { excluded: 'what is recorded about a verdict, not the verdict' },
  // Bound tokens are cached like others; their binding is checked on every request, after the cache.
  dpop: { excluded: 'proofs and bindings are checked per request, never cached' },
  mtls: { excluded: 'certificate bindings are checked per request, never cached' },
  challenge: { excluded: 'only the text of a challenge' },
  resourceMetadata: { excluded: 'a published document and a challenge parameter, not a verdict' },
};

/** One issuer's settings, in or out. */
export const FINGERPRINT_ISSUER: Table<ResolvedIssuerOptions> = {
  issuer: asIs,
  audiences: (audiences) => (audiences === false ? false : sorted(audiences)),
  tokenFormat: asIs,
  algorithms: sorted,
  jwksUri: orNull,
  clockTolerance: asIs,
  requireJwtAccessTokenType: asIs,
  // Where scopes and roles are read changes what a cached principal grants.
  scopeClaims: asIs,
  roleClaims: asIs,
  introspection: (introspection) =>
    introspection ? pick(introspection, FINGERPRINT_INTROSPECTION) : null,
  userInfoEndpoint: {
    excluded: 'UserInfo answers are cached apart, under their own key namespace',
  },
};

/**
 * The top-level per-issuer settings as written (they decide what a `resolveIssuer` issuer's
 * tokens grant), secrets left out.
 */
function fingerprintDefaults(defaults: Readonly<Partial<IssuerOptions>>): unknown {
  const { introspection, userInfo: _userInfo, ...rest } = defaults;
  return {
    ...rest,
    introspection: introspection
      ? {
          clientId: introspection.clientId,
          authMethod: introspection.authMethod ?? null,
          endpoint: introspection.endpoint ?? null,
          allowUntypedResponses: introspection.allowUntypedResponses ?? null,
        }
      : null,
  };
}

/** The introspection settings, in or out, like the top-level ones. */
export const FINGERPRINT_INTROSPECTION: Table<IntrospectionSettings> = {
  clientId: asIs,
  authMethod: asIs,
  endpoint: orNull,
  allowUntypedResponses: asIs,
  clientSecret: { excluded: 'a secret; a wrong one is an outage, never cached' },
  privateKey: { excluded: 'a secret; a wrong one is an outage, never cached' },
};

function pick<T extends object>(value: T, table: Table<T>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(table) as [keyof T & string, unknown][]) {
    if (typeof rule === 'function') picked[key] = (rule as (v: unknown) => unknown)(value[key]);
  }
  return picked;
}

/** What decides a token's outcome; entries written under other settings must not be reused. */
export function settingsFingerprint(options: ResolvedOidcResourceOptions): string {
  const settings = {
    // 2: refusals carry a reason, and ID tokens are refused in more shapes.
    // 3: principals carry roles; malformed scope claims grant nothing instead of refusing.
    // 4: several issuers, each with its own settings.
    // 5: sender-constrained tokens are cached as principals (their binding is checked per
    //    request); an older replica, which takes every cached principal as a bearer token,
    //    must never read one.
    v: 5,
    ...pick(options, FINGERPRINT_OPTIONS),
  };
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url').slice(0, 16);
}
