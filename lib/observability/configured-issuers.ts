import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import type {
  ResolvedIssuerOptions,
  ResolvedOidcResourceOptions,
} from '../utils/resolve-options.js';

/** One configured issuer's settings, with what the doctor's calls need besides. */
export type ConfiguredIssuer = ResolvedIssuerOptions & { httpTimeout: number };

/**
 * The issuers this API trusts, each with its own settings. The doctor goes through this one
 * function (and the health check through {@link issuerHealthTargets}), so that every listed
 * issuer is covered; issuers that `resolveIssuer` admits later are not known in advance.
 */
export function configuredIssuers(options: ResolvedOidcResourceOptions): ConfiguredIssuer[] {
  return options.issuers.map((issuer) => ({ ...issuer, httpTimeout: options.httpTimeout }));
}

/** What a health check needs of one issuer. */
export interface IssuerHealthTarget {
  issuer: string;
  /** Whether JWTs are verified with the issuer's keys (else only introspection is used). */
  usesJwks: boolean;
  /** The JWKS URI: configured, or from the library's own (cached) discovery. */
  jwksUri(): Promise<string>;
  /** The introspection endpoint: configured, or from the library's own (cached) discovery. */
  introspectionEndpoint(): Promise<string>;
}

/** The listed issuers as the health check walks them, over the library's live metadata. */
export function issuerHealthTargets(listed: readonly TrustedIssuer[]): IssuerHealthTarget[] {
  return listed.map((trusted) => ({
    issuer: trusted.issuer,
    usesJwks: trusted.settings.tokenFormat !== 'opaque',
    jwksUri: () => trusted.getJwksUri(),
    introspectionEndpoint: () => trusted.getIntrospectionEndpoint(),
  }));
}
