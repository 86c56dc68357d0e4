import type { ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import type { RouteRequirements } from '../authorization/route-access.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import type { TokenPresentation } from '../token/presentation.js';
import { DEFAULTS } from '../oidc-resource.constants.js';
import { answerLogFor } from '../utils/failure-log.js';
import type { Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/**
 * What a transport needs of the guard: validation and the shared authorization steps (the
 * guard's own hooks, so a subclass's overrides apply on every transport).
 */
export interface TransportGuard {
  readonly options: ResolvedOidcResourceOptions;
  readonly clock: Clock;
  /** `presentation`: how an HTTP request sent the token (its client certificate); default Bearer. */
  validate(token: string, presentation?: TokenPresentation): Promise<AuthenticatedPrincipal>;
  /**
   * A DPoP request over HTTP (GraphQL queries and mutations): the proof checked, the token
   * validated with the proof's key, then the proof's `jti` recorded.
   */
  validateDpop?(
    token: string,
    proof: string,
    raw: IncomingMessage,
  ): Promise<AuthenticatedPrincipal>;
  /** Scopes, roles, policies; a promise only when a policy may need one. */
  authorize(
    principal: AuthenticatedPrincipal,
    route: RouteRequirements,
    context: ExecutionContext,
  ): void | Promise<void>;
}

/**
 * A public handler never fails because of its token: a valid one gives a principal, anything
 * else gives none (an outage is still logged).
 */
export async function optionalPrincipal(
  guard: Pick<TransportGuard, 'options' | 'validate'>,
  token: string | undefined,
): Promise<AuthenticatedPrincipal | undefined> {
  if (token === undefined) return undefined;
  try {
    return await guard.validate(token);
  } catch (error) {
    if (error instanceof OidcResourceError)
      answerLogFor(guard.options).answered(error, error.status, true);
    return undefined;
  }
}

/** Authorizes an authenticated principal for a handler: the pipeline's steps after the token. */
export async function authorizePrincipal(
  guard: TransportGuard,
  principal: AuthenticatedPrincipal,
  route: RouteRequirements,
  context: ExecutionContext,
): Promise<void> {
  const pending = guard.authorize(principal, route, context);
  if (pending) await pending;
}

/**
 * The leeway (seconds) of the issuer that vouched for a principal: a listed issuer's own, else
 * the top-level setting (an issuer trusted through `resolveIssuer` is not listed).
 */
export function clockToleranceOf(options: ResolvedOidcResourceOptions, issuer: string): number {
  for (const listed of options.issuers) if (listed.issuer === issuer) return listed.clockTolerance;
  return options.issuerDefaults.clockTolerance ?? DEFAULTS.clockTolerance;
}

/** When a long-lived connection authenticated as `principal` must end. */
export function expirySettings(
  guard: Pick<TransportGuard, 'options' | 'clock'>,
  principal: AuthenticatedPrincipal,
): { clock: Clock; clockTolerance: number } {
  return { clock: guard.clock, clockTolerance: clockToleranceOf(guard.options, principal.issuer) };
}

/** Whether a principal's token has expired, with the issuer's leeway. */
export function hasExpired(principal: AuthenticatedPrincipal, guard: TransportGuard): boolean {
  const expiresAt = principal.expiresAt?.getTime();
  if (expiresAt === undefined) return false;
  return guard.clock() >= expiresAt + clockToleranceOf(guard.options, principal.issuer) * 1000;
}

/** Logs a refusal once, as the HTTP guard does. */
export function logRefusal(
  guard: Pick<TransportGuard, 'options'>,
  error: OidcResourceError,
  status: number,
): void {
  answerLogFor(guard.options).answered(error, status);
}
