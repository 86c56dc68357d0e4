import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import {
  OIDC_BEARER_STRATEGY,
  TOKEN_PRESENTATION,
  TOKEN_VALIDATOR,
} from '../oidc-resource.constants.js';
import type { TokenPresentation } from '../token/presentation.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { TokenValidationService } from '../services/token-validation.service.js';

interface StrategyRequest {
  [TOKEN_VALIDATOR]?: TokenValidationService;
  [TOKEN_PRESENTATION]?: TokenPresentation;
}

/**
 * The passport-http-bearer strategy, registered as `oidc-resource-bearer`.
 *
 * passport-http-bearer's own extraction reads `access_token` from the body and the query and
 * refuses the legal `Bearer␠␠token` form, and it cannot see a second `Authorization` field.
 * The guard therefore extracts the token strictly (RFC 6750 §2) and hands passport a small
 * request view holding only a normalised `Authorization: Bearer <token>` header;
 * passport-http-bearer then parses it and runs its usual verify/success/fail protocol unchanged.
 */
@Injectable()
export class OidcBearerStrategy extends PassportStrategy(BearerStrategy, OIDC_BEARER_STRATEGY) {
  constructor(private readonly tokens: TokenValidationService) {
    super({ passReqToCallback: true });
  }

  /**
   * Called by passport with the guard's request view and the bearer token; errors reach the
   * guard unchanged. The token is checked by the calling guard's own validation service, with
   * the request's presentation (its scheme and verified DPoP key or certificate), when the guard
   * gave one; otherwise as a bearer token.
   */
  validate(req: StrategyRequest, token: string): Promise<AuthenticatedPrincipal> {
    return (req[TOKEN_VALIDATOR] ?? this.tokens).validate(token, req[TOKEN_PRESENTATION]);
  }
}
