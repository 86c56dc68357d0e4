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
  Get,
  Injectable,
  Req,
  UseGuards,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
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
  OIDC_BEARER_STRATEGY,
  OidcAuthGuard,
  OidcResourceError,
  Scopes,
  type AuthenticatedPrincipal,
} from '../../lib/index.js';

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
        controllers: [
          controller('direct', OidcAuthGuard),
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
});
