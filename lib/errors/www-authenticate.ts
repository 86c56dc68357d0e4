import {
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  type OidcResourceError,
  UseDpopNonceError,
  UserInfoNotPermittedError,
} from './oidc-resource.error.js';

/** HTTP answer for an {@link OidcResourceError}. */
export interface OidcHttpError {
  status: number;
  headers: Record<string, string>;
  body: { statusCode: number; message: string; error: string };
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * `error_description` and `error` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3):
 * printable ASCII without `"` and `\`. Anything else (CR, LF, non-ASCII, quotes) is dropped,
 * so nothing an attacker sends can break out of the header.
 */
export function sanitizeDescription(value: string, max = 200): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '').slice(0, max);
}

/**
 * The message as the JSON body carries it: readable (quotes, `§` and other non-ASCII kept, since
 * JSON escapes what it must), but without line breaks or control characters, and bounded.
 */
function readableMessage(value: string, max = 500): string {
  return value.replace(/[\p{Cc}\u2028\u2029]/gu, '').slice(0, max);
}

/**
 * Bodies of server-side failures say nothing of their cause: an anonymous caller must not learn
 * how the authorization server or its configuration fails (CWE-209). The detail goes to the log.
 */
const GENERIC_MESSAGE: Record<number, string> = {
  502: 'An upstream identity service answered in a way this API cannot use',
  503: 'The service is temporarily unavailable; try again later',
};

/** `scope` values: %x21 / %x23-5B / %x5D-7E, space-delimited (RFC 6750 §3). */
function sanitizeScopeToken(value: string): string {
  return value.replace(/[^\x21\x23-\x5B\x5D-\x7E]/g, '');
}

/** A realm is a quoted-string (RFC 9110 §5.6.4): escape `"` and `\`, drop controls and non-ASCII. */
function quoteRealm(value: string): string {
  return value.replace(/[^\x20-\x7E]/g, '').replace(/["\\]/g, '\\$&');
}

/**
 * What every challenge of this API carries besides the error: built once from the options.
 * A plain string is a realm alone (the first form of `toHttpError`).
 */
export interface ChallengeContext {
  /** `realm` of every challenge. */
  realm: string;
  /** RFC 9728 §5.1: the resource metadata URL, added to every 401 challenge. */
  resourceMetadata?: string;
  /**
   * Present when DPoP is on: `algs` (space-separated, RFC 9449 §7.1) of every DPoP challenge,
   * and whether DPoP is required (then no Bearer challenge is offered).
   */
  dpop?: { algs: string; required: boolean };
}

/** The authentication scheme a request used (the scheme of its answer's challenge). */
export type ChallengeScheme = 'Bearer' | 'DPoP';

/**
 * Builds a `Bearer` challenge (RFC 6750 §3).
 * @example bearerChallenge('api', 'invalid_token', 'The access token expired')
 * // Bearer realm="api", error="invalid_token", error_description="The access token expired"
 */
export function bearerChallenge(
  realm: string,
  error?: string,
  description?: string,
  scopes?: readonly string[],
): string {
  let header = `Bearer realm="${quoteRealm(realm)}"`;
  if (error) {
    header += errorParams(error, description);
    if (scopes) header += tokenListParam('scope', scopes);
  }
  return header;
}

function errorParams(error: string, description: string | undefined): string {
  let params = `, error="${sanitizeDescription(error, 64)}"`;
  if (description) params += `, error_description="${sanitizeDescription(description)}"`;
  return params;
}

/** A space-separated list of tokens (`scope`, `acr_values`), each cut to NQCHAR; none: omitted. */
function tokenListParam(name: string, values: readonly string[]): string {
  const list = values.map(sanitizeScopeToken).filter(Boolean).join(' ');
  return list ? `, ${name}="${list}"` : '';
}

/** The parameters an error adds after `error` and `error_description`. */
function extraParams(error: OidcResourceError): string {
  if (error instanceof InsufficientScopeError || error instanceof UserInfoNotPermittedError) {
    return tokenListParam('scope', error.requiredScopes);
  }
  if (error instanceof InsufficientUserAuthenticationError) {
    // RFC 9470 §3: only what failed; `acr_values` in order of preference.
    let params = '';
    if (error.scopes) params += tokenListParam('scope', error.scopes);
    if (error.acrValues) params += tokenListParam('acr_values', error.acrValues);
    // RFC 9470 §3: a non-negative integer.
    if (Number.isSafeInteger(error.maxAge) && error.maxAge! >= 0)
      params += `, max_age="${error.maxAge}"`;
    return params;
  }
  return '';
}

/** The RFC 6750 `error` value of each code; codes without one get a bare challenge. */
const OAUTH_ERROR: Partial<Record<string, string>> = {
  invalid_request: 'invalid_request',
  invalid_token: 'invalid_token',
  token_expired: 'invalid_token',
  token_inactive: 'invalid_token',
  insufficient_scope: 'insufficient_scope',
  userinfo_not_permitted: 'insufficient_scope',
  // RFC 6750 §3.1: the request needs higher privileges; no scope would grant them.
  access_denied: 'insufficient_scope',
  insufficient_user_authentication: 'insufficient_user_authentication',
  invalid_dpop_proof: 'invalid_dpop_proof',
  use_dpop_nonce: 'use_dpop_nonce',
};

/** One challenge: scheme, realm, the error's parameters, DPoP `algs`, `resource_metadata`. */
function challenge(
  scheme: ChallengeScheme,
  context: ChallengeContext,
  status: number,
  params: string,
): string {
  let header = `${scheme} realm="${quoteRealm(context.realm)}"${params}`;
  if (scheme === 'DPoP' && context.dpop) header += `, algs="${context.dpop.algs}"`;
  // RFC 9728 §5.1: on 401 answers, where a client learns how to get a (better) token.
  if (status === 401 && context.resourceMetadata)
    header += `, resource_metadata="${sanitizeDescription(context.resourceMetadata, 2048)}"`;
  return header;
}

/** The `WWW-Authenticate` value of an error, or `undefined` when it has none (5xx). */
function challengeFor(
  error: OidcResourceError,
  context: ChallengeContext,
  scheme: ChallengeScheme,
): string | undefined {
  const status = error.status;
  if (error.code === 'token_missing') {
    // No credentials: offer every scheme this API accepts (RFC 9110 §11.6.1, RFC 9449 §7.1).
    if (!context.dpop) return challenge('Bearer', context, status, '');
    const dpop = challenge('DPoP', context, status, '');
    return context.dpop.required ? dpop : `${challenge('Bearer', context, status, '')}, ${dpop}`;
  }
  const oauthError = OAUTH_ERROR[error.code];
  if (oauthError === undefined) return undefined;
  const dpop = scheme === 'DPoP' || error.scheme === 'DPoP' || context.dpop?.required === true;
  const params = errorParams(oauthError, error.message) + extraParams(error);
  return challenge(dpop ? 'DPoP' : 'Bearer', context, status, params);
}

/** A `DPoP-Nonce` value: base64url-like characters only (RFC 9449 §8, NQCHAR). */
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]{1,512}$/;

/**
 * The one place where library errors become HTTP (RFC 6750 §3.1): status, challenge, body.
 * The `error` parameter is the RFC 6750 code (`token_expired` → `invalid_token`). The header's
 * `error_description` is the message cut down to RFC 6750's characters; the body carries the
 * readable message for 4xx answers and a generic one for 5xx answers.
 *
 * `context` is the realm, or everything the API's challenges carry; `scheme` is the scheme the
 * request used: errors on a DPoP request are answered with a DPoP challenge (RFC 9449 §7.1).
 */
export function toHttpError(
  error: OidcResourceError,
  context: string | ChallengeContext,
  scheme: ChallengeScheme = 'Bearer',
): OidcHttpError {
  const status = error.status;
  const headers: Record<string, string> = {};
  const settings = typeof context === 'string' ? { realm: context } : context;
  const header = challengeFor(error, settings, scheme);
  if (header !== undefined) headers['WWW-Authenticate'] = header;
  if (error instanceof UseDpopNonceError && NONCE.test(error.nonce))
    headers['DPoP-Nonce'] = error.nonce;
  if (error.code === 'issuer_unavailable') {
    const retryAfter = (error as { retryAfter?: number }).retryAfter;
    if (retryAfter !== undefined)
      headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfter)));
  }
  const message =
    status >= 500
      ? (GENERIC_MESSAGE[status] ?? 'Internal server error')
      : readableMessage(error.message);
  return {
    status,
    headers,
    body: { statusCode: status, message, error: REASON[status] ?? 'Error' },
  };
}
