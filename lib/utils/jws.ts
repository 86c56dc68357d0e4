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
}

const SPECS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: { digest: 'sha256', keyType: 'rsa' },
  RS384: { digest: 'sha384', keyType: 'rsa' },
  RS512: { digest: 'sha512', keyType: 'rsa' },
  PS256: { digest: 'sha256', keyType: 'rsa', pss: true },
  PS384: { digest: 'sha384', keyType: 'rsa', pss: true },
  PS512: { digest: 'sha512', keyType: 'rsa', pss: true },
  ES256: { digest: 'sha256', keyType: 'ec', curve: 'prime256v1', signatureLength: 64 },
  ES384: { digest: 'sha384', keyType: 'ec', curve: 'secp384r1', signatureLength: 96 },
  ES512: { digest: 'sha512', keyType: 'ec', curve: 'secp521r1', signatureLength: 132 },
  EdDSA: { digest: null, keyType: 'ed25519' },
  Ed25519: { digest: null, keyType: 'ed25519' },
};

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

/** ECDSA group orders n (SEC 2 §2.4.2, §2.5.1, §2.6.1) by length of the base64url R‖S segment. */
const ECDSA_ORDERS: ReadonlyArray<{ chars: number; n: Buffer; half: Buffer }> = [
  // P-256 (ES256): 64-byte signature, 86 characters.
  [86, 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'],
  // P-384 (ES384): 96 bytes, 128 characters.
  [
    128,
    'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
  ],
  // P-521 (ES512): 132 bytes, 176 characters.
  [
    176,
    '01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
  ],
].map(([chars, hex]) => {
  const size = (hex as string).length / 2;
  const toBuffer = (v: bigint) => Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');
  const n = BigInt(`0x${hex as string}`);
  return { chars: chars as number, n: toBuffer(n), half: toBuffer(n / 2n) };
});

/** base64url character code → 6-bit value, or -1. */
const BASE64URL = new Int8Array(128).fill(-1);
for (const [i, c] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
].entries())
  BASE64URL[c.charCodeAt(0)] = i;

/** Byte `k` of the base64url text that starts at `start` in `text`, or -1 if not base64url. */
function byteAt(text: string, start: number, k: number): number {
  const bit = 8 * k;
  const i = (bit / 6) | 0;
  const hi = BASE64URL[text.charCodeAt(start + i)] ?? -1;
  const lo = BASE64URL[text.charCodeAt(start + i + 1)] ?? -1;
  if (hi < 0 || lo < 0) return -1;
  return (((hi << 6) | lo) >> (4 - (bit - 6 * i))) & 0xff;
}

/**
 * The one spelling of a token that its cache entries are keyed on.
 *
 * An ECDSA signature (R, S) has a twin, (R, n − S), that verifies just as well: `crypto.verify`
 * (OpenSSL) accepts both. So anyone holding a valid ES256/384/512 token can write a second
 * valid string for it, which would get its own cache entry, its own negative-cache slot, and
 * escape an `evict()` of the first. Refusing the high-S form is not an option: signers do not
 * normalise S (Java's, Go's and OpenSSL's ECDSA among them, so Keycloak's ES256 tokens are
 * high-S about half the time). Instead both spellings are keyed as the low-S one.
 *
 * Decided by the signature segment's length alone, so a cache hit needs no header parsing,
 * and for most tokens by one byte of S, so it allocates nothing: RS/PS tokens and low-S
 * signatures cost a few character reads. An Ed25519 signature (also 86 characters) may be
 * folded the same way, which is harmless: the key still covers the whole signed input and a
 * canonical spelling of the signature's bytes, so only a string that holds a token's own
 * signature (or its twin) can share that token's key. Other spellings are left alone, and
 * verification refuses them.
 */
export function canonicalTokenForm(token: string): string {
  const length = token.length;
  for (const order of ECDSA_ORDERS) {
    const start = length - order.chars;
    if (start < 2 || token.charCodeAt(start - 1) !== 0x2e /* . */) continue;
    if (token.indexOf('.', start) !== -1) return token;
    const size = order.n.length;
    // S starts at byte `size`; its first byte usually settles low-S (or S >= n) on its own.
    const first = byteAt(token, start, size);
    if (first < order.half[0]! || first > order.n[0]!) return token;
    const signature = Buffer.from(token.slice(start), 'base64url');
    if (signature.length !== 2 * size || signature.toString('base64url') !== token.slice(start))
      return token;
    const s = signature.subarray(size);
    if (s.compare(order.half) <= 0 || s.compare(order.n) >= 0) return token;
    // S := n − S, big-endian with borrow.
    let borrow = 0;
    for (let i = size - 1; i >= 0; i--) {
      const d = order.n[i]! - s[i]! - borrow;
      borrow = d < 0 ? 1 : 0;
      s[i] = d & 0xff;
    }
    return `${token.slice(0, start)}${signature.toString('base64url')}`;
  }
  return token;
}
