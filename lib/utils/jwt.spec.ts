import { type KeyObject } from 'node:crypto';
import { importJWK, jwtVerify, SignJWT } from 'jose';
import { signJws } from './jws.js';
import { JwtVerificationError, verifySignedJwt, type SignedJwtChecks } from './jwt.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const ISSUER = 'https://as.example.test';
const NOW = 1_700_000_000_000; // ms
const now = NOW / 1000;

const checks = (extra: Partial<SignedJwtChecks> = {}): SignedJwtChecks => ({
  algorithms: ['RS256', 'EdDSA'],
  issuer: ISSUER,
  requiredClaims: ['iss', 'aud'],
  audience: 'client-1',
  clockTolerance: 30,
  now: NOW,
  ...extra,
});

const enc = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const base = { iss: ISSUER, aud: 'client-1', sub: 'alice', iat: now, exp: now + 300 };

/** Ours and jose's jwtVerify, with the same options; each gives `true` or the refusal. */
async function both(token: string, c: SignedJwtChecks, key: KeyObject = rsa.publicKey) {
  const ours = await verifySignedJwt(token, () => Promise.resolve(key), c).then(
    () => true,
    (error: unknown) => error,
  );
  const alg = key.asymmetricKeyType === 'ed25519' ? 'EdDSA' : 'RS256';
  const joseKey = await importJWK(key.export({ format: 'jwk' }), alg);
  const jose = await jwtVerify(token, joseKey, {
    issuer: c.issuer,
    ...(c.requiredClaims ? { requiredClaims: [...c.requiredClaims] } : {}),
    ...(c.audience !== undefined ? { audience: c.audience } : {}),
    algorithms: [...c.algorithms],
    clockTolerance: c.clockTolerance,
    currentDate: new Date(c.now),
  }).then(
    () => true,
    (error: unknown) => error,
  );
  return { ours, jose };
}

const rs256 = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  signJws(rsa.privateKey, { alg: 'RS256', ...header }, claims);

describe('verifySignedJwt agrees with jose jwtVerify', () => {
  it.each<[string, () => string, Partial<SignedJwtChecks>?, KeyObject?]>([
    ['a good token', () => rs256(base)],
    ['an EdDSA token', () => signJws(ed.privateKey, { alg: 'EdDSA' }, base), {}, ed.publicKey],
    ['aud as an array with the client', () => rs256({ ...base, aud: ['x', 'client-1'] })],
    [
      'no audience check asked, aud absent',
      () => rs256({ ...base, aud: undefined }),
      { audience: undefined, requiredClaims: ['iss'] },
    ],
    ['exp just inside the tolerance', () => rs256({ ...base, exp: now - 29 })],
    ['nbf just inside the tolerance', () => rs256({ ...base, nbf: now + 30 })],
    ['iat in the future (jose does not check it)', () => rs256({ ...base, iat: now + 3600 })],
    ['no exp at all', () => rs256({ ...base, exp: undefined })],
  ])('accepts %s', async (...[, make, extra, key]) => {
    // (a rest parameter: jest would take a fourth declared parameter for a `done` callback)
    const { ours, jose } = await both(make(), checks(extra), key);
    expect(jose).toBe(true);
    expect(ours).toBe(true);
  });

  it.each<[string, () => string, Partial<SignedJwtChecks>?]>([
    ['a wrong iss', () => rs256({ ...base, iss: 'https://evil.test' })],
    ['no iss', () => rs256({ ...base, iss: undefined })],
    ['an iss of another type', () => rs256({ ...base, iss: [ISSUER] })],
    ['a wrong aud', () => rs256({ ...base, aud: 'client-2' })],
    ['no aud', () => rs256({ ...base, aud: undefined })],
    [
      'no aud, even without an audience to match',
      () => rs256({ ...base, aud: undefined }),
      { audience: undefined },
    ],
    ['an aud array without the client', () => rs256({ ...base, aud: ['a', 'b'] })],
    ['an aud object', () => rs256({ ...base, aud: { 'client-1': true } })],
    ['exp at the tolerance edge', () => rs256({ ...base, exp: now - 30 })],
    ['exp long past', () => rs256({ ...base, exp: now - 3600 })],
    ['exp as a string', () => rs256({ ...base, exp: String(now + 300) })],
    ['nbf past the tolerance', () => rs256({ ...base, nbf: now + 31 })],
    ['nbf as a string', () => rs256({ ...base, nbf: 'soon' })],
    ['iat as a string', () => rs256({ ...base, iat: 'now' })],
    ['an alg not allowed', () => rs256(base), { algorithms: ['EdDSA'] }],
    ['a wrong key', () => signJws(other.privateKey, { alg: 'RS256' }, base)],
    [
      'a tampered payload',
      () => {
        const [h, , s] = rs256(base).split('.');
        return `${h}.${enc({ ...base, sub: 'mallory' })}.${s}`;
      },
    ],
    ['alg none', () => `${enc({ alg: 'none' })}.${enc(base)}.`],
    ['no alg', () => `${enc({})}.${enc(base)}.${rs256(base).split('.')[2]}`],
    ['an unknown crit extension', () => rs256(base, { crit: ['exp'], exp: 1 })],
    [
      'a payload that is not an object',
      () => signJws(rsa.privateKey, { alg: 'RS256' }, [1] as never),
    ],
    ['garbage', () => 'this.is-not.a-jwt'],
    ['two segments', () => rs256(base).split('.').slice(0, 2).join('.')],
  ])('refuses %s', async (...[, make, extra]) => {
    const { ours, jose } = await both(make(), checks(extra));
    expect(jose).toBeInstanceOf(Error);
    expect(ours).toBeInstanceOf(JwtVerificationError);
  });

  it('signs the same claims jose would accept from its own SignJWT', async () => {
    const token = await new SignJWT(base).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
    await expect(
      verifySignedJwt(token, () => Promise.resolve(rsa.publicKey), checks()),
    ).resolves.toEqual(base);
  });
});

describe('verifySignedJwt', () => {
  it('asks getKey with the protected header, and lets its errors through unchanged', async () => {
    const token = rs256(base, { kid: 'k1' });
    const seen: unknown[] = [];
    const failure = new Error('key lookup failed');
    await expect(
      verifySignedJwt(
        token,
        (header) => {
          seen.push(header);
          return Promise.reject(failure);
        },
        checks(),
      ),
    ).rejects.toBe(failure);
    expect(seen).toEqual([{ alg: 'RS256', kid: 'k1' }]);
  });

  it('checks the algorithm before it looks up a key', async () => {
    let asked = false;
    const error = await verifySignedJwt(
      rs256(base),
      () => {
        asked = true;
        return Promise.resolve(rsa.publicKey);
      },
      checks({ algorithms: ['ES256'] }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JwtVerificationError);
    expect(asked).toBe(false);
  });

  it('returns every claim of the payload', async () => {
    const claims = { ...base, email: 'alice@example.test', nested: { a: [1] } };
    await expect(
      verifySignedJwt(rs256(claims), () => Promise.resolve(rsa.publicKey), checks()),
    ).resolves.toEqual(claims);
  });
});
