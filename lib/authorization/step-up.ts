import type { StepUpRequirement } from '../decorators/step-up.decorator.js';
import {
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
} from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';

/** What a token lacks for a `@StepUp()` route: the parameters its challenge must carry. */
export interface StepUpShortfall {
  acrValues?: readonly string[];
  maxAge?: number;
  message: string;
}

/**
 * Checks a token's `acr` and `auth_time` (top-level members of a JWT or of an introspection
 * answer, RFC 9470 §6) against a route's requirement; `undefined` when it is met.
 *
 * `auth_time` was stamped by the authorization server's clock, like `iat`, so the issuer's
 * `clockTolerance` applies to it as to the token's other times: the age limit is `maxAge` plus
 * the tolerance, and an `auth_time` further in the future than the tolerance is refused.
 * Token values are never echoed in the message (they came from the token).
 */
export function stepUpShortfall(
  claims: Readonly<Record<string, unknown>>,
  requirement: StepUpRequirement,
  now: number,
  toleranceSeconds: number,
): StepUpShortfall | undefined {
  const problems: string[] = [];
  let acrValues: readonly string[] | undefined;
  let maxAge: number | undefined;
  if (requirement.acrValues) {
    const acr = claims.acr;
    if (typeof acr !== 'string' || !requirement.acrValues.includes(acr)) {
      acrValues = requirement.acrValues;
      problems.push(
        typeof acr === 'string'
          ? `its authentication context (acr) is not one of ${acrValues.join(', ')}`
          : `it has no authentication context (acr); one of ${acrValues.join(', ')} is required`,
      );
    }
  }
  if (requirement.maxAge !== undefined) {
    const authTime = claims.auth_time;
    const tolerance = toleranceSeconds * 1000;
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      maxAge = requirement.maxAge;
      problems.push('it does not say when the user authenticated (auth_time)');
    } else if (now > (authTime + requirement.maxAge) * 1000 + tolerance) {
      maxAge = requirement.maxAge;
      problems.push(`the user authenticated more than ${maxAge} s ago`);
    } else if (authTime * 1000 > now + tolerance) {
      maxAge = requirement.maxAge;
      problems.push('its auth_time is in the future');
    }
  }
  if (problems.length === 0) return undefined;
  return {
    ...(acrValues ? { acrValues } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    message: `A stronger or more recent authentication is required: ${problems.join('; ')}`,
  };
}

/**
 * Throws {@link InsufficientUserAuthenticationError} when the principal's token does not meet the
 * route's `@StepUp()`. `scopeCheck` is the route's scope check: when the scopes are lacking too,
 * the same challenge names them (RFC 9470 §3), so one new authorization fixes both.
 */
export function checkStepUp(
  principal: AuthenticatedPrincipal,
  requirement: StepUpRequirement,
  now: number,
  toleranceSeconds: number,
  scopeCheck: () => void,
): void {
  const shortfall = stepUpShortfall(principal.claims, requirement, now, toleranceSeconds);
  if (!shortfall) return;
  let scopes: readonly string[] | undefined;
  try {
    scopeCheck();
  } catch (error) {
    // Anything else a (subclassed) scope check throws is left for after the step-up.
    if (error instanceof InsufficientScopeError) scopes = error.requiredScopes;
  }
  const { message, ...challenge } = shortfall;
  throw new InsufficientUserAuthenticationError(
    message,
    scopes ? { ...challenge, scopes } : challenge,
  );
}
