import { createSecretKey, randomBytes } from 'node:crypto';
import { canonicalJson, entryMac, macMatches } from './entry-mac.js';
import { resolveOptions } from './resolve-options.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const key = createSecretKey(randomBytes(32));

describe('canonicalJson', () => {
  it('orders members so that a reordered copy gives the same bytes, at every depth', () => {
    const a = { b: 1, a: { d: [{ y: 1, x: 2 }], c: 'é§"' } };
    const b = { a: { c: 'é§"', d: [{ x: 2, y: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"é§\\"","d":[{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson(JSON.parse(JSON.stringify(a)))).toBe(canonicalJson(a));
  });
});

describe('entryMac', () => {
  const value = { ok: true, principal: { scopes: ['api:read'], issuer: 'https://idp' } };
  const mac = entryMac(key, 'oidc-resource:token:abc:fp', 1000, value);

  it('is a base64url HMAC-SHA-256 that verifies for the same key, deadline and value', () => {
    expect(mac).toMatch(/^[\w-]{43}$/);
    expect(macMatches(key, 'oidc-resource:token:abc:fp', 1000, structuredClone(value), mac)).toBe(
      true,
    );
  });

  it.each([
    ['another stored key', 'oidc-resource:token:xyz:fp', 1000, value],
    ['another deadline', 'oidc-resource:token:abc:fp', 1001, value],
    ['another value', 'oidc-resource:token:abc:fp', 1000, { ...value, ok: false }],
  ])('fails for %s', (_what, storedKey, until, other) => {
    expect(macMatches(key, storedKey, until, other, mac)).toBe(false);
  });

  it('fails for another key, a missing or non-string MAC, or one of another length', () => {
    const other = createSecretKey(randomBytes(32));
    expect(macMatches(other, 'oidc-resource:token:abc:fp', 1000, value, mac)).toBe(false);
    for (const bad of [undefined, null, 42, '', mac.slice(1), `${mac}A`])
      expect(macMatches(key, 'oidc-resource:token:abc:fp', 1000, value, bad)).toBe(false);
  });
});

describe('option cache.signingKey', () => {
  const options = (signingKey: unknown) =>
    resolveOptions({
      issuer: 'https://idp.example.com',
      audience: 'api',
      cache: { signingKey: signingKey as string },
    });

  it.each([
    ['a string of 32 bytes', 'k'.repeat(32)],
    ['a string of 32 bytes in fewer characters (UTF-8)', '§'.repeat(16)],
    ['a Buffer of 32 bytes', randomBytes(32)],
    ['a secret KeyObject of 32 bytes', createSecretKey(randomBytes(32))],
  ])('accepts %s, as a secret KeyObject', (_what, value) => {
    const resolved = options(value).cache.signingKey!;
    expect(resolved.type).toBe('secret');
    expect(resolved.symmetricKeySize).toBeGreaterThanOrEqual(32);
  });

  it.each([
    ['a short string', 'k'.repeat(31)],
    ['a short Buffer', randomBytes(16)],
    ['a short secret KeyObject', createSecretKey(randomBytes(16))],
    ['a public key', generateKeyPairSync('ed25519').publicKey],
    ['a number', 42],
    ['an object', { k: 'x'.repeat(40) }],
  ])('refuses %s at start, naming the key', (_what, value) => {
    expect(() => options(value)).toThrow(/option "cache\.signingKey"/);
  });
});
