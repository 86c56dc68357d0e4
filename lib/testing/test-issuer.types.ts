import type {
  IssuerOptions,
  OidcResourceModuleOptions,
} from '../interfaces/oidc-resource-options.interface.js';
import type { TestSigningAlgorithm } from './signing-keys.js';

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /**
   * The JWS algorithm of the issuer's signing keys. RS256 is the one every OpenID provider must
   * support, so an app whose `algorithms` option is narrowed to production's list still accepts it.
   * @default 'RS256'
   * @see OpenID Connect Core 1.0 §15.1, RFC 7518 §3.1
   */
  algorithm?: TestSigningAlgorithm;
  /**
   * The issuer's clock, in milliseconds since the epoch: it sets `iat` and `exp` of minted tokens
   * and decides when they stop being active. Pass the same function as the app's
   * `OIDC_RESOURCE_CLOCK` to test expiry without waiting.
   * @default Date.now
   */
  clock?: () => number;
}

/** Options of {@link TestIssuer.accessToken}. */
export interface TestAccessTokenOptions {
  /**
   * The subject (`sub`). To leave `sub` out, pass `claims: { sub: undefined }`.
   * @default 'test-user'
   */
  sub?: string;
  /** The client the token was issued to (`client_id`). @default 'test-client' */
  clientId?: string;
  /**
   * Granted scopes, sent as the space-separated `scope` claim (left out when empty).
   * @default []
   * @see RFC 9068 §2.2.3, RFC 6749 §3.3
   */
  scopes?: readonly string[];
  /** Roles, sent as a `roles` array claim (left out when not given). */
  roles?: readonly string[];
  /**
   * The token's `aud`. An array gives a multi-valued `aud`.
   * @default the `audience` last passed to `moduleOptions()`, else `'test-api'`
   * @see RFC 9068 §3, RFC 8707
   */
  audience?: string | readonly string[];
  /**
   * Seconds until the token expires, from now. Negative for a token that has already expired
   * (`expiresIn: -60`).
   * @default 300
   */
  expiresIn?: number;
  /**
   * More claims, applied last: they may replace any claim above (`iss`, `exp`, …), and a member
   * set to `undefined` removes that claim. For an opaque token they are what introspection answers.
   * @example { claims: { tenant: 'acme' } }, { claims: { iss: 'https://someone-else.test' } }
   */
  claims?: Readonly<Record<string, unknown>>;
  /**
   * `'jwt'`: an RFC 9068 JWT access token (`typ: at+jwt`) signed with the issuer's current key.
   * `'opaque'`: a random string that only introspection can explain.
   * @default 'jwt'
   */
  format?: 'jwt' | 'opaque';
  /**
   * The Authentication Context Class Reference (`acr`).
   * @see RFC 9068 §2.2.1, RFC 9470
   */
  acr?: string;
  /**
   * When the user authenticated (`auth_time`): a `Date`, or seconds since the epoch.
   * @see RFC 9068 §2.2.1, RFC 9470
   */
  authTime?: Date | number;
  /**
   * Binds the token to a DPoP key: `cnf.jkt` is set to this RFC 7638 thumbprint, and
   * introspection answers `token_type: 'DPoP'`.
   * @see RFC 9449 §6
   */
  jkt?: string;
  /**
   * Binds the token to a client certificate: `cnf["x5t#S256"]` is set to this thumbprint
   * (base64url SHA-256 of the certificate's DER), as for mTLS clients.
   * @example createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url')
   * @see RFC 8705 §3.1
   */
  x5tS256?: string;
  /**
   * Signs the JWT with a key the issuer never published, under the current key's `kid`: a
   * forged token, which the app must refuse for its signature. (The `kid` is a known one so that
   * the app does not spend its JWKS refetch, which it allows once per 30 s, on the forgery.)
   * Only for `format: 'jwt'`; an opaque token the issuer never issued is any random string.
   * @default false
   */
  unknownKey?: boolean;
}

/** How many requests reached each endpoint of a {@link TestIssuer} (any method, any answer). */
export interface TestIssuerRequests {
  /** `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`. */
  discovery: number;
  /** `/jwks`. */
  jwks: number;
  /** `/introspect` (RFC 7662). */
  introspection: number;
  /** `/revoke` (RFC 7009). */
  revocation: number;
  /** `/userinfo` (OpenID Connect Core 1.0 §5.3). */
  userinfo: number;
}

/**
 * A real OpenID provider for an app's tests, on `127.0.0.1` and a free port: OIDC discovery,
 * a JWKS, RFC 7662 introspection and RFC 7009 revocation (client authentication
 * `client_secret_basic` or `client_secret_post`), and UserInfo.
 */
export interface TestIssuer {
  /** The issuer identifier, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly issuer: string;

  /**
   * Options for `OidcResourceModule.forRoot()` (or an override of `OIDC_RESOURCE_OPTIONS`):
   * `issuer`, `audience` (`'test-api'` unless given) and `introspection` credentials for this
   * issuer. `overrides` are applied last; an `introspection` object is merged into the
   * credentials (`{ authMethod: 'client_secret_post' }`), and `introspection: undefined`
   * removes them.
   * @example OidcResourceModule.forRoot(issuer.moduleOptions({ audience: 'notes-api' }))
   */
  moduleOptions(overrides?: Partial<OidcResourceModuleOptions>): OidcResourceModuleOptions;

  /**
   * This issuer as one entry of the `issuers` option: `issuer` and `introspection` credentials,
   * `overrides` applied last as in `moduleOptions()`. `audience` stays at the top level.
   * @example OidcResourceModule.forRoot({ audience: 'notes-api', issuers: [staff.issuerOptions(), partners.issuerOptions()] })
   */
  issuerOptions(overrides?: Partial<IssuerOptions>): IssuerOptions;

  /**
   * Mints an access token. Every token is recorded, so introspection, revocation and UserInfo
   * know it (except `unknownKey` forgeries).
   * @throws TypeError for malformed options
   */
  accessToken(options?: TestAccessTokenOptions): Promise<string>;

  /**
   * Sets what UserInfo answers for `sub` (its `sub` member is always `sub`). Without it,
   * UserInfo answers `{ sub }`.
   */
  setUserInfo(sub: string, claims: Readonly<Record<string, unknown>>): void;

  /**
   * Revokes a token: introspection then answers `active: false` and UserInfo 401. A JWT is still
   * accepted by apps that verify it locally, until it expires, as with any issuer.
   * @returns whether the token was one this issuer issued
   */
  revoke(token: string): boolean;

  /**
   * Starts signing with a new key (new `kid`). The previous key stays published, as issuers do
   * while tokens signed with it are still live; the one before is dropped. An app fetches the
   * JWKS again for an unknown `kid` at most once per 30 s.
   */
  rotateKeys(): Promise<void>;

  /**
   * An outage: the issuer stops listening and drops open connections, so calls to it are refused
   * until {@link TestIssuer.start}. Tokens and keys are kept.
   */
  stop(): Promise<void>;

  /**
   * Ends an outage: listens again on the same port.
   * @throws when the issuer was closed, or the port was taken meanwhile
   */
  start(): Promise<void>;

  /** Requests per endpoint since the issuer was created (a fresh copy on each read). */
  readonly requests: Readonly<TestIssuerRequests>;

  /** Stops the issuer for good and releases its port. */
  close(): Promise<void>;
}
