/**
 * RFC 9470 step-up (`@StepUp`), on Express and Fastify, with user tokens minted by the real
 * oidc-provider carrying `acr` / `auth_time` (JWT, and opaque tokens introspected there), and on
 * GraphQL (Apollo and Mercurius). STANDARDS items 66–69 and the step-up side of 78.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import {
  OidcResourceModule,
  Public,
  Scopes,
  StepUp,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { expiredToken, foreignKeyToken } from '../fixtures/tokens.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';
import { graphql, startGraphQLApp } from '../fixtures/graphql-app.js';
import { createTestIssuer } from '../../lib/testing/index.js';
import { dpopClient, dpopHeaders } from '../fixtures/dpop.js';

const LOA1 = 'urn:example:loa:1';
const LOA2 = 'urn:example:loa:2';
const LOA3 = 'urn:example:loa:3';
const METADATA = 'https://api.example.test/.well-known/oauth-protected-resource';

@Controller('stepup')
class StepUpController {
  @Scopes('admin')
  @StepUp({ acrValues: [LOA2] })
  @Get('admin')
  admin() {
    return { ok: true };
  }

  @StepUp({ maxAge: 300 })
  @Get('recent')
  recent() {
    return { ok: true };
  }

  @StepUp({ acrValues: [LOA2, LOA3], maxAge: 300 })
  @Get('both')
  both() {
    return { ok: true };
  }
}

@StepUp({ maxAge: 60 })
@Controller('strict')
class StrictController {
  @Get()
  inherited() {
    return { ok: true };
  }

  @StepUp({ acrValues: [LOA2] })
  @Get('override')
  override() {
    return { ok: true };
  }

  @Public()
  @Get('public')
  open() {
    return { ok: true };
  }
}

let as: AuthorizationServer;
let offset = 0;
const clock = () => Date.now() + offset;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  as = await startAuthorizationServer();
});

afterAll(async () => {
  await as.close();
});

afterEach(() => {
  offset = 0;
});

function options(): OidcResourceModuleOptions {
  return {
    issuer: as.issuer,
    audience: API,
    realm: 'api',
    clockTolerance: 5,
    introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    resourceMetadata: { resource: API },
  };
}

/** The challenge's parameters by name (values are quoted-strings without escapes here). */
function params(challenge: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, name, value] of (challenge ?? '').matchAll(/(\w+)="([^"]*)"/g)) out[name!] = value!;
  return out;
}

