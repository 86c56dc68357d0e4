/**
 * The server under test: a child process forked by `run.ts`, one per target, so that neither the
 * load generator nor the authorization server runs on its event loop. It reads its
 * `ServerConfig` from `BENCH_SERVER_CONFIG`, listens on 127.0.0.1:0, reports `ready` with its
 * port, answers `memory` and `cpu` requests, and exits on `stop` (cleanly, so `--cpu-prof` writes its
 * profile).
 *
 * Every target serves the same routes with the same handler (`{ ok: true }` as JSON):
 * `GET /baseline` without authentication, `GET /noop-guard` (Nest only) behind a guard that
 * always allows, and `GET /protected` behind the authentication under test: our
 * `OidcAuthGuard` (Nest on Express or Fastify), or Auth0's `express-oauth2-jwt-bearer` middleware
 * (plain Express 5, the peer). The Nest apps also serve `GET /passport` behind the recipe most
 * NestJS apps copy: `@nestjs/passport`'s `AuthGuard('jwt')` over `passport-jwt`, keys from
 * `jwks-rsa` (cached, rate-limited), then a guard checking the `scope` claim. It is applied per
 * controller here rather than as `APP_GUARD`, so that `/baseline` stays unguarded; a global
 * guard runs the same code per request.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  Controller,
  Get,
  Module,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import express, { type ErrorRequestHandler } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import jwksRsa from 'jwks-rsa';
import { ExtractJwt, Strategy as JwtStrategyBase } from 'passport-jwt';
import { OidcAuthGuard, OidcResourceModule } from '../../lib/index.js';
import type { FromServer, ServerConfig, ToServer } from './protocol.js';

@Controller('baseline')
class BaselineController {
  @Get()
  get() {
    return { ok: true };
  }
}

/** The reference: Nest's own cost of running a guard (context, call, result check). */
class NoopGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@UseGuards(NoopGuard)
@Controller('noop-guard')
class NoopGuardController {
  @Get()
  get() {
    return { ok: true };
  }
}

@UseGuards(OidcAuthGuard)
@Controller('protected')
class ProtectedController {
  @Get()
  get() {
    return { ok: true };
  }
}

/** The peer recipe's strategy: RS256 JWTs, keys by `kid` from the JWKS, issuer and audience checked. */
function passportJwtStrategy(config: ServerConfig) {
  class JwtStrategy extends PassportStrategy(JwtStrategyBase, 'jwt') {
    constructor() {
      super({
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKeyProvider: jwksRsa.passportJwtSecret({
          jwksUri: `${config.issuer}/jwks`,
          cache: true,
          rateLimit: true,
          jwksRequestsPerMinute: 5,
        }),
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ['RS256'],
      });
    }
    validate(payload: Record<string, unknown>): Record<string, unknown> {
      return payload;
    }
  }
  return JwtStrategy;
}

/** The recipe's scope check: `api:read` among the space-separated `scope` claim. */
class ScopeGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const user = context.switchToHttp().getRequest<{ user?: { scope?: unknown } }>().user;
    return typeof user?.scope === 'string' && user.scope.split(' ').includes('api:read');
  }
}

@UseGuards(AuthGuard('jwt'), ScopeGuard)
@Controller('passport')
class PassportController {
  @Get()
  get() {
    return { ok: true };
  }
}

async function startNest(
  config: ServerConfig,
): Promise<{ port: number; close: () => Promise<void> }> {
  @Module({
    imports: [
      OidcResourceModule.forRoot({
        issuer: config.issuer,
        audience: config.audience,
        introspection: config.introspection,
        // The baseline route must run no guard at all; the protected one names it.
        global: false,
      }),
      PassportModule,
    ],
    controllers: [BaselineController, NoopGuardController, ProtectedController, PassportController],
    providers: [passportJwtStrategy(config)],
  })
  class BenchModule {}

  const app: INestApplication =
    config.target === 'nest-fastify'
      ? await NestFactory.create(BenchModule, new FastifyAdapter(), {
          logger: false,
          abortOnError: false,
        })
      : await NestFactory.create(BenchModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer() as Server).address() as AddressInfo;
  return { port: port.port, close: () => app.close() };
}

async function startExpressPeer(
  config: ServerConfig,
): Promise<{ port: number; close: () => Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  const handler: express.RequestHandler = (_req, res) => {
    res.json({ ok: true });
  };
  app.get('/baseline', handler);
  // The peer's recommended setup: discovery from the issuer, audience check, its default
  // validators (iss, aud, exp, alg; typ only in `strict` mode).
  app.get('/protected', auth({ issuerBaseURL: config.issuer, audience: config.audience }), handler);
  const onError: ErrorRequestHandler = (
    error: { status?: number; headers?: Record<string, string> },
    _req,
    res,
    _next,
  ) => {
    res.status(error.status ?? 500);
    if (error.headers) res.set(error.headers);
    res.json({ error: true });
  };
  app.use(onError);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(message: FromServer): void {
  process.send!(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? 'null') as ServerConfig | null;
  if (!config)
    throw new Error('BENCH_SERVER_CONFIG is not set: this file is started by bench/run.ts');
  const server =
    config.target === 'express-peer' ? await startExpressPeer(config) : await startNest(config);
  process.on('message', (message: ToServer) => {
    if (message.type === 'memory') {
      send({ type: 'memory', usage: process.memoryUsage() });
    } else if (message.type === 'cpu') {
      send({ type: 'cpu', usage: process.cpuUsage() });
    } else if (message.type === 'stop') {
      void server.close().finally(() => {
        process.disconnect();
        process.exit(0);
      });
    }
  });
  send({ type: 'ready', port: server.port });
}

main().catch((error: unknown) => {
  send({
    type: 'failed',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
});
