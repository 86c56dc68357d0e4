import { hash } from 'node:crypto';

/**
 * The members that define a public key of each `kty`, in the lexicographic order RFC 7638 §3.2
 * hashes them (RFC 7638 §3.2.1 for EC and RSA, RFC 8037 §2 for OKP).
 */
const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 JWK SHA-256 thumbprint (base64url), as carried by `cnf.jkt` (RFC 9449 §6), or
 * `undefined` when a required member is missing or not a string. Only the required members are
 * hashed, so optional ones (`kid`, `use`, `alg`…) never change it.
 * @see RFC 7638 §3
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const kty = jwk.kty;
  if (typeof kty !== 'string' || !Object.hasOwn(REQUIRED_MEMBERS, kty)) return undefined;
  let json = '{';
  for (const name of REQUIRED_MEMBERS[kty]!) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    // JSON.stringify escapes exactly as RFC 7638 §3.3 asks (no whitespace, RFC 8259 strings).
    json += `${json.length > 1 ? ',' : ''}"${name}":${JSON.stringify(value)}`;
  }
  return hash('sha256', `${json}}`, 'base64url');
}
