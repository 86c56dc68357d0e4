/**
 * UserInfoService on its own, each rule pinned by a test that fails without it: the real
 * authorization server (oidc-provider, which signs UserInfo itself for `web-app-signed`) for
 * normal and signed answers, the fault server only for what oidc-provider never answers, an
 * injected clock, and an in-process shared store that keeps values as they are (no JSON), so a
 * test can plant any entry, an array carrying a `sub` included.
 */
import { hash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import {
  OIDC_RESOURCE_CLOCK,
  InvalidRequestError,
  IssuerUnavailableError,
  OidcResourceError,
  OidcResourceModule,
  TokenCacheService,
  TokenExpiredError,
  TokenValidationService,
  UserInfoFailedError,
  UserInfoNotPermittedError,
  UserInfoService,
  UserInfoSubjectMismatchError,
  type AuthenticatedPrincipal,
  type OidcResourceModuleOptions,
} from '../index.js';
import {
  ALICE_CLAIMS,
  API,
  CLIENTS,
  RS_CLIENT,
  generateSigningKeys,
  startAuthorizationServer,
  toPublicJwk,
  type AuthorizationServer,
} from '../../test/fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../../test/fixtures/fault-server.js';
import { signByHand } from '../../test/fixtures/tokens.js';

/** The service's clock: set per test, moved by hand. */
const clock = { now: Date.now() };
const modules: TestingModule[] = [];

let as: AuthorizationServer;
let fs: FaultServer;

beforeAll(async () => {
  Logger.overrideLogger(false);
  [as, fs] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
  as.addAccount('mallory', { email: 'mallory@example.test' }, { accountId: 'someone-else' });
});
afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await Promise.all([as?.close(), fs?.close()]);
});
beforeEach(() => {
  clock.now = Date.now();
});

/** A shared store that keeps values as given: `store` maps Keyv's keys to `{ value, expires }`. */
function rawSharedStore(): { keyv: Keyv; store: Map<string, unknown> } {
  const store = new Map<string, unknown>();
  return { keyv: new Keyv({ store, serialize: undefined, deserialize: undefined }), store };
}

async function compile(
  options: OidcResourceModuleOptions,
): Promise<{ userInfo: UserInfoService; tokens: TokenValidationService }> {
  const moduleRef = await Test.createTestingModule({
    imports: [OidcResourceModule.forRoot({ global: false, ...options })],
  })
    .overrideProvider(OIDC_RESOURCE_CLOCK)
    .useValue(() => clock.now)
    .compile();
  modules.push(moduleRef);
  return {
    userInfo: moduleRef.get(UserInfoService),
    tokens: moduleRef.get(TokenValidationService),
  };
}

const asOptions = (extra: Partial<OidcResourceModuleOptions> = {}): OidcResourceModuleOptions => ({
  issuer: as.issuer,
  audience: API,
  clockTolerance: 0,
  introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
  ...extra,
});

/**
 * An opaque, audience-less `openid` token of alice's: the kind oidc-provider's UserInfo takes.
 * The service's clock is brought up to the minting time (its `iat` is never in the future).
 */
async function userToken(
  o: {
    scope?: string;
    expiresIn?: number;
    accountId?: string;
    clientId?: string;
    jkt?: string;
  } = {},
): Promise<string> {
  const token = await as.mintAccessToken({
    resource: null,
    format: 'opaque',
    scope: 'openid email profile',
    ...o,
  });
  clock.now = Math.max(clock.now, Date.now());
  return token;
}

const signedToken = (o: { scope?: string; expiresIn?: number } = {}) =>
  userToken({ clientId: CLIENTS.webAppSigned.id, scope: 'openid email', ...o });

