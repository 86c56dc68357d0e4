import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { decodeJsonSegment } from '../utils/jws.js';
import type { ConfiguredIssuer } from '../observability/configured-issuers.js';
import type { DoctorFinding } from './types.js';

/** What a token says about itself, decoded without any check: only to explain a refusal. */
export interface Unverified {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

export function peek(token: string): Unverified {
  const parts = token.split('.');
  if (parts.length !== 3) return {};
  const header = decodeJsonSegment(parts[0]!);
  const claims = decodeJsonSegment(parts[1]!);
  return { ...(header ? { header } : {}), ...(claims ? { claims } : {}) };
}

/** "1 h 5 min", "42 s". */
export function duration(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 120) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} days`;
}

/** An ID token's tell-tale signs: claims only OIDC ID tokens carry, or a provider's own marker. */
function looksLikeIdToken(claims: Record<string, unknown> | undefined): boolean {
  if (!claims) return false;
  if (['nonce', 'at_hash', 'c_hash', 's_hash'].some((n) => claims[n] !== undefined)) return true;
  return claims.typ === 'ID' || claims.token_use === 'id';
}

const shown = (value: unknown): string => (JSON.stringify(value) ?? 'nothing').slice(0, 200);
const audList = (aud: unknown): string[] =>
  typeof aud === 'string'
    ? [aud]
    : Array.isArray(aud)
      ? aud.filter((a): a is string => typeof a === 'string')
      : [];

const ID_TOKEN: Omit<DoctorFinding, 'check' | 'code' | 'reason'> = {
  status: 'fail',
  summary: 'This is an ID token, not an access token',
  detail:
    'The client sent the "id_token" of its token response; an API must receive the "access_token". The ID token tells the client who signed in; it is not meant for APIs (its audience is the client). No option here should accept it: fix the client.',
};

/**
 * Plain words for a refusal by the library's own validation, naming the option to change.
 * The token is never part of the text; values of its claims may be.
 */
export function explainRefusal(
  error: unknown,
  token: Unverified,
  options: ConfiguredIssuer,
  now: number,
): Omit<DoctorFinding, 'check'> {
  if (!(error instanceof OidcResourceError)) {
    return {
      status: 'fail',
      summary: 'The validation failed unexpectedly',
      detail: error instanceof Error ? error.name : 'unknown error',
    };
  }
  const base = { code: error.code, ...(error.reason ? { reason: error.reason } : {}) };
  const { header, claims } = token;
  const said = `The library says: "${error.message}".`;
  if (error.code === 'issuer_unavailable') {
    return {
      ...base,
      status: 'fail',
      summary: 'The token could not be checked: the authorization server is not usable',
      detail: `${error.message}. See the discovery and JWKS findings.`,
    };
  }
  if (error.code === 'token_expired') {
    const exp = typeof claims?.exp === 'number' ? claims.exp : undefined;
    const ago = exp !== undefined ? now / 1000 - exp : undefined;
    const detail =
      ago === undefined
        ? 'Get a fresh token.'
        : `It expired ${duration(ago)} ago (exp ${new Date(exp! * 1000).toISOString()}, clockTolerance ${options.clockTolerance} s). ` +
          (ago < 300
            ? "Only just: if tokens seem to expire early, this machine's clock may be ahead; clockTolerance allows some skew."
            : 'Get a fresh token; the client should renew tokens before they expire.');
    return {
      ...base,
      status: 'fail',
      summary:
        ago === undefined ? 'The token has expired' : `The token expired ${duration(ago)} ago`,
      detail,
      ...(ago !== undefined && ago < 300 ? { option: 'clockTolerance' } : {}),
    };
  }
  switch (error.reason) {
    case 'id_token':
      return { ...base, ...ID_TOKEN };
    case 'typ_not_accepted': {
      if (looksLikeIdToken(claims)) return { ...base, ...ID_TOKEN };
      return {
        ...base,
        status: 'fail',
        summary: `The token's "typ" header is ${shown(header?.typ)}, and requireJwtAccessTokenType (default true) asks for "at+jwt" (RFC 9068)`,
        detail:
          'Many providers (Keycloak, Auth0, Entra) issue access tokens typed "JWT". Set requireJwtAccessTokenType: false; ID tokens stay refused by their claims.',
        option: 'requireJwtAccessTokenType',
        suggestion: false,
      };
    }
    case 'aud_mismatch': {
      const aud = audList(claims?.aud);
      return {
        ...base,
        status: 'fail',
        summary: `The token's "aud" is ${shown(claims?.aud)}, but audience is ${shown(options.audiences)}`,
        detail: `The token was issued for another API. If it is meant for this one, set audience to the value the provider puts in "aud"${aud[0] ? ` (${shown(aud[0])})` : ''}; otherwise the client must ask for a token for this API (resource / audience parameter, or Keycloak's audience mapper).`,
        option: 'audience',
        ...(aud[0] ? { suggestion: aud[0] } : {}),
      };
    }
    case 'iss_mismatch':
      return wrongIssuer(base, claims, options, said);
    case 'kid_unknown':
    case 'signature_invalid':
      if (typeof claims?.iss === 'string' && claims.iss !== options.issuer)
        return wrongIssuer(base, claims, options, said);
      return {
        ...base,
        status: 'fail',
        summary: "No key of the issuer verifies the token's signature",
        detail: `${said} The token claims the right issuer but is signed with a key its JWKS does not hold: it was forged, altered, or signed before a key rotation long ago.`,
        option: 'jwksUri',
      };
    case 'alg_not_allowed':
      return {
        ...base,
        status: 'fail',
        summary: `The token is signed with ${shown(header?.alg)}, which algorithms (${options.algorithms.join(', ')}) does not allow`,
        detail:
          typeof header?.alg === 'string' && /^(RS|PS|ES)\d{3}$|^EdDSA$/.test(header.alg)
            ? `Add ${shown(header.alg)} to algorithms if the provider signs with it.`
            : '"none" and HMAC algorithms are never accepted: this token must not be trusted.',
        option: 'algorithms',
        ...(typeof header?.alg === 'string' && /^(RS|PS|ES)\d{3}$|^EdDSA$/.test(header.alg)
          ? { suggestion: [...options.algorithms, header.alg] }
          : {}),
      };
    case 'claim_missing':
      if (looksLikeIdToken(claims)) return { ...base, ...ID_TOKEN };
      return {
        ...base,
        status: 'fail',
        summary: `The token has no "${error.claim}" claim`,
        detail: options.requireJwtAccessTokenType
          ? `${said} RFC 9068 requires iss, aud, exp, iat, sub, client_id and jti; requireJwtAccessTokenType: false requires only iss, exp and aud.`
          : said,
        ...(options.requireJwtAccessTokenType
          ? { option: 'requireJwtAccessTokenType', suggestion: false }
          : {}),
      };
    case 'inactive':
      return {
        ...base,
        status: 'fail',
        summary: 'The authorization server says the token is not active',
        detail:
          'It has expired or was revoked, or it was issued by another server than the one introspecting it.',
      };
    case 'untyped_introspection':
      return {
        ...base,
        status: 'fail',
        summary: 'The introspection answer has neither "aud" nor "token_type"',
        detail: `${said} Some providers (LemonLDAP::NG) never send them; introspection.allowUntypedResponses: true accepts such answers, safe only if the provider never reports refresh tokens as active.`,
        option: 'introspection.allowUntypedResponses',
      };
    case 'introspection_not_configured':
      return {
        ...base,
        status: 'fail',
        summary: 'The token is not a JWT, and introspection is not configured',
        detail:
          'Opaque tokens are checked by asking the authorization server: set introspection.clientId and clientSecret (a client allowed to introspect).',
        option: 'introspection',
      };
    default:
      return { ...base, status: 'fail', summary: error.message };
  }
}

function wrongIssuer(
  base: { code: string; reason?: string },
  claims: Record<string, unknown> | undefined,
  options: ConfiguredIssuer,
  said: string,
): Omit<DoctorFinding, 'check'> {
  return {
    ...base,
    status: 'fail',
    summary: `The token was issued by ${shown(claims?.iss)}, not by the configured issuer ${shown(options.issuer)}`,
    detail: `${said} Either the client gets its tokens from another server (or realm) than this API trusts, or the issuer option is wrong. Set issuer to the token's "iss" only if this API should trust that server.`,
    option: 'issuer',
    ...(typeof claims?.iss === 'string' ? { suggestion: claims.iss } : {}),
  };
}
