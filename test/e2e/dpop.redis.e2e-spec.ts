/**
 * The DPoP replay cache shared through one real Redis by two replicas of an API (two Nest apps),
 * on Express and Fastify: a proof replayed at the other replica is refused, the same proof raced
 * to both is accepted once (SET NX), and a Redis that dies fails DPoP requests closed (503) while
 * Bearer requests go on.
 */
import KeyvRedis from '@keyv/redis';
import type { INestApplication } from '@nestjs/common';
import { Keyv } from 'keyv';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { boundJwt, dpopClient, dpopHeaders, type DpopClient } from '../fixtures/dpop.js';
import { startRedisServer, type RedisServer } from '../fixtures/redis-server.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';

const PUBLIC = 'https://api.example.test';
let as: AuthorizationServer;
let alice: DpopClient;
let jwt: string;

beforeAll(async () => {
  as = await startAuthorizationServer();
  alice = await dpopClient();
  jwt = await boundJwt(as, alice);
});

afterAll(async () => {
  await as.close();
});

const status = async (url: string, headers: Record<string, string>) =>
  (await fetch(url, { headers })).status;

describe.each(ADAPTERS)('%s', (adapter) => {
  let redis: RedisServer;
  const apps: INestApplication[] = [];
  const stores: KeyvRedis<unknown>[] = [];
  let urls: string[];

  /** One replica: its own process state, the suite's Redis for tokens and DPoP proofs. */
  async function replica(): Promise<string> {
    const store = new KeyvRedis(redis.url);
    stores.push(store);
    const { app, url } = await startTestApp(adapter, {
      issuer: as.issuer,
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      cache: { stores: [new Keyv(store)] },
      dpop: { stores: [store], publicUrl: PUBLIC },
    });
    apps.push(app);
    return url;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    urls = [await replica(), await replica()];
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(stores.map((store) => store.disconnect().catch(() => undefined)));
    await redis.stop();
  });

  // Both replicas serve one public URL, as behind a load balancer: the proofs are for it.
  const htu = () => `${PUBLIC}/api/read`;
  const at = (i: number) => `${urls[i]}/api/read`;
  const headersFor = (proof: string) => dpopHeaders(jwt, proof);

  it('a proof used at one replica is refused at the other', async () => {
    const proof = await alice.proof('GET', htu(), jwt);
    expect(await status(at(0), headersFor(proof))).toBe(200);
    expect(await status(at(1), headersFor(proof))).toBe(401);
    expect(await status(at(0), headersFor(proof))).toBe(401);
  });

  it('the same proof raced to both replicas is accepted exactly once', async () => {
    for (let round = 0; round < 5; round++) {
      const proof = await alice.proof('GET', htu(), jwt);
      const answers = await Promise.all([0, 1, 0, 1].map((i) => status(at(i), headersFor(proof))));
      expect(answers.sort()).toEqual([200, 401, 401, 401]);
    }
  });

  it('Redis down: DPoP requests get 503, Bearer requests still 200, nothing crashes', async () => {
    const bearer = await as.clientCredentials();
    expect(await status(at(1), { authorization: `Bearer ${bearer}` })).toBe(200);
    await redis.stop();
    for (let i = 0; i < 4; i++) {
      const res = await fetch(at(i % 2), {
        headers: headersFor(await alice.proof('GET', htu(), jwt)),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(await status(at(0), { authorization: `Bearer ${bearer}` })).toBe(200);
    expect(await status(at(1), { authorization: `Bearer ${bearer}` })).toBe(200);
  });
});
