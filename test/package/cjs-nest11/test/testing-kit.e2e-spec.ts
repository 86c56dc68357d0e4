import { Test, TestingModule } from '@nestjs/testing';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { App } from 'supertest/types';
import { OIDC_RESOURCE_OPTIONS } from 'nestjs-oidc-resource';
import { createTestIssuer, TestIssuer } from 'nestjs-oidc-resource/testing';
import { AppModule } from './../src/app.module';

// The recipe of docs/testing.md in a nest new app: AppModule's options replaced by the testing
// kit's issuer (the kit's CommonJS build, loaded by ts-jest's require).
describe('nestjs-oidc-resource/testing in a nest new NestJS 11 app (e2e)', () => {
  let issuer: TestIssuer;
  let app: INestApplication<App>;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    })
      .overrideProvider(OIDC_RESOURCE_OPTIONS)
      .useValue(issuer.moduleOptions({ audience: 'notes-api' }))
      .compile();

    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await issuer.close();
  });

  it('is loaded from the CommonJS build', () => {
    expect(require.resolve('nestjs-oidc-resource/testing')).toMatch(
      /[\\/]dist[\\/]cjs[\\/]testing[\\/]index\.js$/,
    );
  });

  it('201 for a token with api:write', async () => {
    const token = await issuer.accessToken({ sub: 'alice', scopes: ['api:write'] });
    await request(app.getHttpServer())
      .post('/notes')
      .set('Authorization', `Bearer ${token}`)
      .expect(201)
      .expect({ createdBy: 'alice' });
  });

  it('403 for a token without it', async () => {
    const token = await issuer.accessToken({ sub: 'alice', scopes: ['api:read'] });
    await request(app.getHttpServer())
      .post('/notes')
      .set('Authorization', `Bearer ${token}`)
      .expect(403)
      .expect('WWW-Authenticate', /error="insufficient_scope"/);
  });
});
