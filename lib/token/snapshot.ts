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
  const cnf = claims.cnf;
  if (
    (cnf !== undefined && cnf !== null) ||
    (typeof claims.token_type === 'string' && /^dpop$/i.test(claims.token_type))
  ) {
    // RFC 9449 §7.2 / RFC 8705 §3: a sender-constrained token must not be accepted as a bearer token.
    throw refuse(
      'sender_constrained',
      'The access token is sender-constrained (DPoP or mTLS), which this API does not accept',
      cnf !== undefined && cnf !== null ? 'cnf' : 'token_type',
    );
  }
  const audience = audienceList(claims.aud);
  if (audience === undefined) throw claimMalformed('aud');
  if (claims.sub !== undefined && typeof claims.sub !== 'string') throw claimMalformed('sub');
  const clientId =
    typeof claims.client_id === 'string'
      ? claims.client_id
      : typeof claims.azp === 'string'
        ? claims.azp
        : undefined;
  return Object.freeze({
    ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
    ...(clientId !== undefined ? { clientId } : {}),
    scopes: Object.freeze(scopes),
    roles: Object.freeze(roles),
    issuer: verified.issuer,
    audience: Object.freeze(audience),
    ...(typeof claims.exp === 'number' ? { exp: claims.exp * 1000 } : {}),
    claims: deepFreeze({ ...claims }),
    source: verified.source,
  });
}
