import { SetMetadata } from '@nestjs/common';
import { ANY_ROLE_METADATA_KEY, ROLES_METADATA_KEY } from '../oidc-resource.constants.js';

function checked(decorator: string, roles: unknown[]): string[] {
  if (roles.length === 0) throw new TypeError(`@${decorator}() needs at least one role`);
  for (const role of roles) {
    // Roles read from a string claim are split on spaces, so a name with spaces at either end
    // could never match: it is a mistake, better caught at start.
    if (typeof role !== 'string' || role.trim().length === 0 || role.trim() !== role) {
      throw new TypeError(
        `@${decorator}(): ${JSON.stringify(role)} is not a role name (a non-empty string without leading or trailing spaces)`,
      );
    }
  }
  return Object.freeze([...new Set(roles as string[])]) as string[];
}

/**
 * Requires every listed role in `principal.roles` (read from the `roleClaims`). Otherwise: 403,
 * code `access_denied`, `WWW-Authenticate: Bearer …, error="insufficient_scope"` (no `scope`),
 * with the missing roles named in `error_description`. On a handler it overrides the
 * controller's `@Roles()`.
 *
 * @see RFC 6750 §3.1
 * @example
 * @Roles('notes-admin') @Delete(':id') remove() { … }
 */
export const Roles = (...roles: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ROLES_METADATA_KEY, checked('Roles', roles));

/**
 * Requires at least one of the listed roles (403 `access_denied` otherwise). On a handler it
 * overrides the controller's `@AnyRole()`.
 * @example
 * @AnyRole('editor', 'admin') @Put(':id') update() { … }
 */
export const AnyRole = (...roles: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ANY_ROLE_METADATA_KEY, checked('AnyRole', roles));
