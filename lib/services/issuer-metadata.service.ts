import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '../errors/oidc-resource.error.js';
import type { IssuerMetadata } from '../discovery/issuer-metadata.js';
import { IssuerRegistry } from '../issuers/issuer-registry.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';

export type { IssuerMetadata } from '../discovery/issuer-metadata.js';

/**
 * A trusted issuer's metadata, and the endpoints the library uses: a configured endpoint wins
 * over a discovered one. Without an `issuer` argument, the first listed issuer. Discovery is
 * lazy: nothing is fetched until the first token needs it, so the application starts while an
 * issuer is down.
 *
 * @see RFC 8414 §3, OpenID Connect Discovery 1.0 §4
 */
@Injectable()
export class IssuerMetadataService {
  constructor(private readonly issuers: IssuerRegistry) {}

  /**
   * The metadata document, fetched on first use and refreshed hourly; a failed refresh keeps the
   * previous document.
   * @param issuer a listed issuer, or one `resolveIssuer` trusts; the first listed by default
   */
  async getMetadata(issuer?: string): Promise<IssuerMetadata> {
    return (await this.trusted(issuer)).getMetadata();
  }

  /** `jwksUri` option, else the discovered `jwks_uri`. */
  async getJwksUri(issuer?: string): Promise<string> {
    return (await this.trusted(issuer)).getJwksUri();
  }

  /** `introspection.endpoint` option, else the discovered `introspection_endpoint`. */
  async getIntrospectionEndpoint(issuer?: string): Promise<string> {
    return (await this.trusted(issuer)).getIntrospectionEndpoint();
  }

  /** `userInfo.endpoint` option, else the discovered `userinfo_endpoint`. */
  async getUserInfoEndpoint(issuer?: string): Promise<string> {
    return (await this.trusted(issuer)).getUserInfoEndpoint();
  }

  /** Where the first listed issuer's OpenID Connect discovery document is looked for first. */
  get discoveryUrl(): string {
    const first = this.issuers.listed[0];
    if (!first) throw new InvalidRequestError('No issuer is listed (only resolveIssuer is set)');
    return first.discoveryUrl;
  }

  private async trusted(issuer: string | undefined): Promise<TrustedIssuer> {
    const found = issuer === undefined ? this.issuers.listed[0] : await this.issuers.find(issuer);
    if (!found) {
      throw new InvalidRequestError(
        issuer === undefined
          ? 'No issuer is listed (only resolveIssuer is set): name the issuer'
          : 'That issuer is not trusted by this API',
      );
    }
    return found;
  }
}
