import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import {
  InvalidRequestError,
  IssuerUnavailableError,
  OidcResourceError,
  TokenExpiredError,
  UserInfoFailedError,
  UserInfoNotPermittedError,
  UserInfoSubjectMismatchError,
} from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import { verifySignedJwt } from '../utils/jwt.js';
import { deepFreeze, isExpired, principalToken } from '../utils/principal.js';
import { IssuerRegistry } from '../issuers/issuer-registry.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { refuse } from '../utils/claim-rules.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import type { Clock } from '../utils/clock.js';
import { SingleFlight } from '../utils/single-flight.js';
import { TokenCacheService } from './token-cache.service.js';
import { TokenValidationService } from './token-validation.service.js';

/** A UserInfo answer as it may be used: a JSON object whose `sub` is the token's (OIDC Core §5.3.2). */
function isClaimsFor(value: unknown, sub: string): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (value as { sub?: unknown }).sub === sub
  );
}

/**
 * User details from the issuer's OIDC UserInfo endpoint, asked with the caller's own access
 * token. Responses are cached per token hash for `min(userInfo.ttl, exp − now)` in the token
 * cache's stores, and concurrent calls for one token share one request.
 *
 * @see OpenID Connect Core 1.0 §5.3
 * @example
 * @Get('me/profile') profile(@CurrentUser() user: AuthenticatedPrincipal) {
 *   return this.userInfo.getUserInfo(user);
 * }
 */
