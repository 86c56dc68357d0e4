import type { ClaimPath } from '../authorization/claim-path.js';
import type { IntrospectionOptions, UserInfoOptions } from './oidc-resource-options.interface.js';

/**
 * The settings that may differ from one issuer to another. At the top level of the options they
 * apply to every issuer; in an `issuers` entry (or a `resolveIssuer` answer) they override the
 * top-level value for that issuer only.
 */
export interface IssuerSettingsOptions {
  /**
   * This API's identifier: a JWT's `aud` must contain one of these values, and so must an
   * introspection response's `aud` when it has one. `false` opts out of the audience check.
   * @see RFC 9068 §4, RFC 8707
   */
  audience: string | string[] | false;
  /**
   * `auto`: a token that parses as a JWS is verified locally, anything else is introspected.
   * @default 'auto'
   */
  tokenFormat?: 'auto' | 'jwt' | 'opaque';
  /**
   * Allowed JWS algorithms. `none` and HMAC algorithms are never accepted.
   * @default ['RS256', 'PS256', 'ES256', 'EdDSA']
   */
  algorithms?: string[];
  /** Overrides the discovered `jwks_uri`. */
  jwksUri?: string;
  /** Seconds of leeway for `exp`, `nbf` and `iat`. @default 30 */
  clockTolerance?: number;
  /**
   * Reject a JWT whose header `typ` is not `at+jwt` / `application/at+jwt`, and require the
   * RFC 9068 claims (`iss`, `aud`, `exp`, `iat`, `sub`, `client_id`, `jti`).
   * @default true
   * @see RFC 9068 §2.1, §4
   */
  requireJwtAccessTokenType?: boolean;
  /**
   * Where scopes are read, in JWT claims and introspection responses alike. The first claim
   * present wins: a string is split on spaces, an array of strings is taken as is; any other
   * value grants no scope. An entry is a dotted path, or an array of segments for claim names
   * that contain dots. `['permissions']` suits Auth0 RBAC.
   * @default ['scope', 'scp']
   * @see RFC 9068 §2.2.3, RFC 7662 §2.2
   */
  scopeClaims?: ClaimPath[];
  /**
   * Where roles (`principal.roles`, checked by `@Roles()` / `@AnyRole()`) are read, in JWT
   * claims and introspection responses alike; every listed claim is merged. A value may be a
   * string (split on spaces), an array of strings, or an object whose keys are the roles
   * (Zitadel). Other values grant nothing. An entry is a dotted path
   * (`'resource_access.notes-api.roles'`) or an array of segments (`['https://example.com/roles']`).
   * @default ['roles', 'realm_access.roles']
   */
  roleClaims?: ClaimPath[];
  /**
   * Credentials for RFC 7662 introspection; needed to accept opaque tokens. An entry's
   * `introspection` replaces the top-level one as a whole (it is not merged key by key).
   */
  introspection?: IntrospectionOptions;
}

/**
 * One trusted issuer, in `issuers` or as answered by `resolveIssuer`.
 * @example { issuer: 'https://sso.example.com/realms/staff', roleClaims: ['realm_access.roles'] }
 */
export interface IssuerOptions extends Partial<IssuerSettingsOptions> {
  /**
   * Issuer identifier, compared exactly with a token's `iss` and with the discovery document's
   * `issuer`. Must be `https`, except for loopback hosts.
   */
  issuer: string;
  /** This issuer's UserInfo endpoint, when its discovery document cannot be reached. */
  userInfo?: Pick<UserInfoOptions, 'endpoint'>;
}

/**
 * Decides about an issuer that is not listed in `issuers`: an `IssuerOptions` to trust it, or
 * `undefined` to refuse its tokens. It receives a token's unverified `iss`, so it must check an
 * allow-list (never "any issuer that has a discovery document": anyone can publish one).
 * Answers are remembered (`maxIssuers`); a throw answers 503 and is not remembered.
 */
export type IssuerResolver = (
  iss: string,
) => IssuerOptions | undefined | Promise<IssuerOptions | undefined>;
