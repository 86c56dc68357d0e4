/**
 * The guard, the decorators and the RFC 6750 answers (API.md "Responses"), on Express and
 * Fastify, against the real oidc-provider fixture. Request-syntax cases (malformed headers,
 * query/body tokens, duplicate fields) are in request-syntax.e2e-spec.ts; module wiring in
 * module.e2e-spec.ts.
 */
import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  startAuthorizationServer,
  API,
  OTHER_API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import {
  expiredToken,
  corruptSignature,
  forgeAccessToken,
  wrongIssuerToken,
} from '../fixtures/tokens.js';
import { startTestApp, ADAPTERS } from '../fixtures/test-app.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  503: 'Service Unavailable',
};

const DESCRIPTION = '[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]+';
const challenge = {
  bare: 'Bearer realm="api"',
  invalidToken: new RegExp(
    `^Bearer realm="api", error="invalid_token", error_description="${DESCRIPTION}"$`,
  ),
  insufficientScope: (scope: string) =>
    new RegExp(
      `^Bearer realm="api", error="insufficient_scope", error_description="${DESCRIPTION}", scope="${scope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"$`,
    ),
};

async function call(url: string, token?: string, init: RequestInit = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Status, exact challenge (or none), Nest's JSON error shape, and no trace of the token anywhere. */
function expectError(
  res: Answer,
  status: number,
  wwwAuthenticate: string | RegExp | null,
  token?: string,
): void {
  expect(res.status).toBe(status);
  const header = res.headers.get('www-authenticate');
  if (wwwAuthenticate === null) expect(header).toBeNull();
  else if (typeof wwwAuthenticate === 'string') expect(header).toBe(wwwAuthenticate);
  else expect(header).toMatch(wwwAuthenticate);
  expect(res.json).toEqual({
    statusCode: status,
    message: expect.any(String),
    error: REASON[status],
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  if (token !== undefined) expectNoLeak(res, token);
}

function expectNoLeak(res: Answer, token: string): void {
  expect(res.text).not.toContain(token);
  for (const [name, value] of res.headers) {
    expect(`${name}: ${value}`).not.toContain(token);
  }
  // A JWT's signature alone is as secret as the token.
  const parts = token.split('.');
  if (parts.length === 3 && parts[2]!.length > 16) expect(res.text).not.toContain(parts[2]);
}

describe.each(ADAPTERS)('guard (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  const t: Record<string, string> = {};

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(adapter, {
      issuer: as.issuer,
      audience: API,
      realm: 'api',
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    }));
    const cc = (clientId: string, scope: string) => as.clientCredentials({ clientId, scope });
    [t.read, t.write, t.readWrite, t.admin, t.adminWrite, t.opaqueRead, t.opaqueWrite] =
      await Promise.all([
        cc('cc-jwt', 'api:read'),
        cc('cc-jwt', 'api:write'),
        cc('cc-jwt', 'api:read api:write'),
        cc('cc-jwt', 'admin'),
        cc('cc-jwt', 'admin api:write'),
        cc('cc-opaque', 'api:read'),
        cc('cc-opaque', 'api:write'),
      ]);
    t.userJwt = await as.mintAccessToken({ scope: 'api:read' });
    t.userOpaque = await as.mintAccessToken({ scope: 'api:read', format: 'opaque' });
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  describe('response table', () => {
    it('no token on a protected route: 401, bare challenge', async () => {
      for (const path of ['/api/any', '/api/read', '/api/write', '/admin', '/admin/override']) {
        const res = await call(`${url}${path}`);
        expectError(res, 401, challenge.bare);
      }
    });

    it('a syntactically valid but unknown token: 401 invalid_token with a description', async () => {
      for (const token of ['nope', 'x'.repeat(40), 'aaa.bbb.ccc']) {
        const res = await call(`${url}/api/read`, token);
        expectError(res, 401, challenge.invalidToken, token);
      }
    });

    it('an expired JWT: 401 invalid_token', async () => {
      const token = await expiredToken(as);
      const res = await call(`${url}/api/read`, token);
      expectError(res, 401, challenge.invalidToken, token);
      expect(res.headers.get('www-authenticate')).toMatch(/expired/i);
    });

    it('a JWT for another audience, from another issuer, or with a broken signature: 401 invalid_token', async () => {
      const tokens = [
        await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read', resource: OTHER_API }),
        await wrongIssuerToken(as),
        corruptSignature(t.read!),
      ];
      for (const token of tokens) {
        const res = await call(`${url}/api/read`, token);
        expectError(res, 401, challenge.invalidToken, token);
      }
    });

    it('a revoked opaque token: 401 invalid_token', async () => {
      const token = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
      await as.revoke(token);
      const res = await call(`${url}/api/read`, token);
      expectError(res, 401, challenge.invalidToken, token);
    });

    it('a valid token without the scope: 403 insufficient_scope, scope="api:write" (JWT and introspected)', async () => {
      for (const token of [t.read!, t.opaqueRead!, t.userJwt!, t.userOpaque!]) {
        const res = await call(`${url}/api/write`, token);
        expectError(res, 403, challenge.insufficientScope('api:write'), token);
      }
    });

    // Scopes are case-sensitive strings, space-delimited (RFC 6749 §3.3); `scope` is a string
    // claim (RFC 9068 §2.2.3), so an array there is malformed and grants nothing.
    it.each<[string, unknown]>([
      ['upper case', 'API:WRITE'],
      ['a longer scope with the same prefix', 'api:writer'],
      ['comma-separated', 'api:read,api:write'],
      ['an array in the scope claim', ['api:write']],
    ])('scope %s on /api/write: 403, never 200', async (_name, scope) => {
      const token = await forgeAccessToken(as, { claims: { scope } });
      const res = await call(`${url}/api/write`, token);
      expectError(res, 403, challenge.insufficientScope('api:write'), token);
    });

    it('scopes separated by two spaces: 200', async () => {
      const token = await forgeAccessToken(as, { claims: { scope: 'api:read  api:write' } });
      expect((await call(`${url}/api/write`, token)).status).toBe(200);
    });

    it('a valid token with the scope: 200', async () => {
      for (const token of [t.write!, t.opaqueWrite!, t.readWrite!]) {
        const res = await call(`${url}/api/write`, token);
        expect(res.status).toBe(200);
        expect(res.json).toEqual({ ok: true });
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
    });
  });

  describe('@Scopes and @AnyScope', () => {
    it('@Scopes with two scopes needs both, and the 403 lists them in the order written', async () => {
      for (const token of [t.read!, t.write!, t.admin!]) {
        const res = await call(`${url}/api/read-write`, token);
        expectError(res, 403, challenge.insufficientScope('api:read api:write'), token);
      }
      const ok = await call(`${url}/api/read-write`, t.readWrite);
      expect(ok.status).toBe(200);
    });

    it('@AnyScope is satisfied by any one of its scopes', async () => {
      for (const token of [t.write!, t.admin!, t.adminWrite!, t.opaqueWrite!]) {
        const res = await call(`${url}/api/any-scope`, token);
        expect(res.status).toBe(200);
      }
    });

    it('@AnyScope without any of them: 403 listing all, in the order written', async () => {
      for (const token of [t.read!, t.opaqueRead!]) {
        const res = await call(`${url}/api/any-scope`, token);
        expectError(res, 403, challenge.insufficientScope('admin api:write'), token);
      }
    });

    it('controller-level @Scopes applies to its handlers', async () => {
      expectError(
        await call(`${url}/admin`, t.read),
        403,
        challenge.insufficientScope('admin'),
        t.read,
      );
      expect((await call(`${url}/admin`, t.admin)).status).toBe(200);
    });

    it("a handler's @Scopes overrides the controller's", async () => {
      // The handler asks for api:read only: the controller's admin no longer applies...
      const ok = await call(`${url}/admin/override`, t.read);
      expect(ok.status).toBe(200);
      // ...and admin alone is not enough any more.
      expectError(
        await call(`${url}/admin/override`, t.admin),
        403,
        challenge.insufficientScope('api:read'),
        t.admin,
      );
    });

    it('a route without scope decorators needs a valid token only', async () => {
      for (const token of [t.read!, t.admin!, t.opaqueWrite!]) {
        expect((await call(`${url}/api/any`, token)).status).toBe(200);
      }
    });
  });

  describe('@Public', () => {
    it('a @Public() handler inside a scoped controller needs no token', async () => {
      const res = await call(`${url}/admin/open`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ ok: true });
      expect(res.headers.get('www-authenticate')).toBeNull();
    });

    it('a @Public() handler inside a scoped controller ignores missing scopes and bad tokens', async () => {
      expect((await call(`${url}/admin/open`, t.read)).status).toBe(200);
      expect((await call(`${url}/admin/open`, 'garbage')).status).toBe(200);
    });

    it('a @Public() controller: no token → 200, @CurrentUser("sub") undefined', async () => {
      const res = await call(`${url}/open`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: null });
    });

    it('a @Public() controller with a valid token fills @CurrentUser', async () => {
      expect((await call(`${url}/open`, t.userJwt)).json).toEqual({ sub: 'alice' });
      expect((await call(`${url}/open`, t.read)).json).toEqual({ sub: 'cc-jwt' });
    });

    it('public route, no token: user is undefined', async () => {
      const res = await call(`${url}/api/public`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ user: null });
    });

    it('public route, valid JWT: user filled (sub, clientId, scopes, source), token not in the body', async () => {
      const res = await call(`${url}/api/public`, t.userJwt);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        user: expect.objectContaining({
          sub: 'alice',
          clientId: 'web-app',
          scopes: ['api:read'],
          issuer: as.issuer,
          audience: [API],
          source: 'jwt',
        }),
      });
      expectNoLeak(res, t.userJwt!);
    });

    it('public route, valid opaque token: user filled from introspection', async () => {
      const res = await call(`${url}/api/public`, t.opaqueRead);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        user: expect.objectContaining({
          clientId: 'cc-opaque',
          scopes: ['api:read'],
          source: 'introspection',
        }),
      });
      expectNoLeak(res, t.opaqueRead!);
    });

    it('public route never fails: invalid, expired, malformed or misplaced tokens leave user undefined', async () => {
      const expired = await expiredToken(as);
      const requests: [string, RequestInit][] = [
        ['/api/public', { headers: { authorization: 'Bearer garbage' } }],
        ['/api/public', { headers: { authorization: `Bearer ${expired}` } }],
        ['/api/public', { headers: { authorization: 'Bearer a b' } }],
        ['/api/public', { headers: { authorization: 'Bearer' } }],
        ['/api/public', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }],
        [`/api/public?access_token=${t.read}`, {}],
        [`/api/public?access_token=${t.read}`, { headers: { authorization: `Bearer ${t.read}` } }],
        ['/open', { headers: { authorization: 'Bearer "x"' } }],
        ['/admin/open', { headers: { authorization: `Bearer ${expired}` } }],
      ];
      for (const [path, init] of requests) {
        const res = await call(`${url}${path}`, undefined, init);
        expect(res.status).toBe(200);
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(res.json).toEqual(
          path.startsWith('/api')
            ? { user: null }
            : path === '/open'
              ? { sub: null }
              : { ok: true },
        );
      }
    });
  });

  describe('@CurrentUser', () => {
    it('client-credentials JWT: sub and clientId are the client, source jwt', async () => {
      const res = await call(`${url}/api/any`, t.readWrite);
      expect(res.json).toEqual({
        sub: 'cc-jwt',
        clientId: 'cc-jwt',
        scopes: ['api:read', 'api:write'],
        source: 'jwt',
      });
    });

    it('user JWT: sub is the user, clientId the client', async () => {
      const res = await call(`${url}/api/any`, t.userJwt);
      expect(res.json).toEqual({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        source: 'jwt',
      });
    });

    it('introspected client-credentials token: clientId, scopes, source introspection', async () => {
      const res = await call(`${url}/api/any`, t.opaqueRead);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        clientId: 'cc-opaque',
        scopes: ['api:read'],
        source: 'introspection',
      });
    });

    it('introspected user token: sub and clientId from the introspection response', async () => {
      const res = await call(`${url}/api/any`, t.userOpaque);
      expect(res.json).toEqual({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        source: 'introspection',
      });
    });

    it("@CurrentUser('sub') gives the one field", async () => {
      expect((await call(`${url}/api/read`, t.userJwt)).json).toEqual({ sub: 'alice' });
      expect((await call(`${url}/api/read`, t.userOpaque)).json).toEqual({ sub: 'alice' });
      expect((await call(`${url}/api/read`, t.read)).json).toEqual({ sub: 'cc-jwt' });
    });
  });

  describe('OidcResourceError thrown from a controller', () => {
    it('UserInfoService with a client-credentials token: 403 insufficient_scope, scope="openid"', async () => {
      // cc-jwt tokens carry sub = client id, so UserInfo is really called and refuses them.
      for (const token of [t.read!, t.readWrite!]) {
        const res = await call(`${url}/api/me`, token);
        expect(res.status).toBe(403);
        expect(res.headers.get('www-authenticate')).toMatch(
          new RegExp(
            `^Bearer realm="api", error="insufficient_scope", error_description="${DESCRIPTION}", scope="openid"$`,
          ),
        );
        expectError(res, 403, /scope="openid"$/, token);
      }
    });

    it('UserInfoService with a user token holding openid: 200 with the claims', async () => {
      const token = await as.mintAccessToken({
        resource: null,
        format: 'opaque',
        scope: 'openid email',
      });
      const res = await call(`${url}/api/me`, token);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
      expectNoLeak(res, token);
    });
  });
});

