import {
  constants,
  createSecretKey,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { CompactSign, compactVerify, exportJWK, importJWK } from 'jose';
import { SUPPORTED_ALGORITHMS } from '../oidc-resource.constants.js';
import {
  decodeJsonSegment,
  importPrivateKey,
  importPublicJwk,
  parseCompactJws,
  signJws,
  UnusableKeyError,
  verifyJwsSignature,
} from './jws.js';
import { canonicalTokenForm } from './canonical-token.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

interface Pair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pairs: Record<string, Pair> = {
  rsa,
  'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  'P-521': generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  ed25519: generateKeyPairSync('ed25519'),
};
const keyFor: Record<string, Pair> = {
  RS256: rsa,
  RS384: rsa,
  RS512: rsa,
  PS256: rsa,
  PS384: rsa,
  PS512: rsa,
  ES256: pairs['P-256']!,
  ES384: pairs['P-384']!,
  ES512: pairs['P-521']!,
  EdDSA: pairs.ed25519!,
  Ed25519: pairs.ed25519!,
};
const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' });

/** A compact JWS signed by jose, the reference implementation. */
async function joseSigned(alg: string, payload = '{"sub":"alice"}'): Promise<string> {
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg })
    .sign(keyFor[alg]!.privateKey);
}

function check(token: string, alg: string, key: KeyObject): boolean {
  const jws = parseCompactJws(token)!;
  return verifyJwsSignature(alg, key, jws.signingInput, jws.signature);
}

