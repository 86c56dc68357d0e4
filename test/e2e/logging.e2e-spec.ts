/**
 * What the library logs, through Nest's Logger, on Express and Fastify against the real
 * oidc-provider fixture: each 503 leaves exactly one `warn` line that names the failing URL
 * (repeats are rate-limited), refused tokens leave a `debug` line with the reason, and no line
 * holds a token. The 503 bodies say nothing of the cause.
 */
import { inspect } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { OidcResourceModule, type OidcResourceModuleOptions } from '../../lib/index.js';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { ADAPTERS, testAppModule, type AdapterName } from '../fixtures/test-app.js';

interface Line {
  level: string;
  context: string;
  message: string;
}

/** Records every line, with the context Nest's Logger passes as the last argument. */
class CapturingLogger implements LoggerService {
  readonly lines: Line[] = [];
  private record(level: string, message: unknown, rest: unknown[]): void {
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : '';
    const text = [message, ...rest]
      .map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 8 })))
      .join(' ');
    this.lines.push({ level, context, message: text });
  }
  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }
  ours(level: string): Line[] {
    return this.lines.filter((l) => l.level === level && l.context === 'OidcResource');
  }
}

const GENERIC_503 = {
  statusCode: 503,
  message: 'The service is temporarily unavailable; try again later',
  error: 'Service Unavailable',
};

