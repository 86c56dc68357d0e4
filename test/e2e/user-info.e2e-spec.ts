/**
 * UserInfoService (OIDC Core 1.0 §5.3, API.md "Services", STANDARDS.md §L items 80–85).
 *
 * The user-bound token is the one oidc-provider's UserInfo accepts: opaque, no resource
 * indicator (no `aud`), `openid` scope. The API accepts it through introspection because an
 * audience-less introspection answer typed `Bearer` is an access token (API.md, `audience`).
 *
 * Everything runs against the real oidc-provider fixture, signed UserInfo included (it signs
 * for the client `web-app-signed`), except the faults it cannot produce (an introspection
 * answer without `sub` or `client_id`, junk UserInfo bodies, forged or mis-addressed signed
 * answers, an array `aud`), which a small fault server plays, with its own discovery,
 * introspection, JWKS and `/me`.
 */
import { createPublicKey, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test, type TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import {
  OIDC_RESOURCE_CLOCK,
  OidcResourceError,
  OidcResourceModule,
  TokenCacheService,
  TokenExpiredError,
  TokenValidationService,
  UserInfoNotPermittedError,
  UserInfoService,
  UserInfoSubjectMismatchError,
  type AuthenticatedPrincipal,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  ALICE_CLAIMS,
  API,
  CLIENTS,
  RS_CLIENT,
  generateSigningKeys,
  startAuthorizationServer,
  toPublicJwk,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import { signByHand, toKeyObject } from '../fixtures/tokens.js';
import { ADAPTERS, testAppModule, type AdapterName } from '../fixtures/test-app.js';

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** Every log line of every Nest app / testing module in this file (the Logger is static). */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  private record(level: string, message: unknown, rest: unknown[]): void {
    const parts = [message, ...rest].map((part) =>
      typeof part === 'string' ? part : inspect(part, { depth: 8, showHidden: true }),
    );
    this.lines.push(`${level} ${parts.join(' ')}`);
  }
  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }
}

const logger = new RecordingLogger();
/** Every token this file sends anywhere; none may ever show up in a log line. */
const issuedTokens = new Set<string>();
const remember = (token: string): string => {
  issuedTokens.add(token);
  return token;
};

/** A clock the tests move forward instead of waiting (OIDC_RESOURCE_CLOCK). */
function movableClock(): { now: () => number; advance: (ms: number) => void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}

async function compileService(
  options: OidcResourceModuleOptions,
  clock?: () => number,
): Promise<{
  moduleRef: TestingModule;
  userInfo: UserInfoService;
  tokens: TokenValidationService;
}> {
  let builder = Test.createTestingModule({
    imports: [OidcResourceModule.forRoot({ global: false, ...options })],
  }).setLogger(logger);
  if (clock) builder = builder.overrideProvider(OIDC_RESOURCE_CLOCK).useValue(clock);
  const moduleRef = await builder.compile();
  return {
    moduleRef,
    userInfo: moduleRef.get(UserInfoService),
    tokens: moduleRef.get(TokenValidationService),
  };
}

