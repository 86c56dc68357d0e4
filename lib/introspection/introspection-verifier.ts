import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK } from '../oidc-resource.constants.js';
import {
  IssuerUnavailableError,
  OidcResourceError,
  TokenInactiveError,
} from '../errors/oidc-resource.error.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import type { IssuerTokenVerifier, VerifiedToken } from '../token/access-token-verifier.js';
import type { Clock } from '../utils/clock.js';
import {
  checkAudience,
  checkIssuer,
  checkNotIdToken,
  checkTimes,
  isAccessTokenType,
  refuse,
} from '../utils/claim-rules.js';
import { OpaqueTokenIntrospector } from './opaque-token-introspector.js';

/** Opaque tokens: the authorization server's answer, held to the same claim rules as a JWT's. */
@Injectable()
export class IntrospectionVerifier implements IssuerTokenVerifier {
  constructor(
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly introspector: OpaqueTokenIntrospector,
  ) {}

  /**
   * Asks each issuer in turn until one answers `active: true`; that issuer's answer decides,
   * refusal included (the token is its token). Inactive everywhere is `token_inactive`; when an
   * issuer could not answer and none claimed the token, the failed one might have: 503.
   */
  async verifyAtAny(token: string, issuers: readonly TrustedIssuer[]): Promise<VerifiedToken> {
    if (issuers.length === 1) return this.verify(token, issuers[0]!);
    let unavailable: OidcResourceError | undefined;
    let inactive: OidcResourceError | undefined;
    let refused: OidcResourceError | undefined;
    for (const issuer of issuers) {
      let claims: Record<string, unknown>;
      try {
        claims = await this.introspector.introspect(token, issuer);
      } catch (error) {
        if (error instanceof IssuerUnavailableError) unavailable ??= error;
        else if (error instanceof TokenInactiveError) inactive ??= error;
        else if (error instanceof OidcResourceError && error.code === 'invalid_token')
          refused ??= error; // e.g. "this server does not introspect such tokens"
        else throw error;
        continue;
      }
      return this.check(claims, issuer);
    }
    throw unavailable ?? inactive ?? refused ?? new TokenInactiveError();
  }

  async verify(token: string, issuer: TrustedIssuer): Promise<VerifiedToken> {
    return this.check(await this.introspector.introspect(token, issuer), issuer);
  }

  private check(claims: Record<string, unknown>, issuer: TrustedIssuer): VerifiedToken {
    const options = issuer.settings;
    if (claims.token_type !== undefined && !isAccessTokenType(claims.token_type)) {
      throw refuse(
        'not_access_token',
        'The token is not an access token ("token_type" claim)',
        'token_type',
      );
    }
    checkNotIdToken(claims, false);
    checkTimes(claims, this.clock(), options.clockTolerance);
    checkIssuer(claims, options.issuer);
    const aud = checkAudience(claims, options.audiences, true);
    if (
      aud.length === 0 &&
      !isAccessTokenType(claims.token_type) &&
      !options.introspection?.allowUntypedResponses
    ) {
      // An active answer without an audience or a type may describe a refresh token: RFC 7662
      // makes both optional, and a refresh token is active too. Opt-in for providers that send
      // neither for their access tokens (LemonLDAP::NG) and report refresh tokens inactive.
      throw refuse(
        'untyped_introspection',
        'The token has no audience and is not typed as an access token',
      );
    }
    return { source: 'introspection', issuer: options.issuer, settings: options, claims };
  }
}
