/**
 * The testing kit (`nestjs-oidc-resource/testing`) used as an app's own e2e tests use it: a
 * test issuer, `OidcResourceModule.forRoot(issuer.moduleOptions())` (or an override of
 * `OIDC_RESOURCE_OPTIONS` in a test module), and tokens minted per test, on Express and Fastify.
 */
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { OIDC_RESOURCE_OPTIONS, OidcResourceModule, Scopes, CurrentUser } from '../../lib/index.js';
import { createTestIssuer, type TestIssuer } from '../../lib/testing/index.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';

const call = (url: string, token?: string) =>
  fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

describe.each(ADAPTERS)('testing kit with OidcResourceModule (%s)', (adapter) => {
  let issuer: TestIssuer;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    ({ app, url } = await startTestApp(adapter, issuer.moduleOptions({ audience: 'api' })));
  });
  afterAll(async () => {
    await app?.close();
    await issuer?.close();
  });

  it('lets a token with the scope through (200) and refuses one without it (403)', async () => {
    const reader = await issuer.accessToken({ sub: 'alice', scopes: ['api:read'] });
    let res = await call(`${url}/api/read`, reader);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: 'alice' });

    res = await call(`${url}/api/read`, await issuer.accessToken({ scopes: ['api:write'] }));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(res.headers.get('www-authenticate')).toContain('scope="api:read"');
  });

  it('refuses an expired token, a forged one and one for another audience (401)', async () => {
    const cases: [string, RegExp][] = [
      [await issuer.accessToken({ scopes: ['api:read'], expiresIn: -60 }), /expired/],
      [await issuer.accessToken({ scopes: ['api:read'], unknownKey: true }), /signature/],
      [await issuer.accessToken({ scopes: ['api:read'], audience: 'another-api' }), /aud/],
      [
        await issuer.accessToken({ scopes: ['api:read'], format: 'opaque', expiresIn: -60 }),
        /not active/,
      ],
    ];
    for (const [token, why] of cases) {
      const res = await call(`${url}/api/read`, token);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate');
      expect(challenge).toContain('error="invalid_token"');
      expect(challenge).toMatch(why);
    }
  });

  it('accepts an opaque token through introspection, and refuses it once revoked', async () => {
    const opaque = await issuer.accessToken({ sub: 'bob', scopes: ['api:read'], format: 'opaque' });
    let res = await call(`${url}/api/any`, opaque);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: 'bob', source: 'introspection' });

    const revoked = await issuer.accessToken({ scopes: ['api:read'], format: 'opaque' });
    issuer.revoke(revoked);
    res = await call(`${url}/api/read`, revoked);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('serves UserInfo claims set with setUserInfo()', async () => {
    issuer.setUserInfo('carol', { name: 'Carol', email: 'carol@example.test' });
    const token = await issuer.accessToken({ sub: 'carol', scopes: ['openid'] });
    const res = await call(`${url}/api/me`, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: 'carol', name: 'Carol', email: 'carol@example.test' });
  });

  it('accepts tokens signed with a new key after rotateKeys(), and the old ones still', async () => {
    const before = await issuer.accessToken({ scopes: ['api:read'] });
    expect((await call(`${url}/api/read`, before)).status).toBe(200);
    const jwksFetches = issuer.requests.jwks;
    await issuer.rotateKeys();
    const after = await issuer.accessToken({ scopes: ['api:read'] });
    expect((await call(`${url}/api/read`, after)).status).toBe(200);
    expect(issuer.requests.jwks).toBe(jwksFetches + 1); // the unknown kid made the app refetch
    expect((await call(`${url}/api/read`, before)).status).toBe(200);
  });

  it('answers 503 while the issuer is stopped, and 200 once it is started again', async () => {
    const opaque = await issuer.accessToken({ scopes: ['api:read'], format: 'opaque' });
    await issuer.stop();
    try {
      const res = await call(`${url}/api/read`, opaque);
      expect(res.status).toBe(503);
      // A JWT is still checked with the keys the app already holds: no outage for it.
      const jwt = await issuer.accessToken({ scopes: ['api:read'] });
      expect((await call(`${url}/api/read`, jwt)).status).toBe(200);
    } finally {
      await issuer.start();
    }
    expect((await call(`${url}/api/read`, opaque)).status).toBe(200);
  });

  it('counts the calls the app makes: one introspection per opaque token, then the cache', async () => {
    const { introspection, discovery } = issuer.requests;
    expect(discovery).toBe(1); // discovered once, on the first token
    const opaque = await issuer.accessToken({ scopes: ['api:read'], format: 'opaque' });
    for (let i = 0; i < 3; i++) expect((await call(`${url}/api/read`, opaque)).status).toBe(200);
    expect(issuer.requests.introspection).toBe(introspection + 1);
    expect(issuer.requests.discovery).toBe(1);
  });
});

