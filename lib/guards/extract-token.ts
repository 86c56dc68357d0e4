import type { IncomingMessage } from 'node:http';
import {
  InvalidDpopProofError,
  InvalidRequestError,
  InvalidTokenError,
  type OidcResourceError,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';

/** Where a request's access token was found, or why the request is malformed. */
export interface TokenExtraction {
  token?: string;
  error?: OidcResourceError;
  fromQuery?: boolean;
  /** The token came as `Authorization: DPoP …` (only read when DPoP is on). */
  scheme?: 'DPoP';
  /** The request's one `DPoP` proof header, with the DPoP scheme. */
  proof?: string;
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
 *
 * With `dpop`, `Authorization: DPoP <token>` is read too (RFC 9449 §7.1), with exactly one
 * `DPoP` proof header (§4.3 step 1); a `DPoP` header beside a bearer token is refused, since
 * the client meant to prove possession of a key that a bearer request cannot use.
 */
export function extractToken(
  raw: IncomingMessage,
  body: unknown,
  allowQueryToken: boolean,
  dpop = false,
): TokenExtraction {
  let header: string | undefined;
  let proof: string | undefined;
  let proofs = 0;
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
    } else if (dpop && name.length === 4 && name.toLowerCase() === 'dpop') {
      proofs++;
      proof = rawHeaders[i + 1]!;
    }
  }

  let token: string | undefined;
  let isDpop = false;
  if (header !== undefined) {
    const value = header.trim();
    const space = value.indexOf(' ');
    const end = space === -1 ? value.length : space;
    // The scheme is compared in place, case-insensitively: no per-request copies of it.
    const bearer = end === 6 && schemeIs(value, 'bearer');
    if (bearer || (dpop && end === 4 && schemeIs(value, 'dpop'))) {
      isDpop = !bearer;
      const name = isDpop ? 'DPoP' : 'Bearer';
      let start = end + 1;
      while (start < value.length && value.charCodeAt(start) === 0x20) start++;
      const credentials = space === -1 ? '' : value.slice(start);
      if (credentials.length === 0)
        return invalid('request_malformed', `The ${name} credentials are empty`);
      if (!B64TOKEN.test(credentials))
        return invalid(
          'request_malformed',
          `The ${name} token is not a valid b64token (RFC 6750 section 2.1)`,
        );
      token = credentials;
    }
  }
  if (isDpop || (proofs > 0 && token !== undefined)) {
    const problem = dpopProblem(isDpop, proofs);
    if (problem) return { error: problem };
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
  return isDpop ? { token, scheme: 'DPoP', proof } : { token };
}

/**
 * Whether `value` starts with `scheme` (lower-case ASCII letters), in any case. For these letters
 * `c | 0x20` is the lower-case form of exactly the two ASCII spellings; no other character
 * lower-cases to them, so this agrees with `toLowerCase()`.
 */
function schemeIs(value: string, scheme: string): boolean {
  for (let i = 0; i < scheme.length; i++) {
    if ((value.charCodeAt(i) | 0x20) !== scheme.charCodeAt(i)) return false;
  }
  return true;
}

/** A DPoP request needs exactly one proof; a proof without the DPoP scheme is a mistake. */
function dpopProblem(isDpop: boolean, proofs: number): OidcResourceError | undefined {
  if (!isDpop) {
    return new InvalidTokenError(
      'A DPoP proof was sent with a bearer token: send the token with the DPoP scheme',
      { reason: 'dpop_proof_unexpected', scheme: 'DPoP' },
    );
  }
  if (proofs === 0)
    return new InvalidDpopProofError('The request has no DPoP proof', {
      reason: 'dpop_proof_missing',
    });
  if (proofs > 1)
    return new InvalidDpopProofError('The request has more than one DPoP proof', {
      reason: 'dpop_proof_duplicated',
    });
  return undefined;
}
