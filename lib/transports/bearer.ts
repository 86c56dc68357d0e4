import { InvalidRequestError } from '../errors/oidc-resource.error.js';
import { B64TOKEN, type TokenExtraction } from '../guards/extract-token.js';

const NONE: TokenExtraction = Object.freeze({});
const BEARER = /^bearer +/i;

function invalid(message: string, reason: 'request_malformed' | 'authorization_duplicated') {
  return { error: new InvalidRequestError(message, { reason }) };
}

/**
 * A token given as a value rather than a header (socket.io `auth.token`, a microservice
 * message): a string, with or without the `Bearer ` scheme, in RFC 6750 b64token syntax.
 */
export function bearerValue(value: unknown, what: string): TokenExtraction {
  if (value === undefined || value === null) return NONE;
  if (typeof value !== 'string') return invalid(`${what} must be a string`, 'request_malformed');
  const token = value.trim().replace(BEARER, '');
  if (token.length === 0) return invalid(`${what} is empty`, 'request_malformed');
  if (!B64TOKEN.test(token))
    return invalid(`${what} is not a valid b64token (RFC 6750 section 2.1)`, 'request_malformed');
  return { token };
}

/**
 * graphql-ws `connectionParams`: the `Authorization` member, its name in any case, holding
 * `Bearer <token>`. Two members whose names differ only in case are two tokens. Another
 * scheme is no bearer token, as in an HTTP header.
 */
export function readBearer(params: unknown): TokenExtraction {
  if (typeof params !== 'object' || params === null) return NONE;
  let header: unknown;
  let found = false;
  // Scanning every key is linear in a payload that was parsed from JSON anyway.
  for (const key in params) {
    if (key.length !== 13 || key.toLowerCase() !== 'authorization') continue;
    if (found)
      return invalid(
        'connectionParams has more than one Authorization',
        'authorization_duplicated',
      );
    found = true;
    header = (params as Record<string, unknown>)[key];
  }
  if (!found) return NONE;
  if (typeof header !== 'string')
    return invalid('connectionParams.Authorization must be a string', 'request_malformed');
  if (!BEARER.test(header.trim())) return NONE;
  return bearerValue(header, 'connectionParams.Authorization');
}
