import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../src/app.module.js';

// Run by test/package/package.spec.ts with `npx vitest run`. The runner starts a real
// authorization server, mints the tokens and passes them here in environment variables.
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

describe('the package in an ESM NestJS 12 app under vitest', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('runs on the Node.js major the runner asked for', () => {
    expect(process.versions.node.split('.')[0]).toBe(env('EXPECT_NODE_MAJOR'));
  });

  it('401 without a token', async () => {
    const res = await request(app.getHttpServer()).get('/me');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+"$/);
  });

  it('201 on the @Scopes("api:write") route with the scope', async () => {
    const res = await request(app.getHttpServer())
      .post('/notes')
      .set('authorization', `Bearer ${env('TOKEN_WRITE')}`);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ createdBy: env('TOKEN_SUB') });
  });

  it('403 insufficient_scope without it', async () => {
    const res = await request(app.getHttpServer())
      .post('/notes')
      .set('authorization', `Bearer ${env('TOKEN_READ')}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('scope="api:write"');
  });
});
