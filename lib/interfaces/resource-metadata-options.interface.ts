/**
 * The protected resource metadata document this API publishes (RFC 9728), from which clients
 * (MCP clients among them) learn which authorization server to ask for a token, and which scopes.
 * Every member is optional except `resource`; members the module knows (`scopes_supported`,
 * `bearer_methods_supported`, the DPoP and mTLS members) are computed from the app.
 * @see RFC 9728 §2
 */
export interface ResourceMetadataOptions {
  /**
   * This API's resource identifier, normally its audience: `https`, or `http` on a loopback
   * host; no query, no fragment, a path of unreserved characters and `/` only. The document is
   * served at `/.well-known/oauth-protected-resource` with the path appended
   * (`https://api.example.com/v1` → `/.well-known/oauth-protected-resource/v1`), and only there.
   * @example 'https://api.example.com'
   * @see RFC 9728 §1.2, §3.1
   */
  resource: string;
  /**
   * Issuer identifiers of the authorization servers that issue tokens for this API
   * (`authorization_servers`). Required when no issuer is listed (only `resolveIssuer`).
   * @default the configured `issuer` / `issuers`, in that order
   */
  authorizationServers?: string[];
  /**
   * `scopes_supported`, as given (an empty list omits the member).
   * @default every scope named by `@Scopes()` / `@AnyScope()` in the app, sorted, deduplicated
   */
  scopesSupported?: string[];
  /** `resource_name`: a human-readable name of this API. */
  resourceName?: string;
  /** `resource_documentation`: URL of the API's documentation for developers. */
  resourceDocumentation?: string;
  /** `resource_policy_uri`: URL of the API's data-use policy. */
  resourcePolicyUri?: string;
  /** `resource_tos_uri`: URL of the API's terms of service. */
  resourceTosUri?: string;
  /**
   * Further members, published as given (JSON values; no empty strings, arrays or `null`).
   * They may not replace the members above or the computed ones.
   * @example { authorization_details_types_supported: ['payment_initiation'] }
   */
  extraMetadata?: Record<string, unknown>;
}
