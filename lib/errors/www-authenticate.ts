import {
  InsufficientScopeError,
  type OidcResourceError,
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
    header += `, error="${sanitizeDescription(error, 64)}"`;
    if (description) header += `, error_description="${sanitizeDescription(description)}"`;
    if (scopes && scopes.length > 0) {
      const list = scopes.map(sanitizeScopeToken).filter(Boolean).join(' ');
      header += `, scope="${list}"`;
    }
  }
  return header;
}

/**
 * The one place where library errors become HTTP (RFC 6750 §3.1): status, challenge, body.
 * The `error` parameter is the RFC 6750 code (`token_expired` → `invalid_token`). The header's
 * `error_description` is the message cut down to RFC 6750's characters; the body carries the
 * readable message for 4xx answers and a generic one for 5xx answers.
 */
export function toHttpError(error: OidcResourceError, realm: string): OidcHttpError {
  const status = error.status;
  const headers: Record<string, string> = {};
  switch (error.code) {
    case 'token_missing':
      headers['WWW-Authenticate'] = bearerChallenge(realm);
      break;
    case 'invalid_request':
      headers['WWW-Authenticate'] = bearerChallenge(realm, 'invalid_request', error.message);
      break;
    case 'invalid_token':
    case 'token_expired':
    case 'token_inactive':
      headers['WWW-Authenticate'] = bearerChallenge(realm, 'invalid_token', error.message);
      break;
    case 'insufficient_scope':
    case 'userinfo_not_permitted': {
      const scopes =
        error instanceof InsufficientScopeError || error instanceof UserInfoNotPermittedError
          ? error.requiredScopes
          : [];
      headers['WWW-Authenticate'] = bearerChallenge(
        realm,
        'insufficient_scope',
        error.message,
        scopes,
      );
      break;
    }
    case 'access_denied':
      // RFC 6750 §3.1: the request needs higher privileges; no scope would grant them.
      headers['WWW-Authenticate'] = bearerChallenge(realm, 'insufficient_scope', error.message);
      break;
    case 'issuer_unavailable': {
      const retryAfter = (error as { retryAfter?: number }).retryAfter;
      if (retryAfter !== undefined)
        headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfter)));
      break;
    }
    default:
      break;
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
