import type { ExecutionContext } from '@nestjs/common';
import {
  OidcResourceError,
  TokenExpiredError,
  TokenMissingError,
} from '../errors/oidc-resource.error.js';
import type { RouteRequirements } from '../authorization/route-access.js';
import { refusalOf } from './oauth-error.js';
import { PRINCIPAL, type PrincipalCarrier } from './principal-store.js';
import type { ClosableSocket } from './expiry-timer.js';
import {
  authorizePrincipal,
  hasExpired,
  logRefusal,
  type TransportGuard,
} from './transport-guard.js';

type WsExceptionClass = new (error: object) => Error;
let wsException: Promise<WsExceptionClass> | undefined;

/**
 * `@nestjs/websockets` is an optional peer: loaded on the first refusal, by an app that has
 * gateways and so has the package. Its filter answers only its own `WsException` class.
 */
function loadWsException(): Promise<WsExceptionClass> {
  return (wsException ??= import('@nestjs/websockets').then(
    (module) => module.WsException as unknown as WsExceptionClass,
  ));
}

/**
 * A gateway message: the socket was authenticated once, at its handshake (`OidcIoAdapter`,
 * `OidcWsAdapter`); each message is checked against its handler's requirements and the token's
 * expiry. An expired token ends the connection.
 */
export async function authorizeSocketMessage(
  guard: TransportGuard,
  context: ExecutionContext,
  route: RouteRequirements,
): Promise<boolean> {
  if (route.isPublic) return true;
  const socket = context.getArgByIndex<(PrincipalCarrier & ClosableSocket) | undefined>(0);
  try {
    const principal = socket?.[PRINCIPAL];
    if (!principal)
      throw new TokenMissingError('The connection was opened without a valid access token');
    if (hasExpired(principal, guard)) {
      // After the refusal has been sent.
      setImmediate(() => {
        if (typeof socket!.disconnect === 'function') socket!.disconnect(true);
        else socket!.close?.(4401, 'Access token expired');
      });
      throw new TokenExpiredError();
    }
    await authorizePrincipal(guard, principal, route, context);
    return true;
  } catch (error) {
    if (!(error instanceof OidcResourceError)) throw error;
    const { http, oauth } = refusalOf(error, guard.options.challenge);
    logRefusal(guard, error, http.status);
    const WsException = await loadWsException();
    throw Object.assign(new WsException(oauth), { cause: error });
  }
}
