/**
 * OidcHealthIndicator under a real TerminusModule, over HTTP: up, an outage (down, 503, with
 * the issuer and the reason), and the recovery; probes within 30 s never reach the
 * authorization server again, whatever their rate.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import {
  HEALTH_CHECK_INTERVAL,
  OIDC_RESOURCE_CLOCK,
  OidcHealthIndicator,
  OidcResourceModule,
  Public,
} from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults } from '../fixtures/fault-server.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly oidc: OidcHealthIndicator,
  ) {}

  @Get()
  @Public()
  @HealthCheck()
  check() {
    return this.health.check([() => this.oidc.isHealthy()]);
  }
}

let as: AuthorizationServer;
let app: INestApplication;
let base: string;
let now = Date.now();

async function probe(): Promise<{
  status: number;
  body: { status: string; details: Record<string, Record<string, unknown>> };
}> {
  const response = await fetch(`${base}/health`);
  return { status: response.status, body: (await response.json()) as never };
}

const calls = () =>
  (as.hits.get('/jwks') ?? 0) + (as.hits.get('/.well-known/openid-configuration') ?? 0);

beforeAll(async () => {
  as = await startAuthorizationServer();
  const moduleRef = await Test.createTestingModule({
    imports: [
      OidcResourceModule.forRoot({ issuer: as.issuer, audience: API }),
      TerminusModule.forRoot({ logger: false }),
    ],
    controllers: [HealthController],
  })
    .overrideProvider(OIDC_RESOURCE_CLOCK)
    .useValue(() => now)
    .compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await as?.close();
});

it('is up, down through an outage, and up again, asking the issuer at most once per 30 s', async () => {
  as.resetHits();
  const first = await probe();
  expect(first.status).toBe(200);
  expect(first.body.details['oidc']).toEqual({
    status: 'up',
    issuers: [{ issuer: as.issuer, status: 'up' }],
  });
  expect(as.hits.get('/jwks')).toBe(1);
  const afterFirst = calls();

  // A probe storm within the window: not one more call.
  for (let i = 0; i < 20; i++) expect((await probe()).status).toBe(200);
  expect(calls()).toBe(afterFirst);

  // The outage: unseen until the window ends, then down with the issuer and the reason.
  as.setHandler(faults.status(503));
  now += HEALTH_CHECK_INTERVAL - 1;
  expect((await probe()).status).toBe(200);
  expect(calls()).toBe(afterFirst);
  now += 1;
  const down = await probe();
  expect(down.status).toBe(503);
  expect(down.body.status).toBe('error');
  expect(down.body.details['oidc']).toMatchObject({
    status: 'down',
    issuer: as.issuer,
    error: `JWKS: HTTP 503 from ${as.issuer}/jwks`,
  });
  expect(calls()).toBe(afterFirst + 1);
  for (let i = 0; i < 20; i++) expect((await probe()).status).toBe(503);
  expect(calls()).toBe(afterFirst + 1);

  // Unreachable is down too, with the connection error.
  await as.stop();
  now += HEALTH_CHECK_INTERVAL;
  const refused = await probe();
  expect(refused.status).toBe(503);
  expect(String(refused.body.details['oidc']?.['error'])).toContain(
    'could not be reached (ECONNREFUSED)',
  );

  // The recovery.
  await as.start();
  as.restoreHandler();
  now += HEALTH_CHECK_INTERVAL;
  const up = await probe();
  expect(up.status).toBe(200);
  expect(up.body.details['oidc']?.['status']).toBe('up');
});
