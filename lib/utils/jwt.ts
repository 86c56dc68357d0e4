import type { KeyObject } from 'node:crypto';
import { decodeJsonSegment, parseCompactJws, verifyJwsSignature } from './jws.js';

/** Why a JWT was refused; deliberately not an `OidcResourceError` (callers decide what it means). */
export class JwtVerificationError extends Error {
  override readonly name = 'JwtVerificationError';
}

/** What `verifySignedJwt` checks besides the signature. */
export interface SignedJwtChecks {
  /** The only acceptable `alg` values. */
  algorithms: readonly string[];
  /** `iss` must equal it (and be present). */
  issuer: string;
  /** When set, `aud` (a string or an array) must include it (and be present). */
  audience?: string;
  /** Claims that must be present. */
  requiredClaims?: readonly string[];
  /** Seconds of leeway for `exp` and `nbf`. */
  clockTolerance: number;
  /** The current time in milliseconds since the epoch. */
  now: number;
}

/**
 * Verifies a compact JWS-signed JWT (RFC 7519 §7.2) and returns its claims: the header (`alg`
 * allowed, no `crit`), the signature under the key `getKey` picks for the header, then the
 * claims (presence, `iss`, `aud`, `exp`, `nbf`, and `iat` a number when present), with the
 * same comparisons as jose's `jwtVerify`.
 *
 * Errors from `getKey` pass through unchanged; every other refusal is a `JwtVerificationError`.
 */
export async function verifySignedJwt(
  jwt: string,
  getKey: (header: { alg: string; kid?: string }) => Promise<KeyObject>,
  checks: SignedJwtChecks,
): Promise<Record<string, unknown>> {
  const jws = parseCompactJws(jwt);
  if (!jws) throw new JwtVerificationError('The JWT is malformed');
  const { header } = jws;
  const alg = header.alg;
  if (typeof alg !== 'string' || !checks.algorithms.includes(alg))
    throw new JwtVerificationError('The JWT "alg" is missing or not allowed');
  // RFC 7515 §4.1.11: extensions not understood must be refused; none is understood here.
  if (header.crit !== undefined)
    throw new JwtVerificationError('The JWT uses an unsupported JOSE feature');
  const key = await getKey(header as { alg: string; kid?: string });
  if (!verifyJwsSignature(alg, key, jws.signingInput, jws.signature))
    throw new JwtVerificationError('The JWT signature is invalid');
  const claims = decodeJsonSegment(jws.payloadSegment);
  if (!claims) throw new JwtVerificationError('The JWT claims set is not a JSON object');
  checkClaims(claims, checks);
  return claims;
}

function checkClaims(claims: Record<string, unknown>, checks: SignedJwtChecks): void {
  const required = new Set([
    ...(checks.requiredClaims ?? []),
    'iss',
    ...(checks.audience !== undefined ? ['aud'] : []),
  ]);
  for (const name of required) {
    if (!Object.hasOwn(claims, name))
      throw new JwtVerificationError(`The JWT lacks the "${name}" claim`);
  }
  if (claims.iss !== checks.issuer) throw new JwtVerificationError('The JWT "iss" is unexpected');
  const audience = checks.audience;
  if (audience !== undefined) {
    const aud = claims.aud;
    const ok =
      typeof aud === 'string' ? aud === audience : Array.isArray(aud) && aud.includes(audience);
    if (!ok) throw new JwtVerificationError('The JWT "aud" is unexpected');
  }
  const now = Math.floor(checks.now / 1000);
  const tolerance = checks.clockTolerance;
  const numeric = (name: 'iat' | 'nbf' | 'exp') => {
    const value = claims[name];
    if (value !== undefined && typeof value !== 'number')
      throw new JwtVerificationError(`The JWT "${name}" is not a number`);
    return value;
  };
  numeric('iat');
  const nbf = numeric('nbf');
  if (nbf !== undefined && nbf > now + tolerance)
    throw new JwtVerificationError('The JWT is not valid yet (nbf)');
  const exp = numeric('exp');
  if (exp !== undefined && exp <= now - tolerance)
    throw new JwtVerificationError('The JWT has expired (exp)');
}
