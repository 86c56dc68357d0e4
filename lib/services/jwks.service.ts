import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { RemoteKeySet, type KeyHint, type VerificationKey } from '../jwt/remote-key-set.js';
import type { Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { IssuerMetadataService } from './issuer-metadata.service.js';

export type { KeyHint, VerificationKey } from '../jwt/remote-key-set.js';

/** The configured issuer's key set, for the JWT verifier and signed UserInfo answers. */
@Injectable()
export class JwksService {
  private readonly keys: RemoteKeySet;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) clock: Clock,
    metadata: IssuerMetadataService,
  ) {
    this.keys = new RemoteKeySet(() => metadata.getJwksUri(), options.httpTimeout, clock);
  }

  /** Resolves the verification key for a JWS header. */
  getKey(header: KeyHint): Promise<VerificationKey> {
    return this.keys.getKey(header);
  }
}
