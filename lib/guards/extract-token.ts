import type { IncomingMessage } from 'node:http';
import {
  InvalidRequestError,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';

/** Where a request's access token was found, or why the request is malformed. */
export interface TokenExtraction {
  token?: string;
  error?: InvalidRequestError;
  fromQuery?: boolean;
}

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
export const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const NONE: TokenExtraction = Object.freeze({});

function invalid(reason: OidcResourceErrorReason, message: string): TokenExtraction {
  return { error: new InvalidRequestError(message, { reason }) };
}

/** RFC 6750 §2.2: only an `application/x-www-form-urlencoded` body is a way of sending a token. */
function hasBodyToken(raw: IncomingMessage, body: unknown): boolean {
  if (
    typeof body !== 'object' ||
    body === null ||
    !Object.prototype.hasOwnProperty.call(body, 'access_token')
  ) {
    return false;
  }
  const type = raw.headers['content-type'];
  return (
    typeof type === 'string' && type.toLowerCase().startsWith('application/x-www-form-urlencoded')
  );
}

/**
 * Finds the access token of a request, strictly per RFC 6750 §2:
 * - the `Authorization: Bearer` header (scheme case-insensitive, `1*SP`, b64token syntax);
 *   two `Authorization` fields are malformed (Node keeps only the first in `req.headers`,
 *   so the raw header list is read);
 * - `?access_token=` only when allowed; otherwise it is `invalid_request`. The query is form
 *   encoded, so a percent-encoded name (`access%5Ftoken`) is the same parameter, as it is to
 *   every query parser the app itself uses;
 * - a form-body `access_token` is never read, but a token sent in two ways is `invalid_request`
 *   (a JSON body that happens to have an `access_token` field is not a token transmission).
 * Another scheme (`Basic …`) is "no bearer credentials", answered with a bare challenge.
 */
export function extractToken(
  raw: IncomingMessage,
  body: unknown,
  allowQueryToken: boolean,
): TokenExtraction {
  let header: string | undefined;
  const rawHeaders = raw.rawHeaders;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (header !== undefined)
        return invalid(
          'authorization_duplicated',
          'The request has more than one Authorization header',
        );
      header = rawHeaders[i + 1]!;
    }
  }

  let token: string | undefined;
  if (header !== undefined) {
    const value = header.trim();
    const space = value.indexOf(' ');
    const scheme = space === -1 ? value : value.slice(0, space);
    if (scheme.length === 6 && scheme.toLowerCase() === 'bearer') {
      const credentials = space === -1 ? '' : value.slice(space + 1).replace(/^ +/, '');
      if (credentials.length === 0)
        return invalid('request_malformed', 'The Bearer credentials are empty');
      if (!B64TOKEN.test(credentials))
        return invalid(
          'request_malformed',
          'The Bearer token is not a valid b64token (RFC 6750 section 2.1)',
        );
      token = credentials;
    }
  }

  const url = raw.url ?? '';
  const queryStart = url.indexOf('?');
  // Parsing is skipped for queries that cannot name the parameter: neither the plain name nor
  // any percent-encoding (which may spell it, e.g. "access%5Ftoken").
  if (
    queryStart !== -1 &&
    (url.includes('access_token', queryStart) || url.includes('%', queryStart))
  ) {
    const values = new URLSearchParams(url.slice(queryStart + 1)).getAll('access_token');
    if (values.length > 0) {
      if (!allowQueryToken)
        return invalid(
          'query_token_not_allowed',
          'Access tokens in the query string are not accepted',
        );
      if (values.length > 1 || token !== undefined || hasBodyToken(raw, body)) {
        return invalid('token_sent_twice', 'The access token was sent in more than one way');
      }
      const value = values[0]!;
      if (!B64TOKEN.test(value))
        return invalid('request_malformed', 'The access_token parameter is not a valid b64token');
      return { token: value, fromQuery: true };
    }
  }
  if (token === undefined) return NONE;
  if (hasBodyToken(raw, body))
    return invalid('token_sent_twice', 'The access token was sent in more than one way');
  return { token };
}
