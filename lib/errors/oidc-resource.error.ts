import {
  OIDC_ERROR_STATUS,
  type OidcResourceErrorCode,
  type OidcResourceErrorOptions,
  type OidcResourceErrorReason,
} from './error-codes.js';

export {
  OIDC_ERROR_REASONS,
  OIDC_ERROR_STATUS,
  type OidcResourceErrorCode,
  type OidcResourceErrorOptions,
  type OidcResourceErrorReason,
} from './error-codes.js';

/**
 * Base class of every error this library throws. Services throw it; only the guard and the
 * exception filter turn it into an HTTP response (RFC 6750). Messages never contain a token.
 *
 * @example
 * try { await validation.validate(token) } catch (e) {
 *   if (e instanceof OidcResourceError && e.code === 'token_expired') { … }
 * }
 */
export class OidcResourceError extends Error {
  /** Stable, machine-readable code. */
  readonly code: OidcResourceErrorCode;
  /** HTTP status for this error. */
  readonly status: number;
  /** The rule that refused the token or request, when the library refused it. */
  readonly reason?: OidcResourceErrorReason;
  /** The claim that rule is about, when there is one (`aud`, `nonce`…). */
  readonly claim?: string;
  /** `DPoP` when the challenge must use the DPoP scheme whatever the request's scheme. */
  readonly scheme?: 'DPoP';

  constructor(code: OidcResourceErrorCode, message: string, options?: OidcResourceErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.status = OIDC_ERROR_STATUS[code];
    if (options?.reason !== undefined) this.reason = options.reason;
    if (options?.claim !== undefined) this.claim = options.claim;
    if (options?.scheme !== undefined) this.scheme = options.scheme;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** Keeps the cause out of JSON, so no upstream detail leaks into a response body by accident. */
  toJSON(): {
    name: string;
    code: OidcResourceErrorCode;
    status: number;
    message: string;
    reason?: OidcResourceErrorReason;
    claim?: string;
  } {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      ...(this.claim !== undefined ? { claim: this.claim } : {}),
    };
  }
}

/** No access token in the request (401, challenge without `error`). @see RFC 6750 §3.1 */
export class TokenMissingError extends OidcResourceError {
  constructor(message = 'No access token was sent') {
    super('token_missing', message);
  }
}

/** The request is malformed: bad `Authorization` syntax, or a token sent more than once. */
export class InvalidRequestError extends OidcResourceError {
  constructor(message: string, options?: OidcResourceErrorOptions) {
    super('invalid_request', message, options);
  }
}

/** The token is malformed, badly signed, or for another issuer, audience or use. */
export class InvalidTokenError extends OidcResourceError {
  constructor(message: string, options?: OidcResourceErrorOptions) {
    super('invalid_token', message, options);
  }
}

/** The token has expired (`exp`). Answered as RFC 6750 `invalid_token`. Reason `expired`. */
export class TokenExpiredError extends OidcResourceError {
  constructor(message = 'The access token expired', options?: OidcResourceErrorOptions) {
    super('token_expired', message, { reason: 'expired', claim: 'exp', ...options });
  }
}

/** Introspection said the token is not active (revoked, expired or unknown). Reason `inactive`. */
export class TokenInactiveError extends OidcResourceError {
  constructor(message = 'The access token is not active', options?: OidcResourceErrorOptions) {
    super('token_inactive', message, { reason: 'inactive', ...options });
  }
}

/** The token is valid but lacks a required scope (403). */
export class InsufficientScopeError extends OidcResourceError {
  /** The scopes the resource requires, in the order written. */
  readonly requiredScopes: readonly string[];

  constructor(requiredScopes: readonly string[], message?: string) {
    super('insufficient_scope', message ?? `The access token lacks a required scope`);
    this.requiredScopes = requiredScopes;
  }
}

/**
 * The token is valid but the caller lacks a required role, or a policy refused (403). Answered
 * with `error="insufficient_scope"` and no `scope` parameter: no scope would help.
 */
export class AccessDeniedError extends OidcResourceError {
  /** The roles that were required and missing (empty when a policy refused). */
  readonly missingRoles: readonly string[];

  constructor(message = 'Access denied', missingRoles: readonly string[] = []) {
    super('access_denied', message);
    this.missingRoles = missingRoles;
  }
}

