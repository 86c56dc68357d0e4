import { SetMetadata } from '@nestjs/common';
import { ANY_SCOPE_METADATA_KEY, SCOPES_METADATA_KEY } from '../oidc-resource.constants.js';

function checked(decorator: string, scopes: string[]): string[] {
  if (scopes.length === 0) throw new TypeError(`@${decorator}() needs at least one scope`);
  for (const scope of scopes) {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) {
      throw new TypeError(
        `@${decorator}(): ${JSON.stringify(scope)} is not a valid scope token (RFC 6749 §3.3)`,
      );
    }
  }
  return Object.freeze([...scopes]) as string[];
}

/**
 * Requires every listed scope. Otherwise: 403 with
 * `WWW-Authenticate: Bearer …, error="insufficient_scope", scope="<scopes in the order written>"`.
 * On a handler it overrides the controller's `@Scopes()`.
 *
 * @see RFC 6750 §3.1
 * @example
 * @Scopes('notes:write') @Post() create() { … }
 */
export const Scopes = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(SCOPES_METADATA_KEY, checked('Scopes', scopes));

/**
 * Requires at least one of the listed scopes (403 `insufficient_scope` otherwise).
 * @example
 * @AnyScope('notes:read', 'notes:admin') @Get() list() { … }
 */
export const AnyScope = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ANY_SCOPE_METADATA_KEY, checked('AnyScope', scopes));
