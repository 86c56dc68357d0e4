/**
 * Roles, claim checks and policies (`@Roles`, `@AnyRole`, `@Authorize`, `claimEquals`,
 * `claimIncludes`, `scopeClaims`, `roleClaims`), on Express and Fastify, with tokens signed by
 * the real oidc-provider fixture's key in the claim layouts of real providers, and opaque tokens
 * introspected at the real provider.
 */
import {
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import {
  AccessDeniedError,
  AnyRole,
  Authorize,
  claimEquals,
  claimIncludes,
  CurrentUser,
  OidcResourceError,
  OidcResourceModule,
  PolicyNotRegisteredError,
  Roles,
  Scopes,
  type AuthenticatedPrincipal,
  type OidcPolicy,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { forgeAccessToken } from '../fixtures/tokens.js';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { startTestApp, testAppModule, ADAPTERS, type AdapterName } from '../fixtures/test-app.js';

// ---------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------

/** Records loaded by id, as a database would; a policy checks their owner. */
@Injectable()
class RecordsService {
  private readonly owners = new Map<string, string>([
    ['1', 'alice'],
    ['2', 'bob'],
  ]);
  ownerOf(id: string): string | undefined {
    return this.owners.get(id);
  }
}

@Injectable()
class RecordOwnerPolicy implements OidcPolicy {
  constructor(private readonly records: RecordsService) {}
  allows(principal: AuthenticatedPrincipal, context: ExecutionContext): boolean {
    const { id } = context.switchToHttp().getRequest<{ params: { id: string } }>().params;
    const owner = this.records.ownerOf(id);
    return owner !== undefined && owner === principal.sub;
  }
}

/** Never registered as a provider. */
class UnregisteredPolicy implements OidcPolicy {
  allows(): boolean {
    return true;
  }
}

const calls = { afterRoles: 0 };

@Controller('authz')
class AuthzController {
  @Roles('editor')
  @Get('editor')
  editor(@CurrentUser('roles') roles: string[]) {
    return { roles };
  }

  @Roles('editor', 'publisher')
  @Get('editor-publisher')
  editorPublisher() {
    return { ok: true };
  }

  @AnyRole('editor', 'admin')
  @Get('any-role')
  anyRole() {
    return { ok: true };
  }

  @Scopes('notes:read')
  @Roles('editor')
  @Authorize(() => {
    calls.afterRoles++;
    return true;
  })
  @Get('ordered')
  ordered() {
    return { ok: true };
  }

  @Authorize(claimEquals('email_verified', true))
  @Get('verified')
  verified() {
    return { ok: true };
  }

  @Authorize(claimEquals(['https://example.com/tenant'], { id: 'acme', region: ['eu'] }))
  @Get('tenant')
  tenant() {
    return { ok: true };
  }

  @Authorize(claimIncludes('groups', 'notes', 'staff'))
  @Get('groups')
  groups() {
    return { ok: true };
  }

  @Authorize(claimEquals('email_verified', true), claimIncludes('amr', 'mfa'))
  @Get('two-policies')
  twoPolicies() {
    return { ok: true };
  }

  @Authorize(() => {
    throw new Error('database password is hunter2');
  })
  @Get('throws')
  throws() {
    return { ok: true };
  }

  @Authorize(async () => {
    throw new AccessDeniedError('Suspended account');
  })
  @Get('throws-oidc')
  throwsOidc() {
    return { ok: true };
  }

  @Authorize(() => 'yes' as unknown as boolean)
  @Get('truthy')
  truthy() {
    return { ok: true };
  }

  @Authorize(async () => false)
  @Get('refuses')
  refuses() {
    return { ok: true };
  }
}

/** Only in the start-up test: its policy class is not a provider. */
@Controller('unregistered')
class UnregisteredController {
  @Authorize(UnregisteredPolicy)
  @Get()
  unregistered() {
    return { ok: true };
  }
}

@Roles('admin')
@Authorize(claimEquals('email_verified', true))
@Controller('authz-admin')
class AdminAuthzController {
  @Get()
  index() {
    return { ok: true };
  }

  // Handler metadata overrides the controller's, per decorator: editor instead of admin, and
  // the controller's @Authorize still applies.
  @Roles('editor')
  @Get('override')
  override() {
    return { ok: true };
  }

  @Authorize(() => true)
  @Get('open-policy')
  openPolicy() {
    return { ok: true };
  }
}

@Controller('records')
class RecordsController {
  @Authorize(RecordOwnerPolicy)
  @Get(':id')
  get(@Param('id') id: string) {
    return { id };
  }
}

@Module({ providers: [RecordsService, RecordOwnerPolicy] })
class PoliciesModule {}

const CONTROLLERS = [AuthzController, AdminAuthzController, RecordsController];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  challenge: string | null;
  json: Record<string, unknown>;
}

async function call(url: string, token: string): Promise<Answer> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

const ACCESS_DENIED = /^Bearer realm="api", error="insufficient_scope", error_description="[^"]+"$/;

