/** The caller, as established from a valid access token. */
export interface AuthenticatedPrincipal {
  /** The token's `sub` as issued (for client-credentials tokens often the client id). */
  sub?: string;
  /** `client_id` (RFC 9068 / RFC 7662), else `azp`. */
  clientId?: string;
  /**
   * Read from the first present claim of `scopeClaims` (default `scope`, then `scp`): a
   * space-separated string or an array of strings.
   */
  scopes: string[];
  /**
   * Every role found in the `roleClaims` (default `roles` and `realm_access.roles`), merged and
   * deduplicated. Checked by `@Roles()` and `@AnyRole()`.
   */
  roles: string[];
  /** The issuer that vouched for the token. */
  issuer: string;
  /** The token's audiences (`aud`). */
  audience: string[];
  /** When the token expires (`exp`). */
  expiresAt?: Date;
  /** The JWT payload or the introspection response. */
  claims: Readonly<Record<string, unknown>>;
  /** How the token was validated. */
  source: 'jwt' | 'introspection';
}