describe.each(ADAPTERS)('guard, issuer unavailable (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  /** The library's clock: moved past the 1–2 s failure cooldown once the AS is back. */
  let offset = 0;

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(
      adapter,
      {
        issuer: as.issuer,
        audience: API,
        realm: 'api',
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      },
      { clock: () => Date.now() + offset },
    ));
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('AS down before any discovery: 503 without a challenge, then 200 once it is back (not cached)', async () => {
    const jwt = await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });
    const opaque = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
    as.resetHits();
    await as.stop();
    try {
      for (const token of [jwt, opaque]) {
        const res = await call(`${url}/api/read`, token);
        expectError(res, 503, null, token);
        expect(res.text).not.toMatch(/invalid_token|token (is )?(invalid|expired|not active)/i);
        // Twice: the failure must not have been cached as a verdict on the token.
        expectError(await call(`${url}/api/read`, token), 503, null, token);
      }
      // A public route never fails, even with the issuer down.
      const pub = await call(`${url}/api/public`, jwt);
      expect(pub.status).toBe(200);
      expect(pub.json).toEqual({ user: null });
      // Without a token nothing needs the issuer: still the plain 401.
      expectError(await call(`${url}/api/read`), 401, challenge.bare);
    } finally {
      await as.start();
    }
    offset += 2_000; // past the failure cooldown, during which discovery is not retried
    for (const token of [jwt, opaque]) {
      const res = await call(`${url}/api/read`, token);
      expect(res.status).toBe(200);
    }
    expect((await call(`${url}/api/any`, jwt)).json).toMatchObject({
      clientId: 'cc-jwt',
      source: 'jwt',
    });
    expect((await call(`${url}/api/any`, opaque)).json).toMatchObject({
      clientId: 'cc-opaque',
      source: 'introspection',
    });
  });

  it('introspection answering 503: 503 without a challenge, Retry-After passed on; then 200', async () => {
    const opaque = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
    const provider = as.provider.callback();
    as.setHandler((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/token/introspection')) {
        res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end('{"error":"temporarily_unavailable"}');
        return;
      }
      provider(req, res);
    });
    try {
      const res = await call(`${url}/api/read`, opaque);
      expectError(res, 503, null, opaque);
      expect(res.headers.get('retry-after')).toBe('7');
    } finally {
      as.restoreHandler();
    }
    const ok = await call(`${url}/api/any`, opaque);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ clientId: 'cc-opaque', source: 'introspection' });
  });

  it('UserInfo down, thrown from a controller: 503 without a challenge', async () => {
    const token = await as.mintAccessToken({
      resource: null,
      format: 'opaque',
      scope: 'openid email',
    });
    // Validate the token first so only UserInfo fails.
    expect((await call(`${url}/api/any`, token)).status).toBe(200);
    const provider = as.provider.callback();
    as.setHandler((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/me')) {
        res.writeHead(503);
        res.end();
        return;
      }
      provider(req, res);
    });
    try {
      expectError(await call(`${url}/api/me`, token), 503, null, token);
    } finally {
      as.restoreHandler();
    }
    const res = await call(`${url}/api/me`, token);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
  });
});
