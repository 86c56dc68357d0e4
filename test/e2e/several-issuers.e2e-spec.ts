/**
 * Several issuers: two real authorization servers (oidc-provider on loopback) trusted by one API.
 * Each issuer's tokens are checked only with that issuer's keys and settings, an unknown issuer
 * costs no network call, opaque tokens go to the introspecting issuers in list order, and one
 * issuer's outage never changes another's answers.
 */
import 'reflect-metadata';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import {
  CurrentUser,
  Scopes,
  type AuthenticatedPrincipal,
  type OidcResourceModuleOptions,
  type TokenValidationService,
} from '../../lib/index.js';
import {
  API,
  CLIENTS,
  RS_CLIENT,
  generateSigningKeys,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';
import { asSigningKey, defaultHeader, forgeAccessToken, signByHand } from '../fixtures/tokens.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';

@Controller('who')
class WhoController {
  @Get()
  who(@CurrentUser() user: AuthenticatedPrincipal) {
    return { issuer: user.issuer, sub: user.sub ?? null, scopes: user.scopes, source: user.source };
  }

  @Scopes('api:write')
  @Get('write')
  write(@CurrentUser() user: AuthenticatedPrincipal) {
    return { issuer: user.issuer };
  }
}

const introspection = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

let a: AuthorizationServer;
let b: AuthorizationServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  // Same kid names at both servers ('k1-…'), different key material: a kid never picks a key.
  [a, b] = await Promise.all([startAuthorizationServer(), startAuthorizationServer()]);
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await Promise.all([a.close(), b.close()]);
});

beforeEach(() => {
  a.resetHits();
  b.resetHits();
});

/** Requests either server saw since the last reset. */
const seenByEither = () => a.seen.length + b.seen.length;

function service(options: Partial<OidcResourceModuleOptions>, clock?: () => number) {
  return buildValidationService(
    modules,
    {
      audience: API,
      issuers: [{ issuer: a.issuer }, { issuer: b.issuer }],
      ...options,
    } as OidcResourceModuleOptions,
    clock,
  );
}

async function expectRefusal(
  tokens: TokenValidationService,
  token: string,
  code: string,
  reason?: string,
): Promise<void> {
  const error = await rejection(tokens.validate(token));
  expect({ code: error.code, reason: error.reason }).toEqual({ code, reason });
}

describe.each(ADAPTERS)('two issuers over HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startTestApp(
      adapter,
      {
        audience: API,
        issuers: [
          { issuer: a.issuer },
          // Only B's tokens read their scopes from "permissions"; only B introspects.
          { issuer: b.issuer, scopeClaims: ['permissions', 'scope'], introspection },
        ],
      },
      { controllers: [WhoController] },
    ));
  });
  afterAll(() => app.close());

  const call = async (token: string, path = '/who') => {
    const response = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it("accepts each issuer's tokens, and principal.issuer names the issuer that vouched", async () => {
    const [fromA, fromB] = await Promise.all([a.clientCredentials(), b.clientCredentials()]);
    expect(await call(fromA)).toMatchObject({ status: 200, body: { issuer: a.issuer } });
    expect(await call(fromB)).toMatchObject({ status: 200, body: { issuer: b.issuer } });
  });

  it('refuses a third issuer with no request to any server', async () => {
    const third = { issuer: 'http://127.0.0.1:9/realms/third', keys: generateSigningKeys('k1') };
    a.resetHits();
    b.resetHits();
    const response = await call(await forgeAccessToken(third));
    expect(response.status).toBe(401);
    expect(response.challenge).toMatch(/error="invalid_token"/);
    expect(seenByEither()).toBe(0);
  });

  it("refuses a token that names issuer A but is signed with B's key (same kid)", async () => {
    const forged = await forgeAccessToken({ issuer: a.issuer, keys: b.keys });
    const response = await call(forged);
    expect(response.status).toBe(401);
    expect(response.challenge).toMatch(/signature is invalid/);
  });

  it("asks UserInfo at the token's own issuer only", async () => {
    const opaque = await b.mintAccessToken({
      resource: null,
      format: 'opaque',
      scope: 'openid email',
    });
    a.resetHits();
    b.resetHits();
    const response = await call(opaque, '/api/me');
    expect(response).toMatchObject({ status: 200, body: { sub: 'alice' } });
    expect(b.hits.get('GET /me')).toBe(1);
    expect(a.seen).toHaveLength(0);
  });

  it("applies an issuer's own scopeClaims to its tokens only", async () => {
    const claims = { scope: 'api:read', permissions: ['api:write'] };
    const fromB = await forgeAccessToken(b, { claims });
    const fromA = await forgeAccessToken(a, { claims });
    expect(await call(fromB, '/who/write')).toMatchObject({
      status: 200,
      body: { issuer: b.issuer },
    });
    expect((await call(fromA, '/who/write')).status).toBe(403);
    expect((await call(fromA)).body.scopes).toEqual(['api:read']);
    expect((await call(fromB)).body.scopes).toEqual(['api:write']);
  });
});

