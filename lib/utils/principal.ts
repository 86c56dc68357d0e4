import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';

/**
 * What is cached about a valid token: JSON-safe, frozen, no token inside. Times are ms.
 * `exp` is re-checked on every read so an entry never outlives its token.
 */
export interface PrincipalSnapshot {
  sub?: string;
  clientId?: string;
  scopes: readonly string[];
  /** Read from `roleClaims` once, when the snapshot is built; cached with it. */
  roles: readonly string[];
  issuer: string;
  audience: readonly string[];
  exp?: number;
  claims: Readonly<Record<string, unknown>>;
  source: 'jwt' | 'introspection';
}

/**
 * Freezes a JSON-like value and everything inside it, in place, and returns it. Cached claims
 * are shared by every request that presents the same token, so a handler must not be able to
 * change what the next one sees: writing to them throws a `TypeError` in strict-mode code (ES
 * modules, TypeScript output) and does nothing elsewhere. Paid once per cached value, never per
 * hit. Iterative, so a deeply nested document cannot exhaust the stack.
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item !== 'object' || item === null || Object.isFrozen(item)) continue;
    Object.freeze(item);
    for (const key of Object.keys(item)) pending.push((item as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * Whether a snapshot's token has expired at `now` (ms), allowing `toleranceSeconds` of clock
 * skew: the one rule for cached results and for principals handed back to the library.
 */
export function isExpired(
  snapshot: { exp?: number },
  now: number,
  toleranceSeconds: number,
): boolean {
  return snapshot.exp !== undefined && now >= snapshot.exp + toleranceSeconds * 1000;
}

/**
 * A request's principal. The token sits in a private field: it can't be enumerated, logged,
 * serialized or cloned, and (unlike a WeakMap side table) costs the garbage collector nothing
 * extra on the per-request path.
 */
class Principal implements AuthenticatedPrincipal {
  readonly #token: string;
  sub?: string;
  clientId?: string;
  scopes: string[];
  roles: string[];
  issuer: string;
  audience: string[];
  expiresAt?: Date;
  claims: Readonly<Record<string, unknown>>;
  source: 'jwt' | 'introspection';

  constructor(snapshot: PrincipalSnapshot, token: string) {
    this.#token = token;
    this.sub = snapshot.sub;
    this.clientId = snapshot.clientId;
    this.scopes = snapshot.scopes as string[];
    this.roles = snapshot.roles as string[];
    this.issuer = snapshot.issuer;
    this.audience = snapshot.audience as string[];
    this.expiresAt = snapshot.exp === undefined ? undefined : new Date(snapshot.exp);
    this.claims = snapshot.claims;
    this.source = snapshot.source;
  }

  static tokenOf(principal: unknown): string | undefined {
    return principal instanceof Principal ? principal.#token : undefined;
  }
}

/** Builds a request's principal from a snapshot; its token is kept privately. */
export function materializePrincipal(
  snapshot: PrincipalSnapshot,
  token: string,
): AuthenticatedPrincipal {
  return new Principal(snapshot, token);
}

/** The access token a principal was built from, or `undefined` for a principal made elsewhere. */
export function principalToken(principal: AuthenticatedPrincipal): string | undefined {
  return Principal.tokenOf(principal);
}