describe.each(ADAPTERS)('@StepUp (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startTestApp(adapter, options(), {
      controllers: [StepUpController, StrictController],
      clock,
    }));
  });

  afterAll(async () => {
    await app.close();
  });

  const get = (path: string, token: string) =>
    fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  describe.each(['jwt', 'opaque'] as const)('%s tokens', (format) => {
    const mint = (testClaims: Record<string, unknown>, scope = 'api:read admin') =>
      as.mintAccessToken({ format, scope, testClaims, expiresIn: 3600 });

    it('S#66: acr not accepted → 401 insufficient_user_authentication, acr_values only', async () => {
      const res = await get('/stepup/admin', await mint({ acr: LOA1, auth_time: now() }));
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate');
      expect(challenge).toMatch(
        /^Bearer realm="api", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:example:loa:2", resource_metadata="[^"]+"$/,
      );
      expect(params(challenge).resource_metadata).toBe(METADATA);
      expect(await res.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringMatching(/authentication context \(acr\)/),
      });
    });

    it('S#66: acr accepted → 200; acr missing → 401 with the same challenge', async () => {
      expect((await get('/stepup/admin', await mint({ acr: LOA2 }))).status).toBe(200);
      const res = await get('/stepup/admin', await mint({ auth_time: now() }));
      expect(res.status).toBe(401);
      const p = params(res.headers.get('www-authenticate'));
      expect(p.error).toBe('insufficient_user_authentication');
      expect(p.acr_values).toBe(LOA2);
      expect(p).not.toHaveProperty('max_age');
    });

    it('S#67: auth_time too old → 401 max_age="300" only; recent → 200; missing → 401', async () => {
      const old = await get('/stepup/recent', await mint({ acr: LOA1, auth_time: now() - 3600 }));
      expect(old.status).toBe(401);
      const p = params(old.headers.get('www-authenticate'));
      expect(p).toMatchObject({ error: 'insufficient_user_authentication', max_age: '300' });
      expect(p).not.toHaveProperty('acr_values');
      expect(p.resource_metadata).toBe(METADATA);
      expect((await get('/stepup/recent', await mint({ auth_time: now() - 10 }))).status).toBe(200);
      const missing = await get('/stepup/recent', await mint({ acr: LOA2 }));
      expect(missing.status).toBe(401);
      expect(params(missing.headers.get('www-authenticate')).max_age).toBe('300');
    });

    it('S#67: max_age is measured with the injected clock', async () => {
      const token = await mint({ auth_time: now() - 10 });
      offset = 200_000;
      expect((await get('/stepup/recent', token)).status).toBe(200);
      offset = 400_000;
      const res = await get('/stepup/recent', token);
      expect(res.status).toBe(401);
      expect(params(res.headers.get('www-authenticate')).max_age).toBe('300');
    });

    it('S#68: both failing → one challenge with both, acr_values in the order written', async () => {
      const res = await get('/stepup/both', await mint({ acr: LOA1, auth_time: now() - 3600 }));
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge.match(/Bearer /g)).toHaveLength(1);
      expect(params(challenge)).toMatchObject({
        error: 'insufficient_user_authentication',
        acr_values: `${LOA2} ${LOA3}`,
        max_age: '300',
        resource_metadata: METADATA,
      });
      expect((await get('/stepup/both', await mint({ acr: LOA3, auth_time: now() }))).status).toBe(
        200,
      );
    });

    it('S#68: lacking scopes too → scope in the same 401; step-up met → 403 insufficient_scope', async () => {
      const weak = await get('/stepup/admin', await mint({ acr: LOA1 }, 'api:read'));
      expect(weak.status).toBe(401);
      expect(params(weak.headers.get('www-authenticate'))).toMatchObject({
        error: 'insufficient_user_authentication',
        scope: 'admin',
        acr_values: LOA2,
        resource_metadata: METADATA,
      });
      const strong = await get('/stepup/admin', await mint({ acr: LOA2 }, 'api:read'));
      expect(strong.status).toBe(403);
      const challenge = strong.headers.get('www-authenticate');
      expect(params(challenge)).toMatchObject({ error: 'insufficient_scope', scope: 'admin' });
      expect(challenge).not.toContain('resource_metadata');
      expect(challenge).not.toContain('acr_values');
    });

    it('a handler @StepUp overrides the controller one; @Public routes are not stepped up', async () => {
      const token = await mint({ acr: LOA2, auth_time: now() - 120 });
      const inherited = await get('/strict', token);
      expect(inherited.status).toBe(401);
      expect(params(inherited.headers.get('www-authenticate')).max_age).toBe('60');
      expect((await get('/strict/override', token)).status).toBe(200);
      expect((await get('/strict/public', await mint({}))).status).toBe(200);
      expect((await fetch(`${url}/strict/public`)).status).toBe(200);
    });
  });

  it('S#69: an expired or forged token gets invalid_token, with no step-up requirement leaked', async () => {
    const claims = { acr: LOA1, auth_time: now(), scope: 'api:read admin' };
    for (const token of [
      await expiredToken(as, 3600, { claims }),
      await foreignKeyToken(as, { claims }),
    ]) {
      const res = await get('/stepup/both', token);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(params(challenge).error).toBe('invalid_token');
      expect(params(challenge).resource_metadata).toBe(METADATA);
      expect(challenge).not.toMatch(/acr_values|max_age|insufficient_user_authentication/);
      expect(await res.text()).not.toMatch(/loa:2|acr|auth_time/);
    }
  });

  it('serves the metadata in an app built from a testing module too', async () => {
    const res = await fetch(`${url}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resource: API, authorization_servers: [as.issuer] });
  });

  it('S#78: the missing-token 401 of a step-up route names the metadata, and nothing more', async () => {
    const res = await fetch(`${url}/stepup/both`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="api", resource_metadata="${METADATA}"`,
    );
  });
});

