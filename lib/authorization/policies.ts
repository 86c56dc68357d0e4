import type { ExecutionContext, Type } from '@nestjs/common';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { claimSegments, readClaim, type ClaimPath } from './claim-path.js';

/**
 * A policy as a function: allows the request only by returning (or resolving to) `true`.
 * Throwing an `OidcResourceError` answers with that error; throwing anything else is a 500.
 */
export type OidcPolicyFunction = (
  principal: AuthenticatedPrincipal,
  context: ExecutionContext,
) => boolean | Promise<boolean>;

/**
 * A policy as a class, registered by the app as a provider (so it can inject services) and
 * resolved from the application's container on first use. Must be a singleton (the default
 * scope). `allows` must return (or resolve to) `true` to allow; anything else refuses.
 *
 * @example
 * @Injectable()
 * export class NoteOwnerPolicy implements OidcPolicy {
 *   constructor(private readonly notes: NotesService) {}
 *   allows(principal: AuthenticatedPrincipal, context: ExecutionContext) {
 *     const id = context.switchToHttp().getRequest().params.id;
 *     return this.notes.find(Number(id))?.author === principal.sub;
 *   }
 * }
 */
export interface OidcPolicy {
  allows(principal: AuthenticatedPrincipal, context: ExecutionContext): boolean | Promise<boolean>;
}

/** What `@Authorize()` takes: a policy function, or a policy class registered as a provider. */
export type Policy = OidcPolicyFunction | Type<OidcPolicy>;

/** Whether a policy is a class (its prototype has `allows`) rather than a plain function. */
export function isPolicyClass(policy: Policy): policy is Type<OidcPolicy> {
  const prototype = (policy as { prototype?: { allows?: unknown } }).prototype;
  return typeof prototype?.allows === 'function';
}

function checkedPath(builder: string, name: unknown) {
  const segments = claimSegments(name);
  if (!segments) {
    throw new TypeError(
      `${builder}(): the claim name must be a dotted path ('tenant.id') or an array of segments`,
    );
  }
  return segments;
}

/** Deep equality of JSON values (what claims are made of). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every(
    (key) =>
      Object.prototype.hasOwnProperty.call(b, key) &&
      jsonEqual((a as Record<string, unknown>)[key], bRecord[key]),
  );
}

/**
 * A policy that allows when the claim at `name` deeply equals `value`.
 * @example
 * @Authorize(claimEquals('email_verified', true), claimEquals(['https://example.com/tenant'], 'acme'))
 */
export function claimEquals(name: ClaimPath, value: unknown): OidcPolicyFunction {
  const path = checkedPath('claimEquals', name);
  if (value === undefined) throw new TypeError('claimEquals(): the expected value is undefined');
  const policy: OidcPolicyFunction = (principal) =>
    jsonEqual(readClaim(principal.claims, path), value);
  Object.defineProperty(policy, 'name', { value: `claimEquals(${path.join('.')})` });
  return policy;
}

/**
 * A policy that allows when the claim at `name` (an array, or a space-separated string)
 * contains every one of `values`.
 * @example
 * @Authorize(claimIncludes('groups', 'notes-editors'))
 */
export function claimIncludes(name: ClaimPath, ...values: string[]): OidcPolicyFunction {
  const path = checkedPath('claimIncludes', name);
  if (values.length === 0) throw new TypeError('claimIncludes() needs at least one value');
  for (const value of values) {
    if (typeof value !== 'string' || value.length === 0)
      throw new TypeError(`claimIncludes(): ${JSON.stringify(value)} is not a non-empty string`);
  }
  const expected = [...values];
  const policy: OidcPolicyFunction = (principal) => {
    const claim = readClaim(principal.claims, path);
    const list = typeof claim === 'string' ? claim.split(' ') : claim;
    return Array.isArray(list) && expected.every((value) => list.includes(value));
  };
  Object.defineProperty(policy, 'name', { value: `claimIncludes(${path.join('.')})` });
  return policy;
}