async function startApp(
  adapter: AdapterName,
  options: OidcResourceModuleOptions,
): Promise<{ app: INestApplication; url: string }> {
  const root = testAppModule(OidcResourceModule.forRoot(options));
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(root, new FastifyAdapter(), { logger, abortOnError: false })
      : await NestFactory.create(root, { logger, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

/** Runs `fn` and returns what it threw (fails the test when it does not throw). */
async function rejection(fn: () => Promise<unknown>): Promise<OidcResourceError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OidcResourceError);
    return error as OidcResourceError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(result)}`);
}

const CHALLENGE_403_OPENID =
  /^Bearer realm="api", error="insufficient_scope", error_description="[^"\\]+", scope="openid"$/;

let as: AuthorizationServer;
let fs: FaultServer;

beforeAll(async () => {
  Logger.overrideLogger(logger);
  [as, fs] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
  // UserInfo answers `sub: "someone-else"` for the token of `mallory` (introspection says "mallory").
  as.addAccount(
    'mallory',
    { email: 'mallory@example.test', name: 'Mallory' },
    { accountId: 'someone-else' },
  );
});
afterAll(async () => {
  await Promise.all([as?.close(), fs?.close()]);
});

const userToken = async (
  o: { scope?: string; expiresIn?: number; accountId?: string; clientId?: string } = {},
): Promise<string> =>
  remember(
    await as.mintAccessToken({
      resource: null,
      format: 'opaque',
      scope: 'openid email profile',
      ...o,
    }),
  );

const asOptions = (): OidcResourceModuleOptions => ({
  issuer: as.issuer,
  audience: API,
  realm: 'api',
  clockTolerance: 0,
  introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
});

const meHits = (): number => as.hits.get('GET /me');

// ---------------------------------------------------------------------------------------------
// The service against the real authorization server
// ---------------------------------------------------------------------------------------------

describe('UserInfoService against oidc-provider', () => {
  const clock = movableClock();
  const sharedStore = new Map<string, unknown>();
  let moduleRef: TestingModule;
  let userInfo: UserInfoService;
  let tokens: TokenValidationService;

  beforeAll(async () => {
    ({ moduleRef, userInfo, tokens } = await compileService(
      { ...asOptions(), cache: { stores: [new Keyv({ store: sharedStore })] } },
      clock.now,
    ));
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it("returns the test user's claims for a principal from TokenValidationService.validate", async () => {
    const token = await userToken();
    const principal = await tokens.validate(token);
    expect(principal).toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      source: 'introspection',
      audience: [],
    });
    const before = meHits();
    const claims = await userInfo.getUserInfo(principal);
    expect(claims).toEqual({ ...ALICE_CLAIMS });
    expect(meHits()).toBe(before + 1);
    // OIDC Core §5.3.1: GET with the token in the Authorization header (Bearer).
    const call = as.seen.filter((r) => r.path === '/me').at(-1);
    expect(call).toMatchObject({ method: 'GET', auth: 'Bearer', query: '' });
  });

  // Signed UserInfo (OIDC Core §5.3.2), signed by oidc-provider itself for `web-app-signed`
  // (userinfo_signed_response_alg RS256): the issuer's key, iss = the issuer, aud = the client.
  const signedToken = (o: { scope?: string; accountId?: string; expiresIn?: number } = {}) =>
    userToken({ clientId: CLIENTS.webAppSigned.id, scope: 'openid email', ...o });
  const decodeSegment = (jwt: string, i: 0 | 1): Record<string, unknown> =>
    JSON.parse(Buffer.from(jwt.split('.')[i]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;

  it("verifies oidc-provider's own signed answer (application/jwt): issuer key, iss, aud = the client", async () => {
    const token = await signedToken();
    const direct = await as.userinfo(token);
    expect(direct.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jwt = String(direct.body);
    // really signed by the AS, with its current RS256 key
    expect(decodeSegment(jwt, 0)).toMatchObject({ alg: 'RS256', kid: as.keys[0]!.kid });
    const signedClaims = decodeSegment(jwt, 1);
    const before = meHits();
    const claims = await userInfo.getUserInfo(token);
    expect(meHits()).toBe(before + 1);
    expect(claims).toEqual({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      email_verified: true,
      iss: as.issuer,
      aud: CLIENTS.webAppSigned.id,
      iat: expect.any(Number) as number, // each answer is signed anew
      exp: signedClaims.exp,
    });
  });

  it('passes the scope filtering of a signed answer through (openid only: sub and the JWT claims)', async () => {
    const claims = await userInfo.getUserInfo(await signedToken({ scope: 'openid' }));
    expect(claims).toMatchObject({ sub: 'alice', iss: as.issuer, aud: CLIENTS.webAppSigned.id });
    expect(claims).not.toHaveProperty('email');
    expect(claims).not.toHaveProperty('name');
  });

  it('serves a verified signed answer from the cache on the second call', async () => {
    const token = await signedToken({ scope: 'openid email profile' });
    const principal = await tokens.validate(token);
    expect(principal).toMatchObject({ sub: 'alice', clientId: CLIENTS.webAppSigned.id });
    const before = meHits();
    const first = await userInfo.getUserInfo(principal);
    const second = await userInfo.getUserInfo(token);
    expect(meHits()).toBe(before + 1);
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      name: ALICE_CLAIMS.name,
      aud: CLIENTS.webAppSigned.id,
    });
  });

  it("refuses oidc-provider's correctly signed answer for another subject", async () => {
    const token = await signedToken({ accountId: 'mallory' });
    expect(decodeSegment(String((await as.userinfo(token)).body), 1)).toMatchObject({
      sub: 'someone-else',
    });
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(UserInfoSubjectMismatchError);
    expect(error).toMatchObject({ code: 'userinfo_subject_mismatch', status: 502 });
    expect(error.message).not.toContain('someone-else');
  });

  it('only returns the claims the token scopes allow (the AS filters, the service passes them through)', async () => {
    const claims = await userInfo.getUserInfo(await userToken({ scope: 'openid email' }));
    expect(claims).toEqual({ sub: 'alice', email: ALICE_CLAIMS.email, email_verified: true });
  });

  it('serves a second call from the cache: no second request to the UserInfo endpoint', async () => {
    const token = await userToken();
    const principal = await tokens.validate(token);
    const before = meHits();
    const first = await userInfo.getUserInfo(principal);
    const second = await userInfo.getUserInfo(principal);
    // a principal validated again from the same token shares the entry too (keyed by token)
    const third = await userInfo.getUserInfo(await tokens.validate(token));
    const fourth = await userInfo.getUserInfo(token);
    expect(meHits()).toBe(before + 1);
    for (const claims of [second, third, fourth]) expect(claims).toEqual(first);
    expect(first).toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      name: ALICE_CLAIMS.name,
    });
  });

  it('collapses 20 concurrent calls for one fresh token into one UserInfo request', async () => {
    const token = await userToken();
    const principal = await tokens.validate(token);
    const before = meHits();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? userInfo.getUserInfo(principal) : userInfo.getUserInfo(token),
      ),
    );
    expect(meHits()).toBe(before + 1);
    for (const claims of results) expect(claims).toEqual({ ...ALICE_CLAIMS });
  });

  it('accepts a raw access token string (validated first, then UserInfo)', async () => {
    const token = await userToken();
    const introspectionsBefore = as.hits.get('POST /token/introspection');
    const claims = await userInfo.getUserInfo(token);
    expect(claims).toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      name: ALICE_CLAIMS.name,
    });
    expect(as.hits.get('POST /token/introspection')).toBe(introspectionsBefore + 1);
  });

  it('validates a raw token string: an invalid one fails as invalid, UserInfo is never asked', async () => {
    const before = meHits();
    const error = await rejection(() =>
      userInfo.getUserInfo(remember(`not-a-real-token-${randomUUID()}`)),
    );
    expect(error.code).toBe('token_inactive');
    expect(error.status).toBe(401);
    expect(meHits()).toBe(before);
  });

  it('refuses a client-credentials JWT for the API with UserInfoNotPermittedError, not "invalid token"', async () => {
    const token = remember(await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }));
    const principal = await tokens.validate(token); // valid for this API...
    expect(principal.sub).toBe('cc-jwt'); // ...with a sub (oidc-provider's JWTs carry the client id)
    const before = meHits();
    const error = await rejection(() => userInfo.getUserInfo(principal));
    expect(error).toBeInstanceOf(UserInfoNotPermittedError);
    expect(error.code).toBe('userinfo_not_permitted');
    expect(error.status).toBe(403);
    expect((error as UserInfoNotPermittedError).requiredScopes).toEqual(['openid']);
    expect(meHits()).toBe(before + 1); // the endpoint was asked and refused (audience-bound token)
    // the token stays valid for the API, and the refusal is not cached: asking again asks again
    await expect(tokens.validate(token)).resolves.toMatchObject({ sub: 'cc-jwt' });
    await expect(userInfo.getUserInfo(token)).rejects.toBeInstanceOf(UserInfoNotPermittedError);
    expect(meHits()).toBe(before + 2);
  });

  it('refuses a token without sub (an opaque client-credentials token) with a clear error, without asking UserInfo', async () => {
    const token = remember(
      await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' }),
    );
    const principal = await tokens.validate(token);
    expect(principal).toMatchObject({ clientId: 'cc-opaque', source: 'introspection' });
    expect(principal.sub).toBeUndefined(); // oidc-provider's introspection has no sub for client credentials
    const before = meHits();
    const error = await rejection(() => userInfo.getUserInfo(principal));
    expect(error).toMatchObject({ code: 'userinfo_not_permitted', status: 403 });
    expect(error.message).toMatch(/user-bound/);
    expect(meHits()).toBe(before);
  });

  it('refuses a user-bound token without the openid scope with UserInfoNotPermittedError', async () => {
    const token = await userToken({ scope: 'email' });
    const principal = await tokens.validate(token);
    expect(principal.scopes).toEqual(['email']);
    const error = await rejection(() => userInfo.getUserInfo(principal));
    expect(error).toBeInstanceOf(UserInfoNotPermittedError);
    expect(error).toMatchObject({ code: 'userinfo_not_permitted', status: 403 });
  });

  it('refuses a UserInfo answer for another subject (OIDC Core §5.3.2) and never returns its claims', async () => {
    const token = await userToken({ accountId: 'mallory', scope: 'openid email' });
    const principal = await tokens.validate(token);
    expect(principal.sub).toBe('mallory'); // introspection: mallory
    expect(await as.userinfo(token)).toMatchObject({ status: 200, body: { sub: 'someone-else' } }); // UserInfo: someone-else
    const error = await rejection(() => userInfo.getUserInfo(principal));
    expect(error).toBeInstanceOf(UserInfoSubjectMismatchError);
    expect(error).toMatchObject({ code: 'userinfo_subject_mismatch', status: 502 });
    expect(error.message).not.toContain('someone-else');
    // not cached: asking again asks the endpoint again and fails again
    const before = meHits();
    await expect(userInfo.getUserInfo(principal)).rejects.toBeInstanceOf(
      UserInfoSubjectMismatchError,
    );
    expect(meHits()).toBe(before + 1);
  });

  it('reports the UserInfo endpoint answering 503 as issuer_unavailable (with Retry-After), and recovers', async () => {
    const token = await userToken();
    const principal = await tokens.validate(token);
    const provider = as.provider.callback();
    as.setHandler((req, res) =>
      req.url?.startsWith('/me')
        ? faults.status(503, 'down', { 'retry-after': '7' })(req, res)
        : provider(req, res),
    );
    try {
      const error = await rejection(() => userInfo.getUserInfo(principal));
      expect(error).toMatchObject({ code: 'issuer_unavailable', status: 503, retryAfter: 7 });
    } finally {
      as.restoreHandler();
    }
    // the failure was not cached: the next call succeeds
    await expect(userInfo.getUserInfo(principal)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('reports an unreachable authorization server as issuer_unavailable, never as an invalid token', async () => {
    const token = await userToken();
    const principal = await tokens.validate(token); // validated (and cached) while the AS was up
    await as.stop();
    try {
      const error = await rejection(() => userInfo.getUserInfo(principal));
      expect(error).toMatchObject({ code: 'issuer_unavailable', status: 503 });
      // the raw-token path: validation is cached, UserInfo is unreachable → still 503
      const viaString = await rejection(() => userInfo.getUserInfo(token));
      expect(viaString.code).toBe('issuer_unavailable');
    } finally {
      await as.start();
    }
    await expect(userInfo.getUserInfo(principal)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('bounds the cache entry by the token lifetime: after exp the call fails as expired instead of serving claims', async () => {
    const token = await userToken({ expiresIn: 2 });
    const principal = await tokens.validate(token);
    expect(principal.expiresAt).toBeInstanceOf(Date);
    const before = meHits();
    await expect(userInfo.getUserInfo(principal)).resolves.toMatchObject({ sub: 'alice' });
    await expect(userInfo.getUserInfo(token)).resolves.toMatchObject({ sub: 'alice' }); // cached
    expect(meHits()).toBe(before + 1);
    clock.advance(3_000);
    const viaPrincipal = await rejection(() => userInfo.getUserInfo(principal));
    expect(viaPrincipal).toBeInstanceOf(TokenExpiredError);
    expect(viaPrincipal).toMatchObject({ code: 'token_expired', status: 401 });
    const viaString = await rejection(() => userInfo.getUserInfo(token));
    expect(viaString.code).toBe('token_expired');
    expect(meHits()).toBe(before + 1); // neither the cache nor the endpoint served an expired token
  });

  it('is refused with a clear invalid_request error for a principal that was copied (its token is private)', async () => {
    const principal = await tokens.validate(await userToken());
    const copy: AuthenticatedPrincipal = { ...principal };
    const error = await rejection(() => userInfo.getUserInfo(copy));
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(error.message).toMatch(/principal/i);
  });

  it('keeps the token out of the principal: JSON, keys, inspect, own properties', async () => {
    const token = await userToken();
    const principal = await tokens.validate(token);
    await userInfo.getUserInfo(principal);
    expect(JSON.stringify(principal)).not.toContain(token);
    expect(JSON.stringify(principal)).toContain('alice'); // the serialization is not empty
    expect(Object.keys(principal)).toEqual(
      expect.arrayContaining([
        'sub',
        'clientId',
        'scopes',
        'issuer',
        'audience',
        'expiresAt',
        'claims',
        'source',
      ]),
    );
    for (const key of Reflect.ownKeys(principal)) {
      expect(String(key)).not.toContain(token);
      const value = (principal as unknown as Record<PropertyKey, unknown>)[key];
      expect(inspect(value, { depth: 8, showHidden: true })).not.toContain(token);
    }
    expect(inspect(principal, { depth: 8, showHidden: true, getters: true })).not.toContain(token);
    expect(inspect(principal.claims, { depth: 8, showHidden: true })).not.toContain(token);
    expect(JSON.stringify(structuredClone(principal))).not.toContain(token);
  });

  it('never stores the token in a cache store: keys are hashes, values hold claims only', async () => {
    const token = await userToken();
    await userInfo.getUserInfo(token);
    const entries = [...sharedStore.entries()].map(
      ([key, value]) => `${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
    const userinfoEntries = entries.filter((entry) => entry.includes(':userinfo:'));
    expect(userinfoEntries.length).toBeGreaterThan(0);
    expect(userinfoEntries.some((entry) => entry.includes(ALICE_CLAIMS.email))).toBe(true);
    for (const entry of entries) expect(entry).not.toContain(token);
    for (const t of issuedTokens) for (const entry of entries) expect(entry).not.toContain(t);
  });
});

