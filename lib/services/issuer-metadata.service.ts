import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { RemoteIssuerMetadata, type IssuerMetadata } from '../discovery/issuer-metadata.js';
import type { Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

export type { IssuerMetadata } from '../discovery/issuer-metadata.js';

/**
 * The configured issuer's metadata, and the endpoints the library uses: a configured endpoint
 * wins over a discovered one. Discovery is lazy: nothing is fetched until the first token needs
 * it, so the application starts while the issuer is down.
 *
 * @see RFC 8414 §3, OpenID Connect Discovery 1.0 §4
 */
@Injectable()
export class IssuerMetadataService {
  private readonly remote: RemoteIssuerMetadata;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) clock: Clock,
  ) {
    this.remote = new RemoteIssuerMetadata(options, clock);
  }

  /**
   * The metadata document, fetched on first use and refreshed hourly; a failed refresh keeps the
   * previous document.
   */
  getMetadata(): Promise<IssuerMetadata> {
    return this.remote.getMetadata();
  }

  /** `jwksUri` option, else the discovered `jwks_uri`. */
  async getJwksUri(): Promise<string> {
    if (this.options.jwksUri) return this.options.jwksUri;
    const metadata = await this.getMetadata();
    if (!metadata.jwks_uri) {
      throw new IssuerUnavailableError(
        'The issuer metadata has no jwks_uri, so JWT access tokens cannot be verified',
        { url: this.discoveryUrl },
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
        { url: this.discoveryUrl },
      );
    }
    return metadata.introspection_endpoint;
  }

  /** `userInfo.endpoint` option, else the discovered `userinfo_endpoint`. */
  async getUserInfoEndpoint(): Promise<string> {
    const configured = this.options.userInfo.endpoint;
    if (configured) return configured;
    const metadata = await this.getMetadata();
    if (!metadata.userinfo_endpoint) {
      throw new IssuerUnavailableError('The issuer metadata has no userinfo_endpoint', {
        url: this.discoveryUrl,
      });
    }
    return metadata.userinfo_endpoint;
  }

  /** Where the OpenID Connect discovery document is looked for first. */
  get discoveryUrl(): string {
    return this.remote.discoveryUrl;
  }
}
