import {
  InvalidTokenError,
  TokenExpiredError,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';

/**
 * Claim rules shared by JWT payloads and introspection answers, so that one failure gives one
 * message and one `reason` whichever way the token was checked.
 */

/** A refusal with its stable reason (and claim). */
export function refuse(
  reason: OidcResourceErrorReason,
  message: string,
  claim?: string,
): InvalidTokenError {
  return new InvalidTokenError(message, { reason, ...(claim !== undefined ? { claim } : {}) });
}

/** A required claim is absent (`claim_missing`). */
export const claimMissing = (name: string): InvalidTokenError =>
  refuse('claim_missing', `The access token lacks the required "${name}" claim`, name);

/** A claim has the wrong type (`claim_malformed`). */
export const claimMalformed = (name: string): InvalidTokenError =>
  refuse('claim_malformed', `The access token's "${name}" claim is malformed`, name);

/** `aud` as a list (RFC 7519 §4.1.3: a string or an array of strings), `[]` when absent. */
export function audienceList(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((a) => typeof a === 'string')) return value as string[];
  return undefined;
}

/** `iss`, when present, must be the configured issuer exactly. */
export function checkIssuer(claims: Record<string, unknown>, issuer: string): void {
  if (claims.iss !== undefined && claims.iss !== issuer)
    throw refuse('iss_mismatch', 'The access token was issued by another issuer', 'iss');
}

/**
 * `aud` must be well formed and, when audiences are configured, contain one of them. An empty
 * `aud` passes only with `allowEmpty` (an introspection answer, whose caller has its own rule
 * for audience-less tokens). Returns the list.
 */
export function checkAudience(
  claims: Record<string, unknown>,
  audiences: readonly string[] | false,
  allowEmpty: boolean,
): string[] {
  const aud = audienceList(claims.aud);
  if (aud === undefined) throw claimMalformed('aud');
  if (audiences && !(allowEmpty && aud.length === 0) && !aud.some((a) => audiences.includes(a)))
    throw refuse('aud_mismatch', 'The access token is meant for another audience', 'aud');
  return aud;
}

/** `exp`, `nbf` and `iat` (seconds) against `now` (ms), with `toleranceSeconds` of skew. */
export function checkTimes(
  claims: Record<string, unknown>,
  now: number,
  toleranceSeconds: number,
): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
      throw claimMalformed(name);
  }
  const tolerance = toleranceSeconds * 1000;
  if (typeof claims.exp === 'number' && now >= claims.exp * 1000 + tolerance)
    throw new TokenExpiredError();
  if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now + tolerance)
    throw refuse('not_yet_valid', 'The access token is not valid yet (nbf)', 'nbf');
  if (typeof claims.iat === 'number' && claims.iat * 1000 > now + tolerance)
    throw refuse('iat_in_future', 'The access token was issued in the future (iat)', 'iat');
}

/**
 * Claims that only an OpenID Connect ID token carries: `nonce` (OIDC Core §2), `at_hash` and
 * `c_hash` (§3.1.3.6, §3.3.2.11), `s_hash` (FAPI 1.0 Advanced §5.1). An access token has no
 * use for any of them.
 */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;

/**
 * Where providers name the client an access token was issued to: `client_id` (RFC 9068 §2.2,
 * Zitadel, LemonLDAP::NG), `azp` (Keycloak, Auth0, Entra v2), `appid` (Entra v1), `cid` (Okta).
 * An ID token names its client in `aud`, and at most in `azp`.
 */
const CLIENT_CLAIMS = ['client_id', 'azp', 'appid', 'cid'] as const;

/**
 * What a provider's own kind marker says: Keycloak's payload `typ` (`Bearer`, `ID`, `Refresh`,
 * `Offline`, `Logout`) or Amazon Cognito's `token_use` (`access`, `id`). Unknown values say
 * nothing, so other providers' uses of a `typ` claim are left alone.
 */
function declaredKind(
  claims: Record<string, unknown>,
): { kind: 'access' | 'id' | 'other'; claim: string } | undefined {
  if (typeof claims.typ === 'string') {
    const typ = claims.typ.toLowerCase();
    if (typ === 'bearer' || typ === 'dpop') return { kind: 'access', claim: 'typ' };
    if (typ === 'id') return { kind: 'id', claim: 'typ' };
    if (typ === 'refresh' || typ === 'offline' || typ === 'logout')
      return { kind: 'other', claim: 'typ' };
  }
  if (typeof claims.token_use === 'string') {
    const use = claims.token_use;
    return {
      kind: use === 'access' ? 'access' : use === 'id' ? 'id' : 'other',
      claim: 'token_use',
    };
  }
  return undefined;
}

/**
 * Keeps ID tokens (and other kinds) out, whatever their header says (RFC 8725 §3.11–3.12: the
 * kinds of JWT an issuer signs must not be taken for one another). Refused: a provider's own
 * marker of another kind; an ID-token-only claim; and, when `requireClient` (tokens that are not
 * RFC 9068 typed), a token that names no client, as ID tokens of Entra, Okta and Auth0 do.
 * Keycloak before 24 copied the request's `nonce` into access tokens that say `typ: Bearer`:
 * that explicit marker outweighs the `nonce`.
 */
export function checkNotIdToken(claims: Record<string, unknown>, requireClient: boolean): void {
  const declared = declaredKind(claims);
  if (declared?.kind === 'id')
    throw refuse(
      'id_token',
      `The token is an ID token ("${declared.claim}" claim), not an access token`,
      declared.claim,
    );
  if (declared?.kind === 'other')
    throw refuse(
      'not_access_token',
      `The token is not an access token ("${declared.claim}" claim)`,
      declared.claim,
    );
  for (const name of ID_TOKEN_CLAIMS) {
    if (claims[name] === undefined) continue;
    if (name === 'nonce' && declared?.kind === 'access') continue;
    throw refuse(
      'id_token',
      `The token is an ID token ("${name}" claim), not an access token`,
      name,
    );
  }
  if (
    requireClient &&
    declared?.kind !== 'access' &&
    !CLIENT_CLAIMS.some((name) => typeof claims[name] === 'string')
  ) {
    throw refuse(
      'claim_missing',
      'The access token names no client ("client_id", "azp", "appid" or "cid"), as an ID token would',
      'client_id',
    );
  }
}

/** A `token_type` that names an access token (RFC 6750 bearer, RFC 9449 DPoP), any case. */
export function isAccessTokenType(value: unknown): boolean {
  return typeof value === 'string' && /^(bearer|dpop)$/i.test(value);
}
