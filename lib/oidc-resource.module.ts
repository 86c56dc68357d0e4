import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { PolicyRegistrationCheck } from './authorization/policy-registration.js';
import {
  ConfigurableModuleClass,
  OIDC_RESOURCE_ASYNC_OPTIONS_TYPE,
  OIDC_RESOURCE_GLOBAL_GUARD,
  OIDC_RESOURCE_OPTIONS_TYPE,
} from './oidc-resource.module-definition.js';
import {
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_OPTIONS,
  OIDC_RESOURCE_RESOLVED_OPTIONS,
} from './oidc-resource.constants.js';
import { InvalidConfigurationError } from './errors/oidc-resource.error.js';
import { DpopProofService } from './dpop/dpop-proof.service.js';
import { OidcAuthGuard } from './guards/oidc-auth.guard.js';
import { OidcResourceExceptionFilter } from './guards/oidc-resource-exception.filter.js';
import type { OidcResourceModuleOptions } from './interfaces/oidc-resource-options.interface.js';
import { IntrospectionVerifier } from './introspection/introspection-verifier.js';
import {
  OpaqueTokenIntrospector,
  Rfc7662Introspector,
} from './introspection/opaque-token-introspector.js';
import { IssuerRegistry } from './issuers/issuer-registry.js';
import { JwtVerifier } from './jwt/jwt-verifier.js';
import { OidcHealthIndicator } from './health/oidc-health.indicator.js';
import { TelemetryActivation } from './observability/telemetry-activation.js';
import { ResourceMetadataRoute } from './metadata/resource-metadata.route.js';
import { IssuerMetadataService } from './services/issuer-metadata.service.js';
import { TokenCacheService } from './services/token-cache.service.js';
import { TokenValidationService } from './services/token-validation.service.js';
import { UserInfoService } from './services/user-info.service.js';
import { OidcBearerStrategy } from './strategies/oidc-bearer.strategy.js';
import { AccessTokenVerifier } from './token/access-token-verifier.js';
import { CachingVerifier } from './token/caching-verifier.js';
import { TokenRouter } from './token/token-router.js';
import { SOCKET_HANDSHAKE, SocketHandshake } from './transports/socket-handshake.service.js';
import { systemClock } from './utils/clock.js';
import { resolveOptions } from './utils/resolve-options.js';

const resolvedOptionsProvider: Provider = {
  provide: OIDC_RESOURCE_RESOLVED_OPTIONS,
  inject: [OIDC_RESOURCE_OPTIONS, OIDC_RESOURCE_GLOBAL_GUARD],
  useFactory: (options: OidcResourceModuleOptions, globalGuard: boolean) => {
    if (options && options.global !== undefined && options.global !== globalGuard) {
      throw new InvalidConfigurationError(
        'nestjs-oidc-resource: option "global" changes the module\'s shape; pass it to forRootAsync() itself, beside useFactory, not from the factory',
      );
    }
    return resolveOptions({ ...options, global: globalGuard });
  },
};

/**
 * The resource-server module. Import it once, in the root module; it is global.
 *
 * @example
 * OidcResourceModule.forRoot({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' })
 * @example
 * OidcResourceModule.forRootAsync({
 *   imports: [ConfigModule], inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ issuer: config.getOrThrow('OIDC_ISSUER'), audience: config.getOrThrow('OIDC_AUDIENCE') }),
 * })
 */
@Module({
  // DiscoveryModule: PolicyRegistrationCheck looks for @Authorize() policy classes at start, and
  // ResourceMetadataRoute for the scopes the app names.
  imports: [DiscoveryModule],
  providers: [
    { provide: OIDC_RESOURCE_CLOCK, useValue: systemClock },
    resolvedOptionsProvider,
    IssuerRegistry,
    IssuerMetadataService,
    TokenCacheService,
    // Validation, outermost first: cache, then routing by issuer and form, then the two ways to check.
    CachingVerifier,
    { provide: AccessTokenVerifier, useClass: TokenRouter },
    JwtVerifier,
    IntrospectionVerifier,
    { provide: OpaqueTokenIntrospector, useClass: Rfc7662Introspector },
    TokenValidationService,
    UserInfoService,
    OidcBearerStrategy,
    DpopProofService,
    OidcAuthGuard,
    PolicyRegistrationCheck,
    // For the WebSocket adapters, which find it in the application by this token.
    { provide: SOCKET_HANDSHAKE, useClass: SocketHandshake },
    { provide: APP_FILTER, useClass: OidcResourceExceptionFilter },
    // Operations: OpenTelemetry when the app has it; a health indicator for terminus (which
    // needs nothing from terminus itself, so it is always there).
    TelemetryActivation,
    OidcHealthIndicator,
    // RFC 9728: the well-known document, when `resourceMetadata` is set.
    ResourceMetadataRoute,
  ],
  exports: [
    OIDC_RESOURCE_RESOLVED_OPTIONS,
    OIDC_RESOURCE_CLOCK,
    TokenValidationService,
    TokenCacheService,
    UserInfoService,
    IssuerMetadataService,
    IssuerRegistry,
    OidcAuthGuard,
    // For guards declared in other modules (subclasses of OidcAuthGuard): one replay cache per app.
    DpopProofService,
    OidcHealthIndicator,
  ],
})
export class OidcResourceModule extends ConfigurableModuleClass {
  /** Configures the module with static options. */
  static override forRoot(options: typeof OIDC_RESOURCE_OPTIONS_TYPE): DynamicModule {
    return withGuard(super.forRoot(options), options.global);
  }

  /** Configures the module from a factory, class or existing provider (e.g. `@nestjs/config`). */
  static override forRootAsync(options: typeof OIDC_RESOURCE_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withGuard(super.forRootAsync(options), options.global);
  }
}

function withGuard(definition: DynamicModule, global: boolean | undefined): DynamicModule {
  if (global === false) return definition;
  return {
    ...definition,
    providers: [
      ...(definition.providers ?? []),
      { provide: APP_GUARD, useExisting: OidcAuthGuard },
    ],
  };
}
