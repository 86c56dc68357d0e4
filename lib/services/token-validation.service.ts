import { Injectable } from '@nestjs/common';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { CachingVerifier } from '../token/caching-verifier.js';
import { BEARER_PRESENTATION, type TokenPresentation } from '../token/presentation.js';

/**
 * Validates access tokens: JWTs (RFC 9068) locally against the issuer's JWKS, opaque tokens
 * through RFC 7662 introspection. Results are cached by token hash until, at the latest, the
 * token expires; concurrent validations of one uncached token share one verification or call.
 *
 * @example
 * const principal = await tokens.validate(rawToken); // throws OidcResourceError
 */
@Injectable()
export class TokenValidationService {
  constructor(private readonly verifier: CachingVerifier) {}

  /**
   * Validates an access token and returns its principal.
   *
   * `presentation` says how the request sent the token; by default a bearer token, so a
   * sender-constrained (DPoP- or certificate-bound) token is refused unless the caller passes
   * the verified proof key or certificate thumbprint. The guard does this for HTTP requests.
   * @throws OidcResourceError — `invalid_token`, `token_expired`, `token_inactive`,
   *   `invalid_request`, or `issuer_unavailable` (never reported as an invalid token).
   */
  validate(
    token: string,
    presentation: TokenPresentation = BEARER_PRESENTATION,
  ): Promise<AuthenticatedPrincipal> {
    // Not async: the hit path stays exactly as short as the verifier makes it.
    return this.verifier.principal(token, presentation);
  }

  /**
   * The principal of a token whose accepted verdict is already in this process's memory cache,
   * synchronously, after the checks {@link validate} makes on such a hit (expiry against the
   * clock, sender constraint with `presentation`). `undefined` whenever {@link validate} has to
   * decide (not in memory, a cached refusal, expired, a binding the presentation does not
   * prove…), which then answers exactly as it would have: nothing is counted or logged for an
   * `undefined`. For callers on the per-request path that can then skip a promise.
   */
  cachedPrincipal(
    token: string,
    presentation: TokenPresentation = BEARER_PRESENTATION,
  ): AuthenticatedPrincipal | undefined {
    return this.verifier.cachedPrincipal(token, presentation);
  }
}
