import { createHash, randomUUID, sign, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors/oidc-resource.error.js';
import { DpopNonces, NONCE_WINDOW } from './nonce.js';
import { MAX_PROOF_LENGTH, verifyDpopProof, type ProofPolicy, type ProofRequest } from './proof.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const NOW = 1_800_000_000_000;
const HTU = 'https://api.example.com/notes';
const TOKEN = 'a.b.c';
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecJwk = (await exportJWK(ec.publicKey)) as JWK;
const policy: ProofPolicy = {
  algorithms: new Set(['ES256', 'EdDSA', 'PS256', 'RS256']),
  maxAge: 300,
  leeway: 5,
};
const request: ProofRequest = { method: 'GET', htu: HTU, accessToken: TOKEN };

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    jti: randomUUID(),
    htm: 'GET',
    htu: HTU,
    iat: NOW / 1000,
    ath: ath(TOKEN),
    ...extra,
  };
}

/** A proof signed by jose, the reference implementation. */
function proof(
  payload = claims(),
  header: Record<string, unknown> = {},
  key: KeyObject = ec.privateKey,
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecJwk, ...header })
    .sign(key);
}

/** A proof signed by hand, for headers jose refuses to write. */
function handSigned(header: Record<string, unknown>, payload = claims()): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: ec.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function refusal(run: () => unknown): InvalidDpopProofError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDpopProofError);
    // Every refusal says in words what is wrong with the proof (the log and the challenge show it).
    expect((error as Error).message).toMatch(/^The DPoP proof\b.{6,}/);
    return error as InvalidDpopProofError;
  }
  throw new Error('the proof was accepted');
}

const verify = (p: string, r = request, pol = policy) => verifyDpopProof(p, r, pol, NOW);

it('accepts a valid proof and returns the RFC 7638 thumbprint, jti and iat', async () => {
  const payload = claims();
  const result = verify(await proof(payload));
  expect(result).toEqual({
    jkt: await calculateJwkThumbprint(ecJwk),
    jti: payload.jti,
    iat: NOW / 1000,
    htu: HTU,
  });
});

