/**
 * Hostile JWTs over HTTP (Express): every forged, tampered or mistyped token
 * gets 401 with an RFC 6750 `error="invalid_token"` challenge, never 200 or 500,
 * and the token is never echoed. The AS is the real oidc-provider fixture.
 * @see STANDARDS.md §2 C (items 13–27)
 */
import * as crypto from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import {
  API,
  OTHER_API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import { startTestApp } from '../fixtures/test-app.js';
import {
  algNoneToken,
  asSigningKey,
  attackerKeys,
  corruptSignature,
  critHeaderToken,
  embeddedJwkToken,
  expiredToken,
  forgeAccessToken,
  forgeByHand,
  foreignKeyToken,
  hs256ConfusionToken,
  idToken,
  jweShapedToken,
  oversizedToken,
  signByHand,
  tamperToken,
  unknownKidToken,
  wrongAudienceToken,
  wrongIssuerToken,
} from '../fixtures/tokens.js';

let as: AuthorizationServer;
let attacker: FaultServer;
let app: INestApplication;
let url: string;

beforeAll(async () => {
  [as, attacker] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
  ({ app, url } = await startTestApp('express', {
    issuer: as.issuer,
    audience: API,
    introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
  }));
});

afterAll(async () => {
  await app?.close();
  await Promise.all([as?.close(), attacker?.close()]);
});

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

async function call(
  token: string,
  path = '/api/read',
): Promise<{ status: number; challenge: string | null; body: string }> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: await res.text(),
  };
}

async function expectInvalidToken(token: string): Promise<void> {
  const { status, challenge, body } = await call(token);
  expect({ status, challenge }).toEqual({
    status: 401,
    challenge: expect.stringMatching(
      /^Bearer realm="https:\/\/api\.example\.test\/", error="invalid_token", error_description="[^"]*"$/,
    ),
  });
  expect(JSON.parse(body)).toMatchObject({ statusCode: 401 });
  expect(body).not.toContain(token);
  expect(challenge).not.toContain(token.slice(-20));
  expect(body).not.toContain(token.slice(-20));
}

it('control: the real AS token and an untwisted forged token → 200', async () => {
  const real = await as.clientCredentials({ scope: 'api:read' });
  expect(await call(real)).toMatchObject({ status: 200 });
  const forged = await forgeAccessToken(as);
  const res = await call(forged);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toEqual({ sub: 'alice' });
});

type Case = [string, () => string | Promise<string>];

