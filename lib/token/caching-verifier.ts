import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULTS,
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_RESOLVED_OPTIONS,
} from '../oidc-resource.constants.js';
import { InvalidRequestError, TokenExpiredError } from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { IssuerRegistry } from '../issuers/issuer-registry.js';
import { TokenCacheService } from '../services/token-cache.service.js';
import { refuse } from '../utils/claim-rules.js';
import type { Clock } from '../utils/clock.js';
import { isExpired, materializePrincipal, type PrincipalSnapshot } from '../utils/principal.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { SingleFlight } from '../utils/single-flight.js';
import {
  countValidation,
  recordSubject,
  sourceOf,
  type CacheTier,
} from '../observability/validation-metrics.js';
import { AccessTokenVerifier } from './access-token-verifier.js';
import { errorFor, isCachedOutcome, refusalFor, type CachedOutcome } from './cached-outcome.js';
import { toSnapshot } from './snapshot.js';
import {
  BEARER_PRESENTATION,
  checkSenderConstraint,
  type TokenPresentation,
} from './presentation.js';

/**
 * Remembers verdicts in front of the verifier it wraps: the memory tier, then the shared stores,
 * then one verification per token however many requests wait for it. Valid tokens are kept until,
 * at the latest, they expire; refusals for `cache.negativeTtl`; outages never.
 */
@Injectable()
export class CachingVerifier {
  private readonly flight = new SingleFlight<CachedOutcome>();
  /** Vets outcomes read back from shared stores: only this API's issuers may have vouched. */
  private readonly acceptCached = (value: unknown): value is CachedOutcome =>
    isCachedOutcome(value, (issuer) => this.issuers.known(issuer) !== undefined);

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly cache: TokenCacheService,
    private readonly verifier: AccessTokenVerifier,
    private readonly issuers: IssuerRegistry,
  ) {}

  /**
   * The principal of a token, from the cache when it can be. `presentation` is how the request
   * sent it: a sender-constrained token is accepted only when the request proves its binding,
   * checked on every call (the binding belongs to the request, not to the cached verdict).
   */
  async principal(
    token: string,
    presentation: TokenPresentation = BEARER_PRESENTATION,
  ): Promise<AuthenticatedPrincipal> {
    if (typeof token !== 'string' || token.length === 0) {
      throw new InvalidRequestError('The access token is empty', { reason: 'empty_token' });
    }
    if (token.length > this.options.maxTokenLength) {
      throw refuse('too_long', 'The access token is too long');
    }
    const key = TokenCacheService.keyFor('token', token);
    // A memory hit is read synchronously: no await before the answer on the hot path.
    let tier: CacheTier = 'memory';
    let outcome = this.cache.peek<CachedOutcome>(key);
    try {
      if (!outcome) {
        tier = 'shared';
        outcome = await this.cache.getShared(key, this.acceptCached);
      }
      if (!outcome) {
        tier = 'miss';
        outcome = await this.flight.run(key, () =>
          this.cache.coalesce(key, token, () => this.verifyAndCache(token, key), this.acceptCached),
        );
      }
      if (!outcome.ok) throw errorFor(outcome);
      const { principal } = outcome;
      if (isExpired(principal, this.clock(), this.toleranceOf(principal))) {
        void this.cache.delete(key);
        throw new TokenExpiredError();
      }
      checkSenderConstraint(principal, presentation, this.options);
    } catch (error) {
      countValidation(error, sourceOf(token), tier);
      throw error;
    }
    return this.accepted(outcome.principal, token, tier);
  }

  /**
   * The principal of a token whose accepted verdict is in the memory tier and passes every check
   * {@link principal} makes (expiry against the clock, sender constraint), synchronously: for
   * callers that can then answer without a promise. `undefined` in every other case (not in
   * memory, a cached refusal, expired, a binding the presentation does not prove, a malformed
   * token), and then nothing was counted, logged or deleted: {@link principal} decides those,
   * exactly as it would have.
   */
  cachedPrincipal(
    token: string,
    presentation: TokenPresentation = BEARER_PRESENTATION,
  ): AuthenticatedPrincipal | undefined {
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > this.options.maxTokenLength
    )
      return undefined;
    const outcome = this.cache.peek<CachedOutcome>(TokenCacheService.keyFor('token', token));
    if (outcome === undefined || !outcome.ok) return undefined;
    const { principal } = outcome;
    if (isExpired(principal, this.clock(), this.toleranceOf(principal))) return undefined;
    try {
      checkSenderConstraint(principal, presentation, this.options);
    } catch {
      return undefined; // principal() throws the same refusal, and counts it
    }
    return this.accepted(principal, token, 'memory');
  }

  /** The clock tolerance of the issuer that vouched (one map lookup, no await). */
  private toleranceOf(principal: PrincipalSnapshot): number {
    return this.issuers.known(principal.issuer)?.settings.clockTolerance ?? DEFAULTS.clockTolerance;
  }

  /** Counts an accepted token and builds the request's principal. */
  private accepted(
    principal: PrincipalSnapshot,
    token: string,
    tier: CacheTier,
  ): AuthenticatedPrincipal {
    countValidation('ok', principal.source, tier);
    if (this.options.telemetry.recordSubject) recordSubject(principal.sub);
    return materializePrincipal(principal, token);
  }

  private async verifyAndCache(token: string, key: string): Promise<CachedOutcome> {
    let outcome: CachedOutcome;
    try {
      const principal = toSnapshot(await this.verifier.verify(token));
      outcome = { ok: true, principal };
      const lifetime = principal.exp === undefined ? Infinity : principal.exp - this.clock();
      await this.cache.set(key, outcome, Math.min(this.options.cache.ttl, lifetime));
    } catch (error) {
      const refusal = refusalFor(error);
      if (!refusal) throw error; // issuer_unavailable and the like are never cached
      outcome = refusal;
      await this.cache.set(key, outcome, this.options.cache.negativeTtl);
    }
    return outcome;
  }
}
