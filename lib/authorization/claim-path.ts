import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';

/**
 * Where a claim is read: a dotted path (`'realm_access.roles'`), or an array of path segments
 * for claim names that contain dots (`['https://example.com/roles']`).
 */
export type ClaimPath = string | readonly string[];

/** A {@link ClaimPath} after validation: its segments. */
export type ClaimSegments = readonly string[];

/** The scope claims read when `scopeClaims` is not set. */
export const DEFAULT_SCOPE_CLAIMS: readonly ClaimPath[] = Object.freeze(['scope', 'scp']);

/** The role claims read when `roleClaims` is not set. */
export const DEFAULT_ROLE_CLAIMS: readonly ClaimPath[] = Object.freeze([
  'roles',
  'realm_access.roles',
]);

/**
 * Splits and checks one claim path; `undefined` when it is not a valid one (an empty string, an
 * empty segment, an empty array, a non-string segment).
 */
export function claimSegments(path: unknown): ClaimSegments | undefined {
  const segments =
    typeof path === 'string' ? path.split('.') : Array.isArray(path) ? [...path] : undefined;
  if (!segments || segments.length === 0) return undefined;
  for (const segment of segments) {
    if (typeof segment !== 'string' || segment.length === 0) return undefined;
  }
  return Object.freeze(segments as string[]);
}

/**
 * Validates a list of claim paths (an option such as `roleClaims`), at start.
 * @throws InvalidConfigurationError naming the key
 */
export function resolveClaimPaths(
  key: string,
  value: unknown,
  fallback: readonly ClaimPath[],
): readonly ClaimSegments[] {
  const list = value === undefined ? fallback : value;
  if (!Array.isArray(list)) {
    throw new InvalidConfigurationError(
      `nestjs-oidc-resource: option "${key}" must be an array of claim paths ('a.b' or ['a', 'b'])`,
    );
  }
  return Object.freeze(
    list.map((entry: unknown, i) => {
      const segments = claimSegments(entry);
      if (!segments) {
        throw new InvalidConfigurationError(
          `nestjs-oidc-resource: option "${key}[${i}]" must be a dotted claim path ('realm_access.roles') ` +
            "or a non-empty array of non-empty segments (['https://example.com/roles'])",
        );
      }
      return segments;
    }),
  );
}

/**
 * Reads a claim by its segments. Only own members of plain (non-array) objects are followed,
 * so a path never reaches `Object.prototype` or walks into an array.
 */
export function readClaim(claims: unknown, segments: ClaimSegments): unknown {
  let node = claims;
  for (const segment of segments) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function addWords(into: Set<string>, text: string): void {
  for (const word of text.split(' ')) if (word) into.add(word);
}

/**
 * Scopes from the first of `paths` that is present: a string is split on spaces, an array of
 * strings is taken as is. Any other value (a number, an object, an array holding anything but
 * strings) grants nothing, and the claims after it are not read: a malformed claim must not
 * let a later one speak for it. The top-level `scope` claim is defined as a space-delimited
 * string (RFC 9068 §2.2.3, RFC 7662 §2.2, RFC 8693 §4.2), so an array there is malformed too:
 * a client that sends `scope: ["admin"]` is not speaking OAuth and is granted nothing.
 */
export function extractScopes(
  claims: Readonly<Record<string, unknown>>,
  paths: readonly ClaimSegments[],
): string[] {
  for (const path of paths) {
    const value = readClaim(claims, path);
    if (value === undefined) continue;
    const scopes = new Set<string>();
    if (typeof value === 'string') addWords(scopes, value);
    else if (
      Array.isArray(value) &&
      !(path.length === 1 && path[0] === 'scope') &&
      value.every((item) => typeof item === 'string')
    ) {
      for (const item of value as string[]) if (item) scopes.add(item);
    }
    return [...scopes];
  }
  return [];
}

/**
 * Roles from every one of `paths`, merged and deduplicated. A value may be a string (split on
 * spaces), an array (its non-empty strings; other items are skipped), or an object whose keys
 * are the roles (Zitadel). Anything else grants nothing; nothing here throws.
 */
export function extractRoles(
  claims: Readonly<Record<string, unknown>>,
  paths: readonly ClaimSegments[],
): string[] {
  const roles = new Set<string>();
  for (const path of paths) {
    const value = readClaim(claims, path);
    if (typeof value === 'string') addWords(roles, value);
    else if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'string' && item) roles.add(item);
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) if (key) roles.add(key);
    }
  }
  return [...roles];
}
