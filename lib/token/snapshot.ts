import { extractRoles, extractScopes } from '../authorization/claim-path.js';
import { audienceList, claimMalformed, refuse } from '../utils/claim-rules.js';
import { deepFreeze, type PrincipalSnapshot } from '../utils/principal.js';
import type { VerifiedToken } from './access-token-verifier.js';

/**
 * What is cached about a verified token. The last rules that apply to both kinds of token live
 * here too, so that a refusal they earn is cached like any other. Scopes and roles are read where
 * the issuer that vouched puts them.
 */
export function toSnapshot(verified: VerifiedToken): PrincipalSnapshot {
  const { claims, settings: options } = verified;
  // Read once per token and cached with the snapshot; a malformed claim grants nothing.
  const scopes = extractScopes(claims, options.scopeClaims);
  const roles = extractRoles(claims, options.roleClaims);
  checkBinding(claims);
  const audience = audienceList(claims.aud);
  if (audience === undefined) throw claimMalformed('aud');
  if (claims.sub !== undefined && typeof claims.sub !== 'string') throw claimMalformed('sub');
  const clientId =
    typeof claims.client_id === 'string'
      ? claims.client_id
      : typeof claims.azp === 'string'
        ? claims.azp
        : undefined;
  // Members set one by one (same order as ever), not spread from conditional literals: a spread
  // copies through the runtime, and this runs once per new token.
  const snapshot: { -readonly [K in keyof PrincipalSnapshot]?: PrincipalSnapshot[K] } = {};
  if (typeof claims.sub === 'string') snapshot.sub = claims.sub;
  if (clientId !== undefined) snapshot.clientId = clientId;
  snapshot.scopes = Object.freeze(scopes);
  snapshot.roles = Object.freeze(roles);
  snapshot.issuer = verified.issuer;
  snapshot.audience = Object.freeze(audience);
  if (typeof claims.exp === 'number') snapshot.exp = claims.exp * 1000;
  snapshot.claims = deepFreeze({ ...claims });
  snapshot.source = verified.source;
  return Object.freeze(snapshot as PrincipalSnapshot);
}

/** A `cnf` member: a thumbprint, base64url (RFC 7638, RFC 8705 §3.1), of a sane length. */
const THUMBPRINT = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * What a token is bound to must be something this library can check on each request: a DPoP
 * key thumbprint (`cnf.jkt`) or a certificate thumbprint (`cnf["x5t#S256"]`). Other shapes are
 * refused here, once, and the refusal is cached; the binding itself is checked per request
 * (presentation.ts), never cached.
 */
function checkBinding(claims: Readonly<Record<string, unknown>>): void {
  const cnf = claims.cnf;
  const dpopTyped = typeof claims.token_type === 'string' && /^dpop$/i.test(claims.token_type);
  if (cnf === undefined || cnf === null) {
    // RFC 9449 §6.2: a DPoP token's introspection carries its key; without it, nothing to check.
    if (dpopTyped)
      throw refuse(
        'sender_constrained',
        'The access token is a DPoP token without a key binding (cnf.jkt)',
        'token_type',
      );
    return;
  }
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw claimMalformed('cnf');
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  if (jkt !== undefined && (typeof jkt !== 'string' || !THUMBPRINT.test(jkt)))
    throw claimMalformed('cnf');
  if (x5t !== undefined && (typeof x5t !== 'string' || !THUMBPRINT.test(x5t)))
    throw claimMalformed('cnf');
  if (jkt === undefined && x5t === undefined)
    throw refuse(
      'sender_constrained',
      'The access token is bound to its client in a way this API cannot check',
      'cnf',
    );
  if (dpopTyped && jkt === undefined)
    throw refuse(
      'sender_constrained',
      'The access token is a DPoP token without a key binding (cnf.jkt)',
      'token_type',
    );
}