describe('testing kit with cache.ttl 0 (express)', () => {
  it('refuses a token revoked after it was accepted', async () => {
    const issuer = await createTestIssuer();
    const { app, url } = await startTestApp(
      'express',
      issuer.moduleOptions({ audience: 'api', cache: { ttl: 0 } }),
    );
    try {
      const opaque = await issuer.accessToken({ scopes: ['api:read'], format: 'opaque' });
      expect((await call(`${url}/api/read`, opaque)).status).toBe(200);
      expect(issuer.revoke(opaque)).toBe(true);
      expect((await call(`${url}/api/read`, opaque)).status).toBe(401);
    } finally {
      await app.close();
      await issuer.close();
    }
  });
});

describe('testing kit with two issuers (express)', () => {
  it("issuerOptions() makes issuers entries: each issuer's tokens pass, JWT and opaque", async () => {
    const [staff, partners] = await Promise.all([createTestIssuer(), createTestIssuer()]);
    const { app, url } = await startTestApp('express', {
      audience: 'api',
      issuers: [staff.issuerOptions(), partners.issuerOptions()],
    });
    try {
      for (const issuer of [staff, partners]) {
        // The audience is the app's top-level one, which the kit does not see: name it.
        const minted = { scopes: ['api:read'], audience: 'api' };
        const jwt = await issuer.accessToken(minted);
        const opaque = await issuer.accessToken({ ...minted, format: 'opaque' });
        expect((await call(`${url}/api/read`, jwt)).status).toBe(200);
        expect((await call(`${url}/api/read`, opaque)).status).toBe(200);
      }
      // The first issuer was asked about the partner's opaque token, and said inactive.
      expect(staff.requests.introspection).toBe(2);
      expect(partners.requests.introspection).toBe(1);
    } finally {
      await app.close();
      await Promise.all([staff.close(), partners.close()]);
    }
  });
});

// An app module as a user's would be: production options read from the environment, which a
// test machine does not have. The test overrides the options token with the kit's.
@Controller('notes')
class NotesController {
  @Scopes('notes:read')
  @Get()
  list(@CurrentUser('sub') sub: string) {
    return { owner: sub, notes: [] };
  }
}

@Module({
  imports: [
    OidcResourceModule.forRootAsync({
      useFactory: () => {
        throw new Error('OIDC_ISSUER is not set'); // never runs: the test replaces the options
      },
    }),
  ],
  controllers: [NotesController],
})
class ProductionLikeAppModule {}

describe('testing kit overriding OIDC_RESOURCE_OPTIONS of an app module', () => {
  let issuer: TestIssuer;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    const moduleRef = await Test.createTestingModule({ imports: [ProductionLikeAppModule] })
      .overrideProvider(OIDC_RESOURCE_OPTIONS)
      .useValue(issuer.moduleOptions({ audience: 'notes-api' }))
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await issuer?.close();
  });

  it('answers 200 with the scope and 403 without it', async () => {
    const reader = await issuer.accessToken({ sub: 'dave', scopes: ['notes:read'] });
    const res = await call(`${url}/notes`, reader);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ owner: 'dave', notes: [] });
    expect((await call(`${url}/notes`, await issuer.accessToken())).status).toBe(403);
    expect((await call(`${url}/notes`)).status).toBe(401);
  });
});
