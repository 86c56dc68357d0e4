/**
 * RFC 9728 protected resource metadata (`resourceMetadata`), on Express and Fastify: the
 * well-known document (location, format, members), public under the global guard, not moved by
 * `setGlobalPrefix`, and `resource_metadata="…"` in every 401 challenge. The resource identifier
 * is the app's own loopback URL, registered at the real oidc-provider as the audience, so the
 * advertised document can be fetched and its `resource` is the audience the API enforces.
 */
import {
  Controller,
  Get,
  Injectable,
  Module,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { OidcResourceModule, Scopes, type OidcResourceModuleOptions } from '../../lib/index.js';
import {
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { freePort } from '../fixtures/redis-server.js';
import { foreignKeyToken } from '../fixtures/tokens.js';
import { ADAPTERS, testAppModule, type AdapterName } from '../fixtures/test-app.js';

/** A provider, not a controller (as GraphQL resolvers and gateways are): its scopes count too. */
@Injectable()
class ReportsResolver {
  @Scopes('reports:read')
  reports() {
    return [];
  }
}

@Controller('reports')
class ReportsController {
  @Scopes('reports:export', 'api:read')
  @Get('export')
  export() {
    return { ok: true };
  }
}

@Module({
  providers: [
    ReportsResolver,
    // A factory provider: its "metatype" is a function without decorators, skipped.
    { provide: 'FACTORY', useFactory: () => ({ reports: () => [] }) },
    { provide: 'VALUE', useValue: { n: 1 } },
  ],
  controllers: [ReportsController],
})
class ReportsModule {}

const COLLECTED = ['admin', 'api:read', 'api:write', 'reports:export', 'reports:read'];

let as: AuthorizationServer;

beforeAll(async () => {
  as = await startAuthorizationServer();
});

afterAll(async () => {
  await as.close();
});

interface Started {
  app: INestApplication;
  url: string;
  port: number;
}

/** Starts the test app on a port chosen first, so `resource` can be the app's own URL. */
async function start(
  adapter: AdapterName,
  options: (port: number) => OidcResourceModuleOptions,
  prefix?: string,
  logger: LoggerService | false = false,
): Promise<Started> {
  const port = await freePort();
  const root = testAppModule(OidcResourceModule.forRoot(options(port)), {
    imports: [ReportsModule],
  });
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(root, new FastifyAdapter(), { logger })
      : await NestFactory.create(root, { logger });
  if (prefix) app.setGlobalPrefix(prefix);
  await app.listen(port, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${port}`, port };
}

/** The `resource_metadata` parameter of a challenge. */
function resourceMetadataOf(challenge: string | null): string | undefined {
  return /resource_metadata="([^"]*)"/.exec(challenge ?? '')?.[1];
}

describe.each(ADAPTERS)('RFC 9728 protected resource metadata (%s)', (adapter) => {
  describe('with a path in resource, setGlobalPrefix and the global guard', () => {
    let app: INestApplication;
    let url: string;
    let resource: string;
    const wellKnown = () => `${url}/.well-known/oauth-protected-resource/api`;

    beforeAll(async () => {
      ({ app, url } = await start(
        adapter,
        (port) => {
          resource = `http://127.0.0.1:${port}/api`;
          as.addResourceServer(resource, { scope: 'api:read api:write admin' });
          return {
            issuer: as.issuer,
            audience: resource,
            realm: 'api',
            resourceMetadata: { resource },
          };
        },
        'v1',
      ));
    });

    afterAll(async () => {
      await app.close();
    });

    it('S#70-74: serves the path-inserted document without a token: 200, JSON, only the known members', async () => {
      const res = await fetch(wellKnown());
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      // toStrictEqual: exactly these members, no empty ones.
      expect(await res.json()).toStrictEqual({
        resource,
        authorization_servers: [as.issuer],
        scopes_supported: COLLECTED,
        bearer_methods_supported: ['header'],
      });
    });

    it('S#70: the global guard does not refuse it, whatever Authorization says', async () => {
      const res = await fetch(wellKnown(), { headers: { authorization: 'Bearer not-a-token' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { resource: string }).resource).toBe(resource);
    });

    it('S#70: only the path-inserted form is served (not the bare one, nor under the prefix)', async () => {
      expect((await fetch(`${url}/.well-known/oauth-protected-resource`)).status).toBe(404);
      const prefixed = await fetch(`${url}/v1/.well-known/oauth-protected-resource/api`);
      expect(prefixed.status).not.toBe(200);
    });

    it('answers HEAD too', async () => {
      const res = await fetch(wellKnown(), { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    });

    it('S#72: resource is the audience the API enforces: a token for it is accepted', async () => {
      const token = await as.mintAccessToken({ resource, scope: 'api:read' });
      const res = await fetch(`${url}/v1/api/read`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
    });

    it('S#78: a 401 for a missing token names the document, which can be fetched', async () => {
      const res = await fetch(`${url}/v1/api/read`);
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate');
      expect(challenge).toMatch(/^Bearer realm="api"/);
      const advertised = resourceMetadataOf(challenge);
      expect(advertised).toBe(wellKnown());
      const document = (await (await fetch(advertised!)).json()) as { resource: string };
      expect(document.resource).toBe(resource);
    });

    it('S#78: a 401 for an invalid token carries it beside error="invalid_token"', async () => {
      const forged = await foreignKeyToken(as, { claims: { aud: resource } });
      const res = await fetch(`${url}/v1/api/read`, {
        headers: { authorization: `Bearer ${forged}` },
      });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toContain('error="invalid_token"');
      expect(resourceMetadataOf(challenge)).toBe(wellKnown());
    });

    it('S#78: a 403 (insufficient_scope) does not carry it', async () => {
      const token = await as.mintAccessToken({ resource, scope: 'api:read' });
      const res = await fetch(`${url}/v1/api/write`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(403);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="api:write"');
      expect(challenge).not.toContain('resource_metadata');
    });
  });

  describe('other settings', () => {
    let started: Started | undefined;

    afterEach(async () => {
      await started?.app.close();
      started = undefined;
    });

    it('S#70: a resource without a path is served at the bare well-known URL', async () => {
      let resource = '';
      started = await start(adapter, (port) => {
        resource = `http://127.0.0.1:${port}`;
        return { issuer: as.issuer, audience: resource, resourceMetadata: { resource } };
      });
      const res = await fetch(`${started.url}/.well-known/oauth-protected-resource`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { resource: string }).resource).toBe(resource);
    });

    it('S#75, S#77, S#74: query tokens, the given scopes as is, names, URLs and extra members', async () => {
      let resource = '';
      started = await start(adapter, (port) => {
        resource = `http://127.0.0.1:${port}/`;
        return {
          issuer: as.issuer,
          audience: resource,
          allowQueryToken: true,
          resourceMetadata: {
            resource,
            scopesSupported: ['write', 'read'],
            resourceName: 'Notes API',
            resourceDocumentation: 'https://docs.example.com/notes',
            resourcePolicyUri: 'https://example.com/policy',
            resourceTosUri: 'https://example.com/tos',
            extraMetadata: { authorization_details_types_supported: ['notes'], skipped: undefined },
          },
        };
      });
      const res = await fetch(`${started.url}/.well-known/oauth-protected-resource`);
      expect(await res.json()).toStrictEqual({
        resource,
        authorization_servers: [as.issuer],
        scopes_supported: ['write', 'read'],
        bearer_methods_supported: ['header', 'query'],
        resource_name: 'Notes API',
        resource_documentation: 'https://docs.example.com/notes',
        resource_policy_uri: 'https://example.com/policy',
        resource_tos_uri: 'https://example.com/tos',
        authorization_details_types_supported: ['notes'],
      });
    });

    it('S#71, S#74: scopesSupported: [] and authorizationServers: [] omit the members', async () => {
      started = await start(adapter, (port) => ({
        issuer: as.issuer,
        audience: `http://127.0.0.1:${port}/`,
        resourceMetadata: {
          resource: `http://127.0.0.1:${port}/`,
          scopesSupported: [],
          authorizationServers: [],
        },
      }));
      const body = (await (
        await fetch(`${started.url}/.well-known/oauth-protected-resource`)
      ).json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['bearer_methods_supported', 'resource']);
    });

    it('S#73: with resolveIssuer only, the given authorization servers are published', async () => {
      started = await start(adapter, (port) => ({
        resolveIssuer: (iss) => (iss === as.issuer ? { issuer: iss } : undefined),
        audience: `http://127.0.0.1:${port}/`,
        resourceMetadata: {
          resource: `http://127.0.0.1:${port}/`,
          authorizationServers: [as.issuer],
        },
      }));
      const body = (await (
        await fetch(`${started.url}/.well-known/oauth-protected-resource`)
      ).json()) as Record<string, unknown>;
      expect(body.authorization_servers).toEqual([as.issuer]);
    });

    it('S#76, S#78: DPoP allowed and mTLS: their members, and both 401 challenges name the document', async () => {
      started = await start(adapter, (port) => ({
        issuer: as.issuer,
        audience: `http://127.0.0.1:${port}/`,
        realm: 'api',
        dpop: { algorithms: ['ES256', 'EdDSA'] },
        mtls: {},
        resourceMetadata: { resource: `http://127.0.0.1:${port}/` },
      }));
      const wellKnown = `${started.url}/.well-known/oauth-protected-resource`;
      const body = (await (await fetch(wellKnown)).json()) as Record<string, unknown>;
      expect(body.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA']);
      expect(body).not.toHaveProperty('dpop_bound_access_tokens_required');
      expect(body.tls_client_certificate_bound_access_tokens).toBe(true);
      const res = await fetch(`${started.url}/api/read`);
      expect(res.status).toBe(401);
      const header = res.headers.get('www-authenticate')!;
      const param = `resource_metadata="${wellKnown}"`;
      expect(header).toMatch(/^Bearer realm="api", resource_metadata="[^"]+", DPoP realm="api"/);
      expect(header.split(param)).toHaveLength(3); // once in each challenge
      // An invalid token sent with the DPoP scheme and no proof: a DPoP challenge, named too.
      const dpop = await fetch(`${started.url}/api/read`, {
        headers: { authorization: 'DPoP abc' },
      });
      expect(dpop.status).toBe(401);
      const dpopHeader = dpop.headers.get('www-authenticate')!;
      expect(dpopHeader).toMatch(/^DPoP realm="api", error="invalid_dpop_proof"/);
      expect(dpopHeader).toContain(param);
    });

    it('S#76: DPoP required: dpop_bound_access_tokens_required is true', async () => {
      started = await start(adapter, (port) => ({
        issuer: as.issuer,
        audience: `http://127.0.0.1:${port}/`,
        dpop: { mode: 'required' },
        resourceMetadata: { resource: `http://127.0.0.1:${port}/` },
      }));
      const body = (await (
        await fetch(`${started.url}/.well-known/oauth-protected-resource`)
      ).json()) as Record<string, unknown>;
      expect(body.dpop_bound_access_tokens_required).toBe(true);
      expect(body.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA', 'PS256', 'RS256']);
      expect(body).not.toHaveProperty('tls_client_certificate_bound_access_tokens');
    });

    it('warns at start when resource is not an accepted audience, and only then', async () => {
      const warnings: string[] = [];
      const logger: LoggerService = {
        log() {},
        error() {},
        warn: (message: unknown) => void warnings.push(String(message)),
      };
      started = await start(
        adapter,
        (port) => ({
          issuer: as.issuer,
          audience: 'urn:notes-api',
          resourceMetadata: { resource: `http://127.0.0.1:${port}/` },
        }),
        undefined,
        logger,
      );
      expect(warnings).toEqual([
        expect.stringContaining(`"http://127.0.0.1:${started.port}/" is not an audience`),
      ]);
      await started.app.close();
      warnings.length = 0;
      started = await start(
        adapter,
        (port) => ({
          issuer: as.issuer,
          audience: ['urn:notes-api', `http://127.0.0.1:${port}/`],
          resourceMetadata: { resource: `http://127.0.0.1:${port}/` },
        }),
        undefined,
        logger,
      );
      expect(warnings).toEqual([]);
    });

    it('without resourceMetadata: no document and no resource_metadata in challenges', async () => {
      started = await start(adapter, (port) => ({
        issuer: as.issuer,
        audience: `http://127.0.0.1:${port}/`,
      }));
      expect((await fetch(`${started.url}/.well-known/oauth-protected-resource`)).status).toBe(404);
      const res = await fetch(`${started.url}/api/read`);
      expect(res.headers.get('www-authenticate')).not.toContain('resource_metadata');
    });
  });
});
