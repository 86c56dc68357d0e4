// test/app.e2e-spec.ts
import { Test, TestingModule } from '@nestjs/testing';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { App } from 'supertest/types.js';
import { OIDC_RESOURCE_OPTIONS } from 'nestjs-oidc-resource';
import { createTestIssuer, TestIssuer } from 'nestjs-oidc-resource/testing';
import { AppModule } from './../src/app.module.js';

describe('Notes (e2e)', () => {
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

  it('lists notes for a token with notes:read (200)', async () => {
    const token = await issuer.accessToken({ sub: 'alice', scopes: ['notes:read'] });
    await request(app.getHttpServer())
      .get('/notes')
      .set('Authorization', `Bearer ${token}`)
      .expect(200)
      .expect({ for: 'alice', notes: [] });
  });

  it('refuses a token without notes:read (403)', async () => {
    const token = await issuer.accessToken({ sub: 'alice', scopes: ['notes:write'] });
    await request(app.getHttpServer())
      .get('/notes')
      .set('Authorization', `Bearer ${token}`)
      .expect(403)
      .expect('WWW-Authenticate', /error="insufficient_scope"/);
  });

  it('refuses an expired token (401)', async () => {
    const token = await issuer.accessToken({ scopes: ['notes:read'], expiresIn: -60 });
    await request(app.getHttpServer())
      .get('/notes')
      .set('Authorization', `Bearer ${token}`)
      .expect(401)
      .expect('WWW-Authenticate', /error="invalid_token"/);
  });

  it('answers 503 while the issuer is down', async () => {
    // A JWT is checked with the keys the app already holds; an opaque token needs the issuer.
    const token = await issuer.accessToken({ scopes: ['notes:read'], format: 'opaque' });
    await issuer.stop();
    try {
      await request(app.getHttpServer())
        .get('/notes')
        .set('Authorization', `Bearer ${token}`)
        .expect(503);
    } finally {
      await issuer.start();
    }
  });
});
