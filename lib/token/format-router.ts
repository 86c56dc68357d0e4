import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { IntrospectionVerifier } from '../introspection/introspection-verifier.js';
import { JwtVerifier } from '../jwt/jwt-verifier.js';
import { refuse } from '../utils/claim-rules.js';
import { decodeJsonSegment } from '../utils/jws.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { AccessTokenVerifier, type VerifiedToken } from './access-token-verifier.js';

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWE_SHAPE =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Sends a token to the JWT or the introspection verifier, by `tokenFormat`; with `auto`, by its
 * shape. Nothing here is a verdict on the token's validity, only on which way to check it.
 */
@Injectable()
export class FormatRouter extends AccessTokenVerifier {
  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    private readonly jwt: JwtVerifier,
    private readonly introspection: IntrospectionVerifier,
  ) {
    super();
  }

  async verify(token: string): Promise<VerifiedToken> {
    const format = this.options.tokenFormat;
    if (format === 'jwt') return this.jwt.verify(token);
    if (format === 'opaque') return this.introspection.verify(token);
    if (JWS_SHAPE.test(token)) {
      const header = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      // A JSON-object header makes it a JWS (a broken one, without "alg", is refused locally):
      // an AS will not introspect it anyway (oidc-provider: 400 unsupported_token_type).
      if (header) return this.jwt.verify(token, header);
    } else if (JWE_SHAPE.test(token)) {
      const header = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      if (header && typeof header.enc === 'string') {
        throw refuse('encrypted', 'Encrypted (JWE) access tokens are not supported');
      }
    }
    if (!this.options.introspection) {
      throw refuse(
        'introspection_not_configured',
        'The access token is not a JWT, and introspection is not configured',
      );
    }
    return this.introspection.verify(token);
  }
}
