/**
 * The README's quick start and docs/testing.md's recipes, run as written (fetch stands in for
 * supertest): the JWT-only module, `user.sub ?? user.clientId`, options replaced in a test
 * module through OIDC_RESOURCE_OPTIONS (forRoot and forRootAsync), the introspection block that
 * stays off while its client id is unset, and docs/testing.md's end-to-end spec with the test
 * issuer (`nestjs-oidc-resource/testing`). test:package runs a spec of the same shape in a
 * `nest new` app (test/package/cjs-nest11/test/testing-kit.e2e-spec.ts), not this one verbatim.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Module, Post, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import {
  CurrentUser,
  OIDC_RESOURCE_OPTIONS,
  OidcResourceModule,
  Public,
  Scopes,
  type AuthenticatedPrincipal,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import { createTestIssuer, type TestIssuer } from '../../lib/testing/index.js';

const AUDIENCE = 'https://api.test';

// README, Quick start: the controller.
@Controller('notes')
class NotesController {
  @Public()
  @Get('count')
  count() {
    return { count: 42 };
  }

  @Get()
  @Scopes('notes:read')
  list(@CurrentUser() user: AuthenticatedPrincipal) {
    return { for: user.sub ?? user.clientId, notes: [] };
  }

  @Post()
  @Scopes('notes:write')
  create(@Body() body: { text: string }, @CurrentUser() user: AuthenticatedPrincipal) {
    return { text: body.text, author: user.sub ?? user.clientId };
  }
}

// README, Quick start, with a "production" issuer that nothing answers (port 1 on loopback,
// so that the test never reaches out of the machine).
@Module({
  imports: [
    OidcResourceModule.forRoot({
      issuer: 'http://127.0.0.1:1/realms/acme',
      audience: 'https://api.example.com',
    }),
  ],
  controllers: [NotesController],
})
class StaticAppModule {}

/** README, "Opaque tokens, and options from the environment", over a given set of variables. */
function envAppModule(variables: Record<string, string>) {
  @Module({
    imports: [
      ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => variables] }),
      OidcResourceModule.forRootAsync({
        imports: [ConfigModule],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => {
          const clientId = config.get<string>('OIDC_INTROSPECTION_CLIENT_ID');
          return {
            issuer: config.getOrThrow<string>('OIDC_ISSUER'),
            audience: config.getOrThrow<string>('OIDC_AUDIENCE'),
            introspection: clientId
              ? { clientId, clientSecret: config.getOrThrow('OIDC_INTROSPECTION_CLIENT_SECRET') }
              : undefined,
          };
        },
      }),
    ],
    controllers: [NotesController],
  })
  class EnvAppModule {}
  return EnvAppModule;
}

let kit: TestIssuer;
let issuer: string;

/** A token from the test issuer for AUDIENCE; `claims` are applied last. */
const accessToken = (scopes: string[], claims: Record<string, unknown> = {}) =>
  kit.accessToken({ sub: 'alice', audience: AUDIENCE, scopes, claims });

beforeAll(async () => {
  kit = await createTestIssuer();
  issuer = kit.issuer;
});