describe('per-issuer settings', () => {
  it("requireJwtAccessTokenType: false on A accepts A's plain JWTs, and B stays strict", async () => {
    const tokens = await service({
      issuers: [{ issuer: a.issuer, requireJwtAccessTokenType: false }, { issuer: b.issuer }],
    });
    const plain = { header: { typ: 'JWT' } };
    expect((await tokens.validate(await forgeAccessToken(a, plain))).issuer).toBe(a.issuer);
    await expectRefusal(
      tokens,
      await forgeAccessToken(b, plain),
      'invalid_token',
      'typ_not_accepted',
    );
  });

  it("an entry's audience replaces the top-level one for that issuer only", async () => {
    const tokens = await service({
      audience: 'https://only-for-b.example',
      issuers: [{ issuer: a.issuer, audience: API }, { issuer: b.issuer }],
    });
    expect((await tokens.validate(await a.clientCredentials())).issuer).toBe(a.issuer);
    await expectRefusal(tokens, await b.clientCredentials(), 'invalid_token', 'aud_mismatch');
  });

  it("an entry's jwksUri is used for that issuer, and the other still discovers its own", async () => {
    const tokens = await service({
      issuers: [{ issuer: a.issuer, jwksUri: a.url('/jwks') }, { issuer: b.issuer }],
    });
    await tokens.validate(await a.clientCredentials());
    await tokens.validate(await b.clientCredentials());
    expect(a.hits.get('/.well-known/openid-configuration')).toBe(0);
    expect(b.hits.get('/.well-known/openid-configuration')).toBe(1);
  });
});

describe('outages and rotation stay with their issuer', () => {
  it('A down: A’s tokens are 503, B’s are still accepted; A back: accepted again', async () => {
    let now = Date.now();
    const tokens = await service({}, () => now);
    const [fromA, fromB] = await Promise.all([a.clientCredentials(), b.clientCredentials()]);
    await a.stop();
    try {
      await expectRefusal(tokens, fromA, 'issuer_unavailable');
      expect((await tokens.validate(fromB)).issuer).toBe(b.issuer);
    } finally {
      await a.start();
    }
    // A's failure cooldown (a second or two) passes on the app's clock, not the wall clock.
    now += 3_000;
    expect((await tokens.validate(fromA)).issuer).toBe(a.issuer);
  });

  it("A's key rotation refetches A's keys only", async () => {
    const tokens = await service({});
    await tokens.validate(await a.clientCredentials());
    await tokens.validate(await b.clientCredentials());
    await a.rotateKeys();
    a.resetHits();
    b.resetHits();
    expect((await tokens.validate(await a.clientCredentials())).issuer).toBe(a.issuer);
    expect(a.hits.get('/jwks')).toBe(1);
    expect((await tokens.validate(await b.clientCredentials())).issuer).toBe(b.issuer);
    expect(b.hits.get('/jwks')).toBe(0);
  });
});

