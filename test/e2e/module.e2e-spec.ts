/**
 * Module wiring: `global: false` with `@UseGuards(OidcAuthGuard)`, `forRootAsync` with
 * `@nestjs/config` and with `useClass`, the default realm, option validation at start, lazy
 * discovery, and non-HTTP execution contexts. On Express and Fastify.
 */
import {
  Controller,
  ForbiddenException,
  Get,
  Injectable,
  UseGuards,
  type INestApplication,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { WsException } from '@nestjs/websockets';
import {
  CurrentUser,
  InvalidConfigurationError,
  OidcAuthGuard,
  OidcGraphQLError,
  OidcResourceModule,
  Public,
  Scopes,
  type OidcResourceModuleOptions,
  type OidcResourceOptionsFactory,
} from '../../lib/index.js';
import {
  startAuthorizationServer,
  API,
  OTHER_API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import {
  startTestApp,
  ADAPTERS,
  ApiController,
  AdminController,
  OpenController,
} from '../fixtures/test-app.js';

@UseGuards(OidcAuthGuard)
@Controller('guarded')
class GuardedController {
  @Get()
  index(@CurrentUser('sub') sub: string | undefined) {
    return { sub: sub ?? null };
  }

  @Scopes('api:write')
  @Get('write')
  write() {
    return { ok: true };
  }

  @Public()
  @Get('open')
  open(@CurrentUser('sub') sub: string | undefined) {
    return { sub: sub ?? null };
  }
}

let as: AuthorizationServer;
let read: string;
let write: string;
let opaque: string;

beforeAll(async () => {
  as = await startAuthorizationServer();
  [read, write, opaque] = await Promise.all([
    as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }),
    as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:write' }),
    as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' }),
  ]);
});
afterAll(async () => {
  await as?.close();
});

const base = (): OidcResourceModuleOptions => ({
  issuer: as.issuer,
  audience: API,
  introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
});

async function get(
  url: string,
  token?: string,
): Promise<{ status: number; challenge: string | null; json: unknown }> {
  const res = await fetch(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    json: text ? JSON.parse(text) : undefined,
  };
}

/** Starts an app, runs `body`, always closes the app. */
async function withApp(
  adapter: (typeof ADAPTERS)[number],
  options: Parameters<typeof startTestApp>[1],
  body: (url: string, app: INestApplication) => Promise<void>,
  extra?: Parameters<typeof startTestApp>[2],
): Promise<void> {
  const { app, url } = await startTestApp(adapter, options, extra);
  try {
    await body(url, app);
  } finally {
    await app.close();
  }
}

