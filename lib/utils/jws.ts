import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
  type SignKeyObjectInput,
} from 'node:crypto';

/**
 * JWS signatures (RFC 7515 compact serialization, RFC 7518 §3, RFC 8037 §3.1) with synchronous
 * `node:crypto`, checked and made from one table of algorithms.
 *
 * Why not jose's `jwtVerify` on the per-token path: jose 6 verifies through WebCrypto, which in
 * Node.js is an asynchronous job on the libuv thread pool. For RS256 that costs about 170 µs of
 * CPU per token one at a time (about 72 µs with ten in flight), against about 34 µs for
 * `crypto.verify`, the same OpenSSL call without the job and argument-conversion overhead
 * (`npm run bench`).
 *
 * Why no jose at runtime at all: jose 6 is ESM-only, and jest's CommonJS runtime (the default of
 * a `nest new` app) cannot `require()` it on Node.js 20 or 22. The `private_key_jwt` client
 * assertion is signed here too (`signJws`), and signed UserInfo answers go through
 * `verifySignedJwt` (jwt.ts).
 */

/** How `crypto.verify` checks one JWS algorithm. */
interface AlgorithmSpec {
  /** The digest, or `null` for EdDSA (the digest is part of the algorithm). */
  digest: string | null;
  /** `asymmetricKeyType` the key must have. */
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** RSASSA-PSS (RFC 7518 §3.5): salt as long as the digest. */
  pss?: true;
  /** ECDSA: the named curve and the exact length of the R‖S signature (RFC 7518 §3.4). */
  curve?: string;
  signatureLength?: number;
  /** The JWK that can hold such a key (RFC 7518 §6, RFC 8037 §2): its `kty`, and `crv` if any. */
  jwk: { kty: 'RSA' | 'EC' | 'OKP'; crv?: string };
}

const RSA = { kty: 'RSA' } as const;
const ED25519 = { kty: 'OKP', crv: 'Ed25519' } as const;

const SPECS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: { digest: 'sha256', keyType: 'rsa', jwk: RSA },
  RS384: { digest: 'sha384', keyType: 'rsa', jwk: RSA },
  RS512: { digest: 'sha512', keyType: 'rsa', jwk: RSA },
  PS256: { digest: 'sha256', keyType: 'rsa', pss: true, jwk: RSA },
  PS384: { digest: 'sha384', keyType: 'rsa', pss: true, jwk: RSA },
  PS512: { digest: 'sha512', keyType: 'rsa', pss: true, jwk: RSA },
  ES256: {
    digest: 'sha256',
    keyType: 'ec',
    curve: 'prime256v1',
    signatureLength: 64,
    jwk: { kty: 'EC', crv: 'P-256' },
  },
  ES384: {
    digest: 'sha384',
    keyType: 'ec',
    curve: 'secp384r1',
    signatureLength: 96,
    jwk: { kty: 'EC', crv: 'P-384' },
  },
  ES512: {
    digest: 'sha512',
    keyType: 'ec',
    curve: 'secp521r1',
    signatureLength: 132,
    jwk: { kty: 'EC', crv: 'P-521' },
  },
  EdDSA: { digest: null, keyType: 'ed25519', jwk: ED25519 },
  Ed25519: { digest: null, keyType: 'ed25519', jwk: ED25519 },
};

/** Whether a JWK is of the type and curve a JWS algorithm needs; unknown algorithms fit nothing. */
export function jwkFitsAlgorithm(jwk: { kty?: unknown; crv?: unknown }, alg: string): boolean {
  const wanted = Object.hasOwn(SPECS, alg) ? SPECS[alg]!.jwk : undefined;
  return (
    wanted !== undefined &&
    jwk.kty === wanted.kty &&
    (wanted.crv === undefined || jwk.crv === wanted.crv)
  );
}

/** RFC 7518 §3.3/§3.5: RSA keys of fewer bits must not be used. */
export const MIN_RSA_MODULUS_BITS = 2048;

/** Thrown for keys that cannot verify the algorithm they were selected for. */
export class UnusableKeyError extends Error {
  override readonly name = 'UnusableKeyError';
}

function specFor(alg: string): AlgorithmSpec {
  const spec = SPECS[alg];
  if (!spec) throw new UnusableKeyError(`"${alg}" is not a supported JWS algorithm`);
  return spec;
}

/** Key type, curve, and an RSA modulus of at least 2048 bits. */
function checkSuits(key: KeyObject, spec: AlgorithmSpec, alg: string): KeyObject {
  if (key.asymmetricKeyType !== spec.keyType)
    throw new UnusableKeyError(`The key type does not suit ${alg}`);
  const details = key.asymmetricKeyDetails ?? {};
  if (spec.curve !== undefined && details.namedCurve !== spec.curve)
    throw new UnusableKeyError(`The key's curve does not suit ${alg}`);
  if (spec.keyType === 'rsa' && !((details.modulusLength ?? 0) >= MIN_RSA_MODULUS_BITS))
    throw new UnusableKeyError(`RSA keys must have at least ${MIN_RSA_MODULUS_BITS} bits`);
  return key;
}