function expectDenied(res: Answer, description?: RegExp): void {
  expect(res.status).toBe(403);
  expect(res.challenge).toMatch(ACCESS_DENIED);
  expect(res.challenge).not.toContain('scope="');
  if (description) expect(res.challenge).toMatch(description);
  expect(res.json).toEqual({ statusCode: 403, message: expect.any(String), error: 'Forbidden' });
}

/** A big header must reach the app: Node's 16 KB default would answer 431 before it. */
function allowBigHeaders(app: INestApplication): void {
  (app.getHttpServer() as { maxHeaderSize?: number }).maxHeaderSize = 8 * 1024 * 1024;
}

// ---------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------

describe.each(ADAPTERS)('authorization (%s)', (adapter: AdapterName) => {
  let as: AuthorizationServer;
  const apps: INestApplication[] = [];
  let url: string;

  const start = async (options: Partial<OidcResourceModuleOptions> = {}) => {
    const started = await startTestApp(
      adapter,
      {
        issuer: as.issuer,
        audience: API,
        realm: 'api',
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
        ...options,
      },
      { controllers: CONTROLLERS, imports: [PoliciesModule] },
    );
    apps.push(started.app);
    return started;
  };
  const jwt = (claims: Record<string, unknown>) => forgeAccessToken(as, { claims });

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ url } = await start());
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await as?.close();
  });

  describe('@Roles and @AnyRole (default roleClaims: roles, realm_access.roles)', () => {
    it('every role of @Roles is required; the description names the missing ones', async () => {
      const both = await jwt({ roles: ['editor'], realm_access: { roles: ['publisher'] } });
      expect((await call(`${url}/authz/editor-publisher`, both)).status).toBe(200);
      const one = await jwt({ roles: ['editor', 'viewer'] });
      const res = await call(`${url}/authz/editor-publisher`, one);
      expectDenied(res, /error_description="[^"]*publisher[^"]*"$/);
      expect(res.challenge).not.toMatch(/error_description="[^"]*editor/);
    });

    it('principal.roles merges every claim, deduplicated', async () => {
      const token = await jwt({ roles: 'editor viewer', realm_access: { roles: ['editor', 'x'] } });
      const res = await call(`${url}/authz/editor`, token);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ roles: ['editor', 'viewer', 'x'] });
    });

    it('@AnyRole: one listed role is enough; none → 403 access_denied', async () => {
      expect((await call(`${url}/authz/any-role`, await jwt({ roles: ['admin'] }))).status).toBe(
        200,
      );
      expectDenied(await call(`${url}/authz/any-role`, await jwt({ roles: ['viewer'] })));
    });

    it('a token without any role claim → 403 access_denied, not 401', async () => {
      expectDenied(await call(`${url}/authz/editor`, await jwt({})));
    });

    it('order: scopes before roles before policies; the first failure answers', async () => {
      calls.afterRoles = 0;
      // No notes:read scope: 403 insufficient_scope with scope="notes:read", roles unchecked.
      const noScope = await call(`${url}/authz/ordered`, await jwt({ roles: ['editor'] }));
      expect(noScope.status).toBe(403);
      expect(noScope.challenge).toContain('scope="notes:read"');
      // Scope but no role: access_denied, the policy never runs.
      const noRole = await call(`${url}/authz/ordered`, await jwt({ scope: 'notes:read' }));
      expectDenied(noRole, /editor/);
      expect(calls.afterRoles).toBe(0);
      const ok = await call(
        `${url}/authz/ordered`,
        await jwt({ scope: 'notes:read', roles: ['editor'] }),
      );
      expect(ok.status).toBe(200);
      expect(calls.afterRoles).toBe(1);
    });

    it('handler metadata overrides controller metadata, per decorator', async () => {
      const admin = await jwt({ roles: ['admin'], email_verified: true });
      const editor = await jwt({ roles: ['editor'], email_verified: true });
      const unverifiedEditor = await jwt({ roles: ['editor'] });
      expect((await call(`${url}/authz-admin`, admin)).status).toBe(200);
      expectDenied(await call(`${url}/authz-admin`, editor), /admin/);
      // @Roles('editor') on the handler replaces the controller's @Roles('admin')…
      expect((await call(`${url}/authz-admin/override`, editor)).status).toBe(200);
      expectDenied(await call(`${url}/authz-admin/override`, admin), /editor/);
      // …while the controller's @Authorize still applies to it.
      expectDenied(await call(`${url}/authz-admin/override`, unverifiedEditor));
      // @Authorize on the handler replaces the controller's; @Roles('admin') still applies.
      expect(
        (await call(`${url}/authz-admin/open-policy`, await jwt({ roles: ['admin'] }))).status,
      ).toBe(200);
      expectDenied(await call(`${url}/authz-admin/open-policy`, editor));
    });
  });

  describe("real providers' token layouts", () => {
    const cases: Array<{
      name: string;
      options: Partial<OidcResourceModuleOptions>;
      route: string;
      pass: Record<string, unknown>;
      refuse: Record<string, unknown>;
      scopes?: string[];
    }> = [
      {
        name: 'Keycloak (realm_access.roles + resource_access.<client>.roles)',
        options: { roleClaims: ['realm_access.roles', 'resource_access.notes-api.roles'] },
        route: 'editor-publisher',
        pass: {
          realm_access: { roles: ['offline_access', 'editor'] },
          resource_access: { 'notes-api': { roles: ['publisher'] }, account: { roles: ['x'] } },
        },
        // publisher is a role of another client: it does not count.
        refuse: {
          realm_access: { roles: ['editor'] },
          resource_access: { account: { roles: ['publisher'] } },
        },
      },
      {
        name: 'Entra ID (roles + scp string)',
        options: {},
        route: 'editor',
        pass: { roles: ['editor'], scope: undefined, scp: 'Notes.Read Notes.Write' },
        refuse: { roles: ['Notes.Reader'], scope: undefined, scp: 'Notes.Read' },
        scopes: ['Notes.Read', 'Notes.Write'],
      },
      {
        name: 'Auth0 (permissions + namespaced roles)',
        options: { scopeClaims: ['permissions'], roleClaims: [['https://notes.example/roles']] },
        route: 'editor',
        pass: {
          scope: 'openid',
          permissions: ['read:notes', 'write:notes'],
          'https://notes.example/roles': ['editor'],
        },
        // A plain "roles" claim is not among the configured roleClaims.
        refuse: { permissions: ['read:notes'], roles: ['editor'] },
        scopes: ['read:notes', 'write:notes'],
      },
      {
        name: 'Okta (groups + scp array)',
        options: { roleClaims: ['groups'] },
        route: 'editor',
        pass: { groups: ['Everyone', 'editor'], scope: undefined, scp: ['openid', 'notes:read'] },
        refuse: { groups: ['Everyone'], scope: undefined, scp: ['openid'] },
        scopes: ['openid', 'notes:read'],
      },
      {
        name: 'Zitadel (project roles object)',
        options: { roleClaims: [['urn:zitadel:iam:org:project:roles']] },
        route: 'editor',
        pass: {
          'urn:zitadel:iam:org:project:roles': {
            editor: { '1234567890': 'acme.zitadel.cloud' },
            viewer: { '1234567890': 'acme.zitadel.cloud' },
          },
        },
        refuse: {
          'urn:zitadel:iam:org:project:roles': { viewer: { '1234567890': 'acme.zitadel.cloud' } },
        },
      },
    ];

    it.each(cases)('$name: one passes, one is refused', async (c) => {
      const { url: base } = await start(c.options);
      const pass = await call(`${base}/authz/${c.route}`, await jwt(c.pass));
      expect(pass.status).toBe(200);
      expectDenied(await call(`${base}/authz/${c.route}`, await jwt(c.refuse)));
      if (c.scopes) {
        const { url: me } = { url: `${base}/api/any` };
        const res = await call(me, await jwt(c.pass));
        expect(res.json.scopes).toEqual(c.scopes);
      }
    });
  });

  describe('introspected (opaque) tokens from the real provider', () => {
    it('roles in the introspection response are read like JWT claims', async () => {
      const { url: base } = await start({
        roleClaims: ['roles', 'realm_access.roles', ['urn:zitadel:iam:org:project:roles']],
      });
      const opaque = (testClaims: Record<string, unknown>) =>
        as.mintAccessToken({ format: 'opaque', testClaims });
      const editor = await opaque({
        roles: ['viewer'],
        realm_access: { roles: ['publisher'] },
        'urn:zitadel:iam:org:project:roles': { editor: {} },
      });
      const res = await call(`${base}/authz/editor`, editor);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ roles: ['viewer', 'publisher', 'editor'] });
      expectDenied(await call(`${base}/authz/editor`, await opaque({ roles: ['viewer'] })));
    });

    it('wrong-typed role claims in an introspection response grant nothing', async () => {
      for (const testClaims of [
        { roles: 42 },
        { roles: [['editor']] },
        { realm_access: { roles: true }, roles: [null, 7, { editor: 1 }] },
      ]) {
        const token = await as.mintAccessToken({ format: 'opaque', testClaims });
        const res = await call(`${url}/authz/editor`, token);
        expectDenied(res);
      }
    });

    it('claim policies read introspection responses too', async () => {
      const verified = await as.mintAccessToken({
        format: 'opaque',
        testClaims: { email_verified: true },
      });
      expect((await call(`${url}/authz/verified`, verified)).status).toBe(200);
      const plain = await as.mintAccessToken({ format: 'opaque' });
      expectDenied(await call(`${url}/authz/verified`, plain));
    });
  });

  describe('bad input: wrong types never crash and never grant', () => {
    it.each<[string, Record<string, unknown>]>([
      ['a number', { roles: 42 }],
      ['a boolean', { roles: true }],
      ['null', { roles: null }],
      ['a nested array', { roles: [['editor']] }],
      ['an array of objects and numbers', { roles: [{ editor: true }, 1, null] }],
      ['an empty string', { roles: '' }],
      ['realm_access an array', { realm_access: [{ roles: ['editor'] }] }],
      ['realm_access a string', { realm_access: 'editor' }],
      [
        'an object with odd keys',
        JSON.parse(
          '{"roles": {"__proto__": {"editor": 1}, "": 1, "1": 2, " editor": 3}}',
        ) as Record<string, unknown>,
      ],
    ])('roles as %s → 403, the app keeps answering', async (_name, claims) => {
      expectDenied(await call(`${url}/authz/editor`, await jwt(claims)));
    });

    it('a wrong-typed scope claim grants no scope (and is not read past)', async () => {
      for (const claims of [
        { scope: 42 },
        { scope: { 'api:read': true } },
        { scope: [['api:read']] },
        { scope: 7, scp: ['api:read'] },
      ]) {
        const res = await call(`${url}/api/read`, await jwt(claims));
        expect(res.status).toBe(403);
        expect(res.challenge).toContain('scope="api:read"');
      }
    });

    it('100 000-element arrays: numbers grant nothing, strings are all read', async () => {
      const { app, url: base } = await start({ maxTokenLength: 4_000_000 });
      allowBigHeaders(app);
      const numbers = await jwt({ roles: Array.from({ length: 100_000 }, (_, i) => i) });
      expectDenied(await call(`${base}/authz/editor`, numbers));
      const strings = Array.from({ length: 100_000 }, (_, i) => `role-${i}`);
      const many = await jwt({ roles: [...strings, 'editor'], realm_access: { roles: strings } });
      const res = await call(`${base}/authz/any-role`, many);
      expect(res.status).toBe(200);
      // A second request is a cache hit on the same long role list.
      expect((await call(`${base}/authz/any-role`, many)).status).toBe(200);
      expectDenied(await call(`${base}/authz/editor-publisher`, many), /publisher/);
    });

    it('a 1 MB claim under a raised maxTokenLength is accepted and read', async () => {
      const { app, url: base } = await start({ maxTokenLength: 4_000_000 });
      allowBigHeaders(app);
      const big = 'x '.repeat(500_000);
      const token = await jwt({ roles: `${big}editor`, scope: 'api:read' });
      expect(token.length).toBeGreaterThan(1_000_000);
      expect((await call(`${base}/authz/editor`, token)).status).toBe(200);
      expect((await call(`${base}/api/read`, token)).status).toBe(200);
      expectDenied(await call(`${base}/authz/editor-publisher`, token), /publisher/);
    });
  });

  describe('@Authorize policies', () => {
    it('claimEquals: deep equality, on a dotted or segmented path', async () => {
      expect(
        (await call(`${url}/authz/verified`, await jwt({ email_verified: true }))).status,
      ).toBe(200);
      for (const value of ['true', 1, false, null]) {
        expectDenied(await call(`${url}/authz/verified`, await jwt({ email_verified: value })));
      }
      const tenant = { id: 'acme', region: ['eu'] };
      expect(
        (await call(`${url}/authz/tenant`, await jwt({ 'https://example.com/tenant': tenant })))
          .status,
      ).toBe(200);
      for (const other of [
        { id: 'acme', region: ['eu', 'us'] },
        { id: 'acme' },
        { id: 'acme', region: ['eu'], extra: 1 },
        'acme',
      ]) {
        expectDenied(
          await call(`${url}/authz/tenant`, await jwt({ 'https://example.com/tenant': other })),
        );
      }
      // The dotted form would look for a nested "https://example" member: not the same claim.
      expectDenied(
        await call(`${url}/authz/tenant`, await jwt({ https: { '//example': { com: tenant } } })),
      );
    });

    it('claimIncludes: an array or a space-separated string containing every value', async () => {
      for (const groups of [['staff', 'notes', 'x'], 'x notes staff']) {
        expect((await call(`${url}/authz/groups`, await jwt({ groups }))).status).toBe(200);
      }
      for (const groups of [['staff'], 'notes', 'notesstaff', { notes: 1, staff: 1 }, 3, null]) {
        expectDenied(await call(`${url}/authz/groups`, await jwt({ groups })));
      }
    });

    it('every policy must allow', async () => {
      const both = await jwt({ email_verified: true, amr: ['pwd', 'mfa'] });
      expect((await call(`${url}/authz/two-policies`, both)).status).toBe(200);
      expectDenied(await call(`${url}/authz/two-policies`, await jwt({ email_verified: true })));
      expectDenied(await call(`${url}/authz/two-policies`, await jwt({ amr: ['mfa'] })));
    });

    it('a policy class that injects a service checks the ownership of a record', async () => {
      const alice = await jwt({ sub: 'alice' });
      const bob = await jwt({ sub: 'bob' });
      expect((await call(`${url}/records/1`, alice)).json).toEqual({ id: '1' });
      expect((await call(`${url}/records/2`, bob)).status).toBe(200);
      expectDenied(await call(`${url}/records/2`, alice));
      expectDenied(await call(`${url}/records/404`, alice));
    });

    it('the description of a policy refusal names no internals', async () => {
      const res = await call(`${url}/authz/refuses`, await jwt({}));
      expectDenied(res);
      expect(res.challenge).not.toMatch(/refuses|async|false/);
    });

    it('only a real true allows: a truthy non-boolean refuses', async () => {
      expectDenied(await call(`${url}/authz/truthy`, await jwt({})));
    });

    it('a policy that throws a plain error → 500, nothing of the error in the answer', async () => {
      const res = await call(`${url}/authz/throws`, await jwt({}));
      expect(res.status).toBe(500);
      expect(res.challenge).toBeNull();
      expect(JSON.stringify(res.json)).not.toContain('hunter2');
    });

    it('an OidcResourceError thrown by a policy is answered as itself', async () => {
      const res = await call(`${url}/authz/throws-oidc`, await jwt({}));
      expectDenied(res, /Suspended account/);
      expect(new AccessDeniedError()).toBeInstanceOf(OidcResourceError);
    });

    it('a policy class that is not a provider stops the application at start, named', async () => {
      const root = testAppModule(OidcResourceModule.forRoot({ issuer: as.issuer, audience: API }), {
        controllers: [UnregisteredController],
        imports: [PoliciesModule],
      });
      const app =
        adapter === 'fastify'
          ? await NestFactory.create(root, new FastifyAdapter(), { logger: false })
          : await NestFactory.create(root, { logger: false });
      try {
        const start = app.init();
        await expect(start).rejects.toThrow(PolicyNotRegisteredError);
        await expect(start).rejects.toThrow(
          /UnregisteredPolicy \(used by @Authorize on UnregisteredController\.unregistered\)/,
        );
      } finally {
        await app.close();
      }
    });
  });
});
