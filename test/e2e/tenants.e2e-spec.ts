/**
 * The multi-tenant recipe (docs/several-issuers.md), as a test: an Entra-style issuer per tenant,
 * `https://login.example/{tenant}/v2.0`, all signing with one common key set (`jwksUri`), and
 * `resolveIssuer` trusting the tenants of an allow-list. The keys are a real authorization
 * server's (oidc-provider); the tenant issuers are names only, as with Entra's common keys.
 */
import 'reflect-metadata';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import {
  CurrentUser,
  type AuthenticatedPrincipal,
  type IssuerOptions,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';
import { forgeAccessToken } from '../fixtures/tokens.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';

const CONTOSO = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const FABRIKAM = '0b5b9b9e-5f43-4a4e-9a57-6a1d2c3e4f50';
const NORTHWIND = '9d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f';
const STRANGER = 'ffffffff-0000-4000-8000-000000000000';
const tenantIssuer = (tenant: string) => `https://login.example/${tenant}/v2.0`;

let as: AuthorizationServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer();
});
afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await as.close();
});

/** The recipe: an allow-list of tenant ids, and the question asked for each `iss`, recorded. */
function tenantResolver(allowed: Iterable<string>) {
  const tenants = new Set(allowed);
  const asked: string[] = [];
  const resolve = (iss: string): IssuerOptions | undefined => {
    asked.push(iss);
    const tenant = /^https:\/\/login\.example\/([0-9a-f-]{36})\/v2\.0$/.exec(iss)?.[1];
    return tenant !== undefined && tenants.has(tenant) ? { issuer: iss } : undefined;
  };
  return { resolve, asked };
}

function recipe(resolveIssuer: OidcResourceModuleOptions['resolveIssuer'], extra = {}) {
  return {
    audience: API,
    jwksUri: as.url('/jwks'),
    resolveIssuer,
    ...extra,
  } satisfies OidcResourceModuleOptions;
}

const tenantToken = (tenant: string, claims: Record<string, unknown> = {}) =>
  forgeAccessToken({ issuer: tenantIssuer(tenant), keys: as.keys }, { claims });

