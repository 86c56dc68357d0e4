export type { AuthenticatedPrincipal } from './authenticated-principal.interface.js';
export type {
  CacheOptions,
  IntrospectionAuthMethod,
  IntrospectionOptions,
  IssuerOptions,
  IssuerResolver,
  IssuerSettingsOptions,
  JsonWebKeyObject,
  OidcResourceModuleOptions,
  OidcResourceOptionsFactory,
  RpcOptions,
  SharedCacheStore,
  TelemetryOptions,
  UserInfoOptions,
} from './oidc-resource-options.interface.js';
