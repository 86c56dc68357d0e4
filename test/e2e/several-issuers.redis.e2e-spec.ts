/**
 * Several issuers and a shared Redis: two APIs that trust different issuers, sharing one store,
 * never serve each other's results, and an API never accepts a shared entry vouched for by an
 * issuer it does not trust.
 */
import 'reflect-metadata';
import KeyvRedis, { createClient } from '@keyv/redis';
import type { TestingModule } from '@nestjs/testing';
import type { OidcResourceModuleOptions, TokenValidationService } from '../../lib/index.js';
import {
  API,
  CLIENTS,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { startRedisServer, type RedisServer } from '../fixtures/redis-server.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';

const INTROSPECTION = 'POST /token/introspection';
const introspection = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

let a: AuthorizationServer;
let b: AuthorizationServer;
let redis: RedisServer;
const modules: TestingModule[] = [];
const stores: KeyvRedis<unknown>[] = [];

beforeAll(async () => {
  [a, b, redis] = await Promise.all([
    startAuthorizationServer(),
    startAuthorizationServer(),
    startRedisServer(),
  ]);
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await Promise.all(stores.map((s) => s.disconnect()));
  await Promise.all([a.close(), b.close(), redis.stop()]);
});

/** An API with its own memory tier, sharing the suite's Redis. */
function api(issuers: OidcResourceModuleOptions['issuers']): Promise<TokenValidationService> {
  const store = new KeyvRedis(redis.url);
  stores.push(store);
  return buildValidationService(modules, { audience: API, issuers, cache: { stores: [store] } });
}

async function redisKeys(): Promise<string[]> {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    return await client.keys('*oidc-resource:token:*');
  } finally {
    await client.close();
  }
}

it('two APIs with different issuers, one Redis: neither serves the other’s results', async () => {
  const onlyA = await api([{ issuer: a.issuer, introspection }]);
  const onlyB = await api([{ issuer: b.issuer, introspection }]);
  const opaqueA = await a.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
  const jwtA = await a.clientCredentials();
  a.resetHits();
  b.resetHits();

  expect((await onlyA.validate(opaqueA)).issuer).toBe(a.issuer);
  expect((await onlyA.validate(jwtA)).issuer).toBe(a.issuer);
  expect(a.hits.get(INTROSPECTION)).toBe(1);
  // Both results are in Redis now; the API that trusts only B must not take them.
  const before = await redisKeys();
  expect(before.length).toBeGreaterThanOrEqual(2);

  expect((await rejection(onlyB.validate(opaqueA))).code).toBe('token_inactive');
  expect(b.hits.get(INTROSPECTION)).toBe(1);
  expect(a.hits.get(INTROSPECTION)).toBe(1);
  expect((await rejection(onlyB.validate(jwtA))).reason).toBe('iss_mismatch');

  // The same token has one entry per API: the settings fingerprint differs.
  const after = await redisKeys();
  const suffixes = new Set(after.map((key) => key.slice(key.lastIndexOf(':') + 1)));
  expect(suffixes.size).toBe(2);
});

it('an API trusting both issuers keeps entries apart from an API trusting one', async () => {
  const both = await api([
    { issuer: a.issuer, introspection },
    { issuer: b.issuer, introspection },
  ]);
  const onlyA = await api([{ issuer: a.issuer, introspection }]);
  const opaqueB = await b.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
  expect((await both.validate(opaqueB)).issuer).toBe(b.issuer);
  a.resetHits();
  b.resetHits();
  // Not served from the entry `both` wrote: asked at A, which does not know it.
  expect((await rejection(onlyA.validate(opaqueB))).code).toBe('token_inactive');
  expect(a.hits.get(INTROSPECTION)).toBe(1);
  expect(b.seen).toHaveLength(0);
});
