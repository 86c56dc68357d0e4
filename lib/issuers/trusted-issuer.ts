import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { RemoteIssuerMetadata, type IssuerMetadata } from '../discovery/issuer-metadata.js';
import {
  clientAuthentication,
  type ClientAuthentication,
} from '../introspection/client-authentication.js';
import { RemoteKeySet } from '../jwt/remote-key-set.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';
import type { Clock } from '../utils/clock.js';

/** What every issuer shares: the limits of calls to authorization servers. */
export interface IssuerNetworkSettings {
  httpTimeout: number;
  unsafeAllowInsecureIssuer: boolean;
}

/**
 * One trusted issuer and everything this API knows about it: its settings, its discovered
 * metadata, its keys and this API's credentials there. Nothing here is shared with another
 * issuer, so one issuer's outage, key rotation or cooldown never changes another's answers.
 * Configured endpoints win over discovered ones; discovery is lazy, so nothing is fetched until
 * a token needs it.
 */
export class TrustedIssuer {
  readonly issuer: string;
  readonly metadata: RemoteIssuerMetadata;
  readonly keys: RemoteKeySet;
  /** This API's client authentication at the introspection endpoint, when configured. */
  readonly authentication?: ClientAuthentication;

  constructor(
    readonly settings: ResolvedIssuerOptions,
    network: IssuerNetworkSettings,
    clock: Clock,
  ) {
    this.issuer = settings.issuer;
    this.metadata = new RemoteIssuerMetadata({ issuer: settings.issuer, ...network }, clock);
    this.keys = new RemoteKeySet(() => this.getJwksUri(), network.httpTimeout, clock);
    if (settings.introspection) {
      this.authentication = clientAuthentication(settings.introspection, settings.issuer, clock);
    }
  }

  /** The discovery document, fetched on first use and refreshed hourly. */
  getMetadata(): Promise<IssuerMetadata> {
    return this.metadata.getMetadata();
  }

  /** `jwksUri`, else the discovered `jwks_uri`. */
  async getJwksUri(): Promise<string> {
    return (
      this.settings.jwksUri ?? this.discovered('jwks_uri', 'JWT access tokens cannot be verified')
    );
  }

  /** `introspection.endpoint`, else the discovered `introspection_endpoint`. */
  async getIntrospectionEndpoint(): Promise<string> {
    return (
      this.settings.introspection?.endpoint ??
      this.discovered('introspection_endpoint', 'opaque tokens cannot be checked')
    );
  }

  /** `userInfo.endpoint`, else the discovered `userinfo_endpoint`. */
  async getUserInfoEndpoint(): Promise<string> {
    return this.settings.userInfoEndpoint ?? this.discovered('userinfo_endpoint');
  }

  /** Where the OpenID Connect discovery document is looked for first. */
  get discoveryUrl(): string {
    return this.metadata.discoveryUrl;
  }

  private async discovered(
    member: 'jwks_uri' | 'introspection_endpoint' | 'userinfo_endpoint',
    consequence?: string,
  ): Promise<string> {
    const value = (await this.metadata.getMetadata())[member];
    if (!value) {
      throw new IssuerUnavailableError(
        `The issuer metadata has no ${member}${consequence ? `, so ${consequence}` : ''}`,
        { url: this.discoveryUrl },
      );
    }
    return value;
  }
}
