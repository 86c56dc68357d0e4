/**
 * One spelling per token for cache keys: the two valid forms of an ECDSA signature (low-S and
 * high-S) are keyed as one. Kept apart from jws.ts because it runs on every request, cache hits
 * included, and so must stay allocation-free for most tokens.
 */

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
