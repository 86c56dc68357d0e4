import type { ResourceMetadataOptions } from '../interfaces/resource-metadata-options.interface.js';
import type { ResolvedIssuerOptions } from './issuer-options.js';
import { checkObject, checkUrl, fail } from './option-checks.js';

/** The `resourceMetadata` option, checked: what the well-known route and the challenges need. */
export interface ResolvedResourceMetadata {
  /** The identifier exactly as configured (RFC 9728 §3.3 compares it code point by code point). */
  resource: string;
  /** Where the document is served, on the HTTP adapter itself. */
  path: string;
  /** The document's absolute URL, for `resource_metadata="…"` in challenges. */
  url: string;
  authorizationServers: readonly string[];
  /** The given list; absent when the scopes are to be collected from the app's decorators. */
  scopesSupported?: readonly string[];
  /** `resource_name`, the documentation URLs and `extraMetadata`, ready to publish. */
  members: Readonly<Record<string, unknown>>;
}

const KEYS = [
  'resource',
  'authorizationServers',
  'scopesSupported',
  'resourceName',
  'resourceDocumentation',
  'resourcePolicyUri',
  'resourceTosUri',
  'extraMetadata',
];

export const WELL_KNOWN_PATH = '/.well-known/oauth-protected-resource';

/** Members the module writes itself, each with the option that sets it. */
const OWN_MEMBERS: Readonly<Record<string, string>> = {
  resource: 'resourceMetadata.resource',
  authorization_servers: 'resourceMetadata.authorizationServers',
  scopes_supported: 'resourceMetadata.scopesSupported',
  bearer_methods_supported: 'allowQueryToken',
  dpop_signing_alg_values_supported: 'dpop.algorithms',
  dpop_bound_access_tokens_required: "dpop.mode: 'required'",
  tls_client_certificate_bound_access_tokens: 'mtls',
  resource_name: 'resourceMetadata.resourceName',
  resource_documentation: 'resourceMetadata.resourceDocumentation',
  resource_policy_uri: 'resourceMetadata.resourcePolicyUri',
  resource_tos_uri: 'resourceMetadata.resourceTosUri',
};

// The path becomes a route on Express and Fastify, where `:`, `*`, `(` and `%` have meanings of
// their own; unreserved characters (RFC 3986 §2.3) and `/` mean the same to both.
const SAFE_PATH = /^(\/[A-Za-z0-9._~-]*)+$/;
// RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function checkResource(value: unknown, unsafe: boolean): { path: string; url: string } {
  const key = 'resourceMetadata.resource';
  const url = new URL(checkUrl(key, value, unsafe));
  if (url.username || url.password) fail(key, 'must not contain credentials');
  // RFC 9728 §1.2 advises against a query; inserting the well-known suffix before one would
  // also give a document URL that no route can match on its own.
  if (url.search || (value as string).includes('?')) fail(key, 'must not contain a query');
  // The path as written must be the path the URL parser keeps: dot segments, backslashes or
  // escapes would make the identifier and the document's location disagree.
  const afterScheme = (value as string).slice((value as string).indexOf('//') + 2);
  const written = afterScheme.slice(afterScheme.search(/\/|$/)) || '/';
  if (written !== url.pathname || !SAFE_PATH.test(url.pathname)) {
    fail(key, 'must have a path of unreserved characters (A-Z a-z 0-9 - . _ ~) and "/" only');
  }
  // RFC 9728 §3.1: the host's terminating slash is dropped, then the suffix goes between the
  // host and the path.
  const path = WELL_KNOWN_PATH + (url.pathname === '/' ? '' : url.pathname);
  return { path, url: url.origin + path };
}

function checkStrings(key: string, value: unknown, check: (v: string, at: string) => void) {
  if (!Array.isArray(value)) fail(key, 'must be an array of strings');
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0)
      fail(`${key}[${i}]`, 'must be a non-empty string');
    check(item, `${key}[${i}]`);
  });
  return Object.freeze([...(value as string[])]);
}

