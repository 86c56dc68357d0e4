import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DEFAULTS,
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_RESOLVED_OPTIONS,
} from '../oidc-resource.constants.js';
import { IssuerUnavailableError, OidcResourceError } from '../errors/oidc-resource.error.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import { checkUrl, type ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
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

const FAILURE_RETRY_DELAY = 30_000;

/**
 * Discovers and caches the issuer's metadata. Discovery is lazy: nothing is fetched until the
 * first token needs it, so the application starts while the issuer is down. The document is
 * trusted for an hour; a failed refresh keeps the previous document and is retried 30 s later,
 * while a failed first fetch is never cached (the next request tries again).
 *
 * @see RFC 8414 §3, OpenID Connect Discovery 1.0 §4
 */
@Injectable()
export class IssuerMetadataService {
  private readonly logger = new Logger('OidcResource');
  private readonly flight = new SingleFlight<IssuerMetadata>();
  private cached?: { metadata: IssuerMetadata; fetchedAt: number };
  private nextRefreshAttempt = 0;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
  ) {}

  /** The metadata document, fetched on first use and refreshed hourly. */
  async getMetadata(): Promise<IssuerMetadata> {
    const now = this.clock();
    const cached = this.cached;
    if (cached && now - cached.fetchedAt < DEFAULTS.metadataMaxAge) return cached.metadata;
    if (!cached) return this.flight.run('metadata', () => this.discover());
    if (now < this.nextRefreshAttempt) return cached.metadata;
    try {
      return await this.flight.run('metadata', () => this.discover());
    } catch (error) {
      if (!(error instanceof IssuerUnavailableError)) throw error;
      this.nextRefreshAttempt = now + FAILURE_RETRY_DELAY;
      this.logger.warn(
        `Refreshing the issuer metadata failed; keeping the previous document: ${error.message}`,
      );
      return cached.metadata;
    }
  }

  /** `jwksUri` option, else the discovered `jwks_uri`. */
  async getJwksUri(): Promise<string> {
    if (this.options.jwksUri) return this.options.jwksUri;
    const metadata = await this.getMetadata();
    if (!metadata.jwks_uri) {
      throw new IssuerUnavailableError(
        'The issuer metadata has no jwks_uri, so JWT access tokens cannot be verified',
      );
    }
    return metadata.jwks_uri;
  }

  /** `introspection.endpoint` option, else the discovered `introspection_endpoint`. */
  async getIntrospectionEndpoint(): Promise<string> {
    const configured = this.options.introspection?.endpoint;
    if (configured) return configured;
    const metadata = await this.getMetadata();
    if (!metadata.introspection_endpoint) {
      throw new IssuerUnavailableError(
        'The issuer metadata has no introspection_endpoint, so opaque tokens cannot be checked',
      );
    }
    return metadata.introspection_endpoint;
  }

  /** The discovered `userinfo_endpoint`. */
  async getUserInfoEndpoint(): Promise<string> {
    const metadata = await this.getMetadata();
    if (!metadata.userinfo_endpoint) {
      throw new IssuerUnavailableError('The issuer metadata has no userinfo_endpoint');
    }
    return metadata.userinfo_endpoint;
  }

  private async discover(): Promise<IssuerMetadata> {
    const issuer = this.options.issuer;
    const oidcUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
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
          ...(first.retryAfter !== undefined ? { retryAfter: first.retryAfter } : {}),
        },
      );
    }
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
          `Discovery: neither /.well-known/openid-configuration (HTTP ${first.status}) nor /.well-known/oauth-authorization-server (HTTP ${second.status}) gave a metadata document`,
          { ...(second.retryAfter !== undefined ? { retryAfter: second.retryAfter } : {}) },
        );
      }
      document = parseJsonObject('Discovery', second.text);
    }
    const metadata = this.validate(document);
    this.cached = { metadata, fetchedAt: this.clock() };
    this.nextRefreshAttempt = 0;
    return metadata;
  }

  private validate(document: Record<string, unknown>): IssuerMetadata {
    if (document.issuer !== this.options.issuer) {
      // RFC 8414 §3.3: "If these values are not identical, the data contained in the response MUST NOT be used."
      throw new IssuerUnavailableError(
        'Discovery: the metadata document names a different issuer than the configured one, so it is not used',
      );
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
        );
      }
    }
    return metadata;
  }
}