const cases: Case[] = [
  // alg
  ...['none', 'None', 'NONE', 'nOnE'].map((alg): Case => [
    `alg ${alg}`,
    () => algNoneToken(as, alg),
  ]),
  ...(['spki-pem', 'pkcs1-pem', 'jwks-json', 'der', 'jwk-n'] as const).map((kind): Case => [
    `HS256 keyed with ${kind}`,
    () => hs256ConfusionToken(as, kind),
  ]),
  ['PS256 with the RS256-labelled key', () => forgeAccessToken(as, { header: { alg: 'PS256' } })],
  [
    'ES384 (not allowed)',
    () =>
      forgeByHand(as, {
        key: asSigningKey(as, 'ES256'),
        header: { alg: 'ES384', kid: asSigningKey(as, 'ES256').kid },
        alg: 'ES384',
      }),
  ],
  [
    'ES512 (not allowed)',
    () =>
      forgeByHand(as, {
        key: asSigningKey(as, 'ES256'),
        header: { alg: 'ES512', kid: asSigningKey(as, 'ES256').kid },
        alg: 'ES512',
      }),
  ],
  // signature
  ['attacker key with the AS kid', () => foreignKeyToken(as)],
  [
    'flipped signature bit of a real token',
    async () => corruptSignature(await as.clientCredentials()),
  ],
  [
    'payload altered, signature kept',
    async () =>
      tamperToken(await as.clientCredentials(), { claims: { scope: 'api:read api:write admin' } }),
  ],
  ['signature stripped', async () => (await as.clientCredentials()).replace(/[^.]+$/, '')],
  // typ / kind
  ...[undefined, 'JWT', 'dpop+jwt', 'token-introspection+jwt', 'logout+jwt'].map((typ): Case => [
    `typ ${String(typ)}`,
    () => forgeAccessToken(as, { header: { typ } }),
  ]),
  ['ID token (aud web-app)', () => idToken(as)],
  ['ID token with aud = API', () => idToken(as, { claims: { aud: API } })],
  // iss / aud
  ['iss with a trailing slash', () => wrongIssuerToken(as, `${as.issuer}/`)],
  ['iss of another host', () => wrongIssuerToken(as)],
  ['iss missing', () => forgeAccessToken(as, { claims: { iss: undefined } })],
  ['aud of another API', () => wrongAudienceToken(as, OTHER_API)],
  ['aud web-app', () => wrongAudienceToken(as, 'web-app')],
  ['aud missing', () => forgeAccessToken(as, { claims: { aud: undefined } })],
  ['real AS token for another resource', () => as.clientCredentials({ resource: OTHER_API })],
  // time
  ['expired', () => expiredToken(as)],
  ['exp missing', () => forgeAccessToken(as, { claims: { exp: undefined } })],
  ['exp a string', () => forgeAccessToken(as, { claims: { exp: '9999999999' } })],
  ['nbf in the future', () => forgeAccessToken(as, { claims: { nbf: nowSeconds() + 600 } })],
  [
    'iat in the future',
    () => forgeAccessToken(as, { claims: { iat: nowSeconds() + 3600, exp: nowSeconds() + 3900 } }),
  ],
  // RFC 9068 claims
  ...['sub', 'client_id', 'iat', 'jti'].map((claim): Case => [
    `${claim} missing`,
    () => forgeAccessToken(as, { claims: { [claim]: undefined } }),
  ]),
  // headers and shapes
  ['unknown crit', () => critHeaderToken(as)],
  ['JWE-shaped', () => jweShapedToken(as)],
  ['a.b.c.d', () => 'a.b.c.d'],
  [
    'valid header, junk payload',
    () =>
      signByHand(
        { alg: 'RS256', typ: 'at+jwt', kid: asSigningKey(as).kid },
        'not json',
        asSigningKey(as),
      ),
  ],
  [
    'JSON header without alg',
    () => `${Buffer.from('{"typ":"at+jwt"}').toString('base64url')}.e30.AAAA`,
  ],
  ['kid ../../etc/passwd', () => unknownKidToken(as, '../../etc/passwd')],
  ["kid ' OR '1'='1", () => unknownKidToken(as, "' OR '1'='1")],
  ['10 KB kid', () => unknownKidToken(as, 'k'.repeat(10 * 1024))],
  ['9000-character token (> maxTokenLength)', () => oversizedToken(as, 9000)],
  [
    'deeply nested claims (bad signature)',
    () =>
      signByHand(
        { alg: 'RS256', typ: 'at+jwt', kid: asSigningKey(as).kid },
        `{"a":${'['.repeat(2500)}${']'.repeat(2500)}}`,
        attackerKeys().rsa.privateKey,
      ),
  ],
  [
    'random opaque string (introspection: inactive)',
    () => crypto.randomBytes(24).toString('base64url'),
  ],
];

it.each(cases)('%s → 401 invalid_token', async (_name, make) => {
  await expectInvalidToken(await make());
});

it('embedded jwk + jku / x5u pointing at the attacker → 401, and the attacker gets 0 requests', async () => {
  attacker.route('/jwks', faults.json({ keys: [attackerKeys().rsa.publicJwk] }));
  attacker.resetHits();
  await expectInvalidToken(await embeddedJwkToken(as, attacker.url('/jwks')));
  await expectInvalidToken(
    await embeddedJwkToken(as, attacker.url('/jwks'), { header: { kid: asSigningKey(as).kid } }),
  );
  await expectInvalidToken(
    await forgeAccessToken(as, {
      key: attackerKeys().rsa.privateKey,
      header: { kid: 'x5u', x5u: attacker.url('/cert.pem') },
    }),
  );
  expect(attacker.hits.total).toBe(0);
});

it('an expired token says so in error_description, still as invalid_token', async () => {
  const { challenge } = await call(await expiredToken(as));
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge).toMatch(/error_description="[^"]*expired[^"]*"/i);
});

it.each(['none', 'nOnE'])(
  'an unsecured JWT (alg %s, empty signature) is named as a refused algorithm in error_description',
  async (alg) => {
    const { challenge } = await call(algNoneToken(as, alg));
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toMatch(/error_description="[^"]*algorithm that is not allowed[^"]*"/);
  },
);

it('a JWS-shaped token whose header has no alg is called malformed', async () => {
  const header = Buffer.from('{"typ":"at+jwt"}').toString('base64url');
  const { challenge } = await call(`${header}.e30.`);
  expect(challenge).toMatch(/error_description="The access token is malformed"/);
});

it('a flood of unknown kids is answered 401 and costs the AS at most one JWKS fetch', async () => {
  as.resetHits();
  const results = await Promise.all(
    Array.from(
      { length: 20 },
      async (_, i) => (await call(await unknownKidToken(as, `flood-${i}`))).status,
    ),
  );
  expect(results).toEqual(Array(20).fill(401));
  expect(as.hits.get('GET /jwks')).toBeLessThanOrEqual(1);
});
