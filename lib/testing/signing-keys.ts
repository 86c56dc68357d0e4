import {
  constants,
  createHash,
  generateKeyPair,
  sign,
  type KeyObject,
  type SignKeyObjectInput,
} from 'node:crypto';

/**
 * The test issuer's signing keys and JWS signer, on `node:crypto` alone: jose 6 is ESM-only, and
 * the CommonJS runtime of jest (a `nest new` project's default) cannot load it on Node.js 20/22,
 * so the kit must not depend on it.
 */

/** JWS algorithms the test issuer can sign with (RFC 7518 §3, RFC 8037 §3.1). */
export type TestSigningAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

interface AlgorithmSpec {
  digest: string | null;
  key: { type: 'rsa' } | { type: 'ec'; curve: string } | { type: 'ed25519' };
  pss?: true;
}

const SPECS: Readonly<Record<TestSigningAlgorithm, AlgorithmSpec>> = {
  RS256: { digest: 'sha256', key: { type: 'rsa' } },
  RS384: { digest: 'sha384', key: { type: 'rsa' } },
  RS512: { digest: 'sha512', key: { type: 'rsa' } },
  PS256: { digest: 'sha256', key: { type: 'rsa' }, pss: true },
  PS384: { digest: 'sha384', key: { type: 'rsa' }, pss: true },
  PS512: { digest: 'sha512', key: { type: 'rsa' }, pss: true },
  ES256: { digest: 'sha256', key: { type: 'ec', curve: 'P-256' } },
  ES384: { digest: 'sha384', key: { type: 'ec', curve: 'P-384' } },
  ES512: { digest: 'sha512', key: { type: 'ec', curve: 'P-521' } },
  EdDSA: { digest: null, key: { type: 'ed25519' } },
};

/** Whether `value` names an algorithm the test issuer signs with. */
export function isTestSigningAlgorithm(value: unknown): value is TestSigningAlgorithm {
  return typeof value === 'string' && Object.hasOwn(SPECS, value);
}

/** One signing key: the private half signs, the public JWK is published. */
export interface SigningKey {
  readonly alg: TestSigningAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Readonly<Record<string, unknown>>;
}

function generate(
  alg: TestSigningAlgorithm,
): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  const { key } = SPECS[alg];
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      error ? reject(error) : resolve({ publicKey, privateKey });
    if (key.type === 'rsa') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else if (key.type === 'ec') generateKeyPair('ec', { namedCurve: key.curve }, done);
    else generateKeyPair('ed25519', {}, done);
  });
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

function keyInput(alg: TestSigningAlgorithm, key: KeyObject): SignKeyObjectInput {
  const spec = SPECS[alg];
  if (spec.pss) {
    // RFC 7518 §3.5: the salt is as long as the digest.
    return {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
  }
  // RFC 7518 §3.4: an ECDSA JWS signature is R‖S, not OpenSSL's default DER.
  if (spec.key.type === 'ec') return { key, dsaEncoding: 'ieee-p1363' };
  return { key };
}

/** Signs `payload` as a compact JWS (RFC 7515 §7.1) with `header.alg`. */
export function signJws(
  key: KeyObject,
  header: { alg: TestSigningAlgorithm } & Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = sign(
    SPECS[header.alg].digest,
    Buffer.from(signingInput, 'latin1'),
    keyInput(header.alg, key),
  );
  return `${signingInput}.${signature.toString('base64url')}`;
}