describe('opaque tokens: introspected in list order, the first active answer wins', () => {
  const both = () =>
    service({
      issuers: [
        { issuer: a.issuer, introspection },
        { issuer: b.issuer, introspection },
      ],
    });

  it('a token active at the second issuer only is accepted, after one call to each', async () => {
    const tokens = await both();
    const opaque = await b.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    a.resetHits();
    b.resetHits();
    const principal = await tokens.validate(opaque);
    expect({ issuer: principal.issuer, source: principal.source }).toEqual({
      issuer: b.issuer,
      source: 'introspection',
    });
    expect(a.hits.get('POST /token/introspection')).toBe(1);
    expect(b.hits.get('POST /token/introspection')).toBe(1);
  });

  it('a token active at the first issuer is never shown to the second', async () => {
    const tokens = await both();
    const opaque = await a.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    a.resetHits();
    b.resetHits();
    expect((await tokens.validate(opaque)).issuer).toBe(a.issuer);
    expect(b.hits.get('POST /token/introspection')).toBe(0);
  });

  it('inactive at every issuer → token_inactive', async () => {
    const tokens = await both();
    await expectRefusal(tokens, 'not-a-token-either-server-issued', 'token_inactive', 'inactive');
  });

  it("the first issuer down: B's token is still accepted, an unknown one is 503", async () => {
    let now = Date.now();
    const tokens = await service(
      {
        issuers: [
          { issuer: a.issuer, introspection },
          { issuer: b.issuer, introspection },
        ],
      },
      () => now,
    );
    const opaque = await b.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    await a.stop();
    try {
      expect((await tokens.validate(opaque)).issuer).toBe(b.issuer);
      // A might have known this one: not knowing is not "inactive".
      await expectRefusal(tokens, 'unknown-opaque-token', 'issuer_unavailable');
    } finally {
      await a.start();
    }
    now += 3_000;
    await expectRefusal(tokens, 'unknown-opaque-token-2', 'token_inactive', 'inactive');
  });

  it('inactive at the first issuer and the second one down → 503, never token_inactive', async () => {
    const tokens = await service({
      issuers: [
        { issuer: a.issuer, introspection },
        { issuer: b.issuer, introspection },
      ],
    });
    await b.stop();
    try {
      // B might have issued it: not knowing is not "inactive", whatever A said first.
      await expectRefusal(tokens, 'unknown-to-a-and-b-is-down', 'issuer_unavailable');
    } finally {
      await b.start();
    }
  });

  it('only issuers that configure introspection are asked', async () => {
    const tokens = await service({
      issuers: [{ issuer: a.issuer }, { issuer: b.issuer, introspection }],
    });
    const opaque = await b.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    a.resetHits();
    expect((await tokens.validate(opaque)).issuer).toBe(b.issuer);
    expect(a.seen).toHaveLength(0);
  });
});

describe('routing: each rule decides on its own', () => {
  const b64 = (value: unknown) =>
    Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  /** A JWE-shaped token (five segments) whose protected header is `header`. */
  const jweShaped = (header: unknown) =>
    `${b64(header)}.${b64('k')}.${b64('iv')}.${b64('c')}.${b64('t')}`;

  async function refusal(tokens: TokenValidationService, token: string) {
    const error = await rejection(tokens.validate(token));
    return { code: error.code, reason: error.reason, claim: error.claim, message: error.message };
  }

  it('two issuers: a JWS whose payload is not JSON is malformed, not "no iss"', async () => {
    const tokens = await service({});
    const junk = signByHand(defaultHeader(a), 'not json', asSigningKey(a));
    expect(await refusal(tokens, junk)).toEqual({
      code: 'invalid_token',
      reason: 'malformed',
      claim: undefined,
      message: 'The access token is malformed',
    });
    expect(seenByEither()).toBe(0);
  });

  it('two issuers: a JWT without iss names the missing claim, with no network call', async () => {
    const tokens = await service({});
    const noIss = await forgeAccessToken(a, { claims: { iss: undefined } });
    expect(await refusal(tokens, noIss)).toMatchObject({
      code: 'invalid_token',
      reason: 'claim_missing',
      claim: 'iss',
    });
    expect(seenByEither()).toBe(0);
  });

  it('an unknown iss is refused naming the claim and the rule', async () => {
    const tokens = await service({});
    const other = await forgeAccessToken(a, { claims: { iss: 'https://elsewhere.example.test' } });
    expect(await refusal(tokens, other)).toEqual({
      code: 'invalid_token',
      reason: 'iss_mismatch',
      claim: 'iss',
      message: 'The access token was issued by another issuer',
    });
  });

  it('a JWT-shaped token naming no known issuer is introspected at the opaque-only issuer', async () => {
    const tokens = await service({
      issuers: [{ issuer: a.issuer, introspection, tokenFormat: 'opaque' }, { issuer: b.issuer }],
    });
    const handle = await forgeAccessToken(b, { claims: { iss: 'https://elsewhere.example.test' } });
    // oidc-provider's verdict on a JWT it did not issue, not a local iss_mismatch
    expect(await refusal(tokens, handle)).toMatchObject({
      code: 'invalid_token',
      reason: 'unsupported_token_type',
    });
    expect(a.hits.get('POST /token/introspection')).toBe(1);
  });

  it('a JWE is refused as encrypted, with a message that says so', async () => {
    const tokens = await service({ issuers: [{ issuer: a.issuer, introspection }] });
    expect(await refusal(tokens, jweShaped({ alg: 'RSA-OAEP', enc: 'A256GCM' }))).toEqual({
      code: 'invalid_token',
      reason: 'encrypted',
      claim: undefined,
      message: 'Encrypted (JWE) access tokens are not supported',
    });
    expect(seenByEither()).toBe(0);
  });

  // oidc-provider calls a five-segment value a token type it does not support; either way the
  // verdict is the authorization server's, not a local "encrypted".
  it.each([
    [
      'a five-segment token whose header has no enc',
      jweShaped({ alg: 'RSA-OAEP' }),
      'unsupported_token_type',
    ],
    ['a five-segment token whose first segment is not JSON', jweShaped('not json'), 'inactive'],
    [
      'a two-segment token whose first segment names an enc',
      `${b64({ enc: 'A256GCM' })}.${b64('x')}`,
      'inactive',
    ],
  ])('%s is introspected like any opaque token', async (_what, token, reason) => {
    const tokens = await service({ issuers: [{ issuer: a.issuer, introspection }] });
    expect(await refusal(tokens, token)).toMatchObject({
      code: reason === 'inactive' ? 'token_inactive' : 'invalid_token',
      reason,
    });
    expect(a.hits.get('POST /token/introspection')).toBe(1);
  });

  it('an issuer that introspects every token judges JWE-shaped tokens too', async () => {
    const tokens = await service({
      issuers: [{ issuer: a.issuer, introspection, tokenFormat: 'opaque' }],
    });
    const jwe = jweShaped({ alg: 'RSA-OAEP', enc: 'A256GCM' });
    // oidc-provider's verdict on a JWE it cannot read, not a local "encrypted"
    expect(await refusal(tokens, jwe)).toMatchObject({
      code: 'invalid_token',
      reason: 'unsupported_token_type',
    });
    expect(a.hits.get('POST /token/introspection')).toBe(1);
  });

  it('not a JWT: malformed when every issuer takes JWTs only, else "introspection not configured"', async () => {
    const jwtOnly = await service({
      issuers: [
        { issuer: a.issuer, tokenFormat: 'jwt' },
        { issuer: b.issuer, tokenFormat: 'jwt' },
      ],
    });
    expect(await refusal(jwtOnly, 'opaque-value')).toEqual({
      code: 'invalid_token',
      reason: 'malformed',
      claim: undefined,
      message: 'The access token is malformed',
    });
    const auto = await service({});
    expect(await refusal(auto, 'opaque-value')).toEqual({
      code: 'invalid_token',
      reason: 'introspection_not_configured',
      claim: undefined,
      message: 'The access token is not a JWT, and introspection is not configured',
    });
  });
});

