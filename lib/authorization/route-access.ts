import type { ExecutionContext, Type } from '@nestjs/common';
import type { ModuleRef, Reflector } from '@nestjs/core';
import {
  ANY_ROLE_METADATA_KEY,
  POLICIES_METADATA_KEY,
  ROLES_METADATA_KEY,
} from '../oidc-resource.constants.js';
import { AccessDeniedError, OidcResourceError } from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { isPolicyClass, type OidcPolicy, type Policy } from './policies.js';
import type { StepUpRequirement } from '../decorators/step-up.decorator.js';

/** A route's `@Roles()`, `@AnyRole()` and `@Authorize()`, each handler-over-controller. */
export interface RouteAccess {
  roles?: readonly string[];
  anyRole?: readonly string[];
  policies?: readonly Policy[];
}

/**
 * What a handler requires, read once per handler (handler metadata over class metadata): the
 * input of the guard's hooks, for every transport.
 */
export interface RouteRequirements {
  isPublic: boolean;
  scopes?: readonly string[];
  anyScope?: readonly string[];
  /** `@Roles()`, `@AnyRole()`, `@Authorize()`; absent on most routes, which then skip that work. */
  access?: RouteAccess;
  /** `@StepUp()`; absent on most routes, which then skip that work. */
  stepUp?: StepUpRequirement;
}

/** Reads a route's role and policy metadata; `undefined` when it has none (the usual case). */
export function readRouteAccess(
  reflector: Reflector,
  targets: Parameters<Reflector['getAllAndOverride']>[1],
): RouteAccess | undefined {
  const roles = reflector.getAllAndOverride<string[] | undefined>(ROLES_METADATA_KEY, targets);
  const anyRole = reflector.getAllAndOverride<string[] | undefined>(ANY_ROLE_METADATA_KEY, targets);
  const policies = reflector.getAllAndOverride<Policy[] | undefined>(
    POLICIES_METADATA_KEY,
    targets,
  );
  if (!roles && !anyRole && !policies) return undefined;
  return { roles, anyRole, policies };
}

/** A policy threw something other than an `OidcResourceError`: a server error, never an allow. */
export class PolicyFailedError extends Error {
  constructor(policy: string, cause: unknown) {
    super(`Authorization policy ${policy} threw; the request is refused with 500`, { cause });
  }

  override get name(): string {
    return 'PolicyFailedError';
  }
}

/** A policy class that the app did not register as a provider. */
export class PolicyNotRegisteredError extends Error {
  constructor(policy: string, cause: unknown) {
    super(
      `Authorization policy ${policy} is not a provider: add it to the providers of a module ` +
        `(policy classes are resolved from the application's container, and must be singletons)`,
      { cause },
    );
  }

  override get name(): string {
    return 'PolicyNotRegisteredError';
  }
}

const SET_THRESHOLD = 16;
const roleSets = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * Membership test on a principal's roles. The roles array is the cached snapshot's own (the same
 * frozen array on every hit), so for long lists a Set is built once per token and reused.
 */
function hasRole(granted: readonly string[], role: string): boolean {
  if (granted.length < SET_THRESHOLD) return granted.includes(role);
  let set = roleSets.get(granted);
  if (!set) roleSets.set(granted, (set = new Set(granted)));
  return set.has(role);
}

/** Throws {@link AccessDeniedError} unless the principal has the route's roles. */
export function checkRoles(principal: AuthenticatedPrincipal, access: RouteAccess): void {
  const granted = principal.roles;
  if (access.roles) {
    let missing: string[] | undefined;
    for (const role of access.roles) if (!hasRole(granted, role)) (missing ??= []).push(role);
    if (missing) {
      throw new AccessDeniedError(
        `The access token lacks a required role: ${missing.join(', ')}`,
        missing,
      );
    }
  }
  if (access.anyRole && !access.anyRole.some((role) => hasRole(granted, role))) {
    throw new AccessDeniedError(
      `The access token has none of the roles: ${access.anyRole.join(', ')}`,
      access.anyRole,
    );
  }
}

/** Finds a policy class's instance in the application's container; memoised per class. */
export class PolicyResolver {
  private readonly instances = new Map<Type<OidcPolicy>, OidcPolicy>();

  constructor(private readonly moduleRef: ModuleRef | undefined) {}

  get(policy: Type<OidcPolicy>): OidcPolicy {
    let instance = this.instances.get(policy);
    if (instance) return instance;
    try {
      if (!this.moduleRef) throw new Error('no ModuleRef was injected into the guard');
      instance = this.moduleRef.get(policy, { strict: false });
    } catch (error) {
      throw new PolicyNotRegisteredError(policy.name, error);
    }
    if (!instance || typeof instance.allows !== 'function')
      throw new PolicyNotRegisteredError(policy.name, undefined);
    this.instances.set(policy, instance);
    return instance;
  }
}

/**
 * Runs the route's policies in order; the first that does not answer `true` refuses. An
 * `OidcResourceError` a policy throws is answered as itself; anything else becomes a 500.
 */
export async function checkPolicies(
  principal: AuthenticatedPrincipal,
  policies: readonly Policy[],
  context: ExecutionContext,
  resolver: PolicyResolver,
): Promise<void> {
  for (const policy of policies) {
    let allowed: unknown;
    try {
      allowed = isPolicyClass(policy)
        ? await resolver.get(policy).allows(principal, context)
        : await policy(principal, context);
    } catch (error) {
      if (error instanceof OidcResourceError || error instanceof PolicyNotRegisteredError)
        throw error;
      throw new PolicyFailedError(policy.name || '(anonymous)', error);
    }
    // Only a real `true` allows: a policy that forgets to return refuses.
    if (allowed !== true) throw new AccessDeniedError('Access denied by an authorization policy');
  }
}
