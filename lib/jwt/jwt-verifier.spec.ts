/**
 * The JWT verifier on its own: each header and claim rule decides at least one verdict by
 * itself, with its stable `reason`, its message and its claim. Tokens are signed here with real
 * keys, the issuer is a real `TrustedIssuer` whose JWKS comes from a loopback server (so a test
 * can publish keys oidc-provider never would, e.g. without `alg`), and time comes from an
 * injected clock. End to end, the same rules run in security-checks, token-validation and
 * token-kinds against the real authorization server.
 */
import { once } from 'node:events';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { IssuerOptions } from '../interfaces/oidc-resource-options.interface.js';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { resolveIssuerOptions } from '../options/issuer-options.js';
import { generateKeyPairSync } from '../testing/key-pair.js';
import { closeConnectionPools } from '../utils/http-pool.js';
import { importPrivateKey, signJws } from '../utils/jws.js';
import { JwtVerifier } from './jwt-verifier.js';

const ISSUER = 'https://issuer.example.com';
const API = 'https://api.example.com';
/** The injected clock's time, in seconds: long past, so the real clock would say "expired". */
const NOW = 1_700_000_000;

const RSA_1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const RSA_2 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const publicJwk = (key: crypto.KeyObject, extra: Record<string, unknown>) => ({
  ...(crypto.createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>),
  ...extra,
});
const JWK_1 = publicJwk(RSA_1, { kid: 'k1', alg: 'RS256', use: 'sig' });
const JWK_2 = publicJwk(RSA_2, { kid: 'k2', alg: 'RS256', use: 'sig' });

const MALFORMED = 'The access token is malformed';
const ALG_NOT_ALLOWED = 'The access token is signed with an algorithm that is not allowed';
const STRICT_TYP =
  'The access token\'s "typ" header is not "at+jwt" (RFC 9068); requireJwtAccessTokenType: false accepts plain "JWT" access tokens';
const LENIENT_TYP = 'The JWT\'s "typ" header names another kind of token than an access token';

let server: http.Server;
let jwks: { url: string; doc: unknown };

beforeAll(async () => {
  Logger.overrideLogger(false);
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks.doc));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(async () => {
  closeConnectionPools();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let path = 0;
beforeEach(() => {
  // A fresh path per test: each issuer's key set starts with nothing known about its URI.
  const port = (server.address() as AddressInfo).port;
  jwks = { url: `http://127.0.0.1:${port}/jwks-${++path}`, doc: { keys: [JWK_1] } };
});

const clock = () => NOW * 1000;
const verifier = new JwtVerifier(clock);

/** A real trusted issuer (keys from the loopback JWKS) with these settings. */
function issuerWith(options: Partial<IssuerOptions> = {}, keys: unknown[] = [JWK_1]) {
  jwks.doc = { keys };
  const settings = resolveIssuerOptions(
    { issuer: ISSUER, audience: API, jwksUri: jwks.url, ...options },
    {},
    '',
    true,
  );
  return new TrustedIssuer(settings, { httpTimeout: 5000, unsafeAllowInsecureIssuer: true }, clock);
}

/** RFC 9068 claims; an `undefined` value leaves the claim out. */
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries({
      iss: ISSUER,
      aud: API,
      exp: NOW + 300,
      iat: NOW - 10,
      sub: 'user-1',
      client_id: 'client-1',
      jti: 'jti-1',
      ...extra,
    }).filter(([, value]) => value !== undefined),
  );

/** A token signed with RS256 (by `RSA_1` unless told), header `typ: at+jwt`, `kid: k1`. */
function sign(
  payload: Record<string, unknown> = claims(),
  header: Record<string, unknown> = {},
  key: crypto.KeyObject = RSA_1,
): string {
  const alg = (header.alg as string | undefined) ?? 'RS256';
  return signJws(importPrivateKey(key, alg), { typ: 'at+jwt', kid: 'k1', ...header, alg }, payload);
}

const b64 = (text: string) => Buffer.from(text).toString('base64url');

/** A token with any header and payload text, signed with RSA_1 as RS256. */
function signRaw(header: unknown, payload: string): string {
  const input = `${b64(JSON.stringify(header))}.${b64(payload)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), RSA_1).toString('base64url')}`;
}

async function refusal(promise: Promise<unknown>): Promise<OidcResourceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OidcResourceError);
    return error as OidcResourceError;
  }
  throw new Error('the token was accepted');
}

/** The refusal, exactly: code, reason, message and claim (absent when not given). */
async function refused(
  promise: Promise<unknown>,
  reason: string,
  message: string,
  claim?: string,
  code = 'invalid_token',
) {
  const error = await refusal(promise);
  expect(error.toJSON()).toEqual({
    name: code === 'invalid_token' ? 'InvalidTokenError' : 'TokenExpiredError',
    code,
    status: 401,
    message,
    reason,
    ...(claim !== undefined ? { claim } : {}),
  });
}

const lacks = (name: string) => `The access token lacks the required "${name}" claim`;

