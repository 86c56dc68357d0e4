import { calculateJwkThumbprint, exportJWK } from 'jose';
import { jwkThumbprint } from './thumbprint.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

it.each([
  ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ['EC P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' })],
  ['OKP Ed25519', generateKeyPairSync('ed25519')],
])('%s: the same thumbprint as jose, whatever optional members the JWK has', async (_, pair) => {
  const jwk = await exportJWK(pair.publicKey);
  const expected = await calculateJwkThumbprint(jwk);
  expect(jwkThumbprint(jwk as Record<string, unknown>)).toBe(expected);
  expect(jwkThumbprint({ kid: 'k', use: 'sig', alg: 'x', ...jwk })).toBe(expected);
});

it('RFC 7638 §3.1 example', () => {
  const jwk = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };
  expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

it.each([
  ['no kty', { x: 'a', y: 'b', crv: 'P-256' }],
  ['kty oct', { kty: 'oct', k: 'AAAA' }],
  ['a missing member', { kty: 'EC', crv: 'P-256', x: 'a' }],
  ['a member that is not a string', { kty: 'RSA', n: 1, e: 'AQAB' }],
  ['kty from the prototype chain', { kty: 'constructor' }],
])('undefined for %s', (_, jwk) => {
  expect(jwkThumbprint(jwk)).toBeUndefined();
});