describe('resolveIssuer: one issuer per tenant, from an allow-list', () => {
  it("accepts an allowed tenant's tokens, asking about each tenant once", async () => {
    const { resolve, asked } = tenantResolver([CONTOSO, FABRIKAM]);
    const tokens = await buildValidationService(modules, recipe(resolve));
    for (const tenant of [CONTOSO, CONTOSO, FABRIKAM]) {
      const principal = await tokens.validate(
        await tenantToken(tenant, { jti: `${Math.random()}` }),
      );
      expect(principal.issuer).toBe(tenantIssuer(tenant));
    }
    expect(asked).toEqual([tenantIssuer(CONTOSO), tenantIssuer(FABRIKAM)]);
  });

  it('refuses a tenant outside the allow-list with no network call, and remembers the refusal', async () => {
    const { resolve, asked } = tenantResolver([CONTOSO]);
    const tokens = await buildValidationService(modules, recipe(resolve));
    as.resetHits();
    for (const jti of ['one', 'two']) {
      const error = await rejection(tokens.validate(await tenantToken(STRANGER, { jti })));
      expect({ code: error.code, reason: error.reason }).toEqual({
        code: 'invalid_token',
        reason: 'iss_mismatch',
      });
    }
    expect(as.seen).toHaveLength(0);
    expect(asked).toEqual([tenantIssuer(STRANGER)]);
  });

  it('never shows the resolver an iss that could not be an issuer', async () => {
    const { resolve, asked } = tenantResolver([CONTOSO]);
    const tokens = await buildValidationService(modules, recipe(resolve));
    for (const iss of ['not a url', 'http://login.example/x/v2.0', 'https://login.example/?q=1']) {
      const token = await forgeAccessToken({ issuer: iss, keys: as.keys });
      expect((await rejection(tokens.validate(token))).reason).toBe('iss_mismatch');
    }
    expect(asked).toEqual([]);
  });

  it('a resolver that throws answers 503, and is asked again next time', async () => {
    let calls = 0;
    const tokens = await buildValidationService(
      modules,
      recipe(() => {
        calls += 1;
        throw new Error('tenant directory is down');
      }),
    );
    for (const jti of ['one', 'two']) {
      const error = await rejection(tokens.validate(await tenantToken(CONTOSO, { jti })));
      expect(error.code).toBe('issuer_unavailable');
      // For the log: the 503 answer itself never carries the message.
      expect(error.message).toMatch(/resolveIssuer threw .*tenant directory is down/);
    }
    expect(calls).toBe(2);
  });

  it('an answer for another issuer is refused as a broken resolver (503), never trusted', async () => {
    const tokens = await buildValidationService(
      modules,
      recipe(() => ({ issuer: tenantIssuer(CONTOSO) })),
    );
    const error = await rejection(tokens.validate(await tenantToken(FABRIKAM)));
    expect(error.code).toBe('issuer_unavailable');
  });

  it('an async resolver works, and concurrent tokens of one tenant share one question', async () => {
    let calls = 0;
    const tokens = await buildValidationService(
      modules,
      recipe(async (iss: string) => {
        calls += 1;
        await new Promise((resolve) => setImmediate(resolve));
        return { issuer: iss };
      }),
    );
    const batch = await Promise.all(
      ['a', 'b', 'c'].map(async (jti) => tokens.validate(await tenantToken(CONTOSO, { jti }))),
    );
    expect(batch.map((p) => p.issuer)).toEqual(Array(3).fill(tenantIssuer(CONTOSO)));
    expect(calls).toBe(1);
  });

  it('remembers at most maxIssuers answers, the least recently used forgotten first', async () => {
    const { resolve, asked } = tenantResolver([CONTOSO, FABRIKAM, NORTHWIND]);
    const tokens = await buildValidationService(modules, recipe(resolve, { maxIssuers: 2 }));
    const use = async (tenant: string, jti: string) =>
      tokens.validate(await tenantToken(tenant, { jti }));
    await use(CONTOSO, '1');
    await use(FABRIKAM, '2');
    await use(CONTOSO, '3'); // CONTOSO is now the most recent
    await use(NORTHWIND, '4'); // FABRIKAM goes
    await use(CONTOSO, '5');
    await use(FABRIKAM, '6');
    expect(asked).toEqual([CONTOSO, FABRIKAM, NORTHWIND, FABRIKAM].map(tenantIssuer));
  });

  it('tokens naming random issuers never push a trusted tenant out (its keys stay fetched)', async () => {
    const { resolve, asked } = tenantResolver([CONTOSO]);
    const tokens = await buildValidationService(modules, recipe(resolve, { maxIssuers: 2 }));
    await tokens.validate(await tenantToken(CONTOSO, { jti: 'before' }));
    const strangers = [1, 2, 3, 4, 5].map((i) => `00000000-0000-4000-8000-00000000000${i}`);
    as.resetHits();
    for (const stranger of strangers) {
      expect((await rejection(tokens.validate(await tenantToken(stranger)))).reason).toBe(
        'iss_mismatch',
      );
    }
    await tokens.validate(await tenantToken(CONTOSO, { jti: 'after' }));
    expect(asked.filter((iss) => iss === tenantIssuer(CONTOSO))).toHaveLength(1);
    expect(as.hits.get('/jwks')).toBe(0);
    // Refusals are bounded too: the oldest stranger is asked about again.
    await rejection(tokens.validate(await tenantToken(strangers[0]!, { jti: 'again' })));
    expect(asked.filter((iss) => iss === tenantIssuer(strangers[0]!))).toHaveLength(2);
  });

  it("a tenant's answer may carry its own settings", async () => {
    const tokens = await buildValidationService(
      modules,
      recipe((iss: string) =>
        iss === tenantIssuer(CONTOSO) ? { issuer: iss, scopeClaims: ['roles'] } : { issuer: iss },
      ),
    );
    const claims = { scope: 'api:read', roles: ['Notes.Write'] };
    expect((await tokens.validate(await tenantToken(CONTOSO, claims))).scopes).toEqual([
      'Notes.Write',
    ]);
    expect((await tokens.validate(await tenantToken(FABRIKAM, claims))).scopes).toEqual([
      'api:read',
    ]);
  });

  it('listed issuers are trusted without asking the resolver', async () => {
    const { resolve, asked } = tenantResolver([]);
    const tokens = await buildValidationService(modules, {
      ...recipe(resolve),
      jwksUri: undefined,
      issuers: [{ issuer: as.issuer }],
    });
    expect((await tokens.validate(await as.clientCredentials())).issuer).toBe(as.issuer);
    expect(asked).toEqual([]);
  });
});

@Controller('tenant')
class TenantController {
  @Get()
  who(@CurrentUser() user: AuthenticatedPrincipal) {
    return { issuer: user.issuer };
  }
}

describe.each(ADAPTERS)('the recipe over HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startTestApp(adapter, recipe(tenantResolver([CONTOSO]).resolve), {
      controllers: [TenantController],
    }));
  });
  afterAll(() => app.close());

  const call = async (token: string) => {
    const response = await fetch(`${url}/tenant`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('an allowed tenant → 200 naming it; another tenant → 401', async () => {
    expect(await call(await tenantToken(CONTOSO))).toEqual({
      status: 200,
      body: { issuer: tenantIssuer(CONTOSO) },
    });
    expect((await call(await tenantToken(STRANGER))).status).toBe(401);
  });
});
