import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK } from '../oidc-resource.constants.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';
import type { IssuerTokenVerifier, VerifiedToken } from '../token/access-token-verifier.js';
import {
  checkAudience,
  checkIssuer,
  checkNotIdToken,
  checkTimes,
  claimMissing,
  refuse,
} from '../utils/claim-rules.js';
import type { Clock } from '../utils/clock.js';
import { decodeJsonSegment, parseCompactJws, verifyJwsSignature } from '../utils/jws.js';

const RFC9068_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'];

const malformed = () => refuse('malformed', 'The access token is malformed');
const algNotAllowed = () =>
  refuse('alg_not_allowed', 'The access token is signed with an algorithm that is not allowed');

function normalizeTyp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  // RFC 7515 §4.1.9: a typ without "/" means "application/" + typ.
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * JWT access tokens (RFC 9068, RFC 8725) of one issuer: the header (allowed `alg`, no `crit`,
 * `typ`), the signature with that issuer's key, then the claims under that issuer's settings.
 * The signature is checked with synchronous `node:crypto` (see utils/jws.ts for why not jose's
 * WebCrypto path).
 */
@Injectable()
export class JwtVerifier implements IssuerTokenVerifier {
  constructor(@Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock) {}

  /**
   * @param decodedHeader the header, when the caller already decoded it to pick this verifier
   * @param decodedClaims the payload, when the caller already decoded it to pick the issuer
   */
  async verify(
    token: string,
    issuer: TrustedIssuer,
    decodedHeader?: Record<string, unknown>,
    decodedClaims?: Record<string, unknown>,
  ): Promise<VerifiedToken> {
    const options = issuer.settings;
    const jws = parseCompactJws(token, decodedHeader);
    if (!jws) {
      // An unsecured JWT (alg "none", empty signature) is named as such: the usual forgery.
      const alg = (
        decodedHeader ?? decodeJsonSegment(token.slice(0, Math.max(0, token.indexOf('.'))))
      )?.alg;
      throw typeof alg === 'string' && !options.algorithms.includes(alg)
        ? algNotAllowed()
        : malformed();
    }
    const { header } = jws;
    const alg = header.alg;
    if (typeof alg !== 'string') throw malformed();
    if (!options.algorithms.includes(alg)) throw algNotAllowed();
    if (header.crit !== undefined) {
      // RFC 7515 §4.1.11: extensions this library does not understand must be refused.
      throw refuse('crit_not_supported', 'The access token uses an unsupported JOSE feature');
    }
    const strict = options.requireJwtAccessTokenType;
    checkType(header.typ, strict);
    const key = await issuer.keys.getKey({
      alg,
      ...(header.kid !== undefined ? { kid: header.kid as string } : {}),
    });
    if (!verifyJwsSignature(alg, key, jws.signingInput, jws.signature)) {
      throw refuse('signature_invalid', 'The access token signature is invalid');
    }
    // The same bytes as the signed ones: decoding them again would give the same claims.
    const claims = decodedClaims ?? decodeJsonSegment(jws.payloadSegment);
    if (!claims) throw malformed();
    this.checkClaims(claims, options);
    return { source: 'jwt', issuer: options.issuer, settings: options, header, claims };
  }

  /**
   * RFC 7519 §4.1 and RFC 9068 §2.2: presence, issuer, audience, times, and the token's kind
   * (never an ID token).
   */
  private checkClaims(claims: Record<string, unknown>, options: ResolvedIssuerOptions): void {
    const strict = options.requireJwtAccessTokenType;
    const required = strict
      ? RFC9068_CLAIMS
      : ['iss', 'exp', ...(options.audiences ? ['aud'] : [])];
    for (const name of required) {
      if (claims[name] === undefined) throw claimMissing(name);
    }
    // The kind first: "this is an ID token" explains a refusal better than its audience does.
    checkNotIdToken(claims, !strict);
    checkTimes(claims, this.clock(), options.clockTolerance);
    checkIssuer(claims, options.issuer);
    checkAudience(claims, options.audiences, false);
  }
}

function checkType(typ: unknown, strict: boolean): void {
  const kind = normalizeTyp(typ);
  if (typ !== undefined && kind === undefined) throw malformed();
  if (strict && kind !== 'at+jwt') {
    // RFC 9068 §4. The message names the setting, since plain "JWT" access tokens are common.
    throw refuse(
      'typ_not_accepted',
      'The access token\'s "typ" header is not "at+jwt" (RFC 9068); requireJwtAccessTokenType: false accepts plain "JWT" access tokens',
    );
  }
  if (!strict && kind !== undefined && kind !== 'at+jwt' && kind !== 'jwt') {
    // RFC 8725 §3.11: a JWT typed as another kind (dpop+jwt, logout+jwt…) is not an access token.
    throw refuse(
      'typ_not_accepted',
      'The JWT\'s "typ" header names another kind of token than an access token',
    );
  }
}
