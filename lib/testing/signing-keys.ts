import { createHash, type KeyObject } from 'node:crypto';
import { generateKeyPair, type KeyPair } from './key-pair.js';

/**
 * The test issuer's signing keys, on `node:crypto` alone (JWS signing is the library's own
 * `signJws`): jose 6 is ESM-only, and the CommonJS runtime of jest (a `nest new` project's
 * default) cannot load it on Node.js 20/22, so the kit must not depend on it.
 */

/** JWS algorithms the test issuer can sign with (RFC 7518 §3, RFC 8037 §3.1). */
export type TestSigningAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** The key pair each algorithm needs. */
const KEY_TYPES: Readonly<
  Record<
    TestSigningAlgorithm,
    { type: 'rsa' } | { type: 'ec'; curve: string } | { type: 'ed25519' }
  >
> = {
  RS256: { type: 'rsa' },
  RS384: { type: 'rsa' },
  RS512: { type: 'rsa' },
  PS256: { type: 'rsa' },
  PS384: { type: 'rsa' },
  PS512: { type: 'rsa' },
  ES256: { type: 'ec', curve: 'P-256' },
  ES384: { type: 'ec', curve: 'P-384' },
  ES512: { type: 'ec', curve: 'P-521' },
  EdDSA: { type: 'ed25519' },
};

/** Whether `value` names an algorithm the test issuer signs with. */
export function isTestSigningAlgorithm(value: unknown): value is TestSigningAlgorithm {
  return typeof value === 'string' && Object.hasOwn(KEY_TYPES, value);
}

/** One signing key: the private half signs, the public JWK is published. */
export interface SigningKey {
  readonly alg: TestSigningAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Readonly<Record<string, unknown>>;
}

function generate(alg: TestSigningAlgorithm): Promise<KeyPair> {
  const key = KEY_TYPES[alg];
  if (key.type === 'rsa') return generateKeyPair('rsa', { modulusLength: 2048 });
  if (key.type === 'ec') return generateKeyPair('ec', { namedCurve: key.curve });
  return generateKeyPair('ed25519');
}

/** RFC 7638 JWK thumbprint (SHA-256): the required members, in lexicographic order. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const members: Record<string, readonly string[]> = {
    RSA: ['e', 'kty', 'n'],
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
  };
  const names = members[String(jwk.kty)];
  if (!names) throw new TypeError(`no thumbprint for key type ${String(jwk.kty)}`);
  const canonical = JSON.stringify(Object.fromEntries(names.map((name) => [name, jwk[name]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A fresh key pair for `alg`; its `kid` is its RFC 7638 thumbprint unless one is given. */
export async function generateSigningKey(
  alg: TestSigningAlgorithm,
  kid?: string,
): Promise<SigningKey> {
  const { publicKey, privateKey } = await generate(alg);
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const id = kid ?? jwkThumbprint(jwk);
  return Object.freeze({
    alg,
    kid: id,
    privateKey,
    publicJwk: Object.freeze({ ...jwk, kid: id, alg, use: 'sig' }),
  });
}