/** The `node:crypto` sign/verify options of `alg` for `key`. */
function keyInput(spec: AlgorithmSpec, key: KeyObject): SignKeyObjectInput {
  if (spec.pss) {
    return {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
  }
  if (spec.signatureLength !== undefined) return { key, dsaEncoding: 'ieee-p1363' };
  return { key };
}

/**
 * Imports a public JWK for `alg` and checks that the key suits it: key type, curve, and an RSA
 * modulus of at least 2048 bits.
 * @throws UnusableKeyError
 */
export function importPublicJwk(jwk: JsonWebKey, alg: string): KeyObject {
  const spec = specFor(alg);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new UnusableKeyError('The JWK is not a valid public key', { cause });
  }
  return checkSuits(key, spec, alg);
}

/**
 * Imports a private key (a JWK with `d`, or a private `KeyObject`) to sign with `alg`, with the
 * same checks as `importPublicJwk`. A JWK whose `key_ops` leave out `sign` is refused.
 * @throws UnusableKeyError
 */
export function importPrivateKey(key: JsonWebKey | KeyObject, alg: string): KeyObject {
  const spec = specFor(alg);
  let imported: KeyObject;
  if (isKeyObject(key)) {
    imported = key;
  } else {
    if (Array.isArray(key.key_ops) && !key.key_ops.includes('sign'))
      throw new UnusableKeyError('The JWK\'s "key_ops" do not include "sign"');
    try {
      imported = createPrivateKey({ key, format: 'jwk' });
    } catch (cause) {
      throw new UnusableKeyError('The JWK is not a valid private key', { cause });
    }
  }
  if (imported.type !== 'private') throw new UnusableKeyError('Signing needs a private key');
  return checkSuits(imported, spec, alg);
}

function isKeyObject(key: JsonWebKey | KeyObject): key is KeyObject {
  return typeof (key as KeyObject).export === 'function' && 'asymmetricKeyType' in key;
}

/**
 * Signs `payload` as a compact JWS (RFC 7515 §7.1) with `header.alg`, under a key from
 * `importPrivateKey`. ECDSA signatures are in the JOSE R‖S form (RFC 7518 §3.4).
 * @throws UnusableKeyError when the algorithm is not supported or the key does not suit it
 */
export function signJws(
  key: KeyObject,
  header: { alg: string } & Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const spec = specFor(header.alg);
  if (key.type !== 'private') throw new UnusableKeyError('Signing needs a private key');
  checkSuits(key, spec, header.alg);
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = sign(spec.digest, Buffer.from(signingInput, 'latin1'), keyInput(spec, key));
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * Whether `signature` is `alg`'s signature of `signingInput` (the ASCII `header.payload` of a
 * compact JWS) under `key`. A key that does not suit `alg` never verifies.
 */
export function verifyJwsSignature(
  alg: string,
  key: KeyObject,
  signingInput: string,
  signature: Buffer,
): boolean {
  const spec = SPECS[alg];
  if (!spec || key.type !== 'public' || key.asymmetricKeyType !== spec.keyType) return false;
  if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) return false;
  try {
    return verify(spec.digest, Buffer.from(signingInput, 'latin1'), keyInput(spec, key), signature);
  } catch {
    return false; // e.g. a curve mismatch OpenSSL refuses outright
  }
}

/** The parts of a compact JWS (RFC 7515 §7.1); `header` is the decoded protected header. */
export interface CompactJws {
  header: Record<string, unknown>;
  payloadSegment: string;
  signingInput: string;
  signature: Buffer;
}

const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** Decodes a base64url segment holding a JSON object, or `undefined`. */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits and decodes a compact JWS with a non-empty payload and signature, or `undefined`.
 * `decodedHeader` is the first segment already decoded by the caller, so it is not decoded twice.
 */
export function parseCompactJws(
  token: string,
  decodedHeader?: Record<string, unknown>,
): CompactJws | undefined {
  const match = COMPACT_JWS.exec(token);
  if (!match) return undefined;
  const header = decodedHeader ?? decodeJsonSegment(match[1]!);
  if (!header) return undefined;
  const signature = Buffer.from(match[3]!, 'base64url');
  // base64url leaves spare bits in a last partial group, which decoders ignore: refuse any
  // encoding but the canonical one, so that one signature has one spelling (RFC 7515 §2).
  if (signature.toString('base64url') !== match[3]) return undefined;
  return {
    header,
    payloadSegment: match[2]!,
    signingInput: token.slice(0, match[1]!.length + 1 + match[2]!.length),
    signature,
  };
}
