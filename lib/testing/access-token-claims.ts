import { randomUUID } from 'node:crypto';
import type { TestAccessTokenOptions } from './test-issuer.types.js';

/** Default `sub` of minted tokens. */
export const DEFAULT_SUBJECT = 'test-user';
/** Default `client_id` of minted tokens. */
export const DEFAULT_CLIENT_ID = 'test-client';
/** Default token lifetime, in seconds. */
export const DEFAULT_EXPIRES_IN = 300;

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function fail(option: string, what: string): never {
  throw new TypeError(`accessToken(): "${option}" must be ${what}`);
}

function stringList(option: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== ''))
    fail(option, 'an array of non-empty strings');
  return [...(value as string[])];
}

function audienceValue(value: unknown): string | string[] {
  if (typeof value === 'string' && value !== '') return value;
  const list = stringList('audience', value);
  if (list.length === 0) fail('audience', 'a non-empty string or array');
  return list.length === 1 ? list[0]! : list;
}

/** What minting needs besides the caller's options. */
export interface ClaimsContext {
  issuer: string;
  /** The issuer's clock, ms since the epoch. */
  now: number;
  defaultAudience: string | readonly string[];
}

/**
 * The claims of an access token (RFC 9068 §2.2): `iss`, `aud`, `sub`, `client_id`, `iat`, `exp`,
 * `jti`, `scope`, then `roles`, `acr`, `auth_time`, `cnf.jkt` and `cnf["x5t#S256"]` when asked for, then
 * `options.claims` (a member set to `undefined` removes the claim).
 * @throws TypeError for malformed options
 */
export function accessTokenClaims(
  options: TestAccessTokenOptions,
  context: ClaimsContext,
): Record<string, unknown> {
  if (typeof options !== 'object' || options === null) fail('options', 'an object');
  const { sub = DEFAULT_SUBJECT, clientId = DEFAULT_CLIENT_ID } = options;
  if (typeof sub !== 'string' || sub === '') fail('sub', 'a non-empty string');
  if (typeof clientId !== 'string' || clientId === '') fail('clientId', 'a non-empty string');
  const scopes = stringList('scopes', options.scopes ?? []);
  if (!scopes.every((scope) => SCOPE_TOKEN.test(scope)))
    fail('scopes', 'RFC 6749 scope tokens (no spaces, quotes or backslashes)');
  const expiresIn = options.expiresIn ?? DEFAULT_EXPIRES_IN;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn))
    fail('expiresIn', 'a finite number of seconds');

  const now = Math.floor(context.now / 1000);
  const exp = now + Math.trunc(expiresIn);
  const claims: Record<string, unknown> = {
    iss: context.issuer,
    aud: audienceValue(options.audience ?? context.defaultAudience),
    sub,
    client_id: clientId,
    // An already-expired token was issued before it expired.
    iat: Math.min(now, exp - 1),
    exp,
    jti: randomUUID(),
  };
  if (scopes.length > 0) claims.scope = scopes.join(' ');
  if (options.roles !== undefined) claims.roles = stringList('roles', options.roles);
  if (options.acr !== undefined) {
    if (typeof options.acr !== 'string' || options.acr === '') fail('acr', 'a non-empty string');
    claims.acr = options.acr;
  }
  if (options.authTime !== undefined) claims.auth_time = authTime(options.authTime);
  if (options.jkt !== undefined) {
    if (typeof options.jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(options.jkt))
      fail('jkt', 'an RFC 7638 SHA-256 thumbprint (43 base64url characters)');
    claims.cnf = { jkt: options.jkt };
  }
  if (options.x5tS256 !== undefined) {
    if (typeof options.x5tS256 !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(options.x5tS256))
      fail('x5tS256', 'a SHA-256 certificate thumbprint (43 base64url characters)');
    claims.cnf = { ...(claims.cnf as object | undefined), 'x5t#S256': options.x5tS256 };
  }
  const extra = options.claims ?? {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
    fail('claims', 'an object');
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

function authTime(value: unknown): number {
  // Not `instanceof`: a test runner may hand over a Date from another realm (jest's vm contexts).
  if (Object.prototype.toString.call(value) === '[object Date]') {
    const time = (value as Date).getTime();
    if (Number.isFinite(time)) return Math.floor(time / 1000);
  }
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value);
  fail('authTime', 'a valid Date or seconds since the epoch');
}
