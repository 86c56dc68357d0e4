import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { resolveOptions } from '../utils/resolve-options.js';

const BASE = { issuer: 'https://idp.example.com', audience: 'https://api.example.com' } as const;

function resolved(resourceMetadata: unknown, extra: Partial<OidcResourceModuleOptions> = {}) {
  return resolveOptions({
    ...BASE,
    ...extra,
    resourceMetadata,
  } as OidcResourceModuleOptions).resourceMetadata!;
}

/** The message of the configuration error thrown for these settings (fails otherwise). */
function refusal(resourceMetadata: unknown, extra: Partial<OidcResourceModuleOptions> = {}) {
  try {
    resolved(resourceMetadata, extra);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(resourceMetadata)}`);
}

describe('resourceMetadata option', () => {
  it('is absent unless set', () => {
    expect(resolveOptions({ ...BASE }).resourceMetadata).toBeUndefined();
  });

  it.each([
    ['https://api.example.com', '/.well-known/oauth-protected-resource'],
    ['https://api.example.com/', '/.well-known/oauth-protected-resource'],
    ['https://api.example.com/v1', '/.well-known/oauth-protected-resource/v1'],
    ['https://api.example.com/v1/', '/.well-known/oauth-protected-resource/v1/'],
    ['https://API.example.com:8443/a/b', '/.well-known/oauth-protected-resource/a/b'],
    ['http://127.0.0.1:3000/api', '/.well-known/oauth-protected-resource/api'],
  ])('%s → document at %s (RFC 9728 §3.1), resource kept as written', (resource, path) => {
    const metadata = resolved({ resource });
    expect(metadata.resource).toBe(resource);
    expect(metadata.path).toBe(path);
    expect(metadata.url).toBe(new URL(resource).origin + path);
  });

  it('defaults authorization_servers to the listed issuers, in order', () => {
    const metadata = resolved(
      { resource: 'https://api.example.com' },
      {
        issuer: undefined,
        issuers: [{ issuer: 'https://a.example.com' }, { issuer: 'https://b.example.com' }],
      },
    );
    expect(metadata.authorizationServers).toEqual([
      'https://a.example.com',
      'https://b.example.com',
    ]);
    expect(metadata.scopesSupported).toBeUndefined();
  });

  it('keeps given scopes and members as given', () => {
    const metadata = resolved({
      resource: 'https://api.example.com',
      scopesSupported: ['b', 'a'],
      resourceName: 'API',
      resourceDocumentation: 'http://docs.example.com/#intro',
      extraMetadata: { custom: { deep: [1] } },
    });
    expect(metadata.scopesSupported).toEqual(['b', 'a']);
    expect(metadata.members).toEqual({
      resource_name: 'API',
      resource_documentation: 'http://docs.example.com/#intro',
      custom: { deep: [1] },
    });
  });

  it.each<[string, unknown, string, Partial<OidcResourceModuleOptions>?]>([
    ['not an object', 'https://api.example.com', 'resourceMetadata'],
    [
      'an unknown key',
      { resource: 'https://api.example.com', scopes: [] },
      'resourceMetadata.scopes',
    ],
    ['no resource', {}, 'resourceMetadata.resource'],
    [
      'an http resource off loopback',
      { resource: 'http://api.example.com' },
      'resourceMetadata.resource',
    ],
    [
      'a resource with a fragment',
      { resource: 'https://api.example.com/#x' },
      'resourceMetadata.resource',
    ],
    [
      'a resource with a query',
      { resource: 'https://api.example.com/?v=1' },
      'resourceMetadata.resource',
    ],
    [
      'a resource with an empty query',
      { resource: 'https://api.example.com/?' },
      'resourceMetadata.resource',
    ],
    [
      'a resource with credentials',
      { resource: 'https://u:p@api.example.com' },
      'resourceMetadata.resource',
    ],
    [
      'a route-syntax path',
      { resource: 'https://api.example.com/:id' },
      'resourceMetadata.resource',
    ],
    ['an encoded path', { resource: 'https://api.example.com/a%20b' }, 'resourceMetadata.resource'],
    ['a dot segment', { resource: 'https://api.example.com/a/../b' }, 'resourceMetadata.resource'],
    [
      'a final dot segment',
      { resource: 'https://api.example.com/a/..' },
      'resourceMetadata.resource',
    ],
    ['a backslash', { resource: 'https://api.example.com\\a' }, 'resourceMetadata.resource'],
    ['not a URL', { resource: 'api.example.com' }, 'resourceMetadata.resource'],
    [
      'authorizationServers not an array',
      { resource: 'https://api.example.com', authorizationServers: 'https://idp.example.com' },
      'resourceMetadata.authorizationServers',
    ],
    [
      'an untrusted authorization server',
      { resource: 'https://api.example.com', authorizationServers: ['https://other.example.com'] },
      'resourceMetadata.authorizationServers[0]',
    ],
    [
      'an http authorization server',
      { resource: 'https://api.example.com', authorizationServers: ['http://idp.example.com'] },
      'resourceMetadata.authorizationServers[0]',
      { issuer: undefined, resolveIssuer: () => undefined },
    ],
    [
      'no authorization server with resolveIssuer alone',
      { resource: 'https://api.example.com' },
      'resourceMetadata.authorizationServers',
      { issuer: undefined, resolveIssuer: () => undefined },
    ],
    [
      'a bad scope',
      { resource: 'https://api.example.com', scopesSupported: ['a b'] },
      'resourceMetadata.scopesSupported[0]',
    ],
    [
      'an empty resourceName',
      { resource: 'https://api.example.com', resourceName: '' },
      'resourceMetadata.resourceName',
    ],
    [
      'a non-URL documentation',
      { resource: 'https://api.example.com', resourceDocumentation: 'docs' },
      'resourceMetadata.resourceDocumentation',
    ],
    [
      'a javascript: policy URI',
      { resource: 'https://api.example.com', resourcePolicyUri: 'javascript:alert(1)' },
      'resourceMetadata.resourcePolicyUri',
    ],
    [
      'a ftp: terms URI',
      { resource: 'https://api.example.com', resourceTosUri: 'ftp://example.com/tos' },
      'resourceMetadata.resourceTosUri',
    ],
    [
      'extraMetadata not an object',
      { resource: 'https://api.example.com', extraMetadata: [] },
      'resourceMetadata.extraMetadata',
    ],
    [
      'an extra member overriding a computed one',
      { resource: 'https://api.example.com', extraMetadata: { scopes_supported: ['x'] } },
      'resourceMetadata.extraMetadata.scopes_supported',
    ],
    [
      'an extra member overriding a typed option',
      { resource: 'https://api.example.com', extraMetadata: { resource_name: 'x' } },
      'resourceMetadata.extraMetadata.resource_name',
    ],
    [
      'an extra DPoP member',
      {
        resource: 'https://api.example.com',
        extraMetadata: { dpop_bound_access_tokens_required: true },
      },
      'resourceMetadata.extraMetadata.dpop_bound_access_tokens_required',
    ],
    [
      'an empty extra member',
      { resource: 'https://api.example.com', extraMetadata: { tags: [] } },
      'resourceMetadata.extraMetadata.tags',
    ],
    [
      'a null extra member',
      { resource: 'https://api.example.com', extraMetadata: { tags: null } },
      'resourceMetadata.extraMetadata.tags',
    ],
    [
      'a non-JSON extra member',
      { resource: 'https://api.example.com', extraMetadata: { n: 1n } },
      'resourceMetadata.extraMetadata.n',
    ],
    [
      'a function as extra member',
      { resource: 'https://api.example.com', extraMetadata: { f: () => 1 } },
      'resourceMetadata.extraMetadata.f',
    ],
    [
      'none among signing algorithms (RFC 9728 §2)',
      {
        resource: 'https://api.example.com',
        extraMetadata: { resource_signing_alg_values_supported: ['RS256', 'none'] },
      },
      'resourceMetadata.extraMetadata.resource_signing_alg_values_supported',
    ],
    [
      'an http jwks_uri (RFC 9728 §2)',
      {
        resource: 'https://api.example.com',
        extraMetadata: { jwks_uri: 'http://api.example.com/jwks' },
      },
      'resourceMetadata.extraMetadata.jwks_uri',
    ],
  ])('refuses %s, naming the key', (_case, value, key, ...extra) => {
    // A rest parameter: a fourth declared one would make jest wait for a `done` callback.
    expect(refusal(value, extra[0])).toContain(`option "${key}"`);
  });

  it('refuses a circular extra member without crashing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(refusal({ resource: 'https://api.example.com', extraMetadata: { circular } })).toContain(
      '"resourceMetadata.extraMetadata.circular"',
    );
  });
});
