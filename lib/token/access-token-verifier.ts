import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';

/** What a verifier established about a token, before it becomes a principal. */
export interface VerifiedToken {
  /** How it was checked: locally as a JWT, or by asking the authorization server. */
  source: 'jwt' | 'introspection';
  /** The issuer whose keys or introspection endpoint vouched for it. */
  issuer: string;
  /** That issuer's settings, which decide what the token grants (where scopes and roles are). */
  settings: ResolvedIssuerOptions;
  /** The JOSE header, for a JWT. */
  header?: Readonly<Record<string, unknown>>;
  /** The JWT payload or the introspection answer, every rule already passed. */
  claims: Record<string, unknown>;
}

/**
 * Checks an access token. An abstract class rather than an interface, so that it can be the
 * dependency-injection token of the verifier the module composes.
 */
export abstract class AccessTokenVerifier {
  /**
   * @throws OidcResourceError — a verdict on the token (`invalid_token`, `token_expired`,
   *   `token_inactive`), or `issuer_unavailable` when no verdict could be reached.
   */
  abstract verify(token: string): Promise<VerifiedToken>;
}

/** Checks a token against one issuer: its keys or its introspection endpoint, and its settings. */
export interface IssuerTokenVerifier {
  /** @throws OidcResourceError, as `AccessTokenVerifier.verify` does */
  verify(token: string, issuer: TrustedIssuer): Promise<VerifiedToken>;
}