describe('the compact serialization', () => {
  it('accepts a well-formed token by the injected clock, with its header, claims and settings', async () => {
    const issuer = issuerWith();
    const token = sign();
    await expect(verifier.verify(token, issuer)).resolves.toEqual({
      source: 'jwt',
      issuer: ISSUER,
      settings: issuer.settings,
      header: { typ: 'at+jwt', kid: 'k1', alg: 'RS256' },
      claims: claims(),
    });
  });

  it('refuses what is not a compact JWS as malformed', async () => {
    const issuer = issuerWith();
    for (const token of ['not-a-jwt', 'a.b', '', '..', `${b64('[1]')}.${b64('{}')}.c2ln`])
      await refused(verifier.verify(token, issuer), 'malformed', MALFORMED);
  });

  it('names an unsecured JWT (alg "none", no signature) as a disallowed algorithm', async () => {
    const issuer = issuerWith();
    const payload = b64(JSON.stringify(claims()));
    await refused(
      verifier.verify(`${b64('{"alg":"none"}')}.${payload}.`, issuer),
      'alg_not_allowed',
      ALG_NOT_ALLOWED,
    );
    // An allowed algorithm without a signature is a broken token, not a forgery of that kind.
    await refused(
      verifier.verify(`${b64('{"alg":"RS256"}')}.${payload}.`, issuer),
      'malformed',
      MALFORMED,
    );
    // Only the text before the first "." is a header: a token without one has none.
    await refused(verifier.verify(`${b64('{"alg":"none"}')}x`, issuer), 'malformed', MALFORMED);
  });

  it("uses the caller's decoded header as is, without decoding the token's again", async () => {
    const issuer = issuerWith();
    await refused(
      verifier.verify(`!!!.${b64('{}')}.`, issuer, { alg: 'none' }),
      'alg_not_allowed',
      ALG_NOT_ALLOWED,
    );
  });

  it('refuses a header whose alg is absent or not a string as malformed', async () => {
    const issuer = issuerWith();
    const payload = JSON.stringify(claims());
    for (const header of [
      { typ: 'at+jwt', kid: 'k1' },
      { alg: 256, typ: 'at+jwt', kid: 'k1' },
    ])
      await refused(verifier.verify(signRaw(header, payload), issuer), 'malformed', MALFORMED);
  });

  it('refuses an algorithm outside the allow-list even when the key would verify it', async () => {
    // A JWKS key without "alg" fits RS256 and PS256 alike: only the allow-list decides.
    const keys = [publicJwk(RSA_1, { kid: 'k1' })];
    const token = sign(claims(), { alg: 'PS256' });
    await refused(
      verifier.verify(token, issuerWith({ algorithms: ['RS256'] }, keys)),
      'alg_not_allowed',
      ALG_NOT_ALLOWED,
    );
    await expect(
      verifier.verify(token, issuerWith({ algorithms: ['RS256', 'PS256'] }, keys)),
    ).resolves.toMatchObject({ header: { alg: 'PS256' }, claims: claims() });
  });

  it('refuses a crit header (RFC 7515 §4.1.11)', async () => {
    await refused(
      verifier.verify(sign(claims(), { crit: ['exp'] }), issuerWith()),
      'crit_not_supported',
      'The access token uses an unsupported JOSE feature',
    );
  });

  it("refuses a signature by another key than the kid's", async () => {
    const issuer = issuerWith({}, [JWK_1, JWK_2]);
    await refused(
      verifier.verify(sign(claims(), { kid: 'k1' }, RSA_2), issuer),
      'signature_invalid',
      'The access token signature is invalid',
    );
  });

  it('selects the key by kid among several that fit the algorithm', async () => {
    const issuer = issuerWith({}, [JWK_1, JWK_2]);
    await expect(
      verifier.verify(sign(claims(), { kid: 'k2' }, RSA_2), issuer),
    ).resolves.toMatchObject({ header: { kid: 'k2' }, claims: claims() });
  });

  it('refuses a signed payload that is not a JSON object as malformed', async () => {
    const issuer = issuerWith();
    for (const payload of ['[1]', '"claims"', 'null', '{"iss":'])
      await refused(
        verifier.verify(signRaw({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' }, payload), issuer),
        'malformed',
        MALFORMED,
      );
  });

  it("uses the caller's decoded claims as is, without decoding the payload again", async () => {
    const issuer = issuerWith();
    const decoded = claims();
    const verified = await verifier.verify(sign(decoded), issuer, undefined, decoded);
    expect(verified.claims).toBe(decoded);
  });
});

describe('typ, with requireJwtAccessTokenType (the default)', () => {
  it('accepts at+jwt in any case, with or without "application/"', async () => {
    const issuer = issuerWith();
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT'])
      await expect(verifier.verify(sign(claims(), { typ }), issuer)).resolves.toMatchObject({
        header: { typ },
      });
  });

  it('refuses any other typ, or none, naming the setting', async () => {
    const issuer = issuerWith();
    for (const typ of ['JWT', 'application/jwt', 'dpop+jwt', 'at+jwt+x', undefined])
      await refused(
        verifier.verify(sign(claims(), { typ }), issuer),
        'typ_not_accepted',
        STRICT_TYP,
      );
  });

  it('refuses a typ that is not a string as malformed', async () => {
    const issuer = issuerWith();
    for (const typ of [1, null, ['at+jwt']])
      await refused(verifier.verify(sign(claims(), { typ }), issuer), 'malformed', MALFORMED);
  });
});

describe('typ, with requireJwtAccessTokenType: false', () => {
  const lenient = { requireJwtAccessTokenType: false };

  it('accepts no typ, JWT or at+jwt, in any case, with or without "application/"', async () => {
    const issuer = issuerWith(lenient);
    for (const typ of [undefined, 'JWT', 'jwt', 'application/jwt', 'at+jwt', 'AT+JWT'])
      await expect(verifier.verify(sign(claims(), { typ }), issuer)).resolves.toMatchObject({
        claims: claims(),
      });
  });

  it('refuses a JWT typed as another kind of token (RFC 8725 §3.11)', async () => {
    const issuer = issuerWith(lenient);
    for (const typ of ['dpop+jwt', 'logout+jwt', 'application/secevent+jwt', 'JOSE'])
      await refused(
        verifier.verify(sign(claims(), { typ }), issuer),
        'typ_not_accepted',
        LENIENT_TYP,
      );
  });

  it('refuses a typ that is not a string as malformed', async () => {
    const issuer = issuerWith(lenient);
    for (const typ of [1, null, {}])
      await refused(verifier.verify(sign(claims(), { typ }), issuer), 'malformed', MALFORMED);
  });
});

describe('claims of an RFC 9068 token (the default)', () => {
  it.each(['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'])(
    'refuses a token without %s',
    async (name) => {
      await refused(
        verifier.verify(sign(claims({ [name]: undefined })), issuerWith()),
        'claim_missing',
        lacks(name),
        name,
      );
    },
  );

  it('refuses an ID-token claim even in a token typed at+jwt', async () => {
    await refused(
      verifier.verify(sign(claims({ nonce: 'n-1' })), issuerWith()),
      'id_token',
      'The token is an ID token ("nonce" claim), not an access token',
      'nonce',
    );
  });

  it("checks the times by the injected clock, with the issuer's clock tolerance", async () => {
    const expired = sign(claims({ exp: NOW - 10 }));
    await expect(verifier.verify(expired, issuerWith())).resolves.toMatchObject({
      claims: { exp: NOW - 10 },
    });
    await refused(
      verifier.verify(expired, issuerWith({ clockTolerance: 5 })),
      'expired',
      'The access token expired',
      'exp',
      'token_expired',
    );
  });

  it('refuses another issuer', async () => {
    await refused(
      verifier.verify(sign(claims({ iss: 'https://other.example.com' })), issuerWith()),
      'iss_mismatch',
      'The access token was issued by another issuer',
      'iss',
    );
  });

  it('refuses another audience, and an empty one', async () => {
    for (const aud of ['https://other.example.com', [], ['https://other.example.com']])
      await refused(
        verifier.verify(sign(claims({ aud })), issuerWith()),
        'aud_mismatch',
        'The access token is meant for another audience',
        'aud',
      );
  });

  it('refuses a malformed aud even with the audience check off', async () => {
    await refused(
      verifier.verify(sign(claims({ aud: 5 })), issuerWith({ audience: false })),
      'claim_malformed',
      'The access token\'s "aud" claim is malformed',
      'aud',
    );
  });
});

describe('claims of a plain JWT (requireJwtAccessTokenType: false)', () => {
  const lenient = { requireJwtAccessTokenType: false, audience: API };
  const minimal = { iat: undefined, sub: undefined, jti: undefined };

  it('needs only iss, exp, aud and a client', async () => {
    await expect(
      verifier.verify(sign(claims(minimal), { typ: 'JWT' }), issuerWith(lenient)),
    ).resolves.toMatchObject({ claims: claims(minimal) });
  });

  it.each(['iss', 'exp', 'aud'])('refuses a token without %s', async (name) => {
    await refused(
      verifier.verify(sign(claims({ ...minimal, [name]: undefined })), issuerWith(lenient)),
      'claim_missing',
      lacks(name),
      name,
    );
  });

  it('accepts a token without aud when the audience check is off', async () => {
    const payload = claims({ ...minimal, aud: undefined });
    await expect(
      verifier.verify(sign(payload), issuerWith({ ...lenient, audience: false })),
    ).resolves.toMatchObject({ claims: payload });
  });

  it('refuses a token that names no client, as an ID token would', async () => {
    await refused(
      verifier.verify(sign(claims({ ...minimal, client_id: undefined })), issuerWith(lenient)),
      'claim_missing',
      'The access token names no client ("client_id", "azp", "appid" or "cid"), as an ID token would',
      'client_id',
    );
  });
});