describe('start-up checks', () => {
  it.each([
    [
      { issuer: 'https://a.example', issuers: [{ issuer: 'https://b.example' }] },
      /"issuers".*"issuer"/,
    ],
    [{ issuers: [] }, /"issuers" must be a non-empty array/],
    [
      { issuers: [{ issuer: 'https://a.example' }, { issuer: 'https://a.example' }] },
      /"issuers\[1\]\.issuer" is listed twice/,
    ],
    [
      { issuers: [{ issuer: 'https://a.example', audiance: 'x' }] },
      /"issuers\[0\]\.audiance" is not a known option/,
    ],
    [{ issuers: [{ issuer: 'http://a.example' }] }, /"issuers\[0\]\.issuer" must use https/],
    [
      { issuers: [{ issuer: 'https://a.example', tokenFormat: 'opaque' }] },
      /"issuers\[0\]\.introspection" is required/,
    ],
    [
      { issuers: [{ issuer: 'https://a.example', userInfo: { ttl: 5 } }] },
      /"issuers\[0\]\.userInfo\.ttl" is not a known option/,
    ],
    [{ resolveIssuer: 'https://a.example' }, /"resolveIssuer" must be a function/],
    [
      { issuer: 'https://a.example', issuers: undefined, maxIssuers: 0 },
      /"maxIssuers" must be an integer >= 1/,
    ],
  ])('%p is refused at start', async (options, message) => {
    const error = await rejection(service(options as Partial<OidcResourceModuleOptions>));
    expect(error.code).toBe('invalid_configuration');
    expect(error.message).toMatch(message);
  });

  it('an entry without audience inherits the top-level one; with neither, the entry is named', async () => {
    const error = await rejection(
      buildValidationService(modules, { issuers: [{ issuer: 'https://a.example' }] }),
    );
    expect(error.message).toMatch(/"audience" is required/);
  });
});
