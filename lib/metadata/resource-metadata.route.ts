import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, Reflector } from '@nestjs/core';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { LOG_CONTEXT } from '../utils/failure-log.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { collectScopes } from './collect-scopes.js';

/**
 * Shared caches may keep the document for five minutes: it holds nothing personal and changes
 * only with the configuration, and a short lifetime bounds how long clients are sent to an
 * authorization server the API no longer trusts after a change.
 */
const CACHE_CONTROL = 'public, max-age=300';

/**
 * The RFC 9728 document for these options: the computed members first, then the given ones.
 * Members with zero values are left out (RFC 9728 §2).
 */
export function resourceMetadataDocument(
  options: ResolvedOidcResourceOptions,
  collectedScopes: readonly string[],
): Record<string, unknown> {
  const metadata = options.resourceMetadata;
  if (!metadata) return {};
  const document: Record<string, unknown> = { resource: metadata.resource };
  if (metadata.authorizationServers.length > 0)
    document.authorization_servers = [...metadata.authorizationServers];
  const scopes = metadata.scopesSupported ?? collectedScopes;
  if (scopes.length > 0) document.scopes_supported = [...scopes];
  // A form-body token is never read, so "body" is never listed.
  document.bearer_methods_supported = options.allowQueryToken ? ['header', 'query'] : ['header'];
  if (options.dpop) {
    // The same list as the `algs` of DPoP challenges.
    document.dpop_signing_alg_values_supported = [...options.dpop.algorithms];
    // Its default is false: only `true` is worth sending.
    if (options.dpop.mode === 'required') document.dpop_bound_access_tokens_required = true;
  }
  if (options.mtls) document.tls_client_certificate_bound_access_tokens = true;
  return Object.assign(document, metadata.members);
}

/**
 * Whether a token for `resource` (its `aud`) passes the audience check of every advertised
 * issuer (the top-level setting for those only `resolveIssuer` trusts).
 */
function acceptsAudience(options: ResolvedOidcResourceOptions, resource: string): boolean {
  const advertised = new Set(options.resourceMetadata?.authorizationServers);
  const listed = options.issuers.filter((issuer) => advertised.has(issuer.issuer));
  const audiences =
    listed.length > 0
      ? listed.map((issuer) => issuer.audiences)
      : [options.issuerDefaults.audience ?? false];
  return audiences.every((list) =>
    list === false ? true : typeof list === 'string' ? list === resource : list.includes(resource),
  );
}

/**
 * Serves `resourceMetadata` at its well-known path. The route goes on the HTTP adapter itself
 * at start, as @nestjs/swagger does for its documents: so `setGlobalPrefix` does not move it
 * (RFC 9728 §3.1 fixes the path), and no guard, interceptor or pipe of the app runs for it (the
 * document is public). Nothing is served without an HTTP adapter (application contexts,
 * microservice-only apps).
 */
@Injectable()
export class ResourceMetadataRoute implements OnModuleInit {
  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const metadata = this.options.resourceMetadata;
    const adapter = this.adapterHost?.httpAdapter;
    if (!metadata || !adapter) return;
    const scopes = metadata.scopesSupported
      ? []
      : collectScopes(this.discovery, this.scanner, this.reflector);
    if (!acceptsAudience(this.options, metadata.resource)) {
      // Not refused: some providers cannot issue that audience. But clients that follow the
      // document ask for tokens for `resource` (RFC 8707), and this API would refuse them.
      new Logger(LOG_CONTEXT).warn(
        `resourceMetadata.resource "${metadata.resource}" is not an audience this API accepts: ` +
          'clients that follow the metadata will get tokens that are refused (add it to audience)',
      );
    }
    const body = JSON.stringify(resourceMetadataDocument(this.options, scopes));
    adapter.get(metadata.path, (_request: unknown, response: unknown) => {
      adapter.setHeader(response, 'Content-Type', 'application/json');
      adapter.setHeader(response, 'Cache-Control', CACHE_CONTROL);
      // Browser-based clients (such as MCP inspectors) read it from other origins; it is public
      // and no credentials are involved.
      adapter.setHeader(response, 'Access-Control-Allow-Origin', '*');
      adapter.reply(response, body, 200);
    });
  }
}