describe('UserInfo entries read back from a shared store', () => {
  const store = new Map<string, unknown>();
  const modules: TestingModule[] = [];
  afterAll(async () => {
    await Promise.all(modules.map((m) => m.close()));
  });
  /** A fresh instance (empty memory tier) over the shared store. */
  async function reader(): Promise<UserInfoService> {
    const compiled = await compileService({
      ...asOptions(),
      cache: { stores: [new Keyv({ store })] },
    });
    modules.push(compiled.moduleRef);
    return compiled.userInfo;
  }

  it.each([
    ['another subject', { sub: 'mallory', email: 'mallory@evil.example' }],
    ['no sub', { email: 'mallory@evil.example' }],
    ['a non-string sub', { sub: 42 }],
    ['a string', 'alice'],
    ['an array', [{ sub: 'alice' }]],
    ['null', null],
  ])(
    'an entry holding %s is a miss (logged): the real claims are fetched, never a 500',
    async (_what, planted) => {
      const token = await userToken();
      await (await reader()).getUserInfo(token);
      const logical = TokenCacheService.keyFor('userinfo', token);
      const key = [...store.keys()].find((k) => k.includes(logical));
      expect(key).toBeDefined();
      store.set(key!, JSON.stringify({ value: { until: Date.now() + 60_000, value: planted } }));
      const linesBefore = logger.lines.length;
      const before = meHits();
      await expect((await reader()).getUserInfo(token)).resolves.toEqual({ ...ALICE_CLAIMS });
      expect(meHits()).toBe(before + 1);
      const warns = logger.lines.slice(linesBefore).filter((l) => l.startsWith('warn'));
      expect(warns.some((l) => /corrupt|not usable/i.test(l))).toBe(true);
    },
  );
});

