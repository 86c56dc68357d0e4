import { ForbiddenException, type ExecutionContext } from '@nestjs/common';
import type { RouteRequirements } from '../authorization/route-access.js';
import { authorizeGraphQL } from './graphql.transport.js';
import { authorizeRpc } from './rpc.transport.js';
import type { TransportGuard } from './transport-guard.js';
import { authorizeSocketMessage } from './websocket.transport.js';

/**
 * The guard's answer for a non-HTTP context: each transport knows where the token is and how a
 * refusal is answered; the authorization steps are the guard's own.
 */
export function authorizeTransport(
  guard: TransportGuard,
  context: ExecutionContext,
  type: string,
  route: RouteRequirements,
): boolean | Promise<boolean> {
  switch (type) {
    case 'graphql':
      return authorizeGraphQL(guard, context, route);
    case 'ws':
      return authorizeSocketMessage(guard, context, route);
    case 'rpc':
      return authorizeRpc(guard, context, route);
    default:
      // A transport this package does not know: fail closed.
      if (route.isPublic) return true;
      throw new ForbiddenException(
        `nestjs-oidc-resource does not authenticate "${type}" contexts; mark the handler @Public() or protect it another way`,
      );
  }
}

export type { TransportGuard } from './transport-guard.js';
