import type { OidcResourceError } from '../errors/oidc-resource.error.js';
import {
  toHttpError,
  type ChallengeContext,
  type OidcHttpError,
} from '../errors/www-authenticate.js';

/**
 * An RFC 6750 error as data, for transports that have no `WWW-Authenticate` header to carry
 * it (GraphQL `extensions.oauth`, WebSocket and microservice errors).
 */
export interface OAuthErrorDetails {
  /**
   * `invalid_request`, `invalid_token` or `insufficient_scope` (RFC 6750 §3.1), or
   * `temporarily_unavailable` / `server_error` (RFC 6749 §4.1.2.1) when the fault is on the
   * server's side. A missing token is `invalid_token`: the client needs (another) token.
   */
  error: string;
  /** Readable text; never the token, and generic for server-side failures. */
  error_description: string;
  /** The scopes the handler requires, space-separated, when a scope was missing. */
  scope?: string;
  /** `insufficient_user_authentication` (RFC 9470 §3): the acceptable `acr` values, space-separated. */
  acr_values?: string;
  /** `insufficient_user_authentication` (RFC 9470 §3): the most seconds since the user's login. */
  max_age?: number;
}

/** An {@link OidcResourceError} as a transport answers it: status, challenge and details. */
export interface TransportRefusal {
  http: OidcHttpError;
  oauth: OAuthErrorDetails;
}

const CHALLENGE_ERROR = /error="([^"]*)"/;
const CHALLENGE_SCOPE = /scope="([^"]*)"/;
const CHALLENGE_ACR_VALUES = /acr_values="([^"]*)"/;
const CHALLENGE_MAX_AGE = /max_age="(\d+)"/;

/** Same status, challenge and wording as the HTTP answer; derived from it, never apart. */
export function refusalOf(
  error: OidcResourceError,
  context: string | ChallengeContext,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
): TransportRefusal {
  const http = toHttpError(error, context, scheme);
  const challenge = http.headers['WWW-Authenticate'] ?? '';
  let code = CHALLENGE_ERROR.exec(challenge)?.[1];
  if (code === undefined)
    code =
      http.status === 401
        ? 'invalid_token'
        : http.status === 503
          ? 'temporarily_unavailable'
          : 'server_error';
  const oauth: OAuthErrorDetails = { error: code, error_description: http.body.message };
  const scope = CHALLENGE_SCOPE.exec(challenge)?.[1];
  if (scope) oauth.scope = scope;
  const acrValues = CHALLENGE_ACR_VALUES.exec(challenge)?.[1];
  if (acrValues) oauth.acr_values = acrValues;
  const maxAge = CHALLENGE_MAX_AGE.exec(challenge)?.[1];
  if (maxAge !== undefined) oauth.max_age = Number(maxAge);
  return { http, oauth };
}

/** The GraphQL `extensions.code` of an answer's HTTP status. */
export function graphqlCode(status: number): string {
  if (status === 400 || status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 503) return 'SERVICE_UNAVAILABLE';
  return 'INTERNAL_SERVER_ERROR';
}