describe.each(ADAPTERS)('@StepUp with DPoP-bound tokens (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startTestApp(
      adapter,
      { ...options(), dpop: { algorithms: ['ES256'] } },
      { controllers: [StepUpController] },
    ));
  });

  afterAll(async () => {
    await app.close();
  });

  it.each(['jwt', 'opaque'] as const)(
    'S#68, S#78: a %s bound token failing acr gets a DPoP challenge with acr_values and resource_metadata',
    async (format) => {
      const client = await dpopClient();
      const mint = (acr: string) =>
        as.mintAccessToken({
          format,
          scope: 'api:read admin',
          jkt: client.jkt,
          testClaims: { acr },
        });
      const call = async (token: string) =>
        fetch(`${url}/stepup/admin`, {
          headers: dpopHeaders(token, await client.proof('GET', `${url}/stepup/admin`, token)),
        });
      const weak = await call(await mint(LOA1));
      expect(weak.status).toBe(401);
      const challenge = weak.headers.get('www-authenticate')!;
      expect(challenge).toMatch(/^DPoP realm="api", error="insufficient_user_authentication", /);
      expect(challenge.match(/Bearer /g)).toBeNull();
      expect(params(challenge)).toMatchObject({
        acr_values: LOA2,
        algs: 'ES256',
        resource_metadata: METADATA,
      });
      expect((await call(await mint(LOA2))).status).toBe(200);
    },
  );
});

describe.each(['apollo', 'mercurius'] as const)('@StepUp on GraphQL (%s)', (driver) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startGraphQLApp(driver, OidcResourceModule.forRoot(options())));
  });

  afterAll(async () => {
    await app.close();
  });

  it('refuses a weak token with UNAUTHENTICATED and the step-up parameters, accepts a strong one', async () => {
    const weak = await as.mintAccessToken({ testClaims: { acr: LOA1, auth_time: now() - 3600 } });
    const res = await graphql(url, '{ steppedUp }', { token: weak });
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors?.[0]?.extensions).toEqual({
      code: 'UNAUTHENTICATED',
      oauth: {
        error: 'insufficient_user_authentication',
        error_description: expect.any(String),
        acr_values: LOA2,
        max_age: 300,
      },
    });
    const strong = await as.mintAccessToken({ testClaims: { acr: LOA2, auth_time: now() } });
    expect((await graphql(url, '{ steppedUp }', { token: strong })).body).toEqual({
      data: { steppedUp: true },
    });
  });
});

describe("docs/step-up.md's testing recipe (the testing kit's acr and authTime)", () => {
  @Controller('accounts')
  class AccountsController {
    @Scopes('accounts:admin')
    @StepUp({ acrValues: [LOA2, LOA3], maxAge: 300 })
    @Get(':id')
    remove() {
      return { ok: true };
    }
  }

  it('weak → 401 insufficient_user_authentication, strong → 200', async () => {
    const issuer = await createTestIssuer();
    const { app, url } = await startTestApp(
      'express',
      issuer.moduleOptions({ audience: 'https://api.example.com' }),
      { controllers: [AccountsController] },
    );
    try {
      const weak = await issuer.accessToken({ scopes: ['accounts:admin'], acr: LOA1 });
      const strong = await issuer.accessToken({
        scopes: ['accounts:admin'],
        acr: LOA2,
        authTime: new Date(),
      });
      const refused = await fetch(`${url}/accounts/1`, {
        headers: { authorization: `Bearer ${weak}` },
      });
      expect(refused.status).toBe(401);
      expect(params(refused.headers.get('www-authenticate'))).toMatchObject({
        error: 'insufficient_user_authentication',
        acr_values: `${LOA2} ${LOA3}`,
        max_age: '300',
      });
      const ok = await fetch(`${url}/accounts/1`, {
        headers: { authorization: `Bearer ${strong}` },
      });
      expect(ok.status).toBe(200);
    } finally {
      await app.close();
      await issuer.close();
    }
  });
});
