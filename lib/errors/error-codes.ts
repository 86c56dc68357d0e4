/**
 * The stable vocabulary of errors: codes, refusal reasons and the HTTP status of each code.
 * Kept apart from the classes so that the list can be read (and checked) on its own.
 */

/**
 * Stable error codes, safe to branch on: messages may improve, codes do not change. `status` is
 * the HTTP status the guard answers with for each.
 */
export type OidcResourceErrorCode =
  | 'token_missing'
  | 'invalid_request'
  | 'invalid_token'
  | 'token_expired'
  | 'token_inactive'
  | 'insufficient_scope'
  | 'access_denied'
  | 'insufficient_user_authentication'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'userinfo_not_permitted'
  | 'userinfo_subject_mismatch'
  | 'userinfo_failed'
  | 'issuer_unavailable'
  | 'invalid_configuration';

/**
 * Why a token or request was refused: one stable, snake_case value per rule, for tests, logs
 * and exception filters to key on (messages may improve; reasons do not change). The same
 * failure has the same reason, and the same message, whether the token was a JWT or was
 * introspected. Never part of the `WWW-Authenticate` challenge.
 */
export type OidcResourceErrorReason =
  // the request
  | 'empty_token'
  | 'request_malformed'
  | 'authorization_duplicated'
  | 'token_sent_twice'
  | 'query_token_not_allowed'
  // the token's form
  | 'too_long'
  | 'malformed'
  | 'encrypted'
  | 'introspection_not_configured'
  // the JWS header, key and signature
  | 'alg_not_allowed'
  | 'crit_not_supported'
  | 'typ_not_accepted'
  | 'kid_unknown'
  | 'kid_ambiguous'
  | 'key_unusable'
  | 'signature_invalid'
  // the claims (JWT payload or introspection answer)
  | 'claim_missing'
  | 'claim_malformed'
  | 'iss_mismatch'
  | 'aud_mismatch'
  | 'expired'
  | 'not_yet_valid'
  | 'iat_in_future'
  | 'id_token'
  | 'not_access_token'
  | 'sender_constrained'
  // sender-constrained tokens (DPoP, mTLS)
  | 'dpop_proof_missing'
  | 'dpop_proof_duplicated'
  | 'dpop_proof_unexpected'
  | 'dpop_proof_invalid'
  | 'dpop_binding_mismatch'
  | 'dpop_required'
  | 'token_not_bound'
  | 'certificate_binding_mismatch'
  // DPoP proofs (RFC 9449 §4.3), besides the JWS reasons above
  | 'dpop_jwk_invalid'
  | 'dpop_htm_mismatch'
  | 'dpop_htu_mismatch'
  | 'dpop_iat_outside_window'
  | 'dpop_ath_mismatch'
  | 'dpop_jti_replayed'
  // introspection
  | 'inactive'
  | 'untyped_introspection'
  | 'unsupported_token_type';

/** Every {@link OidcResourceErrorReason}, for checking values read back from a shared cache. */
export const OIDC_ERROR_REASONS: ReadonlySet<string> = new Set<OidcResourceErrorReason>([
  'empty_token',
  'request_malformed',
  'authorization_duplicated',
  'token_sent_twice',
  'query_token_not_allowed',
  'too_long',
  'malformed',
  'encrypted',
  'introspection_not_configured',
  'alg_not_allowed',
  'crit_not_supported',
  'typ_not_accepted',
  'kid_unknown',
  'kid_ambiguous',
  'key_unusable',
  'signature_invalid',
  'claim_missing',
  'claim_malformed',
  'iss_mismatch',
  'aud_mismatch',
  'expired',
  'not_yet_valid',
  'iat_in_future',
  'id_token',
  'not_access_token',
  'sender_constrained',
  'dpop_proof_missing',
  'dpop_proof_duplicated',
  'dpop_proof_unexpected',
  'dpop_proof_invalid',
  'dpop_binding_mismatch',
  'dpop_required',
  'token_not_bound',
  'certificate_binding_mismatch',
  'dpop_jwk_invalid',
  'dpop_htm_mismatch',
  'dpop_htu_mismatch',
  'dpop_iat_outside_window',
  'dpop_ath_mismatch',
  'dpop_jti_replayed',
  'inactive',
  'untyped_introspection',
  'unsupported_token_type',
]);

/** Options of the error constructors. */
export interface OidcResourceErrorOptions {
  cause?: unknown;
  /** The rule that refused the token or request. */
  reason?: OidcResourceErrorReason;
  /** The claim (JWT claim or introspection member) the rule is about, when there is one. */
  claim?: string;
  /**
   * The authentication scheme of the challenge that answers this error, when it must be `DPoP`
   * whatever scheme the request used (a DPoP-bound token sent as a bearer token, say).
   */
  scheme?: 'DPoP';
}

/** HTTP status of each error code. */
export const OIDC_ERROR_STATUS: Readonly<Record<OidcResourceErrorCode, number>> = Object.freeze({
  token_missing: 401,
  invalid_request: 400,
  invalid_token: 401,
  token_expired: 401,
  token_inactive: 401,
  insufficient_scope: 403,
  access_denied: 403,
  insufficient_user_authentication: 401,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
  userinfo_not_permitted: 403,
  userinfo_subject_mismatch: 502,
  userinfo_failed: 502,
  issuer_unavailable: 503,
  invalid_configuration: 500,
});
