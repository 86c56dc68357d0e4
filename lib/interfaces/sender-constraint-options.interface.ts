import type { KeyObject } from 'node:crypto';
import type { SharedCacheStore } from './oidc-resource-options.interface.js';

/**
 * DPoP: access tokens bound to a key the client holds, proven on every request by a signed
 * `DPoP` proof. @see RFC 9449
 */
export interface DpopOptions {
  /**
   * `'allowed'`: DPoP-bound tokens need a DPoP proof, bearer tokens still work. `'required'`:
   * every token must be DPoP-bound (RFC 9728 `dpop_bound_access_tokens_required`).
   * @default 'allowed'
   */
  mode?: 'allowed' | 'required';
  /**
   * Proof signature algorithms accepted (asymmetric only; `none` and HMAC are never accepted).
   * @default ['ES256', 'EdDSA', 'PS256', 'RS256']
   */
  algorithms?: string[];
  /** Seconds a proof is accepted after its `iat`; its `jti` is remembered as long. @default 300 */
  proofMaxAge?: number;
  /** Require a server-provided nonce in proofs (`use_dpop_nonce`, `DPoP-Nonce`). @default false */
  nonce?: boolean;
  /**
   * Where the `jti`s of accepted proofs are remembered, to refuse replays: in memory by default;
   * a shared store (`new Keyv(new KeyvRedis(url))`) catches a replay at another replica.
   */
  stores?: SharedCacheStore[];
  /**
   * The scheme and authority clients use to reach this API (`https://api.example.com`), for
   * checking a proof's `htu` behind a proxy. Without it, `htu` is checked against the request's
   * own `Host` header and connection (`X-Forwarded-*` is never read).
   */
  publicUrl?: string;
  /**
   * The HMAC key server nonces are derived from (a string or Buffer of at least 32 bytes, or a
   * secret `KeyObject`). Every replica must have the same one: required with `nonce` and
   * `stores`. Without it, each process draws a random one (fine for a single replica).
   * @default a random per-process secret
   * @see RFC 9449 §9
   */
  nonceSecret?: string | Buffer | KeyObject;
}

/** Certificate-bound access tokens (`cnf["x5t#S256"]`). @see RFC 8705 §3 */
export interface MtlsOptions {
  /**
   * A request header in which a TLS-terminating proxy that this app trusts passes the client
   * certificate, as a URL-encoded PEM (nginx `$ssl_client_escaped_cert`, Envoy/HAProxy alike).
   * Without it, the certificate comes from the TLS connection itself. Only set it when every
   * request reaches the app through that proxy, which must overwrite the header.
   */
  certificateHeader?: string;
}
