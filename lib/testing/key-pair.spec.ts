import { sign, verify } from 'node:crypto';
import { generateKeyPair, generateKeyPairSync } from './key-pair.js';

const data = Buffer.from('signing input');

it.each([
  ['rsa', { modulusLength: 2048 }, { kty: 'RSA' }],
  ['ec', { namedCurve: 'P-384' }, { kty: 'EC', crv: 'P-384' }],
  ['ed25519', {}, { kty: 'OKP', crv: 'Ed25519' }],
] as const)(
  '%s: a matching pair of the asked kind, exportable as JWKs',
  async (type, options, jwk) => {
    for (const pair of [generateKeyPairSync(type, options), await generateKeyPair(type, options)]) {
      expect(pair.privateKey.type).toBe('private');
      expect(pair.publicKey.type).toBe('public');
      expect(pair.publicKey.export({ format: 'jwk' })).toMatchObject(jwk);
      expect(pair.privateKey.export({ format: 'jwk' })).toHaveProperty('d');
      const signature = sign(type === 'ed25519' ? null : 'sha256', data, pair.privateKey);
      expect(verify(type === 'ed25519' ? null : 'sha256', data, pair.publicKey, signature)).toBe(
        true,
      );
    }
    if (type === 'rsa')
      expect(generateKeyPairSync(type, options).publicKey.asymmetricKeyDetails?.modulusLength).toBe(
        2048,
      );
  },
);

it('two calls give two different keys', () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  expect(a.x).not.toBe(b.x);
});

it('a bad option is refused as node:crypto refuses it', async () => {
  expect(() => generateKeyPairSync('ec', { namedCurve: 'no-such-curve' })).toThrow(
    'Invalid EC curve name',
  );
  await expect(generateKeyPair('ec', { namedCurve: 'no-such-curve' })).rejects.toThrow(
    'Invalid EC curve name',
  );
});