afterAll(() => kit.close());

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(
  module: new () => unknown,
  options?: OidcResourceModuleOptions,
): Promise<string> {
  let builder = Test.createTestingModule({ imports: [module] });
  if (options) builder = builder.overrideProvider(OIDC_RESOURCE_OPTIONS).useValue(options);
  const app = (await builder.compile()).createNestApplication({ logger: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

async function call(
  base: string,
  path: string,
  token?: string,
  body?: object,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

describe('docs/testing.md: options replaced in a test module', () => {
  it("replaces AppModule's forRoot options: tokens from the test's own issuer are accepted", async () => {
    const api = await start(StaticAppModule, { issuer, audience: AUDIENCE });
    const reader = await accessToken(['notes:read']);

    expect(await call(api, '/notes', reader)).toEqual({
      status: 200,
      body: { for: 'alice', notes: [] },
    });
    expect((await call(api, '/notes', reader, { text: 'x' })).status).toBe(403);
    const expired = await accessToken(['notes:read'], { exp: 1 });
    expect((await call(api, '/notes', expired)).status).toBe(401);
    expect((await call(api, '/notes')).status).toBe(401);
    expect(await call(api, '/notes/count')).toEqual({ status: 200, body: { count: 42 } });
  });

  it("without the override, the same module refuses the test issuer's tokens", async () => {
    // The recipe's tokens are accepted because of the override: here they name an issuer the
    // module does not trust (401, and its production issuer is never asked).
    const api = await start(StaticAppModule);
    const { status } = await call(api, '/notes', await accessToken(['notes:read']));
    expect(status).toBe(401);
  });

  it('replaces forRootAsync options without running the factory (no variable needed)', async () => {
    const EnvAppModule = envAppModule({});
    await expect(start(EnvAppModule)).rejects.toThrow(/OIDC_ISSUER/);

    const api = await start(EnvAppModule, { issuer, audience: AUDIENCE });
    const { status } = await call(api, '/notes', await accessToken(['notes:read']));
    expect(status).toBe(200);
  });
});

describe('README: quick start', () => {
  it('names the client when a token has no sub (user.sub ?? user.clientId)', async () => {
    const api = await start(StaticAppModule, {
      issuer,
      audience: AUDIENCE,
      requireJwtAccessTokenType: false,
    });
    const token = await accessToken(['notes:read', 'notes:write'], { sub: undefined });

    expect(await call(api, '/notes', token)).toEqual({
      status: 200,
      body: { for: 'test-client', notes: [] },
    });
    expect(await call(api, '/notes', token, { text: 'hi' })).toEqual({
      status: 201,
      body: { text: 'hi', author: 'test-client' },
    });
  });

  it('starts JWT-only while OIDC_INTROSPECTION_CLIENT_ID is unset', async () => {
    const api = await start(envAppModule({ OIDC_ISSUER: issuer, OIDC_AUDIENCE: AUDIENCE }));
    const { status } = await call(api, '/notes', await accessToken(['notes:read']));
    expect(status).toBe(200);
  });

  it('fails at start when the client id is set and its secret is not', async () => {
    const EnvAppModule = envAppModule({
      OIDC_ISSUER: issuer,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_INTROSPECTION_CLIENT_ID: 'notes-api',
    });
    await expect(start(EnvAppModule)).rejects.toThrow(/OIDC_INTROSPECTION_CLIENT_SECRET/);
  });
});

// docs/testing.md, "An end-to-end spec": the quick start's controller, production settings
// from the environment (which this test does not set), and the spec's four cases.
@Module({
  imports: [
    OidcResourceModule.forRootAsync({
      useFactory: () => ({
        issuer: process.env.OIDC_ISSUER!,
        audience: process.env.OIDC_AUDIENCE!,
      }),
    }),
  ],
  controllers: [NotesController],
})
class DocsAppModule {}

describe('docs/testing.md: an end-to-end spec', () => {
  let api: string;
  let app: INestApplication;
  beforeAll(async () => {
    expect(process.env.OIDC_ISSUER).toBeUndefined(); // the factory would throw if it ran
    api = await start(DocsAppModule, kit.moduleOptions({ audience: 'notes-api' }));
    app = apps.pop()!; // one app for the four cases, as in the spec (not closed after each)
  });
  afterAll(() => app.close());

  it('lists notes for a token with notes:read (200)', async () => {
    const token = await kit.accessToken({ sub: 'alice', scopes: ['notes:read'] });
    expect(await call(api, '/notes', token)).toEqual({
      status: 200,
      body: { for: 'alice', notes: [] },
    });
  });

  it('refuses a token without notes:read (403)', async () => {
    const token = await kit.accessToken({ sub: 'alice', scopes: ['notes:write'] });
    expect((await call(api, '/notes', token)).status).toBe(403);
  });

  it('refuses an expired token (401)', async () => {
    const token = await kit.accessToken({ scopes: ['notes:read'], expiresIn: -60 });
    expect((await call(api, '/notes', token)).status).toBe(401);
  });

  it('answers 503 while the issuer is down', async () => {
    const token = await kit.accessToken({ scopes: ['notes:read'], format: 'opaque' });
    await kit.stop();
    try {
      expect((await call(api, '/notes', token)).status).toBe(503);
    } finally {
      await kit.start();
    }
    expect((await call(api, '/notes', token)).status).toBe(200);
  });
});
