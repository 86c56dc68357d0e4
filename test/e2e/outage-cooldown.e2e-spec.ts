/**
 * After a failed first discovery or JWKS fetch, requests fail fast with 503 and `Retry-After`
 * for a second or two (jittered) instead of each calling the recovering identity provider
 * again; never 401. Time comes from the injected clock (OIDC_RESOURCE_CLOCK), so nothing
 * sleeps; requests are counted at the real oidc-provider fixture. Express and Fastify.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { OIDC_RESOURCE_CLOCK, OidcResourceModule } from '../../lib/index.js';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { ADAPTERS, testAppModule, type AdapterName } from '../fixtures/test-app.js';

/** Longest cooldown: 1 s plus up to 1 s of jitter. */
const COOLDOWN_MAX = 2_000;
const DISCOVERY = '/.well-known/openid-configuration';

async function startApp(adapter: AdapterName, issuer: string, now: () => number) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      testAppModule(
        OidcResourceModule.forRoot({
          issuer,
          audience: API,
          realm: 'api',
          introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
        }),
      ),
    ],
  })
    .overrideProvider(OIDC_RESOURCE_CLOCK)
    .useValue(now)
    .compile();
  const app: INestApplication =
    adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

describe.each(ADAPTERS)('failure cooldown (%s)', (adapter) => {
  let as: AuthorizationServer;
  let offset = 0;
  const now = () => Date.now() + offset;
  const advance = (ms: number) => void (offset += ms);
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    as = await startAuthorizationServer();
  });
  afterEach(async () => {
    as.restoreHandler();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await as?.close();
  });

  async function app(): Promise<string> {
    const started = await startApp(adapter, as.issuer, now);
    apps.push(started.app);
    return started.url;
  }

  /** Paths starting with `prefix` answer 503; the rest is oidc-provider. */
  function fail(prefix: string): void {
    const provider = as.provider.callback();
    as.setHandler((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith(prefix)) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"temporarily_unavailable"}');
      } else provider(req, res);
    });
  }

  const call = async (url: string, token: string) => {
    const res = await fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res;
  };

  /** 503, no challenge (never a verdict on the token), Retry-After within the cooldown. */
  function expectFailFast(res: Response): void {
    expect(res.status).toBe(503);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(['1', '2']).toContain(res.headers.get('retry-after'));
  }

  const jwt = () => as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });

  it.each([
    ['discovery', '/.well-known/', DISCOVERY],
    ['the JWKS', '/jwks', '/jwks'],
  ])(
    'after %s fails, sequential requests with new tokens fail fast until the cooldown ends',
    async (_what, prefix, counted) => {
      const url = await app();
      const tokens = await Promise.all(Array.from({ length: 6 }, jwt));
      fail(prefix);
      as.resetHits();
      // The first request asks and fails; the next five, with other tokens, are answered at once.
      for (const token of tokens.slice(0, 6)) expectFailFast(await call(url, token));
      expect(as.hits.get(counted)).toBe(1);

      // Once the cooldown is over, the next request asks again (and fails again: still down).
      advance(COOLDOWN_MAX);
      expectFailFast(await call(url, tokens[0]!));
      expect(as.hits.get(counted)).toBe(2);

      // Recovered, but the second failure started a new cooldown: still no call.
      as.restoreHandler();
      expectFailFast(await call(url, tokens[1]!));
      expect(as.hits.get(counted)).toBe(2);
      advance(COOLDOWN_MAX);
      for (const token of tokens) expect((await call(url, token)).status).toBe(200);
      expect(as.hits.get(counted)).toBe(3);
    },
  );

  it('the first request after the cooldown is coalesced with concurrent ones: one fetch', async () => {
    const url = await app();
    const tokens = await Promise.all(Array.from({ length: 20 }, jwt));
    fail('/.well-known/');
    as.resetHits();
    expectFailFast(await call(url, tokens[0]!));
    advance(COOLDOWN_MAX);
    const answers = await Promise.all(tokens.map((token) => call(url, token)));
    for (const res of answers) expect(res.status).toBe(503);
    expect(as.hits.get(DISCOVERY)).toBe(2);
    as.restoreHandler();
    advance(COOLDOWN_MAX);
    const ok = await Promise.all(tokens.map((token) => call(url, token)));
    for (const res of ok) expect(res.status).toBe(200);
    expect(as.hits.get(DISCOVERY)).toBe(3);
  });

  it('a forged token during a JWKS outage is 503 too, never 401 (its key cannot be known)', async () => {
    const url = await app();
    const good = await jwt();
    fail('/jwks');
    const [h, p] = good.split('.');
    for (const token of [good, `${h}.${p}.${'A'.repeat(342)}`])
      expect((await call(url, token)).status).toBe(503);
  });
});
