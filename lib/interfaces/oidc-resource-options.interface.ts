import type { KeyObject } from 'node:crypto';

import type {
  IssuerOptions,
  IssuerResolver,
  IssuerSettingsOptions,
} from './issuer-options.interface.js';
import type { DpopOptions, MtlsOptions } from './sender-constraint-options.interface.js';
import type { ResourceMetadataOptions } from './resource-metadata-options.interface.js';

export type {
  IssuerOptions,
  IssuerResolver,
  IssuerSettingsOptions,
} from './issuer-options.interface.js';
export type { DpopOptions, MtlsOptions } from './sender-constraint-options.interface.js';
export type { ResourceMetadataOptions } from './resource-metadata-options.interface.js';

/** A JSON Web Key (RFC 7517) as a plain object. */
export interface JsonWebKeyObject {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [parameter: string]: unknown;
}

/**
 * A cache store shared between replicas: a `Keyv` instance or a bare Keyv store
 * adapter such as `new KeyvRedis(url)` from `@keyv/redis`. Typed structurally so
 * that this package does not force one `keyv` version on its users.
 */
export interface SharedCacheStore {
  get(key: string, ...rest: never[]): unknown;
  set(key: string, value: never, ttl?: number): unknown;
  delete(key: string): unknown;
}

/** How the resource server authenticates to the introspection endpoint (RFC 7662 §2.1). */
export type IntrospectionAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** Client credentials for RFC 7662 token introspection. */
export interface IntrospectionOptions {
  /** The resource server's client id at the authorization server. */
  clientId: string;
  /** Needed for `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /**
   * Client authentication method.
   * @default 'client_secret_basic'
   * @see RFC 6749 §2.3.1, RFC 7523 §2.2
   */
  authMethod?: IntrospectionAuthMethod;
  /** Private key (JWK or `KeyObject`) that signs the client assertion for `private_key_jwt`. */
  privateKey?: JsonWebKeyObject | KeyObject;
  /** Overrides the discovered `introspection_endpoint`. */
  endpoint?: string;
  /**
   * Accept an active introspection answer that has neither `aud` nor `token_type`.
   *
   * Without this, such an answer is refused (`reason: 'untyped_introspection'`), because RFC
   * 7662 makes both members optional and an active refresh token looks exactly like that: an
   * API that accepted it would take refresh tokens as access tokens. Some providers send
   * neither member for their access tokens and have no setting to add one (LemonLDAP::NG).
   * Turn this on only for a provider that never reports a refresh token as active to this
   * API's client (LemonLDAP::NG answers inactive for them). Answers with an `aud` are still
   * checked against `audience`, and a `token_type` other than `Bearer`/`DPoP` is still refused.
   * @default false
   * @see RFC 7662 §2.2
   */
  allowUntypedResponses?: boolean;
}

/** Token cache settings. Times are in milliseconds. */
export interface CacheOptions {
  /**
   * Longest time a valid token's result is reused. Never longer than the token's `exp`.
   * This is also the revocation window: a revoked token may be accepted this long.
   * `0` turns positive caching off.
   * @default 300000
   */
  ttl?: number;
  /** How long an invalid, expired or inactive token's result is reused. `0` turns it off. @default 5000 */
  negativeTtl?: number;
  /** Most entries held by the in-memory tier (least recently used are evicted). @default 10000 */
  max?: number;
  /**
   * Stores shared between replicas (for example Redis), read after the in-memory tier.
   * A `Keyv` instance or a bare store adapter such as `new KeyvRedis(url)`.
   */
  stores?: SharedCacheStore[];
  /**
   * Longest time (ms) one call to a shared store may take before it is skipped.
   * A store that fails or hangs never fails a request.
   * @default 250
   */
  storeTimeout?: number;
  /**
   * Coalesces introspections across the replicas that share a Redis store: the first replica to
   * see a new opaque token takes a short lock (`SET … NX PX`) and introspects; the others wait
   * for its result in Redis instead of introspecting too (at most `httpTimeout` +
   * `storeTimeout`, then they introspect themselves). Costs one more Redis round trip per new
   * opaque token; JWTs are never coalesced (they are checked locally). Needs a `@keyv/redis`
   * store (its node-redis client takes the lock); with other stores it does nothing.
   * @default false
   */
  coalesce?: boolean;
  /**
   * Key that authenticates entries in the shared stores: each one is written with an
   * HMAC-SHA-256 over its cache key, deadline and value, and an entry whose MAC is missing or
   * wrong is ignored (a miss, logged at `warn`). Without it, whoever can write to the store can
   * plant an accepted principal for any token string. Give every replica the same key: a
   * string or Buffer of at least 32 bytes (e.g. `randomBytes(32).toString('base64')`), or a
   * secret `KeyObject`. Costs one HMAC per shared-store read and write, none on a memory hit.
   * @see RFC 2104
   */
  signingKey?: string | Uint8Array | KeyObject;
}

/** UserInfo settings. */
export interface UserInfoOptions {
  /** Longest time a UserInfo response is reused, never past the token's `exp`. @default 300000 */
  ttl?: number;
  /**
   * Overrides the discovered `userinfo_endpoint`, for providers whose discovery document this
   * API cannot reach. Checked at start like `introspection.endpoint` (`https`, or `http` on a
   * loopback host).
   * @see OpenID Connect Core 1.0 §5.3
   */
  endpoint?: string;
}