it.each([
  ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['PS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['EdDSA', generateKeyPairSync('ed25519')],
])('accepts %s proofs', async (alg, pair) => {
  const jwk = await exportJWK(pair.publicKey);
  const p = await new SignJWT(claims())
    .setProtectedHeader({ alg, typ: 'application/DPoP+JWT', jwk })
    .sign(pair.privateKey);
  expect(verify(p).jkt).toBe(await calculateJwkThumbprint(jwk));
});

describe('refuses hostile or wrong proofs with InvalidDpopProofError and a reason', () => {
  it.each([
    ['not a JWT', 'not-a-jwt', 'malformed'],
    ['two parts', 'abc.def', 'malformed'],
    ['four parts', 'a.b.c.d', 'malformed'],
    ['garbage base64', '!!!.***.???', 'malformed'],
    ['a JSON array header', `${b64([1])}.${b64({})}.AAAA`, 'malformed'],
    ['a JSON array payload', `${b64({ typ: 'dpop+jwt' })}.${b64([claims()])}.AAAA`, 'malformed'],
    ['not JSON', `${Buffer.from('{').toString('base64url')}.${b64({})}.AAAA`, 'malformed'],
    ['a 50 KB proof', 'a'.repeat(50_000), 'too_long'],
    ['one character too long', 'a'.repeat(MAX_PROOF_LENGTH + 1), 'too_long'],
  ])('%s', (_, p, reason) => {
    expect(refusal(() => verify(p)).reason).toBe(reason);
  });

  it.each([
    ['typ JWT', { typ: 'JWT' }, 'typ_not_accepted'],
    ['no typ', { typ: undefined }, 'typ_not_accepted'],
    ['alg none', { alg: 'none' }, 'alg_not_allowed'],
    ['alg HS256', { alg: 'HS256' }, 'alg_not_allowed'],
    ['alg not listed', { alg: 'ES384' }, 'alg_not_allowed'],
    ['no jwk', { jwk: undefined }, 'dpop_jwk_invalid'],
    ['jwk an array', { jwk: [ecJwk] }, 'dpop_jwk_invalid'],
    ['jwk a string', { jwk: 'key' }, 'dpop_jwk_invalid'],
    ['jwk with d', { jwk: { ...ecJwk, d: 'AAAA' } }, 'dpop_jwk_invalid'],
    ['jwk kty oct', { jwk: { kty: 'oct', k: 'AAAA' } }, 'dpop_jwk_invalid'],
    [
      'jwk of another type',
      { jwk: { kty: 'OKP', crv: 'Ed25519', x: ecJwk.x } },
      'dpop_jwk_invalid',
    ],
    ['jwk without y', { jwk: { ...ecJwk, y: undefined } }, 'dpop_jwk_invalid'],
    ['jwk x a number', { jwk: { ...ecJwk, x: 1 } }, 'dpop_jwk_invalid'],
    ['jwk not on the curve', { jwk: { ...ecJwk, x: ecJwk.y } }, 'key_unusable'],
    ['crit', { crit: ['exp'], exp: 1 }, 'crit_not_supported'],
  ])('%s', (_, header, reason) => {
    const p = handSigned({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecJwk, ...header });
    expect(refusal(() => verify(p)).reason).toBe(reason);
  });

  it('an HS256 proof keyed with the public key', async () => {
    const p = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: ecJwk })
      .sign(new TextEncoder().encode(JSON.stringify(ecJwk)));
    expect(refusal(() => verify(p)).reason).toBe('alg_not_allowed');
  });

  it('an RSA key of 1024 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = small.publicKey.export({ format: 'jwk' });
    const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk })}.${b64(claims())}`;
    const p = `${input}.${sign('sha256', Buffer.from(input), small.privateKey).toString('base64url')}`;
    expect(refusal(() => verify(p)).reason).toBe('key_unusable');
  });

  it('a bad signature, and a signature by another key', async () => {
    const good = await proof();
    const tampered = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect(refusal(() => verify(tampered)).reason).toBe('signature_invalid');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(refusal(() => verify(handSignedWith(other.privateKey))).reason).toBe(
      'signature_invalid',
    );
  });

  function handSignedWith(key: KeyObject): string {
    const input = `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecJwk })}.${b64(claims())}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  it.each(['jti', 'htm', 'htu', 'iat', 'ath'])('"%s" missing', async (claim) => {
    const error = refusal(() => verify(handSigned(hdr(), claims({ [claim]: undefined }))));
    expect([error.reason, error.claim]).toEqual(['claim_missing', claim]);
  });

  it.each([
    ['iat as a string', { iat: String(NOW / 1000) }, 'claim_malformed', 'iat'],
    ['jti a number', { jti: 42 }, 'claim_malformed', 'jti'],
    ['jti empty', { jti: '' }, 'claim_malformed', 'jti'],
    ['jti of 257 characters', { jti: 'x'.repeat(257) }, 'claim_malformed', 'jti'],
    ['htm POST on a GET', { htm: 'POST' }, 'dpop_htm_mismatch', 'htm'],
    ['htm in lower case', { htm: 'get' }, 'dpop_htm_mismatch', 'htm'],
    ['htu of another path', { htu: 'https://api.example.com/other' }, 'dpop_htu_mismatch', 'htu'],
    ['htu of another host', { htu: 'https://evil.example.com/notes' }, 'dpop_htu_mismatch', 'htu'],
    ['htu of another scheme', { htu: 'http://api.example.com/notes' }, 'dpop_htu_mismatch', 'htu'],
    ['htu not a URL', { htu: 'notes' }, 'dpop_htu_mismatch', 'htu'],
    ['iat 600 s ago', { iat: NOW / 1000 - 600 }, 'dpop_iat_outside_window', 'iat'],
    ['iat 600 s ahead', { iat: NOW / 1000 + 600 }, 'dpop_iat_outside_window', 'iat'],
    ['iat just past the window', { iat: NOW / 1000 - 306 }, 'dpop_iat_outside_window', 'iat'],
    ['iat null', { iat: null }, 'claim_malformed', 'iat'],
    ['ath of another token', { ath: ath('other') }, 'dpop_ath_mismatch', 'ath'],
    ['ath a number', { ath: 1 }, 'dpop_ath_mismatch', 'ath'],
    ['ath null', { ath: null }, 'dpop_ath_mismatch', 'ath'],
    // Both decode to the right 32 bytes (Buffer skips "=" and characters outside the alphabet).
    ['ath padded with "="', { ath: `${ath(TOKEN)}=` }, 'dpop_ath_mismatch', 'ath'],
    ['ath with a stray character', { ath: `${ath(TOKEN)}!` }, 'dpop_ath_mismatch', 'ath'],
    // 43 characters that decode to nothing: no 32-byte hash to compare.
    ['ath of 43 characters outside base64url', { ath: '!'.repeat(43) }, 'dpop_ath_mismatch', 'ath'],
  ])('%s', (_, extra, reason, claim) => {
    const error = refusal(() => verify(handSigned(hdr(), claims(extra))));
    expect([error.reason, error.claim]).toEqual([reason, claim]);
  });

  it('a request whose URI could not be built refuses every htu', async () => {
    const error = refusal(() => verify(handSigned(hdr()), { ...request, htu: undefined }));
    expect(error.reason).toBe('dpop_htu_mismatch');
  });

  it('an htu that cannot be normalized is refused even when the request URI could not be built either', () => {
    // Both sides `undefined`: equal, yet no URL at all was signed.
    const error = refusal(() =>
      verify(handSigned(hdr(), claims({ htu: 'notes' })), { ...request, htu: undefined }),
    );
    expect([error.reason, error.claim]).toEqual(['dpop_htu_mismatch', 'htu']);
  });

  it('an iat that JSON reads as Infinity (1e999) is malformed, not merely outside the window', () => {
    const payload = JSON.stringify(claims({ iat: 0 })).replace('"iat":0', '"iat":1e999');
    const input = `${b64(hdr())}.${Buffer.from(payload).toString('base64url')}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: ec.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    const error = refusal(() => verify(`${input}.${signature.toString('base64url')}`));
    expect([error.reason, error.claim]).toEqual(['claim_malformed', 'iat']);
  });

  it('"jwk": null', () => {
    const error = refusal(() => verify(handSigned({ ...hdr(), jwk: null })));
    expect(error.reason).toBe('dpop_jwk_invalid');
    expect(error.message).toBe('The DPoP proof has no "jwk" header');
  });
});

describe('length limits: the maximum itself is allowed', () => {
  it('a proof of exactly MAX_PROOF_LENGTH characters is read (and refused for its form, not its length)', () => {
    const error = refusal(() => verify('a'.repeat(MAX_PROOF_LENGTH)));
    expect(error.reason).toBe('malformed');
  });

  it('a jti of exactly 256 characters', () => {
    const jti = 'j'.repeat(256);
    expect(verify(handSigned(hdr(), claims({ jti }))).jti).toBe(jti);
  });

  it('an htm of exactly 32 characters, and one of 33 refused', () => {
    const method = 'M'.repeat(32);
    const p = handSigned(hdr(), claims({ htm: method }));
    expect(verify(p, { ...request, method }).jti).toBeDefined();
    const longer = 'M'.repeat(33);
    const error = refusal(() =>
      verify(handSigned(hdr(), claims({ htm: longer })), { ...request, method: longer }),
    );
    expect([error.reason, error.claim]).toEqual(['claim_malformed', 'htm']);
  });
});

const hdr = () => ({ alg: 'ES256', typ: 'dpop+jwt', jwk: ecJwk });

it('accepts iat within the window and the leeway, on both sides', () => {
  for (const iat of [NOW / 1000 - 305, NOW / 1000 - 5, NOW / 1000 + 5]) {
    expect(verify(handSigned(hdr(), claims({ iat }))).iat).toBe(iat);
  }
});

it('compares htu after RFC 3986 normalization, ignoring query and fragment', () => {
  for (const htu of [
    'HTTPS://API.Example.COM:443/notes',
    'https://api.example.com/notes?x=1#frag',
    'https://api.example.com/%6Eotes',
    'https://api.example.com/a/../notes',
  ]) {
    expect(verify(handSigned(hdr(), claims({ htu }))).htu).toBe(HTU);
  }
  const encoded = { ...request, htu: 'https://api.example.com/a%2Fb' };
  expect(
    verify(handSigned(hdr(), claims({ htu: 'https://api.example.com/a%2fb' })), encoded).htu,
  ).toBe('https://api.example.com/a%2Fb');
});

describe('server nonces', () => {
  let now = NOW;
  const nonces = new DpopNonces(undefined, () => now);
  const withNonces = { ...policy, nonces };

  it('a proof without a nonce gets UseDpopNonceError carrying the current nonce', () => {
    try {
      verify(handSigned(hdr()), request, withNonces);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(UseDpopNonceError);
      expect((error as UseDpopNonceError).nonce).toBe(nonces.current());
      expect((error as Error).message).toBe('A DPoP nonce is required');
    }
  });

  it('the current nonce is accepted, then for one more window, then refused with a fresh one', () => {
    const nonce = nonces.current();
    expect(verify(handSigned(hdr(), claims({ nonce })), request, withNonces).jti).toBeDefined();
    now += NONCE_WINDOW;
    const later = handSigned(hdr(), claims({ nonce, iat: now / 1000 }));
    expect(verifyDpopProof(later, request, withNonces, now).jti).toBeDefined();
    now += NONCE_WINDOW;
    try {
      verifyDpopProof(
        handSigned(hdr(), claims({ nonce, iat: now / 1000 })),
        request,
        withNonces,
        now,
      );
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(UseDpopNonceError);
      expect((error as UseDpopNonceError).nonce).not.toBe(nonce);
      expect((error as Error).message).toBe('The DPoP nonce is stale');
    }
  });

  it('an invalid proof is refused as invalid even without a nonce', () => {
    const error = refusal(() =>
      verify(handSigned(hdr(), claims({ htm: 'PUT' })), request, withNonces),
    );
    expect(error.reason).toBe('dpop_htm_mismatch');
  });
});