describe('UserInfoService cache lifetime options', () => {
  it('caches for userInfo.ttl when that is shorter than the token lifetime', async () => {
    const clock = movableClock();
    const { moduleRef, userInfo } = await compileService(
      { ...asOptions(), userInfo: { ttl: 1_000 } },
      clock.now,
    );
    try {
      const token = await userToken();
      const before = meHits();
      await userInfo.getUserInfo(token);
      await userInfo.getUserInfo(token);
      expect(meHits()).toBe(before + 1);
      clock.advance(1_500);
      await expect(userInfo.getUserInfo(token)).resolves.toMatchObject({ sub: 'alice' });
      expect(meHits()).toBe(before + 2);
    } finally {
      await moduleRef.close();
    }
  });

  it('does not cache at all with userInfo.ttl: 0 (two calls, two requests)', async () => {
    const { moduleRef, userInfo } = await compileService({ ...asOptions(), userInfo: { ttl: 0 } });
    try {
      const token = await userToken();
      const before = meHits();
      await expect(userInfo.getUserInfo(token)).resolves.toMatchObject({ sub: 'alice' });
      await expect(userInfo.getUserInfo(token)).resolves.toMatchObject({ sub: 'alice' });
      expect(meHits()).toBe(before + 2);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('signed UserInfo across a key rotation of oidc-provider', () => {
  let moduleRef: TestingModule;
  let userInfo: UserInfoService;
  beforeAll(async () => {
    ({ moduleRef, userInfo } = await compileService(asOptions()));
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it('verifies an answer signed with the new key: an unknown kid makes the service fetch the JWKS again', async () => {
    const signed = () =>
      userToken({ clientId: CLIENTS.webAppSigned.id, scope: 'openid email', expiresIn: 60 });
    await expect(userInfo.getUserInfo(await signed())).resolves.toMatchObject({
      sub: 'alice',
      aud: CLIENTS.webAppSigned.id,
    });
    const oldKid = as.keys[0]!.kid;
    const jwksBefore = as.hits.get('/jwks');
    await as.rotateKeys();
    expect(as.keys[0]!.kid).not.toBe(oldKid);
    await expect(userInfo.getUserInfo(await signed())).resolves.toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      iss: as.issuer,
      aud: CLIENTS.webAppSigned.id,
    });
    expect(as.hits.get('/jwks')).toBe(jwksBefore + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Faults a real AS does not produce: a small fault server plays the whole issuer
// ---------------------------------------------------------------------------------------------

describe('UserInfoService against a misbehaving issuer (fault server)', () => {
  const CLIENT_ID = 'web-app';
  const [signingKey] = generateSigningKeys('fs');
  const [foreignKey] = generateSigningKeys('fs'); // same kid, different key material
  let moduleRef: TestingModule;
  let userInfo: UserInfoService;

  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const introspectionAnswer = (extra: Record<string, unknown> = {}) => ({
    active: true,
    token_type: 'Bearer',
    scope: 'openid email',
    client_id: CLIENT_ID,
    sub: 'alice',
    iss: fs.origin,
    exp: nowSeconds() + 300,
    ...extra,
  });
  /** A token the fault server "issued" (its introspection answers for any token). */
  const faultToken = () => remember(`fault-${randomUUID()}`);
  const signedUserInfo = (
    claims: Record<string, unknown>,
    o: { header?: Record<string, unknown>; key?: unknown } = {},
  ) =>
    signByHand(
      { alg: 'RS256', kid: signingKey!.kid, typ: 'JWT', ...o.header },
      {
        iss: fs.origin,
        aud: CLIENT_ID,
        sub: 'alice',
        email: ALICE_CLAIMS.email,
        iat: nowSeconds(),
        exp: nowSeconds() + 300,
        ...claims,
      },
      (o.key ?? signingKey) as never,
    );
  const serveUserInfo = (handler: ReturnType<typeof faults.json>) => fs.route('/me', handler);
  const jwtResponse = (jwt: string) => faults.text(jwt, 'application/jwt; charset=utf-8');

  beforeAll(async () => {
    fs.serveDiscovery();
    fs.route('/jwks', faults.json({ keys: [toPublicJwk(signingKey!)] }));
    ({ moduleRef, userInfo } = await compileService({
      issuer: fs.origin,
      audience: API,
      realm: 'api',
      httpTimeout: 300,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    }));
  });
  beforeEach(() => {
    fs.route('/token/introspection', faults.json(introspectionAnswer()));
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it('refuses a token without sub with a clear userinfo_not_permitted error, before calling UserInfo', async () => {
    fs.route(
      '/token/introspection',
      faults.json({ active: true, token_type: 'Bearer', scope: 'openid', client_id: 'x' }),
    );
    serveUserInfo(faults.json({ sub: 'alice' }));
    const before = fs.hits.get('/me');
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error).toMatchObject({ code: 'userinfo_not_permitted', status: 403 });
    expect(error.message).toMatch(/user-bound/);
    expect(error.message).toMatch(/sub/);
    expect(fs.hits.get('/me')).toBe(before);
  });

  it('returns the claims of a plain JSON answer (sanity check of the fault setup)', async () => {
    serveUserInfo(faults.json({ sub: 'alice', email: ALICE_CLAIMS.email }));
    await expect(userInfo.getUserInfo(faultToken())).resolves.toEqual({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
    });
  });

  it('refuses an answer without sub as a subject mismatch (OIDC Core §5.3.2: sub MUST be returned)', async () => {
    serveUserInfo(faults.json({ email: ALICE_CLAIMS.email }));
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error).toBeInstanceOf(UserInfoSubjectMismatchError);
    expect(error.status).toBe(502);
  });

  it.each([
    ['HTML with status 200', faults.html()],
    [
      'invalid JSON served as application/json',
      faults.text('{"sub": "alice",', 'application/json'),
    ],
    ['a JSON array', faults.json([{ sub: 'alice' }])],
    ['a JSON string', faults.json('alice')],
    ['an empty body', faults.text('', 'application/json')],
    ['a redirect', faults.status(302, '', { location: 'http://127.0.0.1:1/elsewhere' })],
    ['a 500', faults.status(500, 'boom')],
    ['a dropped connection', faults.destroy()],
  ])('turns %s into issuer_unavailable (typed, not a crash)', async (_what, handler) => {
    serveUserInfo(handler);
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error).toMatchObject({ code: 'issuer_unavailable', status: 503 });
  });

  it.each([
    ['404 with an empty body (some providers, for a client-credentials token)', faults.status(404)],
    ['400 invalid_request', faults.json({ error: 'invalid_request' }, { status: 400 })],
    ['405', faults.status(405)],
    ['410', faults.status(410, 'gone')],
  ])(
    'turns an unexpected 4xx, %s, into userinfo_failed (502): a retry cannot help',
    async (_what, handler) => {
      serveUserInfo(handler);
      const error = await rejection(() => userInfo.getUserInfo(faultToken()));
      expect(error).toMatchObject({ code: 'userinfo_failed', status: 502 });
      expect(error.message).toMatch(/UserInfo.*HTTP 4\d\d/);
    },
  );

  it.each([
    [408, faults.status(408)],
    [429, faults.status(429, '', { 'retry-after': '3' })],
  ])('keeps %s transient: issuer_unavailable (503)', async (_status, handler) => {
    serveUserInfo(handler);
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error).toMatchObject({ code: 'issuer_unavailable', status: 503 });
  });

  it('gives up on a UserInfo endpoint that hangs after httpTimeout, as issuer_unavailable', async () => {
    serveUserInfo(faults.hang());
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error).toMatchObject({ code: 'issuer_unavailable', status: 503 });
    expect(error.message).toMatch(/300 ms/);
  });

  // oidc-provider always signs aud as one string: an array aud is a shape only the stub plays.
  it('accepts a signed answer whose aud is an array that includes the client id', async () => {
    serveUserInfo(jwtResponse(signedUserInfo({ aud: ['another-client', CLIENT_ID] })));
    await expect(userInfo.getUserInfo(faultToken())).resolves.toMatchObject({ sub: 'alice' });
  });

  it.each([
    ['a wrong iss', () => signedUserInfo({ iss: 'https://evil.example.test' })],
    ['no iss', () => signedUserInfo({ iss: undefined })],
    ['a wrong aud', () => signedUserInfo({ aud: 'another-client' })],
    ['no aud', () => signedUserInfo({ aud: undefined })],
    ['a bad signature (another key, same kid)', () => signedUserInfo({}, { key: foreignKey })],
    [
      'a tampered payload',
      () => {
        const [h, , s] = signedUserInfo({}).split('.');
        const forged = Buffer.from(
          JSON.stringify({
            iss: fs.origin,
            aud: CLIENT_ID,
            sub: 'alice',
            email: 'attacker@evil.test',
          }),
        ).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
    ],
    [
      'alg none',
      () => {
        const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: fs.origin, aud: CLIENT_ID, sub: 'alice' })}.`;
      },
    ],
    [
      'HS256 keyed with the public key',
      () => {
        const pem = Buffer.from(
          createPublicKey(toKeyObject(signingKey!)).export({
            type: 'spki',
            format: 'pem',
          }) as string,
        );
        return signByHand(
          { alg: 'HS256', kid: signingKey!.kid, typ: 'JWT' },
          { iss: fs.origin, aud: CLIENT_ID, sub: 'alice' },
          pem,
        );
      },
    ],
    [
      'an expired response',
      () => signedUserInfo({ exp: nowSeconds() - 3600, iat: nowSeconds() - 7200 }),
    ],
    ['garbage', () => 'this.is-not.a-jwt'],
  ])('refuses a signed answer with %s (typed error, no claims)', async (_what, make) => {
    serveUserInfo(jwtResponse(make()));
    const error = await rejection(() => userInfo.getUserInfo(faultToken()));
    expect(error.code).toBe('issuer_unavailable');
    expect(error.status).toBe(503);
  });

  it.each([
    ['the client the answer names', {}],
    ['another client', { aud: 'another-client' }],
    ['no aud', { aud: undefined }],
  ])(
    'refuses a signed answer (aud: %s) when the token names no client: its aud cannot be checked',
    async (_what, claims) => {
      fs.route('/token/introspection', faults.json(introspectionAnswer({ client_id: undefined })));
      serveUserInfo(jwtResponse(signedUserInfo(claims)));
      const error = await rejection(() => userInfo.getUserInfo(faultToken()));
      expect(error).toMatchObject({ code: 'userinfo_failed', status: 502 });
      expect(error.message).toMatch(/client_id|azp/);
    },
  );

  // oidc-provider's introspection always names client_id: a token with only azp is stub-made.
  it('checks a signed answer against azp when the token has no client_id', async () => {
    fs.route(
      '/token/introspection',
      faults.json(introspectionAnswer({ client_id: undefined, azp: CLIENT_ID })),
    );
    serveUserInfo(jwtResponse(signedUserInfo({})));
    await expect(userInfo.getUserInfo(faultToken())).resolves.toMatchObject({ sub: 'alice' });
    serveUserInfo(jwtResponse(signedUserInfo({ aud: 'another-client' })));
    await expect(rejection(() => userInfo.getUserInfo(faultToken()))).resolves.toMatchObject({
      status: 503,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// userInfo.endpoint: for providers whose discovery cannot be reached
// ---------------------------------------------------------------------------------------------

describe('userInfo.endpoint', () => {
  let other: FaultServer;
  let moduleRef: TestingModule;
  let userInfo: UserInfoService;

  beforeAll(async () => {
    other = await startFaultServer();
    other.route('/.well-known/openid-configuration', faults.status(503));
    other.route('/.well-known/oauth-authorization-server', faults.status(503));
    other.route(
      '/introspect',
      faults.json({
        active: true,
        token_type: 'Bearer',
        scope: 'openid email',
        client_id: 'web-app',
        sub: 'alice',
        iss: other.origin,
        exp: Math.floor(Date.now() / 1000) + 300,
      }),
    );
    other.route('/oidc/userinfo', faults.json({ sub: 'alice', email: ALICE_CLAIMS.email }));
    ({ moduleRef, userInfo } = await compileService({
      issuer: other.origin,
      audience: API,
      tokenFormat: 'opaque',
      introspection: {
        clientId: RS_CLIENT.id,
        clientSecret: RS_CLIENT.secret,
        endpoint: other.url('/introspect'),
      },
      userInfo: { endpoint: other.url('/oidc/userinfo') },
    }));
  });
  afterAll(async () => {
    await moduleRef?.close();
    await other?.close();
  });

  it('is called instead of the discovered endpoint, and discovery is never asked', async () => {
    await expect(userInfo.getUserInfo(remember(`endpoint-${randomUUID()}`))).resolves.toEqual({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
    });
    expect(other.hits.get('/oidc/userinfo')).toBe(1);
    expect(other.hits.get('/.well-known/openid-configuration')).toBe(0);
    expect(other.hits.get('/.well-known/oauth-authorization-server')).toBe(0);
  });

  it.each([
    ['plain http on a public host', 'http://idp.example.com/userinfo'],
    ['not a URL', 'userinfo'],
    ['a fragment', 'https://idp.example.com/userinfo#x'],
    ['not a string', 42],
  ])(
    'is checked at start like introspection.endpoint: %s fails, naming the key',
    async (_what, endpoint) => {
      await expect(
        Test.createTestingModule({
          imports: [
            OidcResourceModule.forRoot({
              issuer: 'https://idp.example.com',
              audience: API,
              global: false,
              userInfo: { endpoint: endpoint as string },
            }),
          ],
        }).compile(),
      ).rejects.toThrow(/option "userInfo\.endpoint"/);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Over HTTP: GET /api/me returns userInfo.getUserInfo(@CurrentUser()), on Express and Fastify
// ---------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('GET /api/me over HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let faultApp: INestApplication;
  let faultUrl: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, asOptions()));
    fs.serveDiscovery();
    ({ app: faultApp, url: faultUrl } = await startApp(adapter, {
      issuer: fs.origin,
      audience: API,
      realm: 'api',
      httpTimeout: 300,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    }));
  });
  afterAll(async () => {
    await Promise.all([app?.close(), faultApp?.close()]);
  });

  const me = (base: string, token: string) =>
    fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });

  it("answers 200 with alice's claims", async () => {
    const res = await me(url, await userToken());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...ALICE_CLAIMS });
  });

  it("answers 200 with the claims of oidc-provider's signed answer (application/jwt)", async () => {
    const token = await userToken({ clientId: CLIENTS.webAppSigned.id, scope: 'openid email' });
    const res = await me(url, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      email_verified: true,
      iss: as.issuer,
      aud: CLIENTS.webAppSigned.id,
    });
  });

  it('answers a client-credentials token 403 insufficient_scope with scope="openid", never 401', async () => {
    const token = remember(await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }));
    const res = await me(url, token);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(CHALLENGE_403_OPENID);
    const body = JSON.stringify(await res.json());
    expect(body).toContain('"statusCode":403');
    expect(body).not.toContain(token);
    // and the same token is fine for the API itself
    const read = await fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
  });

  it('answers a user token without the openid scope 403 with scope="openid"', async () => {
    const res = await me(url, await userToken({ scope: 'email' }));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(CHALLENGE_403_OPENID);
  });

  it("answers a UserInfo subject mismatch 502 without the other subject's claims", async () => {
    const res = await me(url, await userToken({ accountId: 'mallory', scope: 'openid email' }));
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
    const body = await res.text();
    expect(body).not.toContain('someone-else');
    expect(body).not.toContain('mallory@example.test');
  });

  it('answers 503 (Retry-After, no challenge) when only the UserInfo endpoint fails', async () => {
    const token = await userToken();
    const provider = as.provider.callback();
    as.setHandler((req, res) =>
      req.url?.startsWith('/me')
        ? faults.status(503, '', { 'retry-after': '7' })(req, res)
        : provider(req, res),
    );
    try {
      const res = await me(url, token);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(res.headers.get('www-authenticate')).toBeNull();
    } finally {
      as.restoreHandler();
    }
    expect((await me(url, token)).status).toBe(200);
  });

  it('answers 503 when the authorization server stops after the token was validated', async () => {
    const token = await userToken();
    expect(
      (await fetch(`${url}/api/any`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    await as.stop();
    try {
      const res = await me(url, token);
      expect(res.status).toBe(503);
      expect(res.headers.get('www-authenticate')).toBeNull();
    } finally {
      await as.start();
    }
  });

  it('keeps two apps in one process apart: each validates tokens against its own issuer', async () => {
    const token = remember(await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }));
    const auth = { headers: { authorization: `Bearer ${token}` } };
    expect((await fetch(`${url}/api/read`, auth)).status).toBe(200);
    expect((await fetch(`${faultUrl}/api/read`, auth)).status).toBe(401); // not the AS's keys over there
    expect((await fetch(`${url}/api/read`, auth)).status).toBe(200);
  });

  it('answers a token without sub 403 insufficient_scope, scope="openid" (fault server)', async () => {
    fs.route(
      '/token/introspection',
      faults.json({ active: true, token_type: 'Bearer', scope: 'openid', client_id: 'x' }),
    );
    const res = await me(faultUrl, faultTokenFor());
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="api", error="insufficient_scope", error_description="[^"]*user-bound[^"]*", scope="openid"$/,
    );
  });

  it('answers a UserInfo 404 with 502 userinfo_failed: no challenge, a generic body (fault server)', async () => {
    fs.route(
      '/token/introspection',
      faults.json({
        active: true,
        token_type: 'Bearer',
        scope: 'openid',
        client_id: 'web-app',
        sub: 'alice',
      }),
    );
    fs.route('/me', faults.status(404));
    const res = await me(faultUrl, faultTokenFor());
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await res.json()).toEqual({
      statusCode: 502,
      message: 'An upstream identity service answered in a way this API cannot use',
      error: 'Bad Gateway',
    });
  });

  it('answers a non-JSON UserInfo body 503 (fault server)', async () => {
    fs.route(
      '/token/introspection',
      faults.json({
        active: true,
        token_type: 'Bearer',
        scope: 'openid',
        client_id: 'web-app',
        sub: 'alice',
      }),
    );
    fs.route('/me', faults.html());
    const res = await me(faultUrl, faultTokenFor());
    expect(res.status).toBe(503);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  function faultTokenFor(): string {
    return remember(`fault-http-${randomUUID()}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Runs last: every failure above went through the recording logger
// ---------------------------------------------------------------------------------------------

describe('logs', () => {
  it('never contain any token used in this file', () => {
    expect(issuedTokens.size).toBeGreaterThan(20);
    expect(logger.lines.length).toBeGreaterThan(0); // Nest's start-up lines at least: the recorder works
    for (const line of logger.lines)
      for (const token of issuedTokens) expect(line).not.toContain(token);
  });
});
