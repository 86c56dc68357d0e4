import { createHash } from 'node:crypto';
import type { ResolvedOidcResourceOptions } from './resolve-options.js';

/** What decides a token's outcome; entries written under other settings must not be reused. */
export function settingsFingerprint(options: ResolvedOidcResourceOptions): string {
  const introspection = options.introspection;
  const settings = {
    // 2: refusals carry a reason, and ID tokens are refused in more shapes.
    // 3: principals carry roles; malformed scope claims grant nothing instead of refusing.
    v: 3,
    issuer: options.issuer,
    audiences: options.audiences === false ? false : [...options.audiences].sort(),
    tokenFormat: options.tokenFormat,
    algorithms: [...options.algorithms].sort(),
    jwksUri: options.jwksUri ?? null,
    clockTolerance: options.clockTolerance,
    requireJwtAccessTokenType: options.requireJwtAccessTokenType,
    // Where scopes and roles are read changes what a cached principal grants.
    scopeClaims: options.scopeClaims,
    roleClaims: options.roleClaims,
    introspection: introspection
      ? {
          clientId: introspection.clientId,
          authMethod: introspection.authMethod,
          endpoint: introspection.endpoint ?? null,
          allowUntypedResponses: introspection.allowUntypedResponses,
        }
      : null,
  };
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url').slice(0, 16);
}
