/**
 * Cached principals and UserInfo answers are shared between requests with the same token, so
 * they are frozen all the way down: a handler that pushes onto `claims.realm_access.roles`
 * gets a TypeError (strict mode, which every ES module and TypeScript output is in) and the
 * next request with that token sees the token's own claims. Against the real oidc-provider
 * fixture on Express and Fastify, and for a principal read back from a shared store.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Keyv } from 'keyv';
import {
  CurrentUser,
  OidcResourceModule,
  TokenValidationService,
  UserInfoService,
  type AuthenticatedPrincipal,
} from '../../lib/index.js';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';

/** What a careless handler does: changes what it was given, then reports what it saw. */
function tamper(target: () => unknown): { threw: string | null } {
  try {
    target();
    return { threw: null };
  } catch (error) {
    return { threw: (error as Error).constructor.name };
  }
}

type Claims = Record<string, unknown> & { realm_access: { roles: string[] } };

@Controller('mutate')
class MutatingController {
  constructor(private readonly userInfo: UserInfoService) {}

  @Get('roles')
  roles(@CurrentUser() user: AuthenticatedPrincipal) {
    const claims = user.claims as Claims;
    const seen = [...claims.realm_access.roles];
    const push = tamper(() => claims.realm_access.roles.push('admin'));
    const assign = tamper(() => {
      (claims.realm_access as Record<string, unknown>).extra = true;
    });
    const scopes = tamper(() => user.scopes.push('admin'));
    return { seen, push: push.threw, assign: assign.threw, scopes: scopes.threw };
  }

  @Get('userinfo')
  async profile(@CurrentUser() user: AuthenticatedPrincipal) {
    const claims = (await this.userInfo.getUserInfo(user)) as { address: { country: string } };
    const seen = claims.address.country;
    const assign = tamper(() => {
      claims.address.country = 'Elsewhere';
    });
    return { seen, assign: assign.threw };
  }
}

describe.each(ADAPTERS)('shared principals cannot be changed by a handler (%s)', (adapter) => {
  let as: AuthorizationServer;
  let fs: FaultServer;
  let app: INestApplication;
  let url: string;
  let faultApp: INestApplication;
  let faultUrl: string;

  beforeAll(async () => {
    [as, fs] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
    const options = {
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    };
    ({ app, url } = await startTestApp(
      adapter,
      { ...options, issuer: as.issuer },
      { controllers: [MutatingController] },
    ));
    fs.serveDiscovery();
    fs.route(
      '/token/introspection',
      faults.json({ active: true, token_type: 'Bearer', scope: 'openid', sub: 'alice' }),
    );
    fs.route('/me', faults.json({ sub: 'alice', address: { country: 'Wonderland' } }));
    ({ app: faultApp, url: faultUrl } = await startTestApp(
      adapter,
      { ...options, issuer: fs.origin },
      { controllers: [MutatingController] },
    ));
  });
  afterAll(async () => {
    await Promise.all([app?.close(), faultApp?.close()]);
    await Promise.all([as?.close(), fs?.close()]);
  });

  const get = async (base: string, path: string, token: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  it.each([
    ['a JWT', 'jwt'],
    ['an opaque token', 'opaque'],
  ] as const)(
    "%s: claims.realm_access.roles.push throws, and the next request sees the token's roles",
    async (_what, format) => {
      const token = await as.mintAccessToken({
        format,
        testClaims: { realm_access: { roles: ['user'] } },
      });
      for (let i = 0; i < 3; i++) {
        expect(await get(url, '/mutate/roles', token)).toEqual({
          seen: ['user'],
          push: 'TypeError',
          assign: 'TypeError',
          scopes: 'TypeError',
        });
      }
    },
  );

  it("a UserInfo answer's nested claims cannot be changed for the next call either", async () => {
    const token = `opaque-${Math.random().toString(36).slice(2)}`;
    for (let i = 0; i < 3; i++) {
      expect(await get(faultUrl, '/mutate/userinfo', token)).toEqual({
        seen: 'Wonderland',
        assign: 'TypeError',
      });
    }
    expect(fs.hits.get('/me')).toBe(1); // the same cached answer each time
  });
});

describe('a principal read back from a shared store', () => {
  it('is frozen all the way down, like one built here', async () => {
    const as = await startAuthorizationServer();
    const store = new Map<string, unknown>();
    const instance = () =>
      Test.createTestingModule({
        imports: [
          OidcResourceModule.forRoot({
            issuer: as.issuer,
            audience: API,
            global: false,
            cache: { stores: [new Keyv({ store })] },
          }),
        ],
      }).compile();
    const [writer, reader] = [await instance(), await instance()];
    try {
      const token = await as.mintAccessToken({
        testClaims: { realm_access: { roles: ['user'] } },
      });
      await writer.get(TokenValidationService).validate(token);
      const hits = as.hits.total;
      const tokens = reader.get(TokenValidationService);
      const principal = await tokens.validate(token);
      expect(as.hits.total).toBe(hits); // served by the shared store, not verified again
      const claims = principal.claims as Claims;
      expect(() => claims.realm_access.roles.push('admin')).toThrow(TypeError);
      expect(Object.isFrozen(claims.realm_access)).toBe(true);
      expect(((await tokens.validate(token)).claims as Claims).realm_access.roles).toEqual([
        'user',
      ]);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await as.close();
    }
  });
});