@Injectable()
export class UserInfoService {
  private readonly flight = new SingleFlight<Record<string, unknown>>();

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly issuers: IssuerRegistry,
    private readonly cache: TokenCacheService,
    private readonly tokens: TokenValidationService,
  ) {}

  /**
   * The UserInfo claims for a principal from `@CurrentUser()`, or for a raw access token
   * (validated first) in code outside a request.
   *
   * @throws OidcResourceError — `userinfo_not_permitted` (403, `scope="openid"`) when UserInfo
   *   refuses a token this API accepted; `userinfo_subject_mismatch` (502) when it answers for
   *   another `sub`; `userinfo_failed` (502) when it answers another 4xx (400, 404…), or a
   *   signed answer for a token that names no client (its `aud` cannot be checked);
   *   `issuer_unavailable` (503) when it is down, answers 5xx, or answers junk;
   *   `userinfo_not_permitted` too when the token has no `sub` (UserInfo needs a user-bound token),
   *   and for a sender-constrained token (`cnf`), which is never sent on as a bearer token.
   */
  async getUserInfo(
    principalOrToken: AuthenticatedPrincipal | string,
  ): Promise<Record<string, unknown>> {
    let principal: AuthenticatedPrincipal;
    let token: string | undefined;
    if (typeof principalOrToken === 'string') {
      token = principalOrToken;
      principal = await this.tokens.validate(token);
    } else {
      principal = principalOrToken;
      token = principal ? principalToken(principal) : undefined;
      if (token === undefined) {
        throw new InvalidRequestError(
          'UserInfo needs a principal from @CurrentUser() or TokenValidationService, or a raw access token',
        );
      }
    }
    // Only the issuer that vouched for the token is shown it.
    const found = this.issuers.find(principal.issuer);
    const issuer = found instanceof Promise ? await found : found;
    if (!issuer)
      throw refuse('iss_mismatch', 'The access token was issued by another issuer', 'iss');
    const exp = principal.expiresAt?.getTime();
    // Same rule as TokenValidationService: a principal kept past its token's expiry gets no claims.
    if (isExpired({ exp }, this.clock(), issuer.settings.clockTolerance))
      throw new TokenExpiredError();
    if (!principal.sub) {
      // Not a malformed request: the token is fine for this API but is not a user's token.
      throw new UserInfoNotPermittedError(
        'UserInfo needs a user-bound access token (this token has no "sub")',
      );
    }
    if (principal.claims.cnf !== undefined) {
      // A bound token would go out as a bearer token, which RFC 9449 §7.2 forbids: this API
      // cannot prove possession of the client's key (or certificate) to the provider.
      throw new UserInfoNotPermittedError(
        'UserInfo cannot be called with a sender-constrained (DPoP or certificate-bound) token',
      );
    }
    const key = TokenCacheService.keyFor('userinfo', token);
    const sub = principal.sub;
    // A shared store can hand back anything (another writer, corruption): only claims for this
    // token's subject count, as for a fresh answer. The memory tier holds only checked answers.
    const cached =
      this.cache.peek<Record<string, unknown>>(key) ??
      (await this.cache.getShared(key, (value) => isClaimsFor(value, sub)));
    if (cached !== undefined) return cached;
    const clientId = principal.clientId;
    return this.flight.run(key, async () => {
      const claims = await this.fetch(issuer, token, sub, clientId);
      const lifetime = exp === undefined ? Infinity : exp - this.clock();
      await this.cache.set(key, claims, Math.min(this.options.userInfo.ttl, lifetime));
      return claims;
    });
  }

  private async fetch(
    issuer: TrustedIssuer,
    token: string,
    sub: string,
    clientId: string | undefined,
  ): Promise<Record<string, unknown>> {
    const endpoint = await issuer.getUserInfoEndpoint();
    const response = await httpCall(
      'UserInfo',
      endpoint,
      {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json, application/jwt' },
      },
      this.options.httpTimeout,
    );
    if (response.status === 401 || response.status === 403) {
      throw new UserInfoNotPermittedError(
        'The UserInfo endpoint does not accept this access token (it needs the openid scope, and some providers refuse tokens issued for an API audience)',
      );
    }
    const status = response.status;
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // A 400 or 404 (one provider's answer for a token without a user) will not change on a
      // retry, so it is not reported as an outage; 408 and 429 are transient and are.
      throw new UserInfoFailedError(
        `UserInfo: the authorization server refused the request with HTTP ${status}`,
        { url: endpoint },
      );
    }
    if (status !== 200) {
      throw new IssuerUnavailableError(
        `UserInfo: the authorization server answered HTTP ${response.status}`,
        {
          url: endpoint,
          ...(response.retryAfter !== undefined ? { retryAfter: response.retryAfter } : {}),
        },
      );
    }
    let claims: Record<string, unknown>;
    if (response.contentType.startsWith('application/jwt')) {
      if (!clientId) {
        // OIDC Core §5.3.2: a signed answer's aud is the client it was issued to. With no
        // client named by the token any aud would pass, so it could be meant for anyone.
        throw new UserInfoFailedError(
          'UserInfo: the answer is signed, but the access token names no client (client_id or azp) to check its aud against',
          { url: endpoint },
        );
      }
      claims = await this.verifySigned(issuer, response.text.trim(), clientId, endpoint);
    } else {
      claims = parseJsonObject('UserInfo', response.text, endpoint);
    }
    // OIDC Core §5.3.2: the sub in the response MUST match the token's, or it MUST NOT be used.
    if (claims.sub !== sub) throw new UserInfoSubjectMismatchError();
    return deepFreeze(claims);
  }

  /** A signed UserInfo response (OIDC Core §5.3.2): issuer's keys, `iss`, and `aud` = the client. */
  private async verifySigned(
    issuer: TrustedIssuer,
    jwt: string,
    clientId: string,
    url: string,
  ): Promise<Record<string, unknown>> {
    try {
      const settings = issuer.settings;
      return await verifySignedJwt(jwt, (header) => issuer.keys.getKey(header), {
        issuer: settings.issuer,
        // §5.3.2: iss and aud MUST be present; aud MUST include the client the token was issued to.
        requiredClaims: ['iss', 'aud'],
        audience: clientId,
        algorithms: settings.algorithms,
        clockTolerance: settings.clockTolerance,
        now: this.clock(),
      });
    } catch (error) {
      if (error instanceof IssuerUnavailableError) throw error;
      throw new IssuerUnavailableError(
        `UserInfo: the signed response could not be verified${error instanceof OidcResourceError ? ` (${error.message})` : ''}`,
        { cause: error, url },
      );
    }
  }
}
