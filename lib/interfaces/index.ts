export type { AuthenticatedPrincipal } from './authenticated-principal.interface.js';
export type {
  CacheOptions,
  DpopOptions,
  IntrospectionAuthMethod,
  IntrospectionOptions,
  IssuerOptions,
  IssuerResolver,
  IssuerSettingsOptions,
  JsonWebKeyObject,
  MtlsOptions,
  OidcResourceModuleOptions,
  OidcResourceOptionsFactory,
  ResourceMetadataOptions,
  RpcOptions,
  SharedCacheStore,
  TelemetryOptions,
  UserInfoOptions,
} from './oidc-resource-options.interface.js';