async function rejection(run: () => Promise<unknown>): Promise<OidcResourceError> {
  let result: unknown;
  try {
    result = await run();
  } catch (error) {
    expect(error).toBeInstanceOf(OidcResourceError);
    return error as OidcResourceError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(result)}`);
}

const meHits = () => as.hits.get('GET /me');

/** The envelope `{ until, value }` the shared store holds for a token's UserInfo entry. */
function sharedEntry(
  store: Map<string, unknown>,
  token: string,
): { until: number; value: unknown } {
  const logical = TokenCacheService.keyFor('userinfo', token);
  const keys = [...store.keys()].filter((k) => k.includes(logical));
  expect(keys).toHaveLength(1);
  return (store.get(keys[0]!) as { value: { until: number; value: unknown } }).value;
}

// ---------------------------------------------------------------------------------------------

describe('against oidc-provider', () => {
  let userInfo: UserInfoService;
  let tokens: TokenValidationService;
  beforeAll(async () => {
    // No shared store: the memory tier alone must serve the second call.
    ({ userInfo, tokens } = await compile(asOptions()));
  });

  it('asks with GET, the token as Bearer, and accepts JSON or a JWT; the claims come back frozen', async () => {
    const before = meHits();
    const claims = await userInfo.getUserInfo(await tokens.validate(await userToken()));
    expect(claims).toEqual({ ...ALICE_CLAIMS });
    expect(Object.isFrozen(claims)).toBe(true);
    expect(meHits()).toBe(before + 1);
    expect(as.seen.filter((r) => r.path === '/me').at(-1)).toMatchObject({
      method: 'GET',
      auth: 'Bearer',
      accept: 'application/json, application/jwt',
    });
  });

  it('takes a raw token string (validated first)', async () => {
    await expect(userInfo.getUserInfo(await userToken())).resolves.toEqual({ ...ALICE_CLAIMS });
  });

  it('serves the second call from memory, with no shared store', async () => {
    const token = await userToken();
    const before = meHits();
    const first = await userInfo.getUserInfo(token);
    expect(await userInfo.getUserInfo(token)).toBe(first);
    expect(meHits()).toBe(before + 1);
  });

  it("verifies oidc-provider's signed answer (application/jwt)", async () => {
    const claims = await userInfo.getUserInfo(await signedToken());
    expect(claims).toMatchObject({
      sub: 'alice',
      email: ALICE_CLAIMS.email,
      iss: as.issuer,
      aud: CLIENTS.webAppSigned.id,
    });
  });

  it('refuses an answer for another subject', async () => {
    const error = await rejection(async () =>
      userInfo.getUserInfo(await userToken({ accountId: 'mallory' })),
    );
    expect(error).toBeInstanceOf(UserInfoSubjectMismatchError);
  });

  it('refuses a principal that is not one (null, or a copy without its private token)', async () => {
    for (const principal of [null, { ...(await tokens.validate(await userToken())) }]) {
      const error = await rejection(() =>
        userInfo.getUserInfo(principal as unknown as AuthenticatedPrincipal),
      );
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error.message).toBe(
        'UserInfo needs a principal from @CurrentUser() or TokenValidationService, or a raw access token',
      );
    }
  });

  it('refuses a principal past its exp (exactly at exp, no tolerance) before any call', async () => {
    const principal = await tokens.validate(await userToken({ expiresIn: 60 }));
    const before = meHits();
    clock.now = principal.expiresAt!.getTime();
    const error = await rejection(() => userInfo.getUserInfo(principal));
    expect(error).toBeInstanceOf(TokenExpiredError);
    expect(meHits()).toBe(before);
  });

  it('refuses a token without sub before any call, saying why', async () => {
    const token = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
    const before = meHits();
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(UserInfoNotPermittedError);
    expect(error.message).toBe(
      'UserInfo needs a user-bound access token (this token has no "sub")',
    );
    expect(meHits()).toBe(before);
  });

  it('refuses a sender-constrained token before any call: it would go out as a bearer token', async () => {
    const dpop = await compile(asOptions({ dpop: { mode: 'allowed' } }));
    const jkt = hash('sha256', 'a DPoP key', 'base64url');
    const principal = await dpop.tokens.validate(await userToken({ jkt }), {
      scheme: 'DPoP',
      proofJkt: jkt,
    });
    expect(principal.claims.cnf).toEqual({ jkt });
    const before = meHits();
    const error = await rejection(() => dpop.userInfo.getUserInfo(principal));
    expect(error).toBeInstanceOf(UserInfoNotPermittedError);
    expect(error.message).toBe(
      'UserInfo cannot be called with a sender-constrained (DPoP or certificate-bound) token',
    );
    expect(meHits()).toBe(before);
  });

  it('refuses a principal of an issuer this module does not trust (iss_mismatch), before any call', async () => {
    fs.serveDiscovery();
    const other = await compile({
      issuer: fs.origin,
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    });
    const principal = await tokens.validate(await userToken());
    const before = meHits();
    const error = await rejection(() => other.userInfo.getUserInfo(principal));
    expect(error).toMatchObject({
      code: 'invalid_token',
      reason: 'iss_mismatch',
      claim: 'iss',
      message: 'The access token was issued by another issuer',
    });
    expect(meHits()).toBe(before);
  });

  it('asks an issuer that resolveIssuer trusts (looked up asynchronously)', async () => {
    const dynamic = await compile({
      audience: API,
      clockTolerance: 0,
      resolveIssuer: (iss) => (iss === as.issuer ? { issuer: as.issuer } : undefined),
    });
    // Opaque tokens name no issuer: the principal comes from the module that introspects them.
    const principal = await tokens.validate(await userToken());
    await expect(dynamic.userInfo.getUserInfo(principal)).resolves.toEqual({ ...ALICE_CLAIMS });
  });
});

// ---------------------------------------------------------------------------------------------

describe('cache lifetime', () => {
  it("ends a cached answer at the token's exp when that comes before userInfo.ttl", async () => {
    const { keyv, store } = rawSharedStore();
    const { userInfo, tokens } = await compile(asOptions({ cache: { stores: [keyv] } }));
    const token = await userToken({ expiresIn: 60 });
    const principal = await tokens.validate(token);
    await userInfo.getUserInfo(principal);
    expect(sharedEntry(store, token).until).toBe(principal.expiresAt!.getTime());
  });

  it('ends it after userInfo.ttl when that comes first', async () => {
    const { keyv, store } = rawSharedStore();
    const { userInfo } = await compile(
      asOptions({ cache: { stores: [keyv] }, userInfo: { ttl: 1_000 } }),
    );
    const token = await userToken({ expiresIn: 60 });
    await userInfo.getUserInfo(token);
    expect(sharedEntry(store, token).until).toBe(clock.now + 1_000);
  });
});

describe('UserInfo entries read back from a shared store', () => {
  const { keyv, store } = rawSharedStore();
  /** A fresh instance (empty memory tier) over the shared store. */
  const reader = async () => (await compile(asOptions({ cache: { stores: [keyv] } }))).userInfo;

  /** Has one instance cache alice's answer for a new token, then replaces the entry's value. */
  async function planted(value: unknown): Promise<string> {
    const token = await userToken();
    await (await reader()).getUserInfo(token);
    const logical = TokenCacheService.keyFor('userinfo', token);
    const key = [...store.keys()].find((k) => k.includes(logical))!;
    const entry = store.get(key) as { value: { until: number }; expires?: number };
    store.set(key, { ...entry, value: { until: entry.value.until, value } });
    return token;
  }

  it('uses a well-formed entry for the same subject, without asking UserInfo (the control)', async () => {
    const token = await planted({ sub: 'alice', from: 'the shared store' });
    const before = meHits();
    await expect((await reader()).getUserInfo(token)).resolves.toEqual({
      sub: 'alice',
      from: 'the shared store',
    });
    expect(meHits()).toBe(before);
  });

  it.each([
    ['an array carrying a sub', Object.assign([{ sub: 'alice' }], { sub: 'alice' })],
    ['another subject', { sub: 'mallory' }],
    ['no sub', { email: 'mallory@evil.example' }],
    ['null', null],
    ['a string', 'alice'],
  ])('treats an entry holding %s as a miss: the real claims are fetched', async (_what, value) => {
    const token = await planted(value);
    const before = meHits();
    await expect((await reader()).getUserInfo(token)).resolves.toEqual({ ...ALICE_CLAIMS });
    expect(meHits()).toBe(before + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// What oidc-provider never answers: the fault server plays the whole issuer.
// ---------------------------------------------------------------------------------------------

describe('against a misbehaving issuer (fault server)', () => {
  const CLIENT_ID = 'web-app';
  const [signingKey] = generateSigningKeys('ui');
  let userInfo: UserInfoService;
  let store: Map<string, unknown>;
  let token = '';
  const nowSeconds = () => Math.floor(clock.now / 1000);
  const introspection = (extra: Record<string, unknown> = {}) =>
    faults.json({
      active: true,
      token_type: 'Bearer',
      scope: 'openid',
      client_id: CLIENT_ID,
      sub: 'alice',
      iss: fs.origin,
      exp: nowSeconds() + 300,
      ...extra,
    });
  const signed = (claims: Record<string, unknown> = {}) =>
    signByHand(
      { alg: 'RS256', kid: signingKey!.kid, typ: 'JWT' },
      {
        iss: fs.origin,
        aud: CLIENT_ID,
        sub: 'alice',
        iat: nowSeconds(),
        exp: nowSeconds() + 300,
        ...claims,
      },
      signingKey as never,
    );
  const jwtAnswer = (jwt: string) => faults.text(jwt, 'application/jwt');
  const me = () => fs.url('/me');

  beforeAll(async () => {
    fs.serveDiscovery();
    fs.route('/jwks', faults.json({ keys: [toPublicJwk(signingKey!)] }));
    const shared = rawSharedStore();
    store = shared.store;
    ({ userInfo } = await compile({
      issuer: fs.origin,
      audience: API,
      clockTolerance: 0,
      httpTimeout: 2_000,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      cache: { stores: [shared.keyv] },
    }));
  });
  beforeEach(() => {
    token = `fault-${Math.random()}`;
    fs.route('/token/introspection', introspection());
  });

  it('caches the answer for a token without exp for userInfo.ttl', async () => {
    fs.route('/token/introspection', introspection({ exp: undefined }));
    fs.route('/me', faults.json({ sub: 'alice' }));
    const before = fs.hits.get('/me');
    await userInfo.getUserInfo(token);
    await userInfo.getUserInfo(token);
    expect(fs.hits.get('/me')).toBe(before + 1);
    expect(sharedEntry(store, token).until).toBe(clock.now + 300_000);
  });

  it.each([401, 403])('answers %s as userinfo_not_permitted', async (status) => {
    fs.route('/me', faults.status(status));
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(UserInfoNotPermittedError);
    expect(error.message).toMatch(/^The UserInfo endpoint does not accept this access token/);
  });

  it.each([400, 404, 499])(
    'answers %s as userinfo_failed (a retry cannot help), naming the status and the URL',
    async (status) => {
      fs.route('/me', faults.status(status));
      const error = await rejection(() => userInfo.getUserInfo(token));
      expect(error).toBeInstanceOf(UserInfoFailedError);
      expect(error.message).toBe(
        `UserInfo: the authorization server refused the request with HTTP ${status}`,
      );
      expect((error as UserInfoFailedError).url).toBe(me());
    },
  );

  it.each([302, 408, 429, 500, 503])(
    'answers %s as issuer_unavailable, naming the status and the URL',
    async (status) => {
      fs.route('/me', faults.status(status, '', { location: fs.url('/elsewhere') }));
      const error = await rejection(() => userInfo.getUserInfo(token));
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect(error.message).toBe(`UserInfo: the authorization server answered HTTP ${status}`);
      expect((error as IssuerUnavailableError).url).toBe(me());
      expect((error as IssuerUnavailableError).retryAfter).toBeUndefined();
    },
  );

  it('passes Retry-After on', async () => {
    fs.route('/me', faults.status(503, '', { 'retry-after': '7' }));
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toMatchObject({ code: 'issuer_unavailable', retryAfter: 7, url: me() });
  });

  it('names UserInfo when the endpoint cannot be reached', async () => {
    fs.route('/me', faults.destroy());
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect(error.message).toMatch(/^UserInfo: the authorization server could not be reached/);
    expect((error as IssuerUnavailableError).url).toBe(me());
  });

  it('names UserInfo and the URL when the answer is not JSON', async () => {
    fs.route('/me', faults.html());
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect(error.message).toBe(
      'UserInfo: the authorization server answered with something that is not JSON',
    );
    expect((error as IssuerUnavailableError).url).toBe(me());
  });

  it('accepts a signed answer that ends in a line break', async () => {
    fs.route('/me', jwtAnswer(`${signed()}\r\n`));
    await expect(userInfo.getUserInfo(token)).resolves.toMatchObject({
      sub: 'alice',
      aud: CLIENT_ID,
    });
  });

  it('refuses a signed answer when the token names no client, naming the URL', async () => {
    fs.route('/token/introspection', introspection({ client_id: undefined }));
    fs.route('/me', jwtAnswer(signed()));
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(UserInfoFailedError);
    expect(error.message).toBe(
      'UserInfo: the answer is signed, but the access token names no client (client_id or azp) to check its aud against',
    );
    expect((error as UserInfoFailedError).url).toBe(me());
  });

  it.each([
    ['no iss', { iss: undefined }, 'The JWT lacks the "iss" claim'],
    ['no aud', { aud: undefined }, 'The JWT lacks the "aud" claim'],
    ['another aud', { aud: 'another-client' }, 'The JWT "aud" is unexpected'],
    ['another iss', { iss: 'https://evil.example.test' }, 'The JWT "iss" is unexpected'],
    ['not a JWT', 'this.is-not.a-jwt', 'The JWT is malformed'],
  ])(
    'refuses a signed answer with %s, with the URL and the reason as cause',
    async (_what, claims, why) => {
      fs.route('/me', jwtAnswer(typeof claims === 'string' ? claims : signed(claims)));
      const error = await rejection(() => userInfo.getUserInfo(token));
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect(error.message).toBe('UserInfo: the signed response could not be verified');
      expect((error as IssuerUnavailableError).url).toBe(me());
      expect(((error as Error).cause as Error).message).toBe(why);
    },
  );

  it("refuses a signed answer whose key the issuer does not have, with the key's refusal in the message", async () => {
    const jwt = signByHand(
      { alg: 'RS256', kid: 'unknown-kid', typ: 'JWT' },
      { iss: fs.origin, aud: CLIENT_ID, sub: 'alice' },
      signingKey as never,
    );
    fs.route('/me', jwtAnswer(jwt));
    const error = await rejection(() => userInfo.getUserInfo(token));
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(OidcResourceError);
    expect(error.message).toBe(
      `UserInfo: the signed response could not be verified (${(cause as Error).message})`,
    );
  });

  it('passes an outage of the JWKS on as it is', async () => {
    fs.route('/me', jwtAnswer(signed()));
    fs.route('/jwks', faults.status(503));
    try {
      const fresh = await compile({
        issuer: fs.origin,
        audience: API,
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      });
      const error = await rejection(() => fresh.userInfo.getUserInfo(token));
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect(error.message).toMatch(/^JWKS/);
      expect((error as IssuerUnavailableError).url).toBe(fs.url('/jwks'));
    } finally {
      fs.route('/jwks', faults.json({ keys: [toPublicJwk(signingKey!)] }));
    }
  });
});