function checkAuthorizationServers(
  value: unknown,
  issuers: readonly ResolvedIssuerOptions[],
  dynamic: boolean,
  unsafe: boolean,
): readonly string[] {
  const key = 'resourceMetadata.authorizationServers';
  if (value === undefined) {
    if (issuers.length === 0)
      fail(key, 'is required when no issuer is listed (resolveIssuer alone names none)');
    return Object.freeze(issuers.map((i) => i.issuer));
  }
  const listed = new Set(issuers.map((i) => i.issuer));
  return checkStrings(key, value, (item, at) => {
    checkUrl(at, item, unsafe);
    // With a fixed list, an issuer that is not trusted would send clients for tokens that this
    // API then refuses; resolveIssuer may trust it, which cannot be known at start.
    if (!dynamic && !listed.has(item))
      fail(at, `is not a trusted issuer (the issuers are: ${[...listed].join(', ')})`);
  });
}

/** A documentation URL: any http(s) URL (a fragment is fine here). */
function checkDocumentUrl(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'string' ||
    !URL.canParse(value) ||
    !/^https?:$/.test(new URL(value).protocol)
  )
    fail(key, 'must be an absolute http(s) URL');
  return value;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/** `extraMetadata`: JSON members that neither replace the module's own nor break RFC 9728 §2. */
function checkExtraMetadata(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  const key = 'resourceMetadata.extraMetadata';
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(key, 'must be an object of JSON members');
  const members: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) {
    const at = `${key}.${name}`;
    if (member === undefined) continue;
    if (Object.hasOwn(OWN_MEMBERS, name))
      fail(at, `is set by the module; use ${OWN_MEMBERS[name]}`);
    if (isEmpty(member))
      fail(at, 'must not be empty or null (RFC 9728 omits members with zero values)');
    let copy: unknown;
    try {
      copy = JSON.parse(JSON.stringify(member)) as unknown;
    } catch {
      fail(at, 'must be a JSON value');
    }
    if (copy === undefined) fail(at, 'must be a JSON value');
    if (
      name === 'resource_signing_alg_values_supported' &&
      (!Array.isArray(copy) || copy.includes('none'))
    )
      fail(at, 'must be an array of algorithms without "none" (RFC 9728 §2)');
    if (name === 'jwks_uri' && (typeof copy !== 'string' || !copy.startsWith('https://')))
      fail(at, 'must be an https URL (RFC 9728 §2)');
    members[name] = copy;
  }
  return members;
}

/**
 * Checks the `resourceMetadata` option; `undefined` when it is not set.
 * @throws InvalidConfigurationError naming the key at fault
 */
export function resolveResourceMetadata(
  value: ResourceMetadataOptions | undefined,
  issuers: readonly ResolvedIssuerOptions[],
  dynamic: boolean,
  unsafe: boolean,
): ResolvedResourceMetadata | undefined {
  if (value === undefined) return undefined;
  const options = checkObject('resourceMetadata', value, KEYS);
  const { path, url } = checkResource(options.resource, unsafe);
  const scopes =
    options.scopesSupported === undefined
      ? undefined
      : checkStrings('resourceMetadata.scopesSupported', options.scopesSupported, (s, at) => {
          if (!SCOPE_TOKEN.test(s)) fail(at, 'is not a valid scope token (RFC 6749 §3.3)');
        });
  if (
    options.resourceName !== undefined &&
    (typeof options.resourceName !== 'string' || options.resourceName.length === 0)
  )
    fail('resourceMetadata.resourceName', 'must be a non-empty string');
  const documents = {
    resource_documentation: checkDocumentUrl(
      'resourceMetadata.resourceDocumentation',
      options.resourceDocumentation,
    ),
    resource_policy_uri: checkDocumentUrl(
      'resourceMetadata.resourcePolicyUri',
      options.resourcePolicyUri,
    ),
    resource_tos_uri: checkDocumentUrl('resourceMetadata.resourceTosUri', options.resourceTosUri),
  };
  const members: Record<string, unknown> = {};
  if (options.resourceName !== undefined) members.resource_name = options.resourceName;
  for (const [name, member] of Object.entries(documents))
    if (member !== undefined) members[name] = member;
  Object.assign(members, checkExtraMetadata(options.extraMetadata));
  return Object.freeze({
    resource: options.resource as string,
    path,
    url,
    authorizationServers: checkAuthorizationServers(
      options.authorizationServers,
      issuers,
      dynamic,
      unsafe,
    ),
    ...(scopes ? { scopesSupported: scopes } : {}),
    members: Object.freeze(members),
  });
}
