import { Injectable } from '@nestjs/common';
import { IntrospectionVerifier } from '../introspection/introspection-verifier.js';
import { IssuerRegistry } from '../issuers/issuer-registry.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { JwtVerifier } from '../jwt/jwt-verifier.js';
import { claimMissing, refuse } from '../utils/claim-rules.js';
import { decodeJsonSegment } from '../utils/jws.js';
import { AccessTokenVerifier, type VerifiedToken } from './access-token-verifier.js';

const JWS_SHAPE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;
const JWE_SHAPE =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Sends a token to the one issuer that can vouch for it, and to the right way of checking it.
 * A JWT goes to the issuer its (unverified) `iss` names, before anything is fetched: an issuer
 * this API does not trust costs no network call, and a token is only ever checked with its own
 * issuer's keys and settings. Two exceptions keep configuration mistakes visible as such: an
 * `iss` that is a listed issuer in another spelling goes to that issuer, whose checks refuse it
 * (or whose discovery reports the misspelt configuration); and with a single issuer, a JWT
 * without a usable `iss` goes to it, so that the first broken rule is the one reported.
 * Anything else is introspected at the issuers that introspect. Nothing here is a verdict on a
 * token's validity, only on where and how to check it.
 */
@Injectable()
export class TokenRouter extends AccessTokenVerifier {
  /** Issuers whose every token is introspected, JWT-shaped or not (`tokenFormat: 'opaque'`). */
  private readonly opaqueOnly: readonly TrustedIssuer[];
  /** Whether no issuer accepts anything but JWTs: other tokens are then malformed. */
  private readonly jwtOnly: boolean;

  constructor(
    private readonly issuers: IssuerRegistry,
    private readonly jwt: JwtVerifier,
    private readonly introspection: IntrospectionVerifier,
  ) {
    super();
    this.opaqueOnly = issuers.introspecting.filter((i) => i.settings.tokenFormat === 'opaque');
    this.jwtOnly =
      !issuers.hasResolver &&
      issuers.listed.every((issuer) => issuer.settings.tokenFormat === 'jwt');
  }

  async verify(token: string): Promise<VerifiedToken> {
    const jws = JWS_SHAPE.exec(token);
    const header = jws ? decodeJsonSegment(jws[1]!) : undefined;
    // A JSON-object header makes it a JWS (a broken one, without "alg", is refused locally).
    if (header) return this.verifyJws(token, header, jws![2]!);
    // An encrypted token can only be judged by an issuer that introspects every token.
    if (JWE_SHAPE.test(token) && this.opaqueOnly.length === 0) {
      const jweHeader = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      if (jweHeader && typeof jweHeader.enc === 'string') {
        throw refuse('encrypted', 'Encrypted (JWE) access tokens are not supported');
      }
    }
    return this.introspect(token);
  }

  private async verifyJws(
    token: string,
    header: Record<string, unknown>,
    payloadSegment: string,
  ): Promise<VerifiedToken> {
    const claims = decodeJsonSegment(payloadSegment);
    const iss = claims?.iss;
    const found = typeof iss === 'string' ? this.issuers.find(iss) : this.issuers.sole;
    let issuer = found instanceof Promise ? await found : found;
    if (!issuer && typeof iss === 'string') issuer = this.issuers.nearMiss(iss);
    if (issuer) {
      return issuer.settings.tokenFormat === 'opaque'
        ? this.introspection.verify(token, issuer)
        : this.jwt.verify(token, issuer, header, claims);
    }
    // An issuer that introspects every token may issue JWT-shaped handles that name no issuer
    // this API knows; they are its to judge.
    if (this.opaqueOnly.length > 0) return this.introspection.verifyAtAny(token, this.opaqueOnly);
    if (!claims) throw refuse('malformed', 'The access token is malformed');
    if (iss === undefined) throw claimMissing('iss');
    throw refuse('iss_mismatch', 'The access token was issued by another issuer', 'iss');
  }

  private introspect(token: string): Promise<VerifiedToken> {
    const candidates = this.issuers.introspecting;
    if (candidates.length > 0) return this.introspection.verifyAtAny(token, candidates);
    if (this.jwtOnly) throw refuse('malformed', 'The access token is malformed');
    throw refuse(
      'introspection_not_configured',
      'The access token is not a JWT, and introspection is not configured',
    );
  }
}
