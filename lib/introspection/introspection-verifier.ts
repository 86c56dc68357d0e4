import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { AccessTokenVerifier, type VerifiedToken } from '../token/access-token-verifier.js';
import type { Clock } from '../utils/clock.js';
import {
  checkAudience,
  checkIssuer,
  checkNotIdToken,
  checkTimes,
  isAccessTokenType,
  refuse,
} from '../utils/claim-rules.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { OpaqueTokenIntrospector } from './opaque-token-introspector.js';

/** Opaque tokens: the authorization server's answer, held to the same claim rules as a JWT's. */
@Injectable()
export class IntrospectionVerifier extends AccessTokenVerifier {
  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly introspector: OpaqueTokenIntrospector,
  ) {
    super();
  }

  async verify(token: string): Promise<VerifiedToken> {
    const { options } = this;
    const claims = await this.introspector.introspect(token);
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
    return { source: 'introspection', issuer: options.issuer, claims };
  }
}