async function startApp(
  adapter: AdapterName,
  options: OidcResourceModuleOptions,
  logger: LoggerService,
): Promise<{ app: INestApplication; url: string }> {
  const root = testAppModule(OidcResourceModule.forRoot(options));
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(root, new FastifyAdapter(), { logger, abortOnError: false })
      : await NestFactory.create(root, { logger, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

async function get(url: string, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

/** Neither the token nor (for a JWT) its signature, which is as secret as the token. */
function expectNoToken(lines: Line[], tokens: Iterable<string>): void {
  for (const token of tokens) {
    const signature = token.split('.')[2];
    for (const line of lines) {
      expect(line.message).not.toContain(token);
      if (signature && signature.length > 16) expect(line.message).not.toContain(signature);
    }
  }
}

describe.each(ADAPTERS)('logs (%s)', (adapter) => {
  let as: AuthorizationServer;
  const apps: INestApplication[] = [];
  const tokens = new Set<string>();
  const remember = (token: string) => (tokens.add(token), token);

  const baseOptions = (): OidcResourceModuleOptions => ({
    issuer: as.issuer,
    audience: API,
    realm: 'api',
    introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
  });
  const jwt = async () =>
    remember(await as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }));
  const opaque = async () =>
    remember(await as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' }));

  /** A fresh app with its own capture; the app is closed after the test. */
  async function scenario(options: Partial<OidcResourceModuleOptions> = {}) {
    const capture = new CapturingLogger();
    const started = await startApp(adapter, { ...baseOptions(), ...options }, capture);
    apps.push(started.app);
    return { ...started, capture };
  }

  /** Routes one endpoint of the fixture to `fault`; everything else stays oidc-provider. */
  function failPath(prefix: string, fault: (res: ServerResponse) => void): void {
    const provider = as.provider.callback();
    as.setHandler((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith(prefix)) fault(res);
      else provider(req, res);
    });
  }
  const answer =
    (status: number, body = '') =>
    (res: ServerResponse) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };

  /** Two 503s (or 502s) in a row: one warn line naming `url`, generic bodies, no token anywhere. */
  async function expectOneWarn(
    capture: CapturingLogger,
    call: () => Promise<{ status: number; body: unknown }>,
    url: string,
    detail: RegExp,
    generic: { statusCode: number } = GENERIC_503,
  ): Promise<Line> {
    for (let i = 0; i < 2; i++) {
      const res = await call();
      expect(res.status).toBe(generic.statusCode);
      expect(res.body).toEqual(generic);
    }
    const warns = capture.ours('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.message).toContain(url);
    expect(warns[0]!.message).toMatch(detail);
    expectNoToken(capture.lines, tokens);
    // Nothing else of ours above debug: the 503 is logged once, by the layer that answers it.
    expect(capture.lines.filter((l) => l.level === 'error')).toEqual([]);
    return warns[0]!;
  }

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

  it('discovery down: one warn line naming the discovery URL and the connection failure', async () => {
    const { url, capture } = await scenario();
    const token = await jwt();
    await as.stop();
    try {
      await expectOneWarn(
        capture,
        () => get(`${url}/api/read`, token),
        `${as.issuer}/.well-known/openid-configuration`,
        /^Answered 503 \(issuer_unavailable\): Discovery: .*could not be reached.*ECONNREFUSED/,
      );
    } finally {
      await as.start();
    }
  });

  it('issuer mismatch (trailing slash): one warn line with both values and the hint', async () => {
    const { url, capture } = await scenario({ issuer: `${as.issuer}/` });
    const token = await jwt();
    const line = await expectOneWarn(
      capture,
      () => get(`${url}/api/read`, token),
      `${as.issuer}/.well-known/openid-configuration`,
      /issuer/,
    );
    expect(line.message).toContain(`"${as.issuer}"`);
    expect(line.message).toContain(`"${as.issuer}/"`);
    expect(line.message).toMatch(/differ only by a trailing slash/);
  });

  it('issuer mismatch (localhost against 127.0.0.1): one warn line with the hint', async () => {
    const localhost = as.issuer.replace('127.0.0.1', 'localhost');
    const { url, capture } = await scenario({ issuer: localhost });
    const token = await jwt();
    const line = await expectOneWarn(
      capture,
      () => get(`${url}/api/read`, token),
      `${localhost}/.well-known/openid-configuration`,
      /issuer/,
    );
    expect(line.message).toContain(`"${as.issuer}"`);
    expect(line.message).toContain(`"${localhost}"`);
    expect(line.message).toMatch(/localhost, 127\.0\.0\.1/);
  });

  it('JWKS down: one warn line naming the JWKS URL and the status', async () => {
    const { url, capture } = await scenario();
    const token = await jwt();
    failPath('/jwks', answer(500, '{}'));
    await expectOneWarn(
      capture,
      () => get(`${url}/api/read`, token),
      as.url('/jwks'),
      /JWKS: the authorization server answered HTTP 500/,
    );
  });

  it('introspection answering 500: one warn line naming the introspection endpoint', async () => {
    const { url, capture } = await scenario();
    const token = await opaque();
    failPath('/token/introspection', answer(500, '{"error":"server_error"}'));
    await expectOneWarn(
      capture,
      () => get(`${url}/api/read`, token),
      as.url('/token/introspection'),
      /Introspection: the authorization server failed \(HTTP 500\)/,
    );
  });

  it("introspection refusing the API's credentials (401): one warn line that says so", async () => {
    const { url, capture } = await scenario({
      introspection: { clientId: RS_CLIENT.id, clientSecret: 'not-the-secret' },
    });
    const token = await opaque();
    await expectOneWarn(
      capture,
      () => get(`${url}/api/read`, token),
      as.url('/token/introspection'),
      /refused this API's client credentials \(HTTP 401\)/,
    );
  });

  it('UserInfo down (the 503 comes from a controller, through the filter): one warn line', async () => {
    const { url, capture } = await scenario();
    const token = remember(
      await as.mintAccessToken({ resource: null, format: 'opaque', scope: 'openid email' }),
    );
    expect((await get(`${url}/api/any`, token)).status).toBe(200);
    failPath('/me', answer(503));
    await expectOneWarn(
      capture,
      () => get(`${url}/api/me`, token),
      as.url('/me'),
      /UserInfo: the authorization server answered HTTP 503/,
    );
  });

  it('UserInfo answering 404 (502 userinfo_failed): one warn line naming the UserInfo URL', async () => {
    const { url, capture } = await scenario();
    const token = remember(
      await as.mintAccessToken({ resource: null, format: 'opaque', scope: 'openid email' }),
    );
    expect((await get(`${url}/api/any`, token)).status).toBe(200);
    failPath('/me', answer(404));
    await expectOneWarn(
      capture,
      () => get(`${url}/api/me`, token),
      as.url('/me'),
      /^Answered 502 \(userinfo_failed\): UserInfo: .*HTTP 404/,
      {
        statusCode: 502,
        message: 'An upstream identity service answered in a way this API cannot use',
        error: 'Bad Gateway',
      } as { statusCode: number },
    );
  });

  it('logs each refused token at debug with its reason, never the token, and no warn', async () => {
    const { url, capture } = await scenario();
    const good = await jwt();
    const [h, p] = good.split('.');
    const forged = remember(`${h}.${p}.${'A'.repeat(342)}`);
    const junk = remember('not-a-jwt-and-no-such-opaque-token');
    expect((await get(`${url}/api/read`, forged)).status).toBe(401);
    expect((await get(`${url}/api/read`, junk)).status).toBe(401);
    expect((await get(`${url}/api/write`, good)).status).toBe(403);
    expect((await get(`${url}/api/read`)).status).toBe(401);
    const debug = capture.ours('debug').map((l) => l.message);
    expect(debug).toEqual([
      'Refused with 401 (invalid_token, signature_invalid): The access token signature is invalid',
      expect.stringMatching(
        /^Refused with 401 \((token_inactive, inactive|invalid_token, \w+)\): /,
      ),
      expect.stringMatching(/^Refused with 403 \(insufficient_scope\): /),
    ]);
    expect(capture.ours('warn')).toEqual([]);
    expectNoToken(capture.lines, tokens);
  });
});
