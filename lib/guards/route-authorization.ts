import { HttpException, Inject, type ExecutionContext } from '@nestjs/common';
import { ModuleRef, type Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  ANY_SCOPE_METADATA_KEY,
  OIDC_BEARER_STRATEGY,
  OIDC_RESOURCE_CLOCK,
  PUBLIC_METADATA_KEY,
  SCOPES_METADATA_KEY,
  STEP_UP_METADATA_KEY,
} from '../oidc-resource.constants.js';
import { InsufficientScopeError, OidcResourceError } from '../errors/oidc-resource.error.js';
import { toHttpError } from '../errors/www-authenticate.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import {
  checkPolicies,
  checkRoles,
  PolicyResolver,
  readRouteAccess,
  type RouteAccess,
  type RouteRequirements,
} from '../authorization/route-access.js';
import type { Policy } from '../authorization/policies.js';
import { checkStepUp } from '../authorization/step-up.js';
import type { StepUpRequirement } from '../decorators/step-up.decorator.js';
import { clockToleranceOf } from '../transports/transport-guard.js';
import { answerLogFor } from '../utils/failure-log.js';
import { systemClock, type Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { setResponseHeader } from './response-header.js';

/**
 * The part of {@link OidcAuthGuard} that is the same on every transport: what a route requires,
 * the authorization steps after authentication (step-up, scopes, roles, policies) and how a
 * refusal is answered over HTTP. Every method here is a hook that a subclass of `OidcAuthGuard`
 * may override; the class itself is not exported on its own.
 */
export abstract class RouteAuthorization extends AuthGuard(OIDC_BEARER_STRATEGY) {
  private readonly requirements = new WeakMap<object, WeakMap<object, RouteRequirements>>();
  // Properties, not constructor parameters, so that subclasses' constructors need no change.
  @Inject(ModuleRef) private readonly moduleRef?: ModuleRef;
  @Inject(OIDC_RESOURCE_CLOCK) protected readonly clock?: Clock;
  private policyResolver?: PolicyResolver;

  protected abstract readonly reflector: Reflector;
  protected abstract readonly moduleOptions: ResolvedOidcResourceOptions;

  /** The route's `@Public()`, `@Scopes()`, `@AnyScope()`, … `@StepUp()`, handler first, memoised. */
  protected getRequirements(context: ExecutionContext): RouteRequirements {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byClass = this.requirements.get(handler);
    let found = byClass?.get(controller);
    if (found) return found;
    const targets = [handler, controller];
    const read = <T>(key: string) => this.reflector.getAllAndOverride<T | undefined>(key, targets);
    found = {
      isPublic: read<boolean>(PUBLIC_METADATA_KEY) === true,
      scopes: read<string[]>(SCOPES_METADATA_KEY),
      anyScope: read<string[]>(ANY_SCOPE_METADATA_KEY),
      access: readRouteAccess(this.reflector, targets),
      stepUp: read<StepUpRequirement>(STEP_UP_METADATA_KEY),
    };
    if (!byClass) this.requirements.set(handler, (byClass = new WeakMap()));
    byClass.set(controller, found);
    return found;
  }

  /**
   * The steps after authentication, on every transport: step-up, scopes, roles, then policies.
   * Returns a promise only when the route has policies, so that other routes stay synchronous.
   * Step-up goes first: its 401 sends the user back to the authorization server, and naming the
   * lacking scopes in the same challenge lets one new token fix both (a 403 first would take two).
   */
  protected authorize(
    principal: AuthenticatedPrincipal,
    route: RouteRequirements,
    context: ExecutionContext,
  ): void | Promise<void> {
    if (route.stepUp) this.checkStepUp(principal, route, route.stepUp);
    this.checkScopes(principal, route);
    if (!route.access) return;
    this.checkRoles(principal, route.access);
    if (route.access.policies) return this.checkPolicies(principal, route.access.policies, context);
  }

  /**
   * Throws `InsufficientUserAuthenticationError` (401 `insufficient_user_authentication`) unless
   * the token's `acr` and `auth_time` meet the route's `@StepUp()`; the vouching issuer's
   * `clockTolerance` applies to `auth_time` as to the token's other times.
   */
  protected checkStepUp(
    principal: AuthenticatedPrincipal,
    route: RouteRequirements,
    requirement: StepUpRequirement,
  ): void {
    const now = (this.clock ?? systemClock)();
    const tolerance = clockToleranceOf(this.moduleOptions, principal.issuer);
    checkStepUp(principal, requirement, now, tolerance, () => this.checkScopes(principal, route));
  }

  /** Throws {@link InsufficientScopeError} unless the principal has the route's scopes. */
  protected checkScopes(principal: AuthenticatedPrincipal, route: RouteRequirements): void {
    const granted = principal.scopes;
    if (route.scopes && !route.scopes.every((s) => granted.includes(s))) {
      throw new InsufficientScopeError(route.scopes);
    }
    if (route.anyScope && !route.anyScope.some((s) => granted.includes(s))) {
      throw new InsufficientScopeError(route.anyScope);
    }
  }

  /** Throws `AccessDeniedError` (403 `access_denied`) unless the principal has the roles. */
  protected checkRoles(principal: AuthenticatedPrincipal, access: RouteAccess): void {
    checkRoles(principal, access);
  }

  /** Runs `@Authorize()` policies in order: 403 `access_denied` at the first refusal. */
  protected checkPolicies(
    principal: AuthenticatedPrincipal,
    policies: readonly Policy[],
    context: ExecutionContext,
  ): Promise<void> {
    this.policyResolver ??= new PolicyResolver(this.moduleRef);
    return checkPolicies(principal, policies, context, this.policyResolver);
  }

  /**
   * RFC 6750: sets the challenge (and `Retry-After`) on the response, returns the exception.
   * Logs the error once as it is answered: an authorization server failure at `warn`
   * (rate-limited), a refusal at `debug`.
   */
  protected toHttpException(
    error: unknown,
    response: unknown,
    scheme?: 'Bearer' | 'DPoP',
  ): unknown {
    if (!(error instanceof OidcResourceError)) return error;
    const http = toHttpError(error, this.moduleOptions.challenge, scheme);
    answerLogFor(this.moduleOptions).answered(error, http.status);
    for (const name in http.headers) setResponseHeader(response, name, http.headers[name]!);
    return new HttpException(http.body, http.status, { cause: error });
  }
}
