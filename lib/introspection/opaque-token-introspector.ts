import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { IssuerUnavailableError, TokenInactiveError } from '../errors/oidc-resource.error.js';
import type { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { refuse } from '../utils/claim-rules.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/** Asks an issuer's authorization server about a token; answers with the claims of an active one. */
export abstract class OpaqueTokenIntrospector {
  /**
   * @throws `token_inactive` for `active: false`, `invalid_token` for a token the server will not
   *   introspect, `issuer_unavailable` for anything that is not a usable answer.
   */
  abstract introspect(token: string, issuer: TrustedIssuer): Promise<Record<string, unknown>>;
}

/** The `error` member of an OAuth error body, if the body is one (compared by the caller). */
function oauthError(text: string): unknown {
  try {
    return (JSON.parse(text) as { error?: unknown } | null)?.error;
  } catch {
    return undefined;
  }
}

/** An RFC 7662 client: authenticated POST to the discovered (or configured) endpoint. */
@Injectable()
export class Rfc7662Introspector extends OpaqueTokenIntrospector {
  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
  ) {
    super();
  }

  async introspect(token: string, issuer: TrustedIssuer): Promise<Record<string, unknown>> {
    const authentication = issuer.authentication;
    if (!authentication)
      throw refuse('introspection_not_configured', 'Introspection is not configured');
    const endpoint = await issuer.getIntrospectionEndpoint();
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    await authentication.apply(headers, body);
    const response = await httpCall(
      'Introspection',
      endpoint,
      { method: 'POST', headers, body: body.toString() },
      this.options.httpTimeout,
    );
    if (response.status === 400 && oauthError(response.text) === 'unsupported_token_type') {
      // The AS refuses to introspect this kind of token (e.g. a JWT): a verdict on the token, not an outage.
      throw refuse(
        'unsupported_token_type',
        'The authorization server does not introspect this kind of token',
      );
    }
    if (response.status !== 200) {
      const why =
        response.status === 401 || response.status === 403
          ? "the authorization server refused this API's client credentials"
          : 'the authorization server failed';
      // An undefined retryAfter is not set on the error.
      throw new IssuerUnavailableError(`Introspection: ${why} (HTTP ${response.status})`, {
        url: endpoint,
        retryAfter: response.retryAfter,
      });
    }
    if (!/^application\/([\w.-]+\+)?json\s*(;|$)/.test(response.contentType)) {
      // RFC 7662 §2.2: the answer is application/json; an HTML page (proxy, captive portal) is not one.
      throw new IssuerUnavailableError(
        `Introspection: the authorization server answered with content type "${response.contentType.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}", not JSON`,
        { url: endpoint },
      );
    }
    const claims = parseJsonObject('Introspection', response.text, endpoint);
    if (claims.active !== true) {
      if (claims.active === false) throw new TokenInactiveError();
      throw new IssuerUnavailableError(
        'Introspection: the response has no boolean "active" member',
        { url: endpoint },
      );
    }
    return claims;
  }
}