/** Authentication of microservice (`rpc`) messages. */
export interface RpcOptions {
  /**
   * Reads a message's access token (with or without `Bearer `), or `undefined` when it has
   * none. `data` is the message payload and `context` the transport's context (`TcpContext`,
   * `NatsContext`, …), as a handler receives them with `@Payload()` and `@Ctx()`.
   * Declared as a method so that a function typed for the app's own payload fits.
   * @example token: (data: { token?: string }) => data.token
   */
  token(data: unknown, context: unknown): string | undefined;
}

/** Options of `OidcResourceModule.forRoot()`. */
export interface OidcResourceModuleOptions extends Partial<IssuerSettingsOptions> {
  /**
   * Issuer identifier. Metadata is discovered from `{issuer}/.well-known/openid-configuration`,
   * falling back to RFC 8414 `/.well-known/oauth-authorization-server`. The document's `issuer`
   * must equal this value exactly. Must be `https`, except for loopback hosts. Give `issuer` or
   * `issuers`, not both.
   * @example 'https://idp.example.com/realms/acme'
   */
  issuer?: string;
  /**
   * Several trusted issuers. A JWT is routed by its `iss` to exactly one of them and checked
   * only with that issuer's keys and settings; an opaque token is introspected at the issuers
   * that configure `introspection`, in this order, until one answers active. Keys absent from
   * an entry take the top-level value.
   * @example [{ issuer: 'https://sso.example.com/realms/staff' }, { issuer: 'https://sso.example.com/realms/partners' }]
   */
  issuers?: IssuerOptions[];
  /** Trusts issuers that `issuers` does not list, such as one tenant per customer. */
  resolveIssuer?: IssuerResolver;
  /**
   * Most issuers trusted by `resolveIssuer` that are remembered, with their keys and metadata,
   * and, kept apart, most refusals (least recently used out first).
   * @default 100
   */
  maxIssuers?: number;
  /**
   * This API's identifier: a JWT's `aud` must contain one of these values, and so must an
   * introspection response's `aud` when it has one. `false` opts out of the audience check.
   * Required at the top level, or in every `issuers` entry.
   * @see RFC 9068 §4, RFC 8707
   */
  audience?: string | string[] | false;
  /** Token cache. */
  cache?: CacheOptions;
  /** UserInfo cache. */
  userInfo?: UserInfoOptions;
  /** Register the guard as `APP_GUARD`. @default true */
  global?: boolean;
  /**
   * `realm` of `WWW-Authenticate` challenges.
   * @default the first issuer's first audience, else that issuer
   */
  realm?: string;
  /**
   * Accept `?access_token=` (RFC 6750 §2.3). While off, a query token is answered
   * 400 `invalid_request`. A form-body `access_token` is never read.
   * @default false
   */
  allowQueryToken?: boolean;
  /** Longer tokens are refused as `invalid_token` before any parsing. @default 8192 */
  maxTokenLength?: number;
  /** Milliseconds allowed for every call to the authorization server. @default 5000 */
  httpTimeout?: number;
  /**
   * Authenticate microservice messages. Without it, `rpc` contexts pass through the guard
   * untouched; with it, every message handler not marked `@Public()` needs a valid token, and
   * scopes, roles and policies apply as on HTTP routes.
   * @default undefined (messages pass through)
   */
  rpc?: RpcOptions;
  /**
   * Accept a plain-`http` issuer, JWKS, introspection or UserInfo URL on a non-loopback host.
   * Only for closed test networks: tokens and client secrets then travel in clear text.
   * @default false
   */
  unsafeAllowInsecureIssuer?: boolean;
  /** OpenTelemetry: what is recorded beyond the default metrics and spans. */
  telemetry?: TelemetryOptions;
  /**
   * Accept DPoP-bound access tokens, each request proven by a `DPoP` proof. Without it, a
   * DPoP-bound token is refused. @see RFC 9449
   */
  dpop?: DpopOptions;
  /**
   * Accept certificate-bound access tokens when the request's client certificate matches.
   * Without it, a certificate-bound token is refused. @see RFC 8705 §3
   */
  mtls?: MtlsOptions;
  /**
   * Publish RFC 9728 protected resource metadata at
   * `/.well-known/oauth-protected-resource[/<path of resource>]` (public, not moved by
   * `setGlobalPrefix`), and name it in every 401 challenge as `resource_metadata="…"`, so that
   * clients (MCP clients among them) discover the authorization server and the scopes.
   * @default undefined (no document)
   * @see RFC 9728
   */
  resourceMetadata?: ResourceMetadataOptions;
}

/** OpenTelemetry settings. Metrics and spans need `@opentelemetry/api` and a registered SDK. */
export interface TelemetryOptions {
  /**
   * Set `enduser.id` (the token's `sub`) on the active span of each authenticated request.
   * Off by default: a subject is personal data, and traces often leave the organisation.
   * @default false
   */
  recordSubject?: boolean;
}

/** Implemented by a `useClass` / `useExisting` provider of `forRootAsync()`. */
export interface OidcResourceOptionsFactory {
  createOidcResourceOptions(): OidcResourceModuleOptions | Promise<OidcResourceModuleOptions>;
}
