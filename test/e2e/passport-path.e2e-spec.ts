/**
 * The guard reaches passport's verdict without running passport while nothing can tell the
 * difference, and runs passport otherwise. These tests hold the two paths to the same answers,
 * on Express and Fastify, against the real oidc-provider fixture: the shipped guard (which
 * skips passport), a subclass that overrides a passport hook without changing it (which makes
 * the guard run passport), `AuthGuard('oidc-resource-bearer')` composed by an application, and
 * a `handleRequest` override, which both paths must call with the same arguments.
 */
import {
  Controller,
  HttpException,
  Get,
  Injectable,
  Req,
  UseGuards,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { AuthGuard } from '@nestjs/passport';
import passport from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { corruptSignature, expiredToken } from '../fixtures/tokens.js';
import { startTestApp, ADAPTERS } from '../fixtures/test-app.js';
import {
  Authorize,
  OIDC_BEARER_STRATEGY,
  OidcAuthGuard,
  OidcResourceError,
  Public,
  Scopes,
  StepUp,
  TokenCacheService,
  TokenValidationService,
  type AuthenticatedPrincipal,
} from '../../lib/index.js';
import { ADMITTED } from '../../lib/guards/oidc-auth.guard.js';

/** Overrides a passport hook without changing what it returns: the guard then runs passport. */
@Injectable()
class ViaPassportGuard extends OidcAuthGuard {
  override getAuthenticateOptions(context: ExecutionContext) {
    return super.getAuthenticateOptions(context);
  }
}

interface Recorded {
  error: unknown;
  user: unknown;
  info: unknown;
  sameContext: boolean;
  status: unknown;
  arity: number;
}

/** What handleRequest was called with, per guard, for the last request. */
const recorded: Record<string, Recorded> = {};
function recordingGuard(name: string, base: typeof OidcAuthGuard) {
  @Injectable()
  class RecordingGuard extends base {
    override handleRequest<TUser>(
      error: unknown,
      user: unknown,
      info?: unknown,
      context?: ExecutionContext,
      status?: unknown,
    ): TUser {
      recorded[name] = {
        error,
        user,
        info,
        sameContext: context !== undefined && context.getArgByIndex(0) === current.request,
        status,
        arity: arguments.length,
      };
      // The value it returns is the principal (as with passport's request property).
      const principal = super.handleRequest<AuthenticatedPrincipal>(error, user, info, context);
      return { ...principal, handled: true } as TUser;
    }
  }
  return RecordingGuard;
}
const current: { request?: unknown } = {};

/** A principal as a handler sees it, including its class (which JSON would lose). */
function describeUser(request: { user?: AuthenticatedPrincipal }) {
  current.request = undefined;
  const user = request.user;
  return { user: user ?? null, kind: user?.constructor.name ?? null };
}

function controller(path: string, ...guards: unknown[]) {
  @UseGuards(...(guards as never[]))
  @Controller(path)
  class Routes {
    @Get()
    get(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }

    @Scopes('api:write')
    @Get('write')
    write(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }

    // Client-credentials tokens carry no auth_time: refused with a step-up challenge.
    @StepUp({ maxAge: 300 })
    @Get('step-up')
    stepUp(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }

    // An asynchronous policy: the verdict waits for it even on a memory hit.
    @Authorize((principal) => Promise.resolve(principal.scopes.includes('api:read')))
    @Get('policy')
    policy(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }

    @Authorize(() => Promise.resolve(false))
    @Get('policy-refused')
    policyRefused(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }

    @Public()
    @Get('public')
    open(@Req() request: { user?: AuthenticatedPrincipal }) {
      return describeUser(request);
    }
  }
  return Routes;
}

const DirectRecording = recordingGuard('direct', OidcAuthGuard);
const PassportRecording = recordingGuard('passport', ViaPassportGuard);
/** Notes the request a recording guard should see as its context's. */
@Injectable()
class NoteRequest {
  canActivate(context: ExecutionContext): boolean {
    current.request = context.getArgByIndex(0);
    return true;
  }
}

interface Answer {
  status: number;
  body: unknown;
  challenge: string | null;
  cacheControl: string | null;
}

describe.each(ADAPTERS)('passport path and direct path (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let read: string;
  let opaque: string;
  const Direct = controller('direct', OidcAuthGuard);
  /** The library's clock (OIDC_RESOURCE_CLOCK): real time plus `offset` ms. */
  let offset = 0;

  async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${url}${path}`, { headers });
    const text = await res.text();
    return {
      status: res.status,
      body: text.length > 0 ? JSON.parse(text) : null,
      challenge: res.headers.get('www-authenticate'),
      cacheControl: res.headers.get('cache-control'),
    };
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(
      adapter,
      {
        issuer: as.issuer,
        audience: API,
        realm: 'api',
        global: false,
        allowQueryToken: true,
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      },
      {
        clock: () => Date.now() + offset,
        controllers: [
          Direct,
          controller('passport', ViaPassportGuard),
          controller('composed', AuthGuard(OIDC_BEARER_STRATEGY)),
          controller('recorded-direct', NoteRequest, DirectRecording),
          controller('recorded-passport', NoteRequest, PassportRecording),
        ],
      },
    ));
    read = await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });
    opaque = await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' });
  });
  // How often passport-http-bearer's strategy runs, i.e. how often passport ran.
  const shippedAuthenticate = BearerStrategy.prototype.authenticate;
  let authenticated = 0;
  beforeEach(() => {
    offset = 0;
    authenticated = 0;
    BearerStrategy.prototype.authenticate = function (this: passport.Strategy, ...args) {
      authenticated += 1;
      return shippedAuthenticate.apply(this as never, args);
    };
  });
  afterEach(() => {
    BearerStrategy.prototype.authenticate = shippedAuthenticate;
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('the shipped guard does not run passport; the subclass and AuthGuard(...) do', async () => {
    expect((await get('/direct', bearer(read))).status).toBe(200);
    expect(authenticated).toBe(0);
    expect((await get('/passport', bearer(read))).status).toBe(200);
    expect(authenticated).toBe(1);
    expect((await get('/composed', bearer(read))).status).toBe(200);
    expect(authenticated).toBe(2);
  });

  it('the same answers on both paths: principal, refusals, challenges, headers', async () => {
    const expired = await expiredToken(as);
    const cases: Array<[string, Record<string, string>, string?]> = [
      ['a JWT (miss, then hit)', bearer(read)],
      ['the same JWT again', bearer(read)],
      ['an opaque token', bearer(opaque)],
      ['no token', {}],
      ['another scheme', { authorization: 'Basic YTpi' }],
      ['empty credentials', { authorization: 'Bearer ' }],
      ['an unknown token', bearer('x'.repeat(40))],
      ['a broken signature', bearer(corruptSignature(read))],
      ['an expired JWT', bearer(expired)],
      ['a missing scope', bearer(read), '/write'],
      ['a query token', {}, `?access_token=${read}`],
    ];
    for (const [name, headers, suffix = ''] of cases) {
      const direct = await get(`/direct${suffix}`, headers);
      const viaPassport = await get(`/passport${suffix}`, headers);
      expect({ name, ...viaPassport }).toEqual({ name, ...direct });
    }
    // Not vacuous: the cases above cover each kind of answer.
    const statuses = new Set<number>();
    for (const [, headers, suffix = ''] of cases)
      statuses.add((await get(`/direct${suffix}`, headers)).status);
    expect([...statuses].sort()).toEqual([200, 400, 401, 403]);
    const ok = await get('/direct', bearer(read));
    expect(ok.body).toMatchObject({ kind: 'Principal', user: { scopes: ['api:read'] } });
    expect((await get(`/direct?access_token=${read}`)).cacheControl).toBe('private');
  });

  it('AuthGuard(oidc-resource-bearer) composed by an app: the same principal and refusals', async () => {
    for (const token of [read, opaque, 'x'.repeat(40), corruptSignature(read)]) {
      const direct = await get('/direct', bearer(token));
      const composed = await get('/composed', bearer(token));
      expect(composed).toEqual(direct);
    }
  });

  it('handleRequest: both paths call it with the same arguments and use what it returns', async () => {
    const expired = await expiredToken(as);
    for (const headers of [bearer(read), bearer(expired), bearer('x'.repeat(40))]) {
      const direct = await get('/recorded-direct', headers);
      const viaPassport = await get('/recorded-passport', headers);
      expect(viaPassport).toEqual(direct);
      const [a, b] = [recorded.direct!, recorded.passport!];
      expect(a.sameContext).toBe(true);
      expect(b.sameContext).toBe(true);
      // The error is the validation's own, of the same class and code; the user the same principal.
      expect(b.error?.constructor).toBe(a.error?.constructor);
      if (a.error) {
        expect(a.error).toBeInstanceOf(OidcResourceError);
        expect((b.error as OidcResourceError).code).toBe((a.error as OidcResourceError).code);
        expect(a.user).toBeUndefined();
        expect(b.user).toBeUndefined();
        expect(direct.status).toBe(401);
      } else {
        expect(a.error).toBeNull();
        expect(b.error).toBeNull();
        expect(b.user).toEqual(a.user);
        expect((a.user as object).constructor.name).toBe('Principal');
        expect(direct.body).toMatchObject({ user: { handled: true, sub: 'cc-jwt' } });
      }
      expect([a.info, a.status, a.arity]).toEqual([undefined, undefined, 5]);
      expect([b.info, b.status, b.arity]).toEqual([a.info, a.status, a.arity]);
    }
  });

  it('a strategy registered in its place by the application is honoured: passport runs', async () => {
    const shipped = (
      passport as unknown as { _strategy(name: string): passport.Strategy }
    )._strategy(OIDC_BEARER_STRATEGY);
    passport.use(OIDC_BEARER_STRATEGY, new BearerStrategy((_token, done) => done(null, false)));
    try {
      const refused = await get('/direct', bearer(read));
      expect(refused.status).toBe(401);
      expect(refused.challenge).toBe('Bearer realm="api"');
    } finally {
      passport.use(OIDC_BEARER_STRATEGY, shipped);
    }
    expect((await get('/direct', bearer(read))).status).toBe(200);
  });
  /** A verdict put in the memory tier by hand, as the guard's own validation would store it. */
  async function plant(token: string, changes: Record<string, unknown>): Promise<void> {
    const principal = {
      sub: 'planted',
      clientId: 'web',
      scopes: ['api:read'],
      roles: [],
      issuer: as.issuer,
      audience: [API],
      exp: Date.now() + offset + 3_600_000,
      claims: { sub: 'planted' },
      source: 'jwt',
      ...changes,
    };
    const key = TokenCacheService.keyFor('token', token);
    await app.get(TokenCacheService).set(key, { ok: true, principal }, 3_600_000);
  }

  /** An HTTP execution context built by hand for a route of `Direct`, as Nest builds it. */
  function httpContext(handler: string, headers: Record<string, string>, url = '/direct') {
    const request: { user?: AuthenticatedPrincipal } = {};
    const raw = { headers, rawHeaders: Object.entries(headers).flat(), url };
    // Fastify's request wraps Node's as `raw`; Express's is Node's own.
    Object.assign(request, adapter === 'fastify' ? { headers, url, raw } : raw);
    const set: Array<[string, string]> = [];
    const response = { header: (name: string, value: string) => set.push([name, value]) };
    const method = (Direct.prototype as unknown as Record<string, () => unknown>)[handler]!;
    const context = new ExecutionContextHost([request, response, () => undefined], Direct, method);
    context.setType('http');
    return { context, request, set };
  }

  /**
   * A hit answered at once: `true` itself on Fastify; on Express the one promise that is already
   * settled (a synchronous `true` measured dearer there).
   */
  const AT_ONCE = adapter === 'fastify' ? true : ADMITTED;

  it('a memory hit is answered at once; misses, refusals and other paths with a promise of their own', async () => {
    const guard = app.get(OidcAuthGuard);
    const fresh = await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' });
    const miss = httpContext('get', bearer(fresh));
    const first = guard.canActivate(miss.context);
    expect(first).toBeInstanceOf(Promise);
    await expect(first).resolves.toBe(true);
    expect(miss.request.user).toMatchObject({ sub: 'cc-jwt', scopes: ['api:read'] });

    // Now in memory: the same request is answered at once, with the same principal.
    const hit = httpContext('get', bearer(fresh));
    expect(guard.canActivate(hit.context)).toBe(AT_ONCE);
    expect(hit.request.user).toEqual(miss.request.user);
    expect(hit.request.user?.constructor.name).toBe('Principal');
    expect(hit.set).toEqual([]);
    const query = httpContext('get', {}, `/direct?access_token=${fresh}`);
    expect(guard.canActivate(query.context)).toBe(AT_ONCE);
    expect(query.set).toEqual([['Cache-Control', 'private']]);
    const open = httpContext('open', bearer(fresh));
    expect(guard.canActivate(open.context)).toBe(AT_ONCE);
    expect(open.request.user).toEqual(miss.request.user);

    // A refusal on a hit (scope, step-up) is still a rejected promise, with its challenge.
    for (const [handler, status, error] of [
      ['write', 403, 'insufficient_scope'],
      ['stepUp', 401, 'insufficient_user_authentication'],
      ['policyRefused', 403, 'insufficient_scope'],
    ] as const) {
      const refused = httpContext(handler, bearer(fresh));
      const answer = guard.canActivate(refused.context);
      expect(answer).toBeInstanceOf(Promise);
      await expect(answer).rejects.toMatchObject({ status });
      expect(refused.set).toEqual([
        ['WWW-Authenticate', expect.stringContaining(`error="${error}"`)],
      ]);
      expect(refused.request.user).toBeUndefined();
    }
    // An asynchronous policy is awaited before the request gets its user.
    const policy = httpContext('policy', bearer(fresh));
    const pending = guard.canActivate(policy.context);
    expect(pending).toBeInstanceOf(Promise);
    expect(policy.request.user).toBeUndefined();
    await expect(pending).resolves.toBe(true);
    expect(policy.request.user).toEqual(miss.request.user);

    // A cached refusal goes the asynchronous way, to the same 401 as the first time.
    const unknown = 'x'.repeat(41);
    const refusals: HttpException[] = [];
    for (let i = 0; i < 2; i++) {
      const refused = httpContext('get', bearer(unknown));
      const answer = guard.canActivate(refused.context);
      expect(answer).toBeInstanceOf(Promise);
      refusals.push(
        await Promise.resolve(answer).then(
          () => undefined as never,
          (e: HttpException) => e,
        ),
      );
      expect(refused.set).toEqual([['WWW-Authenticate', expect.stringContaining('invalid_token')]]);
    }
    expect(refusals[1]!.getStatus()).toBe(401);
    expect(refusals[1]!.getResponse()).toEqual(refusals[0]!.getResponse());

    // Not with a guard that runs passport, nor with a validation service that is not the library's.
    const viaPassport = await app.get(ModuleRef).create(ViaPassportGuard);
    const passportHit = httpContext('get', bearer(fresh));
    const passportAnswer = viaPassport.canActivate(passportHit.context);
    expect(passportAnswer).toBeInstanceOf(Promise);
    await expect(passportAnswer).resolves.toBe(true);
    expect(passportHit.request.user).toEqual(miss.request.user);
    const tokens = app.get(TokenValidationService);
    const replaced = Object.assign(Object.create(tokens) as TokenValidationService, {
      validate: (token: string) => tokens.validate(token),
    });
    const options = (guard as unknown as { moduleOptions: object }).moduleOptions;
    const custom = new OidcAuthGuard(
      (guard as unknown as { reflector: never }).reflector,
      options as never,
      replaced,
    );
    expect(custom.canActivate(httpContext('get', bearer(fresh)).context)).toBeInstanceOf(Promise);

    // Other transports keep their promise.
    const graphql = new ExecutionContextHost(
      [
        {},
        {},
        { req: { headers: bearer(fresh), rawHeaders: Object.entries(bearer(fresh)).flat() } },
        {},
      ],
      Direct,
      Direct.prototype.get,
    );
    graphql.setType('graphql');
    const graphqlAnswer = guard.canActivate(graphql);
    expect(graphqlAnswer).toBeInstanceOf(Promise);
    await expect(graphqlAnswer).resolves.toBe(true);
  });

  it('memory entries a hit must not serve: the same answers on both paths', async () => {
    const now = Date.now();
    const cases: Array<[string, Record<string, unknown>, number, string | null]> = [
      ['expired in memory', { exp: now - 31_000 }, 401, 'error="invalid_token"'],
      ['expired within clock tolerance', { exp: now - 20_000 }, 200, null],
      [
        'DPoP-bound',
        { claims: { sub: 'planted', cnf: { jkt: 'a'.repeat(43) } } },
        401,
        'is DPoP-bound',
      ],
      [
        'certificate-bound',
        { claims: { sub: 'planted', cnf: { 'x5t#S256': 'b'.repeat(43) } } },
        401,
        'is certificate-bound',
      ],
    ];
    for (const [name, changes, status, inChallenge] of cases) {
      const token = `planted.${name.replace(/[^a-z]/g, '')}.${adapter}`;
      await plant(token, changes);
      const direct = await get('/direct', bearer(token));
      await plant(token, changes);
      const viaPassport = await get('/passport', bearer(token));
      expect({ name, ...viaPassport }).toEqual({ name, ...direct });
      expect({ name, status: direct.status }).toEqual({ name, status });
      if (status === 401)
        expect(direct.challenge).toMatch(/^Bearer realm="api", error="invalid_token"/);
      if (inChallenge) expect(direct.challenge).toContain(inChallenge);
      // and never answered at once by the guard
      await plant(token, changes);
      const answer = app.get(OidcAuthGuard).canActivate(httpContext('get', bearer(token)).context);
      expect({ name, atOnce: answer === AT_ONCE }).toEqual({ name, atOnce: status === 200 });
      await Promise.resolve(answer).catch(() => undefined);
    }
  });

  it('a memory hit checks expiry against the injected clock', async () => {
    const token = `planted.clock.${adapter}`;
    await plant(token, { exp: Date.now() + 60_000 });
    expect((await get('/direct', bearer(token))).status).toBe(200);
    expect(app.get(OidcAuthGuard).canActivate(httpContext('get', bearer(token)).context)).toBe(
      AT_ONCE,
    );
    // Past exp and the 30 s tolerance by the library's clock, while the entry itself is still live.
    offset = 60_000 + 30_000 + 1_000;
    const answer = app.get(OidcAuthGuard).canActivate(httpContext('get', bearer(token)).context);
    expect(answer).toBeInstanceOf(Promise);
    await expect(answer).rejects.toMatchObject({
      status: 401,
      cause: expect.objectContaining({ code: 'token_expired' }),
    });
    await plant(token, { exp: Date.now() + 60_000 });
    const expired = await get('/direct', bearer(token));
    expect(expired.status).toBe(401);
    expect(expired.challenge).toContain('error="invalid_token"');
    // The entry was dropped as the asynchronous path always did: now it is checked afresh.
    expect(
      app.get(TokenCacheService).peek(TokenCacheService.keyFor('token', token)),
    ).toBeUndefined();
  });
});