describe.each(ADAPTERS)('module (%s)', (adapter) => {
  describe('global: false', () => {
    it('routes are open unless @UseGuards(OidcAuthGuard) is applied', async () => {
      await withApp(
        adapter,
        OidcResourceModule.forRoot({ ...base(), realm: 'api', global: false }),
        async (url) => {
          // No APP_GUARD: the test app's decorated routes are not protected at all.
          expect(await get(`${url}/api/read`)).toEqual({
            status: 200,
            challenge: null,
            json: { sub: null },
          });
          expect((await get(`${url}/api/write`)).status).toBe(200);
          expect((await get(`${url}/admin`)).status).toBe(200);
          // ...and no guard ran, so nothing fills @CurrentUser on them.
          expect((await get(`${url}/api/read`, read)).json).toEqual({ sub: null });

          // The guarded controller answers exactly as with the global guard.
          expect(await get(`${url}/guarded`)).toEqual({
            status: 401,
            challenge: 'Bearer realm="api"',
            json: { statusCode: 401, message: expect.any(String), error: 'Unauthorized' },
          });
          expect(await get(`${url}/guarded`, read)).toEqual({
            status: 200,
            challenge: null,
            json: { sub: 'cc-jwt' },
          });
          const bad = await get(`${url}/guarded`, 'nope');
          expect(bad.status).toBe(401);
          expect(bad.challenge).toMatch(
            /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
          );
          const forbidden = await get(`${url}/guarded/write`, read);
          expect(forbidden.status).toBe(403);
          expect(forbidden.challenge).toMatch(
            /^Bearer realm="api", error="insufficient_scope", error_description="[^"]+", scope="api:write"$/,
          );
          expect((await get(`${url}/guarded/write`, write)).status).toBe(200);
          expect(await get(`${url}/guarded/open`)).toEqual({
            status: 200,
            challenge: null,
            json: { sub: null },
          });
          expect((await get(`${url}/guarded/open`, read)).json).toEqual({ sub: 'cc-jwt' });
        },
        { controllers: [GuardedController] },
      );
    });

    it('forRootAsync({ global: false }) likewise', async () => {
      await withApp(
        adapter,
        OidcResourceModule.forRootAsync({
          global: false,
          useFactory: () => ({ ...base(), realm: 'api' }),
        }),
        async (url) => {
          expect((await get(`${url}/api/read`)).status).toBe(200);
          expect((await get(`${url}/guarded`)).challenge).toBe('Bearer realm="api"');
          expect((await get(`${url}/guarded`, read)).json).toEqual({ sub: 'cc-jwt' });
        },
        { controllers: [GuardedController] },
      );
    });
  });

  describe('forRootAsync', () => {
    it('with @nestjs/config (ConfigModule + ConfigService, useFactory) works end to end', async () => {
      const config = ConfigModule.forRoot({
        ignoreEnvFile: true,
        load: [
          () => ({
            oidc: {
              issuer: as.issuer,
              audience: API,
              realm: 'from-config',
              clientId: RS_CLIENT.id,
              clientSecret: RS_CLIENT.secret,
            },
          }),
        ],
      });
      const oidc = OidcResourceModule.forRootAsync({
        imports: [ConfigModule],
        inject: [ConfigService],
        useFactory: (cfg: ConfigService) => ({
          issuer: cfg.getOrThrow<string>('oidc.issuer'),
          audience: cfg.getOrThrow<string>('oidc.audience'),
          realm: cfg.getOrThrow<string>('oidc.realm'),
          introspection: {
            clientId: cfg.getOrThrow<string>('oidc.clientId'),
            clientSecret: cfg.getOrThrow<string>('oidc.clientSecret'),
          },
        }),
      });
      await withApp(
        adapter,
        oidc,
        async (url) => {
          expect((await get(`${url}/api/read`)).challenge).toBe('Bearer realm="from-config"');
          expect(await get(`${url}/api/read`, read)).toEqual({
            status: 200,
            challenge: null,
            json: { sub: 'cc-jwt' },
          });
          // The introspection credentials came from the config too.
          expect((await get(`${url}/api/any`, opaque)).json).toMatchObject({
            clientId: 'cc-opaque',
            source: 'introspection',
          });
          const forbidden = await get(`${url}/api/write`, read);
          expect(forbidden.status).toBe(403);
          expect(forbidden.challenge).toMatch(
            /^Bearer realm="from-config", error="insufficient_scope", .*scope="api:write"$/,
          );
        },
        { imports: [config] },
      );
    });

    it('with useClass (createOidcResourceOptions) works end to end', async () => {
      const issuer = as.issuer;
      @Injectable()
      class OidcOptions implements OidcResourceOptionsFactory {
        async createOidcResourceOptions(): Promise<OidcResourceModuleOptions> {
          return {
            issuer,
            audience: API,
            realm: 'from-class',
            introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
          };
        }
      }
      await withApp(
        adapter,
        OidcResourceModule.forRootAsync({ useClass: OidcOptions }),
        async (url) => {
          expect((await get(`${url}/api/read`)).challenge).toBe('Bearer realm="from-class"');
          expect((await get(`${url}/api/read`, read)).json).toEqual({ sub: 'cc-jwt' });
          expect((await get(`${url}/api/any`, opaque)).json).toMatchObject({
            source: 'introspection',
          });
        },
      );
    });
  });

  describe('default realm', () => {
    it('is the audience', async () => {
      await withApp(adapter, base(), async (url) => {
        expect((await get(`${url}/api/read`)).challenge).toBe(`Bearer realm="${API}"`);
        const bad = await get(`${url}/api/read`, 'nope');
        expect(bad.challenge).toMatch(new RegExp(`^Bearer realm="${API}", error="invalid_token"`));
      });
    });

    it('is the first audience of a list', async () => {
      await withApp(adapter, { ...base(), audience: [OTHER_API, API] }, async (url) => {
        expect((await get(`${url}/api/read`)).challenge).toBe(`Bearer realm="${OTHER_API}"`);
        expect((await get(`${url}/api/read`, read)).status).toBe(200);
      });
    });

    it('is the issuer with audience: false', async () => {
      await withApp(adapter, { ...base(), audience: false }, async (url) => {
        expect((await get(`${url}/api/read`)).challenge).toBe(`Bearer realm="${as.issuer}"`);
      });
    });
  });

  describe('start-up', () => {
    const expectStartFailure = async (options: Parameters<typeof startTestApp>[1], key: RegExp) => {
      const failure = await startTestApp(adapter, options).then(
        async ({ app }) => {
          await app.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(InvalidConfigurationError);
      expect((failure as InvalidConfigurationError).code).toBe('invalid_configuration');
      expect((failure as Error).message).toMatch(key);
    };

    it('a missing audience fails at start, naming the key', async () => {
      const { audience: _audience, ...options } = base();
      await expectStartFailure(options as OidcResourceModuleOptions, /"audience"/);
    });

    it("algorithms: ['HS256'] fails at start, naming the key", async () => {
      await expectStartFailure({ ...base(), algorithms: ['HS256'] }, /"algorithms"/);
      await expectStartFailure({ ...base(), algorithms: ['none'] }, /"algorithms"/);
    });

    it('an invalid option from an async factory fails at start too', async () => {
      await expectStartFailure(
        OidcResourceModule.forRootAsync({ useFactory: () => ({ ...base(), issuer: 'not a url' }) }),
        /"issuer"/,
      );
      await expectStartFailure(
        OidcResourceModule.forRootAsync({ useFactory: () => ({ ...base(), clockTolerance: -1 }) }),
        /"clockTolerance"/,
      );
    });

    it('an unknown option fails at start, naming it', async () => {
      await expectStartFailure(
        { ...base(), allowQueryTokens: true } as OidcResourceModuleOptions,
        /"allowQueryTokens"/,
      );
    });

    it('global returned from a factory that conflicts with the module extra fails at start', async () => {
      await expectStartFailure(
        OidcResourceModule.forRootAsync({ useFactory: () => ({ ...base(), global: false }) }),
        /"global"/,
      );
      await expectStartFailure(
        OidcResourceModule.forRootAsync({
          global: false,
          useFactory: () => ({ ...base(), global: true }),
        }),
        /"global"/,
      );
    });

    it('discovery is lazy: the app starts while the issuer is down, and answers 503 until it is up', async () => {
      const down = await startAuthorizationServer();
      const token = await down.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });
      await down.stop();
      let offset = 0;
      try {
        await withApp(
          adapter,
          { issuer: down.issuer, audience: API, realm: 'api' },
          async (url) => {
            expect(down.hits.get('/.well-known/openid-configuration')).toBe(0);
            const unavailable = await get(`${url}/api/read`, token);
            expect(unavailable.status).toBe(503);
            expect(unavailable.challenge).toBeNull();
            await down.start();
            offset += 2_000; // past the failure cooldown (1–2 s), during which discovery is not retried
            expect(await get(`${url}/api/read`, token)).toEqual({
              status: 200,
              challenge: null,
              json: { sub: 'cc-jwt' },
            });
          },
          { clock: () => Date.now() + offset },
        );
      } finally {
        await down.close();
      }
    });
  });

  describe('non-HTTP contexts', () => {
    let app: INestApplication;
    let guard: OidcAuthGuard;
    beforeAll(async () => {
      ({ app } = await startTestApp(adapter, { ...base(), realm: 'api' }));
      guard = app.get(OidcAuthGuard);
    });
    afterAll(async () => {
      await app?.close();
    });

    const context = (
      type: string,
      controller: object,
      handler: (...args: never[]) => unknown,
      args: unknown[],
    ) => {
      const ctx = new ExecutionContextHost(args, controller as never, handler);
      ctx.setType(type);
      return ctx;
    };
    const protectedRoute = [ApiController, ApiController.prototype.read] as const;
    const publicHandler = [AdminController, AdminController.prototype.open] as const;
    const publicController = [OpenController, OpenController.prototype.index] as const;

    it('an RPC context passes through untouched, without calling the issuer', async () => {
      as.resetHits();
      const message = { data: { hello: 'world' } };
      await expect(
        guard.canActivate(context('rpc', ...protectedRoute, [message, {}])),
      ).resolves.toBe(true);
      expect(as.seen).toEqual([]);
      expect(message).toEqual({ data: { hello: 'world' } });
    });

    it.each(['ws', 'graphql'])(
      'a %s context without a token it can read is refused (fail closed)',
      async (type) => {
        // A GraphQL context whose request is no HTTP request, a socket no handshake authenticated.
        const args =
          type === 'ws'
            ? [{}, { token: read }]
            : [{}, {}, { req: { headers: { authorization: `Bearer ${read}` } } }, {}];
        for (const [controller, handler] of [
          protectedRoute,
          [GuardedController, GuardedController.prototype.index] as const,
        ]) {
          const refusal = await Promise.resolve(
            guard.canActivate(context(type, controller, handler, args)),
          ).then(
            () => undefined,
            (error: unknown) => error,
          );
          if (type === 'ws') {
            expect(refusal).toBeInstanceOf(WsException);
            expect((refusal as WsException).getError()).toEqual({
              error: 'invalid_token',
              error_description: 'The connection was opened without a valid access token',
            });
          } else {
            expect(refusal).toBeInstanceOf(OidcGraphQLError);
            expect((refusal as OidcGraphQLError).extensions).toEqual({
              code: 'UNAUTHENTICATED',
              oauth: { error: 'invalid_token', error_description: 'No access token was sent' },
            });
          }
        }
      },
    );

    it('a context of a transport the package does not know is refused unless @Public()', async () => {
      await expect(
        guard.canActivate(context('carrier-pigeon', ...protectedRoute, [{}, {}])),
      ).rejects.toBeInstanceOf(ForbiddenException);
      await expect(
        guard.canActivate(context('carrier-pigeon', ...publicHandler, [{}, {}])),
      ).resolves.toBe(true);
    });

    it.each(['ws', 'graphql'])(
      'a %s context on a @Public() handler or controller passes',
      async (type) => {
        await expect(guard.canActivate(context(type, ...publicHandler, [{}, {}]))).resolves.toBe(
          true,
        );
        await expect(guard.canActivate(context(type, ...publicController, [{}, {}]))).resolves.toBe(
          true,
        );
      },
    );

    it('an HTTP context built by hand is still checked (control case)', async () => {
      const req = { headers: {}, rawHeaders: [], url: '/api/read', method: 'GET' };
      const set: [string, string][] = [];
      const res = { header: (name: string, value: string) => set.push([name, value]) };
      const ctx = context('http', ...protectedRoute, [req, res, () => undefined]);
      await expect(guard.canActivate(ctx)).rejects.toMatchObject({ status: 401 });
      expect(set).toEqual([['WWW-Authenticate', 'Bearer realm="api"']]);
    });
  });
});
