import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import type { Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { DynamicIssuers } from './dynamic-issuers.js';
import { TrustedIssuer } from './trusted-issuer.js';

/**
 * The issuers this API trusts: those listed in the options, then those `resolveIssuer` vouches
 * for. A token is checked only with the state of the one issuer it names.
 */
@Injectable()
export class IssuerRegistry {
  /** The listed issuers, in list order. */
  readonly listed: readonly TrustedIssuer[];
  /** The listed issuers that introspect opaque tokens, in list order. */
  readonly introspecting: readonly TrustedIssuer[];
  private readonly byIssuer: ReadonlyMap<string, TrustedIssuer>;
  /** The listed issuers by `spelling()`, for near misses. */
  private readonly bySpelling: ReadonlyMap<string, TrustedIssuer>;
  private readonly dynamic?: DynamicIssuers;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) clock: Clock,
  ) {
    this.listed = options.issuers.map((settings) => new TrustedIssuer(settings, options, clock));
    this.byIssuer = new Map(this.listed.map((trusted) => [trusted.issuer, trusted]));
    this.bySpelling = new Map(this.listed.map((trusted) => [spelling(trusted.issuer), trusted]));
    this.introspecting = this.listed.filter(
      (trusted) => trusted.settings.introspection && trusted.settings.tokenFormat !== 'jwt',
    );
    if (options.resolveIssuer) {
      this.dynamic = new DynamicIssuers(options.resolveIssuer, options, clock);
    }
  }

  /**
   * The issuer a token's (unverified) `iss` names, or `undefined` when this API does not trust
   * it. A listed issuer is answered synchronously; others go through `resolveIssuer`.
   * @throws IssuerUnavailableError when `resolveIssuer` fails
   */
  find(iss: string): TrustedIssuer | undefined | Promise<TrustedIssuer | undefined> {
    return this.byIssuer.get(iss) ?? this.dynamic?.resolve(iss);
  }

  /** A listed issuer, or one `resolveIssuer` trusts today (as remembered): no call is made. */
  known(issuer: string): TrustedIssuer | undefined {
    return this.byIssuer.get(issuer) ?? this.dynamic?.known(issuer);
  }

  /**
   * The listed issuer that `iss` names in another spelling: a trailing slash, or the loopback
   * host written differently. Such a token is that issuer's to refuse (its `iss` check does), and
   * when the configured value is the wrong spelling, that issuer's discovery says so (503 and a
   * log line with the hint) instead of every token being called invalid.
   */
  nearMiss(iss: string): TrustedIssuer | undefined {
    return this.bySpelling.get(spelling(iss));
  }

  /** The only issuer there can be: one listed and no resolver. */
  get sole(): TrustedIssuer | undefined {
    return this.listed.length === 1 && !this.dynamic ? this.listed[0] : undefined;
  }

  /** Whether issuers outside the list can be trusted. */
  get hasResolver(): boolean {
    return this.dynamic !== undefined;
  }
}

/** An issuer without its trailing slashes, its loopback host written one way. */
function spelling(issuer: string): string {
  return issuer
    .replace(/\/+$/, '')
    .replace(/^(https?:\/\/)(localhost|127\.0\.0\.1|\[::1\])(?=[:/]|$)/i, '$1loopback');
}
