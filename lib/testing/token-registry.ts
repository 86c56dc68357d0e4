import { createHash } from 'node:crypto';

/** What the issuer remembers of a token it issued. */
interface TokenRecord {
  /** The claims, as introspection answers them (besides `active`). */
  readonly introspection: Readonly<Record<string, unknown>>;
  /** `exp` in seconds, when the token has one. */
  readonly exp: number | undefined;
  /** Bound to a DPoP key (`cnf.jkt`): never usable as a bearer token. */
  readonly bound: boolean;
  revoked: boolean;
}

/** The claims of a live token, for the endpoints that explain tokens. */
export interface ActiveToken {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly bound: boolean;
}

/**
 * The tokens an issuer issued, keyed by a SHA-256 hash of the token: like the library's cache,
 * the kit never keeps a raw token.
 */
export class TokenRegistry {
  private readonly records = new Map<string, TokenRecord>();

  constructor(private readonly clock: () => number) {}

  private static keyFor(token: string): string {
    return createHash('sha256').update(token, 'utf8').digest('base64url');
  }

  /** Records a token and the claims that describe it. */
  add(token: string, claims: Readonly<Record<string, unknown>>): void {
    const cnf = claims.cnf as { jkt?: unknown } | undefined;
    const bound = typeof cnf === 'object' && cnf !== null && typeof cnf.jkt === 'string';
    // RFC 7662 §2.2 / RFC 9449 §6.2: a DPoP-bound token is introspected as token_type "DPoP".
    const introspection = Object.freeze({ token_type: bound ? 'DPoP' : 'Bearer', ...claims });
    this.records.set(TokenRegistry.keyFor(token), {
      introspection,
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
      bound,
      revoked: false,
    });
  }

  /** Marks a token revoked; whether it was one of ours. */
  revoke(token: string): boolean {
    const record = this.records.get(TokenRegistry.keyFor(token));
    if (!record) return false;
    record.revoked = true;
    return true;
  }

  /** The token's claims while it is issued here, not revoked and not expired; else `undefined`. */
  active(token: string): ActiveToken | undefined {
    const record = this.records.get(TokenRegistry.keyFor(token));
    if (!record || record.revoked) return undefined;
    if (record.exp !== undefined && record.exp * 1000 <= this.clock()) return undefined;
    return { claims: record.introspection, bound: record.bound };
  }
}
