import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';

/**
 * What is cached about a valid token: JSON-safe, frozen, no token inside. Times are ms.
 * `exp` is re-checked on every read so an entry never outlives its token.
 */
export interface PrincipalSnapshot {
  sub?: string;
  clientId?: string;
  scopes: readonly string[];
  issuer: string;
  audience: readonly string[];
  exp?: number;
  claims: Readonly<Record<string, unknown>>;
  source: 'jwt' | 'introspection';
}

/** A principal's token lives here, not on the object: it can't be enumerated, logged or serialized. */
const TOKENS = new WeakMap<object, string>();

/** Builds a request's principal from a snapshot and remembers its token privately. */
export function materializePrincipal(snapshot: PrincipalSnapshot, token: string): AuthenticatedPrincipal {
  const principal: AuthenticatedPrincipal = {
    sub: snapshot.sub,
    clientId: snapshot.clientId,
    scopes: snapshot.scopes as string[],
    issuer: snapshot.issuer,
    audience: snapshot.audience as string[],
    expiresAt: snapshot.exp === undefined ? undefined : new Date(snapshot.exp),
    claims: snapshot.claims,
    source: snapshot.source,
  };
  TOKENS.set(principal, token);
  return principal;
}

/** The access token a principal was built from, or `undefined` for a principal made elsewhere. */
export function principalToken(principal: AuthenticatedPrincipal): string | undefined {
  return TOKENS.get(principal);
}

/** `scope` (space-separated string, RFC 9068 §2.2.3 / RFC 7662) or `scp` (array or string). */
export function parseScopes(claims: Record<string, unknown>): string[] | undefined {
  const { scope, scp } = claims;
  const scopes: string[] = [];
  if (scope !== undefined) {
    if (typeof scope !== 'string') return undefined;
    for (const s of scope.split(' ')) if (s) scopes.push(s);
  }
  if (scp !== undefined) {
    if (typeof scp === 'string') {
      for (const s of scp.split(' ')) if (s) scopes.push(s);
    } else if (Array.isArray(scp) && scp.every((s) => typeof s === 'string')) {
      for (const s of scp as string[]) if (s) scopes.push(s);
    } else {
      return undefined;
    }
  }
  return [...new Set(scopes)];
}