describe('verifyJwsSignature (node:crypto) against jose-signed tokens', () => {
  it('is tried below on exactly the algorithms the `algorithms` option accepts', () => {
    expect(Object.keys(keyFor).sort()).toEqual([...SUPPORTED_ALGORITHMS].sort());
  });

  it.each(Object.keys(keyFor))('%s: a genuine signature verifies', async (alg) => {
    const key = importPublicJwk(jwkOf(keyFor[alg]!.publicKey), alg);
    expect(check(await joseSigned(alg), alg, key)).toBe(true);
  });

  it.each(Object.keys(keyFor))('%s: a changed payload or signature does not', async (alg) => {
    const key = importPublicJwk(jwkOf(keyFor[alg]!.publicKey), alg);
    const [h, p, s] = (await joseSigned(alg)).split('.') as [string, string, string];
    const otherPayload = Buffer.from('{"sub":"mallory"}').toString('base64url');
    expect(check(`${h}.${otherPayload}.${s}`, alg, key)).toBe(false);
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length >> 1]! ^= 1;
    expect(check(`${h}.${p}.${sig.toString('base64url')}`, alg, key)).toBe(false);
  });

  it('refuses a signature made with another key of the same type', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(check(await joseSigned('RS256'), 'RS256', other)).toBe(false);
  });

  it('keeps RSA PKCS#1 v1.5 and PSS apart', async () => {
    const key = importPublicJwk(jwkOf(rsa.publicKey), 'RS256');
    const ps = await joseSigned('PS256');
    const jws = parseCompactJws(ps)!;
    expect(verifyJwsSignature('RS256', key, jws.signingInput, jws.signature)).toBe(false);
    expect(verifyJwsSignature('PS256', key, jws.signingInput, jws.signature)).toBe(true);
  });

  it('refuses ECDSA signatures in DER form or of the wrong length (RFC 7518 §3.4)', () => {
    const key = pairs['P-256']!.publicKey;
    const input = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30`;
    const der = sign('sha256', Buffer.from(input), pairs['P-256']!.privateKey);
    expect(verifyJwsSignature('ES256', key, input, der)).toBe(false);
    const raw = sign('sha256', Buffer.from(input), {
      key: pairs['P-256']!.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    expect(verifyJwsSignature('ES256', key, input, raw)).toBe(true);
    expect(verifyJwsSignature('ES256', key, input, Buffer.concat([raw, Buffer.alloc(1)]))).toBe(
      false,
    );
  });

  it('never verifies with a key of the wrong type, a private key, or an unknown algorithm', async () => {
    const token = await joseSigned('ES256');
    const jws = parseCompactJws(token)!;
    expect(verifyJwsSignature('ES256', rsa.publicKey, jws.signingInput, jws.signature)).toBe(false);
    expect(
      verifyJwsSignature('ES256', pairs['P-256']!.privateKey, jws.signingInput, jws.signature),
    ).toBe(false);
    expect(
      verifyJwsSignature('ES384', pairs['P-256']!.publicKey, jws.signingInput, jws.signature),
    ).toBe(false);
    for (const alg of ['none', 'HS256', 'RS1', 'ES256K', ''])
      expect(
        verifyJwsSignature(alg, pairs['P-256']!.publicKey, jws.signingInput, jws.signature),
      ).toBe(false);
  });

  it('answers false, never throws, when OpenSSL refuses the key outright', () => {
    // A key object that passes the type checks but that node:crypto cannot use: the failure
    // must close (false), not escape as an exception from the per-request path.
    const fake = { type: 'public', asymmetricKeyType: 'rsa' } as unknown as KeyObject;
    expect(verifyJwsSignature('RS256', fake, 'e30.e30', Buffer.alloc(256))).toBe(false);
  });

  it('matches RSA-PSS with the salt length of the digest, as jose signs it', async () => {
    const input = 'eyJhbGciOiJQUzI1NiJ9.e30';
    const key = rsa.publicKey;
    const shortSalt = sign('sha256', Buffer.from(input), {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 0,
    });
    expect(verifyJwsSignature('PS256', key, input, shortSalt)).toBe(false);
  });
});

describe('importPublicJwk', () => {
  it('imports what jose imports, for each algorithm', async () => {
    for (const alg of Object.keys(keyFor)) {
      const jwk = { ...jwkOf(keyFor[alg]!.publicKey), kid: 'k', use: 'sig', alg };
      const ours = importPublicJwk(jwk, alg);
      const theirs = await importJWK(jwk, alg, { extractable: true });
      expect(ours.type).toBe('public');
      // Same key material as jose's import, and as the JWK itself (no member dropped or altered).
      const material = ours.export({ format: 'jwk' });
      expect(await exportJWK(theirs as Parameters<typeof exportJWK>[0])).toMatchObject(material);
      expect(material).toEqual(jwkOf(keyFor[alg]!.publicKey));
    }
  });

  it('refuses RSA keys under 2048 bits (RFC 7518 §3.3)', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => importPublicJwk(jwkOf(small), 'RS256')).toThrow(UnusableKeyError);
    expect(() => importPublicJwk(jwkOf(small), 'RS256')).toThrow(/2048/);
  });

  it('refuses a key whose type or curve does not suit the algorithm', () => {
    expect(() => importPublicJwk(jwkOf(pairs['P-256']!.publicKey), 'ES384')).toThrow(/curve/);
    expect(() => importPublicJwk(jwkOf(pairs['P-256']!.publicKey), 'RS256')).toThrow(/type/);
    expect(() => importPublicJwk(jwkOf(rsa.publicKey), 'EdDSA')).toThrow(/type/);
  });

  it('refuses unsupported algorithms and broken JWKs with a typed error', () => {
    expect(() => importPublicJwk(jwkOf(rsa.publicKey), 'HS256')).toThrow(UnusableKeyError);
    const broken: JsonWebKey = { kty: 'RSA', n: '!!', e: 'AQAB' };
    expect(() => importPublicJwk(broken, 'RS256')).toThrow(UnusableKeyError);
    expect(() => importPublicJwk({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }, 'ES256')).toThrow(
      UnusableKeyError,
    );
  });
});

describe('decodeJsonSegment', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  it('decodes a JSON object, and nothing else', () => {
    expect(decodeJsonSegment(b64('{"a":1}'))).toEqual({ a: 1 });
    for (const text of ['42', 'null', '"s"', '[1]', 'true', '{"a":', 'not json'])
      expect(decodeJsonSegment(b64(text))).toBeUndefined();
  });
});

describe('parseCompactJws', () => {
  const header = Buffer.from('{"alg":"RS256"}').toString('base64url');

  it('splits a compact JWS and keeps the signing input exactly as sent', () => {
    const jws = parseCompactJws(`${header}.e30.AQID`)!;
    expect(jws.header).toEqual({ alg: 'RS256' });
    expect(jws.payloadSegment).toBe('e30');
    expect(jws.signingInput).toBe(`${header}.e30`);
    expect([...jws.signature]).toEqual([1, 2, 3]);
  });

  it.each([
    ['an empty signature (alg none style)', `${header}.e30.`],
    ['an empty payload', `${header}..AQID`],
    ['four segments', `${header}.e30.AQID.AQID`],
    ['characters outside base64url', `${header}.e30.AQ+D`],
    ['padding', `${header}.e30.AQI=`],
    ['a header that is not JSON', 'bm90LWpzb24.e30.AQID'],
    ['a header that is an array', `${Buffer.from('[1]').toString('base64url')}.e30.AQID`],
    ['a header that is null', `${Buffer.from('null').toString('base64url')}.e30.AQID`],
  ])('returns undefined for %s', (_what, token) => {
    expect(parseCompactJws(token)).toBeUndefined();
  });
});

describe('signJws (node:crypto), checked by jose', () => {
  const payload = { iss: 'rs', sub: 'rs', aud: 'https://as.example', iat: 1, exp: 2, jti: 'j' };

  it.each(Object.keys(keyFor))(
    '%s: jose verifies what it signs, header and payload intact',
    async (alg) => {
      const key = importPrivateKey(keyFor[alg]!.privateKey, alg);
      const token = signJws(key, { alg, kid: 'k1' }, payload);
      const publicKey = await importJWK(jwkOf(keyFor[alg]!.publicKey), alg);
      const { payload: bytes, protectedHeader } = await compactVerify(token, publicKey, {
        algorithms: [alg],
      });
      expect(protectedHeader).toEqual({ alg, kid: 'k1' });
      expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual(payload);
      // and our own verifier agrees
      expect(check(token, alg, importPublicJwk(jwkOf(keyFor[alg]!.publicKey), alg))).toBe(true);
    },
  );

  it.each(Object.keys(keyFor))(
    '%s: a private JWK imports and signs like its KeyObject',
    async (alg) => {
      const jwk = { ...jwkOf(keyFor[alg]!.privateKey), kid: 'k', alg };
      const token = signJws(importPrivateKey(jwk, alg), { alg }, payload);
      const publicKey = await importJWK(jwkOf(keyFor[alg]!.publicKey), alg);
      const verified = await compactVerify(token, publicKey, { algorithms: [alg] });
      expect(verified.protectedHeader).toEqual({ alg });
      expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual(payload);
    },
  );

  it('writes ECDSA signatures in the JOSE R‖S form of the curve (RFC 7518 §3.4)', () => {
    for (const [alg, length] of [
      ['ES256', 64],
      ['ES384', 96],
      ['ES512', 132],
    ] as const) {
      const token = signJws(importPrivateKey(keyFor[alg]!.privateKey, alg), { alg }, payload);
      expect(Buffer.from(token.split('.')[2]!, 'base64url')).toHaveLength(length);
    }
  });

  it('signs PS256 with a salt as long as the digest (what jose and oidc-provider expect)', () => {
    const token = signJws(importPrivateKey(rsa.privateKey, 'PS256'), { alg: 'PS256' }, payload);
    const [h, p, s] = token.split('.') as [string, string, string];
    const ok = verify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      Buffer.from(s, 'base64url'),
    );
    expect(ok).toBe(true);
  });

  it('refuses public keys, keys that do not suit the algorithm, and unsupported algorithms', () => {
    expect(() => importPrivateKey(rsa.publicKey, 'RS256')).toThrow(/private key/);
    expect(() => importPrivateKey(jwkOf(rsa.publicKey), 'RS256')).toThrow(UnusableKeyError);
    expect(() => importPrivateKey(pairs['P-256']!.privateKey, 'ES384')).toThrow(/curve/);
    expect(() => importPrivateKey(pairs['P-256']!.privateKey, 'RS256')).toThrow(/type/);
    expect(() => importPrivateKey(rsa.privateKey, 'HS256')).toThrow(/not a supported/);
    expect(() => importPrivateKey(createSecretKey(Buffer.alloc(32)), 'RS256')).toThrow(
      UnusableKeyError,
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => importPrivateKey(small, 'RS256')).toThrow(/2048/);
    expect(() => importPrivateKey(jwkOf(small), 'RS256')).toThrow(/2048/);
    expect(() =>
      importPrivateKey({ ...jwkOf(rsa.privateKey), key_ops: ['verify'] }, 'RS256'),
    ).toThrow(/key_ops/);
    expect(() => importPrivateKey({ kty: 'RSA', n: '!!', e: 'AQAB', d: 'AA' }, 'RS256')).toThrow(
      UnusableKeyError,
    );
  });

  it('accepts a JWK whose key_ops include sign', () => {
    const key = importPrivateKey({ ...jwkOf(rsa.privateKey), key_ops: ['sign'] }, 'RS256');
    expect({ type: key.type, kind: key.asymmetricKeyType }).toEqual({
      type: 'private',
      kind: 'rsa',
    });
  });

  it('names its errors, keeps their cause, and says what is wrong', () => {
    const broken = (run: () => unknown): UnusableKeyError => {
      try {
        run();
      } catch (error) {
        return error as UnusableKeyError;
      }
      throw new Error('expected a throw');
    };
    const publicJwk = broken(() =>
      importPublicJwk({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }, 'ES256'),
    );
    expect(publicJwk).toBeInstanceOf(UnusableKeyError);
    expect(publicJwk.name).toBe('UnusableKeyError');
    expect(publicJwk.message).toBe('The JWK is not a valid public key');
    expect(publicJwk.cause).toHaveProperty('message', expect.any(String)); // node:crypto's own error (another realm under jest)
    const privateJwk = broken(() =>
      importPrivateKey({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }, 'ES256'),
    );
    expect(privateJwk.message).toBe('The JWK is not a valid private key');
    expect(privateJwk.cause).toHaveProperty('message', expect.any(String));
    expect(broken(() => signJws(rsa.publicKey, { alg: 'RS256' }, payload)).message).toBe(
      'Signing needs a private key',
    );
  });

  it('signJws itself refuses a key that does not suit header.alg, or a public key', () => {
    expect(() => signJws(pairs['P-256']!.privateKey, { alg: 'RS256' }, payload)).toThrow(
      UnusableKeyError,
    );
    expect(() => signJws(rsa.publicKey, { alg: 'RS256' }, payload)).toThrow(UnusableKeyError);
    expect(() => signJws(rsa.privateKey, { alg: 'none' }, payload)).toThrow(UnusableKeyError);
    expect(() => signJws(rsa.privateKey, { alg: 'HS256' }, payload)).toThrow(UnusableKeyError);
  });
});

describe('one spelling per signature', () => {
  const ORDERS: Record<string, bigint> = {
    ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    ES384:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    ES512:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  };
  const toBig = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex') || '0'}`);
  const toBytes = (value: bigint, size: number) =>
    Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');

  /** A token of `alg` and its twin: the same R with S replaced by n − S. */
  async function twins(alg: string): Promise<{ low: string; high: string }> {
    const n = ORDERS[alg]!;
    for (;;) {
      const token = await joseSigned(alg, `{"jti":"${Math.random()}"}`);
      const dot = token.lastIndexOf('.');
      const sig = Buffer.from(token.slice(dot + 1), 'base64url');
      const size = sig.length / 2;
      const s = toBig(sig.subarray(size));
      const twin = Buffer.concat([sig.subarray(0, size), toBytes(n - s, size)]);
      const other = `${token.slice(0, dot + 1)}${twin.toString('base64url')}`;
      if (s === n - s) continue;
      return s < n - s ? { low: token, high: other } : { low: other, high: token };
    }
  }

  it.each(['ES256', 'ES384', 'ES512'])(
    '%s: both forms of a signature verify, and both are spelled as the low-S one',
    async (alg) => {
      const key = importPublicJwk(jwkOf(keyFor[alg]!.publicKey), alg);
      for (let i = 0; i < 4; i++) {
        const { low, high } = await twins(alg);
        expect(low).not.toBe(high);
        // node:crypto (OpenSSL) accepts the high-S twin: a second valid string for one token.
        expect([check(low, alg, key), check(high, alg, key)]).toEqual([true, true]);
        expect(canonicalTokenForm(low)).toBe(low);
        expect(canonicalTokenForm(high)).toBe(low);
      }
    },
  );

  it('leaves other tokens alone', async () => {
    for (const alg of ['RS256', 'PS256']) {
      const token = await joseSigned(alg);
      expect(canonicalTokenForm(token)).toBe(token);
    }
    expect(canonicalTokenForm('opaque-token')).toBe('opaque-token');
    expect(canonicalTokenForm('a.b.')).toBe('a.b.');
  });

  it('leaves an S of n or more alone (no valid signature has one)', async () => {
    const { low } = await twins('ES256');
    const dot = low.lastIndexOf('.');
    const sig = Buffer.from(low.slice(dot + 1), 'base64url');
    const withS = (s: bigint) =>
      `${low.slice(0, dot + 1)}${Buffer.concat([sig.subarray(0, 32), toBytes(s, 32)]).toString('base64url')}`;
    for (const s of [ORDERS.ES256!, ORDERS.ES256! + 1n, 2n ** 256n - 1n]) {
      expect(canonicalTokenForm(withS(s))).toBe(withS(s));
    }
  });

  it('refuses a signature spelled with non-zero spare bits, and does not fold it', async () => {
    for (const alg of ['ES256', 'RS256', 'EdDSA']) {
      const token = await joseSigned(alg);
      const last = token.at(-1)!;
      // The spare low bits of the last character: the same bytes decode from both spellings.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const respelled = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) + 1]}`;
      expect(Buffer.from(respelled.split('.')[2]!, 'base64url')).toEqual(
        Buffer.from(token.split('.')[2]!, 'base64url'),
      );
      expect(parseCompactJws(token)).toBeDefined();
      expect(parseCompactJws(respelled)).toBeUndefined();
      expect(canonicalTokenForm(respelled)).toBe(respelled);
    }
  });
});
