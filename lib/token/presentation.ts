import { InvalidTokenError, type OidcResourceErrorReason } from '../errors/oidc-resource.error.js';
import type { PrincipalSnapshot } from '../utils/principal.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/**
 * How a request presented its token, as far as sender constraints care. Checked against the
 * token's `cnf` on every request, cache hit or not: a binding is a property of the request,
 * never of the cached verdict.
 */
export interface TokenPresentation {
  /** The `Authorization` scheme the token came with. */
  readonly scheme: 'Bearer' | 'DPoP';
  /** RFC 7638 thumbprint of the key of the request's verified DPoP proof. */
  readonly proofJkt?: string;
  /**
   * base64url SHA-256 of the request's client certificate (DER), or `undefined` without one.
   * A function: it is computed only for a token that is bound to a certificate.
   */
  readonly certificateThumbprint?: () => string | undefined;
}

/** A token sent as a bearer token: no proof, no certificate. */
export const BEARER_PRESENTATION: TokenPresentation = Object.freeze({ scheme: 'Bearer' });

/** The members of `cnf` this library can check. @see RFC 9449 §6, RFC 8705 §3.1 */
export interface TokenBinding {
  jkt?: string;
  'x5t#S256'?: string;
}

function refused(
  reason: OidcResourceErrorReason,
  message: string,
  dpop = false,
): InvalidTokenError {
  return new InvalidTokenError(message, {
    reason,
    claim: 'cnf',
    ...(dpop ? { scheme: 'DPoP' } : {}),
  });
}

/**
 * Throws unless the request proves what the token is bound to (RFC 9449 §7.1 and §7.2, RFC 8705
 * §3), and unless the request's scheme suits the token: an unbound token sent with the DPoP
 * scheme, and any unbound token when DPoP is required, are refused. Allocation-free for an
 * unbound bearer token, the usual case.
 */
export function checkSenderConstraint(
  snapshot: PrincipalSnapshot,
  presentation: TokenPresentation,
  options: ResolvedOidcResourceOptions,
): void {
  const binding = snapshot.claims.cnf as TokenBinding | undefined;
  if (binding === undefined || binding === null) {
    if (presentation.scheme === 'DPoP') {
      throw refused(
        'token_not_bound',
        'The access token is not DPoP-bound but was sent with the DPoP scheme',
        true,
      );
    }
    if (options.dpop?.mode === 'required') {
      throw refused('dpop_required', 'This API accepts DPoP-bound access tokens only', true);
    }
    return;
  }
  if (typeof binding !== 'object') {
    // Only an entry changed in a shared store could hold this: toSnapshot refuses such tokens.
    throw refused('sender_constrained', 'The access token is bound in a way this API cannot check');
  }
  const jkt = binding.jkt;
  if (jkt !== undefined) {
    if (!options.dpop) {
      throw refused(
        'sender_constrained',
        'The access token is DPoP-bound, which this API does not accept',
      );
    }
    if (presentation.scheme !== 'DPoP') {
      throw refused(
        'sender_constrained',
        'The access token is DPoP-bound and must be sent with the DPoP scheme',
        true,
      );
    }
    // The proof was verified before; only its key remains to compare (public values).
    if (presentation.proofJkt !== jkt)
      throw refused('dpop_binding_mismatch', 'Invalid DPoP key binding', true);
  } else if (presentation.scheme === 'DPoP') {
    throw refused(
      'token_not_bound',
      'The access token is not DPoP-bound but was sent with the DPoP scheme',
      true,
    );
  } else if (options.dpop?.mode === 'required') {
    throw refused('dpop_required', 'This API accepts DPoP-bound access tokens only', true);
  }
  const x5t = binding['x5t#S256'];
  if (x5t !== undefined) {
    if (!options.mtls) {
      throw refused(
        'sender_constrained',
        'The access token is certificate-bound, which this API does not accept',
      );
    }
    if (presentation.certificateThumbprint?.() !== x5t) {
      throw refused(
        'certificate_binding_mismatch',
        'The client certificate does not match the access token',
      );
    }
  }
}
