import type { ExecutionContext } from '@nestjs/common';
import { OidcResourceError, TokenMissingError } from '../errors/oidc-resource.error.js';
import type { RouteRequirements } from '../authorization/route-access.js';
import { bearerValue } from './bearer.js';
import { refusalOf } from './oauth-error.js';
import { PRINCIPAL, type PrincipalCarrier } from './principal-store.js';
import {
  authorizePrincipal,
  logRefusal,
  optionalPrincipal,
  type TransportGuard,
} from './transport-guard.js';

type RpcExceptionClass = new (error: object) => Error;
let rpcException: Promise<RpcExceptionClass> | undefined;

/** `@nestjs/microservices` is an optional peer, loaded on the first refusal. */
function loadRpcException(): Promise<RpcExceptionClass> {
  return (rpcException ??= import('@nestjs/microservices').then(
    (module) => module.RpcException as unknown as RpcExceptionClass,
  ));
}

/**
 * A microservice message. Without `rpc.token` it passes untouched, as before: a bearer token is
 * an HTTP credential, and most message brokers authenticate their clients themselves.
 */
export async function authorizeRpc(
  guard: TransportGuard,
  context: ExecutionContext,
  route: RouteRequirements,
): Promise<boolean> {
  const rpc = guard.options.rpc;
  if (!rpc) return true;
  const data = context.getArgByIndex<unknown>(0);
  const carrier = context.getArgByIndex<PrincipalCarrier | undefined>(1);
  const store = typeof carrier === 'object' && carrier !== null ? carrier : undefined;
  const extraction = bearerValue(rpc.token(data, carrier), 'The message token');
  if (route.isPublic) {
    const principal = extraction.error
      ? undefined
      : await optionalPrincipal(guard, extraction.token);
    if (store) store[PRINCIPAL] = principal;
    return true;
  }
  try {
    if (extraction.error) throw extraction.error;
    if (extraction.token === undefined) throw new TokenMissingError();
    const principal = await guard.validate(extraction.token);
    await authorizePrincipal(guard, principal, route, context);
    if (store) store[PRINCIPAL] = principal;
    return true;
  } catch (error) {
    if (!(error instanceof OidcResourceError)) throw error;
    const { http, oauth } = refusalOf(error, guard.options.challenge);
    logRefusal(guard, error, http.status);
    const RpcException = await loadRpcException();
    throw Object.assign(new RpcException(oauth), { cause: error });
  }
}
