import type { ExecutionContext } from '@nestjs/common';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';

/**
 * Where the principal of a non-HTTP call is kept: on the socket (WebSocket gateways), on the
 * GraphQL context (resolvers), on the transport's context (microservices). A `Symbol.for` key,
 * so that the ESM and CommonJS builds loaded in one process agree on it.
 */
export const PRINCIPAL = Symbol.for('nestjs-oidc-resource:principal');

/** An object that may carry a principal under {@link PRINCIPAL}. */
export interface PrincipalCarrier {
  [PRINCIPAL]?: AuthenticatedPrincipal;
}

function carried(value: unknown): AuthenticatedPrincipal | undefined {
  return typeof value === 'object' && value !== null
    ? (value as PrincipalCarrier)[PRINCIPAL]
    : undefined;
}

/**
 * The principal that the guard (or, for a WebSocket, the handshake) authenticated for this call,
 * on any transport; `undefined` when none was.
 */
export function principalOf(context: ExecutionContext): AuthenticatedPrincipal | undefined {
  switch (context.getType<string>()) {
    case 'graphql':
      return carried(context.getArgByIndex(2));
    case 'ws':
      return carried(context.getArgByIndex(0));
    case 'rpc':
      return carried(context.getArgByIndex(1));
    default:
      return context.getArgByIndex<{ user?: AuthenticatedPrincipal } | undefined>(0)?.user;
  }
}

/**
 * The principal a WebSocket was opened with (by `OidcIoAdapter` or `OidcWsAdapter`), for code
 * outside message handlers, such as `handleConnection()`. `undefined` when the socket was opened
 * without a valid token (a `@Public()` gateway).
 * @example handleConnection(client: Socket) { const user = socketPrincipal(client); }
 */
export function socketPrincipal(socket: object): AuthenticatedPrincipal | undefined {
  return carried(socket);
}
