import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { OIDC_BEARER_STRATEGY } from '../oidc-resource.constants.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { TokenValidationService } from '../services/token-validation.service.js';

/** Where the guard leaves the token it extracted, for the strategy to pick up. */
export const EXTRACTED_TOKEN = Symbol('nestjs-oidc-resource:token');

/**
 * The passport-http-bearer strategy, registered as `oidc-resource-bearer`.
 *
 * passport-http-bearer's own extraction reads `access_token` from the body and the query and
 * refuses the legal `Bearer␠␠token` form, and it cannot see a second `Authorization` field.
 * The guard therefore extracts the token strictly (RFC 6750 §2) and hands the strategy a
 * normalised header; passport-http-bearer then runs its usual verify/success/fail protocol.
 */
@Injectable()
export class OidcBearerStrategy extends PassportStrategy(BearerStrategy, OIDC_BEARER_STRATEGY) {
  constructor(private readonly tokens: TokenValidationService) {
    super({ passReqToCallback: false });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override authenticate(req: any, options?: object): void {
    const token = (req as { [EXTRACTED_TOKEN]?: string })[EXTRACTED_TOKEN];
    super.authenticate({ headers: token === undefined ? {} : { authorization: `Bearer ${token}` } } as never, options);
  }

  /** Called by passport with the bearer token; errors reach the guard unchanged. */
  validate(token: string): Promise<AuthenticatedPrincipal> {
    return this.tokens.validate(token);
  }
}
