import {
  InvalidTokenError,
  OidcResourceError,
  TokenExpiredError,
  TokenInactiveError,
  OIDC_ERROR_REASONS,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';
import type { PrincipalSnapshot } from '../utils/principal.js';

/** A refusal as cached: enough to rebuild the same error (code, message, reason, claim). */
export interface CachedRefusal {
  ok: false;
  code: 'invalid_token' | 'token_expired' | 'token_inactive';
  message: string;
  reason?: OidcResourceErrorReason;
  claim?: string;
}

/** A cached outcome: a principal snapshot, or the error a bad token earned. */
export type CachedOutcome = { ok: true; principal: PrincipalSnapshot } | CachedRefusal;

const NEGATIVE_CODES: ReadonlySet<unknown> = new Set([
  'invalid_token',
  'token_expired',
  'token_inactive',
]);

/**
 * The cacheable form of an error: verdicts on the token only. `undefined` for anything else
 * (an unreachable issuer, a bug), which must be retried rather than remembered.
 */
export function refusalFor(error: unknown): CachedRefusal | undefined {
  if (!(error instanceof OidcResourceError) || !NEGATIVE_CODES.has(error.code)) return undefined;
  return {
    ok: false,
    code: error.code as CachedRefusal['code'],
    message: error.message,
    ...(error.reason !== undefined ? { reason: error.reason } : {}),
    ...(error.claim !== undefined ? { claim: error.claim } : {}),
  };
}

/** Rebuilds a cached refusal: same code, message, reason and claim as the first time. */
export function errorFor(outcome: CachedRefusal): OidcResourceError {
  const { code, message, reason, claim } = outcome;
  const details = {
    ...(reason !== undefined ? { reason } : {}),
    ...(claim !== undefined ? { claim } : {}),
  };
  if (code === 'token_expired') return new TokenExpiredError(message, details);
  if (code === 'token_inactive') return new TokenInactiveError(message, details);
  return new InvalidTokenError(message, details);
}

/**
 * A shared store can hand back anything (another writer, corruption): only a well-formed outcome
 * counts, and a principal only when `trusts` its issuer.
 */
export function isCachedOutcome(
  value: unknown,
  trusts: (issuer: string) => boolean,
): value is CachedOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const outcome = value as Record<string, unknown>;
  if (outcome.ok === false)
    return (
      NEGATIVE_CODES.has(outcome.code) &&
      typeof outcome.message === 'string' &&
      (outcome.reason === undefined || OIDC_ERROR_REASONS.has(outcome.reason as string)) &&
      (outcome.claim === undefined || typeof outcome.claim === 'string')
    );
  if (outcome.ok !== true || typeof outcome.principal !== 'object' || outcome.principal === null)
    return false;
  const p = outcome.principal as Record<string, unknown>;
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((item) => typeof item === 'string');
  return (
    typeof p.issuer === 'string' &&
    trusts(p.issuer) &&
    (p.source === 'jwt' || p.source === 'introspection') &&
    strings(p.scopes) &&
    strings(p.roles) &&
    strings(p.audience) &&
    typeof p.claims === 'object' &&
    p.claims !== null &&
    (p.exp === undefined || typeof p.exp === 'number') &&
    (p.sub === undefined || typeof p.sub === 'string') &&
    (p.clientId === undefined || typeof p.clientId === 'string')
  );
}
