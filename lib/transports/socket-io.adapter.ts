import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { SOCKET_HANDSHAKE, type SocketHandshake } from './socket-handshake.service.js';

const DEFAULT_PATH = '/socket.io';

function namespaceOf(value: unknown): unknown {
  if (value === undefined || value === '') return '/';
  return typeof value === 'string' && !value.startsWith('/') ? `/${value}` : value;
}

type Middleware = (socket: Socket, next: (error?: Error) => void) => void;

/**
 * Nest's socket.io adapter, with handshakes authenticated by `nestjs-oidc-resource`: the token
 * comes from the `Authorization` header, `auth.token` (with or without `Bearer `), or
 * `access_token` in the handshake URL. A handshake without a valid token is refused with a
 * `connect_error` whose `data` is `{ error, error_description }`, unless every gateway on the
 * namespace is `@Public()`. The principal is kept on the socket (`@CurrentUser()` works in
 * handlers), and the socket is disconnected when the token expires.
 *
 * @example
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new OidcIoAdapter(app));
 */
export class OidcIoAdapter extends IoAdapter {
  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(
    port: number,
    options?: ServerOptions & { namespace?: string; server?: Server },
  ): Server | Namespace {
    const server = super.create(port, options);
    const handshake = this.app.get<SocketHandshake>(SOCKET_HANDSHAKE, { strict: false });
    const path = options?.path ?? DEFAULT_PATH;
    const namespace = namespaceOf(options?.namespace);
    const requireToken = handshake.requiresToken(
      (gatewayPort, placement) =>
        gatewayPort === port &&
        (placement.path ?? DEFAULT_PATH) === path &&
        namespaceOf(placement.namespace) === namespace,
    );
    const authenticate: Middleware = (socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      handshake.authenticate(socket.request, auth?.token, requireToken).then(
        (principal) => {
          handshake.attach(socket, principal);
          next();
        },
        (error: unknown) => {
          if (!(error instanceof OidcResourceError)) return next(error as Error);
          const { http, oauth } = handshake.refusal(error);
          next(Object.assign(new Error(http.body.message), { data: oauth }));
        },
      );
    };
    (server as { use(middleware: Middleware): unknown }).use(authenticate);
    return server;
  }
}
