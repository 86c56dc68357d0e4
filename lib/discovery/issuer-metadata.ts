import { Logger } from '@nestjs/common';
import { DEFAULTS } from '../oidc-resource.constants.js';
import { IssuerUnavailableError, OidcResourceError } from '../errors/oidc-resource.error.js';
import { FailureCooldown } from '../utils/failure-cooldown.js';
import { LOG_CONTEXT } from '../utils/failure-log.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import { checkUrl } from '../options/option-checks.js';

/** What discovery needs to know about its issuer. */
export interface IssuerSettings {
  issuer: string;
  httpTimeout: number;
  unsafeAllowInsecureIssuer: boolean;
}
import { SingleFlight } from '../utils/single-flight.js';
import type { Clock } from '../utils/clock.js';

/** The parts of authorization server metadata (RFC 8414 / OIDC Discovery 1.0) this library uses. */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  userinfo_endpoint?: string;
  [member: string]: unknown;
}

/** Quoted for a log line: bounded, and JSON-escaped so nothing from the network breaks it. */
function shown(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value.slice(0, 200) : value) ?? 'nothing';
  return text.length > 210 ? `${text.slice(0, 210)}…` : text;
}

/** Loopback spellings that name the same host to a person but not to an exact comparison. */
const LOOPBACK = /^(https?:\/\/)(localhost|127\.0\.0\.1|\[::1\])(?=[:/]|$)/i;

/**
 * The issuer mismatch, with both values and a hint for the usual slips: a trailing slash, or
 * localhost against 127.0.0.1.
 */
function issuerMismatch(configured: string, found: unknown): string {
  let hint = '';
  if (typeof found === 'string') {
    const slashless = (s: string) => s.replace(/\/+$/, '');
    if (slashless(found) === slashless(configured)) {
      hint = `; they differ only by a trailing slash: set the issuer option to ${shown(found)}`;
    } else if (
      slashless(found).replace(LOOPBACK, '$1loopback') ===
      slashless(configured).replace(LOOPBACK, '$1loopback')
    ) {
      hint =
        '; they differ only in how the loopback host is written (localhost, 127.0.0.1, [::1]): use the spelling the authorization server uses';
    }
  }
  return `Discovery: the metadata names the issuer ${shown(found)}, not the configured issuer ${shown(configured)}, so it is not used (the two must be identical)${hint}`;
}

/**
 * One issuer's metadata, a plain value per issuer: discovered on first use and cached. The
 * document is trusted for an hour; a failed refresh keeps the previous document and is retried 30 s later,
 * while a failed first fetch is never cached (the next request tries again).
 *
 * @see RFC 8414 §3, OpenID Connect Discovery 1.0 §4
 */
export class RemoteIssuerMetadata {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly flight = new SingleFlight<IssuerMetadata>();
  private readonly cooldown: FailureCooldown;
  private cached?: { metadata: IssuerMetadata; fetchedAt: number };
  private nextRefreshAttempt = 0;

  constructor(
    private readonly options: IssuerSettings,
    private readonly clock: Clock,
  ) {
    this.cooldown = new FailureCooldown(
      clock,
      DEFAULTS.failureCooldown,
      DEFAULTS.failureCooldownJitter,
    );
  }

  /**
   * The metadata document, fetched on first use and refreshed hourly. While no document is
   * known, a failed discovery is answered again, at once, for a second or two (with jitter)
   * rather than retried by every request.
   */
  async getMetadata(): Promise<IssuerMetadata> {
    const now = this.clock();
    const cached = this.cached;
    if (cached && now - cached.fetchedAt < DEFAULTS.metadataMaxAge) return cached.metadata;
    if (!cached) {
      this.cooldown.check(this.discoveryUrl);
      return this.flight.run('metadata', () => this.discoverRecorded());
    }
    if (now < this.nextRefreshAttempt) return cached.metadata;
    try {
      return await this.flight.run('metadata', () => this.discoverRecorded());
    } catch (error) {
      if (!(error instanceof IssuerUnavailableError)) throw error;
      this.nextRefreshAttempt = now + DEFAULTS.metadataRetryDelay;
      this.logger.warn(
        `Refreshing the issuer metadata failed; keeping the previous document: ${error.message} [${error.url ?? this.discoveryUrl}]`,
      );
      return cached.metadata;
    }
  }

  /** Where discovery looks first (OIDC Discovery §4). */
  get discoveryUrl(): string {
    return `${this.options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  }

  private async discoverRecorded(): Promise<IssuerMetadata> {
    try {
      const metadata = await this.discover();
      this.cooldown.succeeded(this.discoveryUrl);
      return metadata;
    } catch (error) {
      throw this.cooldown.failed(this.discoveryUrl, error);
    }
  }

  private async discover(): Promise<IssuerMetadata> {
    const issuer = this.options.issuer;
    const oidcUrl = this.discoveryUrl;
    const first = await httpCall(
      'Discovery',
      oidcUrl,
      { headers: { accept: 'application/json' } },
      this.options.httpTimeout,
    );
    let document: Record<string, unknown> | undefined;
    if (first.status === 200) {
      try {
        document = parseJsonObject('Discovery', first.text);
      } catch {
        document = undefined;
      }
    } else if (first.status >= 500 || first.status < 400) {
      throw new IssuerUnavailableError(
        `Discovery: the authorization server answered HTTP ${first.status}`,
        {
          url: oidcUrl,
          ...(first.retryAfter !== undefined ? { retryAfter: first.retryAfter } : {}),
        },
      );
    }
    let documentUrl = oidcUrl;
    if (!document) {
      // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
      const url = new URL(issuer);
      const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
      const rfc8414Url = `${url.origin}/.well-known/oauth-authorization-server${path}`;
      const second = await httpCall(
        'Discovery',
        rfc8414Url,
        { headers: { accept: 'application/json' } },
        this.options.httpTimeout,
      );
      if (second.status !== 200) {
        throw new IssuerUnavailableError(
          `Discovery: neither ${oidcUrl} (HTTP ${first.status}) nor ${rfc8414Url} (HTTP ${second.status}) gave a metadata document`,
          {
            url: oidcUrl,
            ...(second.retryAfter !== undefined ? { retryAfter: second.retryAfter } : {}),
          },
        );
      }
      document = parseJsonObject('Discovery', second.text, rfc8414Url);
      documentUrl = rfc8414Url;
    }
    const metadata = this.validate(document, documentUrl);
    this.cached = { metadata, fetchedAt: this.clock() };
    this.nextRefreshAttempt = 0;
    return metadata;
  }

  private validate(document: Record<string, unknown>, url: string): IssuerMetadata {
    if (document.issuer !== this.options.issuer) {
      // RFC 8414 §3.3: "If these values are not identical, the data contained in the response MUST NOT be used."
      throw new IssuerUnavailableError(issuerMismatch(this.options.issuer, document.issuer), {
        url,
      });
    }
    const metadata: IssuerMetadata = { ...document, issuer: this.options.issuer };
    for (const key of ['jwks_uri', 'introspection_endpoint', 'userinfo_endpoint'] as const) {
      const value = document[key];
      if (value === undefined) continue;
      try {
        metadata[key] = checkUrl(key, value, this.options.unsafeAllowInsecureIssuer);
      } catch (error) {
        throw new IssuerUnavailableError(
          `Discovery: the metadata's ${key} is not usable (${error instanceof OidcResourceError ? error.message : 'invalid'})`,
          { url },
        );
      }
    }
    return metadata;
  }
}
