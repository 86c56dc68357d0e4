import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import {
  issuerHealthTargets,
  type IssuerHealthTarget,
} from '../observability/configured-issuers.js';
import { IssuerRegistry } from '../issuers/issuer-registry.js';
import type { Clock } from '../utils/clock.js';
import { httpCall } from '../utils/http.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/** Longest a health answer is reused: probes never reach an issuer more often than this. */
export const HEALTH_CHECK_INTERVAL = 30_000;

/** One issuer's state, as the health check reports it. */
export interface OidcIssuerHealth {
  issuer: string;
  status: 'up' | 'down';
  /** Why it is down: a message that names the failing URL, never a token or a secret. */
  error?: string;
}

/**
 * The shape `@nestjs/terminus` reads from a health indicator: `status` `up` or `down` under the
 * key. For one issuer that is down, `issuer` and `error` say which and why; `issuers` lists all.
 */
export type OidcHealthResult = Record<
  string,
  { status: 'up' | 'down'; issuer?: string; error?: string; issuers: OidcIssuerHealth[] }
>;

/**
 * A health indicator for `@nestjs/terminus`: up when each issuer's metadata (discovery) and key
 * set were fetched successfully. The answer is reused for 30 s, so that however often the
 * orchestrator probes, each issuer is asked at most once per 30 s (the key set; discovery is
 * the library's own, cached, document). Nothing is imported from terminus: the result is the
 * plain object it expects.
 *
 * @example
 * \@Get('health') \@HealthCheck()
 * check() { return this.health.check([() => this.oidc.isHealthy()]); }
 */
@Injectable()
export class OidcHealthIndicator {
  private readonly last = new Map<string, { at: number; health: Promise<OidcIssuerHealth> }>();

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly registry: IssuerRegistry,
  ) {}

  /** `{ [key]: { status: 'up' | 'down', … } }`; terminus answers 503 when it is down. */
  async isHealthy(key = 'oidc'): Promise<OidcHealthResult> {
    const targets = issuerHealthTargets(this.registry.listed);
    const issuers = await Promise.all(targets.map((target) => this.healthOf(target)));
    const down = issuers.find((issuer) => issuer.status === 'down');
    return {
      [key]: down
        ? { status: 'down', issuer: down.issuer, error: down.error!, issuers }
        : { status: 'up', issuers },
    };
  }

  /** The last answer while it is fresh; else one new check, shared by concurrent probes. */
  private healthOf(target: IssuerHealthTarget): Promise<OidcIssuerHealth> {
    const now = this.clock();
    const last = this.last.get(target.issuer);
    if (last && now - last.at < HEALTH_CHECK_INTERVAL) return last.health;
    const health = this.check(target);
    this.last.set(target.issuer, { at: now, health });
    return health;
  }

  private async check(target: IssuerHealthTarget): Promise<OidcIssuerHealth> {
    const { issuer } = target;
    try {
      if (!target.usesJwks) {
        await target.introspectionEndpoint();
        return { issuer, status: 'up' };
      }
      const uri = await target.jwksUri();
      const response = await httpCall(
        'JWKS',
        uri,
        { headers: { accept: 'application/jwk-set+json, application/json' } },
        this.options.httpTimeout,
      );
      if (response.status !== 200) {
        return { issuer, status: 'down', error: `JWKS: HTTP ${response.status} from ${uri}` };
      }
      const body: unknown = JSON.parse(response.text);
      const keys = (body as { keys?: unknown } | null)?.keys;
      if (!Array.isArray(keys) || keys.length === 0) {
        return { issuer, status: 'down', error: `JWKS: no keys at ${uri}` };
      }
      return { issuer, status: 'up' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const url = (error as { url?: unknown }).url;
      return {
        issuer,
        status: 'down',
        error: typeof url === 'string' && !message.includes(url) ? `${message} [${url}]` : message,
      };
    }
  }
}
