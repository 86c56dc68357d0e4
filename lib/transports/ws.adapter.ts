import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { SOCKET_HANDSHAKE, type SocketHandshake } from './socket-handshake.service.js';

/** As `@nestjs/platform-ws` normalises a gateway's path. */
function normalizePath(path: unknown): string {
  return typeof path === 'string' && path
    ? ('/' + path.replace(/\/+$/, '')).replace(/\/+/g, '/')
    : '/';
}

type Done = (ok: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void;
interface ClientInfo {
  req: IncomingMessage;
}
type VerifyClient = ((info: ClientInfo) => boolean) | ((info: ClientInfo, done: Done) => void);

/**
 * Nest's `ws` adapter, with handshakes authenticated by `nestjs-oidc-resource`: the token comes
 * from the `Authorization` header or `access_token` in the handshake URL. A handshake without a
 * valid token is refused with the HTTP answer a REST route would give (status and
 * `WWW-Authenticate`), unless every gateway on the path is `@Public()`. The principal is kept on
 * the socket (`@CurrentUser()` works in handlers), and the socket is closed (code 4401) when
 * the token expires. A gateway's own `verifyClient` still runs, after the token check.
 *
 * @example
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new OidcWsAdapter(app));
 */
export class OidcWsAdapter extends WsAdapter {
  constructor(
    private readonly app: INestApplicationContext,
    options?: ConstructorParameters<typeof WsAdapter>[1],
  ) {
    super(app, options);
  }

  override create(
    port: number,
    options: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string } = {},
  ): unknown {
    const handshake = this.app.get<SocketHandshake>(SOCKET_HANDSHAKE, { strict: false });
    const path = normalizePath(options.path);
    const requireToken = handshake.requiresToken(
      (gatewayPort, placement) => gatewayPort === port && normalizePath(placement.path) === path,
    );
    const principals = new WeakMap<IncomingMessage, AuthenticatedPrincipal>();
    const ownCheck = options.verifyClient as VerifyClient | undefined;
    const verifyClient = (info: ClientInfo, done: Done): void => {
      handshake.authenticate(info.req, undefined, requireToken).then(
        (principal) => {
          if (principal) principals.set(info.req, principal);
          if (typeof ownCheck !== 'function') return done(true);
          if (ownCheck.length >= 2)
            return (ownCheck as (i: ClientInfo, d: Done) => void)(info, done);
          done((ownCheck as (i: ClientInfo) => boolean)(info), 401);
        },
        (error: unknown) => {
          if (!(error instanceof OidcResourceError)) return done(false, 500);
          const { http } = handshake.refusal(error);
          done(false, http.status, JSON.stringify(http.body), {
            ...http.headers,
            'Content-Type': 'application/json',
          });
        },
      );
    };
    const server = super.create(port, { ...options, verifyClient }) as {
      on(event: 'connection', listener: (client: object, request: IncomingMessage) => void): void;
    };
    server.on('connection', (client, request) => handshake.attach(client, principals.get(request)));
    return server;
  }
}
