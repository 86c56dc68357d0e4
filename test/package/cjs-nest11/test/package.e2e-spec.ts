import { Test, TestingModule } from '@nestjs/testing';
import { Controller, Get, INestApplication, UseGuards } from '@nestjs/common';
import request from 'supertest';
import { App } from 'supertest/types';
import type { AuthenticatedPrincipal } from 'nestjs-oidc-resource';
import {
  CurrentUser,
  OidcAuthGuard,
  OidcResourceModule,
  Public,
  Scopes,
} from 'nestjs-oidc-resource';
import { AppModule } from './../src/app.module';

// Run by test/package/package.spec.ts with `npx jest --config ./test/jest-e2e.json` (the file
// `nest new` generates, unmodified). The runner starts a real authorization server, mints the
// tokens and passes them here in environment variables.
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const bearer = (name: string) => `Bearer ${env(name)}`;

describe('the package in a nest new NestJS 11 app', () => {
  it('runs on the Node.js major the runner asked for', () => {
    expect(process.versions.node.split('.')[0]).toBe(env('EXPECT_NODE_MAJOR'));
  });

  it('is loaded from the CommonJS build', () => {
    expect(require.resolve('nestjs-oidc-resource')).toMatch(/[\\/]dist[\\/]cjs[\\/]index\.js$/);
  });

  it('loads nestjs-oidc-resource/testing from the CommonJS build too', () => {
    expect(require.resolve('nestjs-oidc-resource/testing')).toMatch(
      /[\\/]dist[\\/]cjs[\\/]testing[\\/]index\.js$/,
    );
  });
});

describe('AppModule: forRoot() with the global guard (e2e)', () => {
  let app: INestApplication<App>;

  beforeEach(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();

    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterEach(async () => {
    await app.close();
  });

  it('/health (GET) is @Public()', () => {
    return request(app.getHttpServer()).get('/health').expect(200);
  });

  it('/me (GET) without a token is 401 with a Bearer challenge', () => {
    return request(app.getHttpServer())
      .get('/me')
      .expect(401)
      .expect('www-authenticate', /^Bearer realm="[^"]+"$/);
  });

  it('/notes (POST) with api:write is 201', () => {
    return request(app.getHttpServer())
      .post('/notes')
      .set('authorization', bearer('TOKEN_WRITE'))
      .expect(201)
      .expect({ createdBy: env('TOKEN_SUB') });
  });

  it('/notes (POST) without api:write is 403 insufficient_scope', () => {
    return request(app.getHttpServer())
      .post('/notes')
      .set('authorization', bearer('TOKEN_READ'))
      .expect(403)
      .expect('www-authenticate', /error="insufficient_scope"/);
  });

  it('/me (GET) with an opaque token goes through introspection', async () => {
    const res = await request(app.getHttpServer())
      .get('/me')
      .set('authorization', bearer('TOKEN_OPAQUE'))
      .expect(200);
    expect(res.body).toMatchObject({ source: 'introspection' });
  });
});

@Controller('probe')
@UseGuards(OidcAuthGuard)
class ProbeController {
  @Public()
  @Get('open')
  open() {
    return { open: true };
  }

  @Scopes('api:read')
  @Get('read')
  read(@CurrentUser() user: AuthenticatedPrincipal) {
    return { clientId: user.clientId, scopes: user.scopes };
  }

  @Scopes('api:write')
  @Get('write')
  write(@CurrentUser('clientId') clientId: string | undefined) {
    return { clientId };
  }
}

describe('OidcAuthGuard with @UseGuards() and global: false (e2e)', () => {
  let app: INestApplication<App>;

  beforeAll(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [
        OidcResourceModule.forRoot({
          issuer: env('OIDC_ISSUER'),
          audience: env('OIDC_AUDIENCE'),
          global: false,
        }),
      ],
      controllers: [ProbeController],
    }).compile();

    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it('200 with the scope', async () => {
    const res = await request(app.getHttpServer())
      .get('/probe/read')
      .set('authorization', bearer('TOKEN_READ'))
      .expect(200);
    expect(res.body.scopes).toContain('api:read');
    expect(res.body.clientId).toBe(env('TOKEN_SUB'));
  });

  it('403 without the scope', () => {
    return request(app.getHttpServer())
      .get('/probe/write')
      .set('authorization', bearer('TOKEN_READ'))
      .expect(403)
      .expect('www-authenticate', /scope="api:write"/);
  });

  it('200 once the token has the scope', () => {
    return request(app.getHttpServer())
      .get('/probe/write')
      .set('authorization', bearer('TOKEN_WRITE'))
      .expect(200)
      .expect({ clientId: env('TOKEN_SUB') });
  });

  it('401 without a token', () => {
    return request(app.getHttpServer()).get('/probe/read').expect(401);
  });

  it('401 with a token that is not one', () => {
    return request(app.getHttpServer())
      .get('/probe/read')
      .set('authorization', 'Bearer not.a.token')
      .expect(401)
      .expect('www-authenticate', /error="invalid_token"/);
  });

  it('lets @Public() routes through', () => {
    return request(app.getHttpServer()).get('/probe/open').expect(200).expect({ open: true });
  });
});