/** What a step-up challenge asks for (RFC 9470 §3): only the requirements that failed. */
export interface StepUpChallenge {
  /** Acceptable `acr` values, in order of preference. */
  acrValues?: readonly string[];
  /** Seconds since the last active authentication that are acceptable. */
  maxAge?: number;
  /** The route's scopes, when the token also lacks one of them. */
  scopes?: readonly string[];
}

/**
 * The token is valid, but the user's authentication is not strong or recent enough for this
 * route (401 `insufficient_user_authentication`). @see RFC 9470 §3
 */
export class InsufficientUserAuthenticationError extends OidcResourceError {
  readonly acrValues?: readonly string[];
  readonly maxAge?: number;
  readonly scopes?: readonly string[];

  constructor(
    message: string,
    challenge: StepUpChallenge = {},
    options?: OidcResourceErrorOptions,
  ) {
    super('insufficient_user_authentication', message, options);
    if (challenge.acrValues !== undefined) this.acrValues = challenge.acrValues;
    if (challenge.maxAge !== undefined) this.maxAge = challenge.maxAge;
    if (challenge.scopes !== undefined) this.scopes = challenge.scopes;
  }
}

/**
 * The DPoP proof is missing, malformed, wrongly signed, for another request, outside its time
 * window, replayed, or not bound to the token (`ath`). Always answered with a DPoP challenge.
 * @see RFC 9449 §4.3, §7.1
 */
export class InvalidDpopProofError extends OidcResourceError {
  constructor(message: string, options?: OidcResourceErrorOptions) {
    super('invalid_dpop_proof', message, {
      reason: 'dpop_proof_invalid',
      ...options,
      scheme: 'DPoP',
    });
  }
}

/**
 * The DPoP proof lacks the server's current nonce: retry with the `DPoP-Nonce` header's value.
 * @see RFC 9449 §8, §9
 */
export class UseDpopNonceError extends OidcResourceError {
  /** The nonce the client must put in its next proof. */
  readonly nonce: string;

  constructor(nonce: string, message = 'The DPoP proof must carry the server-provided nonce') {
    super('use_dpop_nonce', message, { scheme: 'DPoP' });
    this.nonce = nonce;
  }
}

/**
 * The UserInfo endpoint refused a token that this API accepted (no `openid` scope, or an
 * audience the provider's UserInfo refuses). Answered 403 `insufficient_scope`, `scope="openid"`.
 */
export class UserInfoNotPermittedError extends OidcResourceError {
  readonly requiredScopes: readonly string[] = ['openid'];

  constructor(message: string, options?: { cause?: unknown }) {
    super('userinfo_not_permitted', message, options);
  }
}

/** UserInfo answered for another subject than the token's (OIDC Core §5.3.2). */
export class UserInfoSubjectMismatchError extends OidcResourceError {
  constructor(message = 'UserInfo returned a different subject than the access token') {
    super('userinfo_subject_mismatch', message);
  }
}

/**
 * The UserInfo endpoint answered with an error that a retry will not fix (a 4xx other than
 * 401, 403, 408 and 429: some providers answer 404 for a token that has no user). Answered 502.
 */
export class UserInfoFailedError extends OidcResourceError {
  /** The UserInfo URL that answered (for the log; never sent to clients). */
  readonly url?: string;

  constructor(message: string, options?: { cause?: unknown; url?: string }) {
    super('userinfo_failed', message, options);
    if (options?.url !== undefined) this.url = options.url;
  }
}

/**
 * The authorization server could not be reached, failed, or its answer could not be trusted.
 * Never reported as an invalid token, and never cached.
 */
export class IssuerUnavailableError extends OidcResourceError {
  /** Seconds after which a retry may succeed, when known. */
  readonly retryAfter?: number;
  /** The authorization server URL that failed, when one did (for the log; never sent to clients). */
  readonly url?: string;

  constructor(message: string, options?: { cause?: unknown; retryAfter?: number; url?: string }) {
    super('issuer_unavailable', message, options);
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options?.url !== undefined) this.url = options.url;
  }
}

/** Invalid module options; thrown when the application starts. */
export class InvalidConfigurationError extends OidcResourceError {
  constructor(message: string) {
    super('invalid_configuration', message);
  }
}
