export { OidcResourceModule } from './oidc-resource.module.js';
export type { OidcResourceModuleExtras } from './oidc-resource.module-definition.js';
export {
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_OPTIONS,
  OIDC_BEARER_STRATEGY,
  PUBLIC_METADATA_KEY,
  SCOPES_METADATA_KEY,
  ANY_SCOPE_METADATA_KEY,
  ROLES_METADATA_KEY,
  ANY_ROLE_METADATA_KEY,
  POLICIES_METADATA_KEY,
  STEP_UP_METADATA_KEY,
} from './oidc-resource.constants.js';
export {
  AnyRole,
  AnyScope,
  Authorize,
  CurrentUser,
  Public,
  Roles,
  Scopes,
  StepUp,
  type StepUpRequirement,
} from './decorators/index.js';
export {
  claimEquals,
  claimIncludes,
  type OidcPolicy,
  type OidcPolicyFunction,
  type Policy,
} from './authorization/policies.js';
export type { ClaimPath } from './authorization/claim-path.js';
export { PolicyFailedError, PolicyNotRegisteredError } from './authorization/route-access.js';
export { OidcAuthGuard } from './guards/oidc-auth.guard.js';
export type { RouteAccess, RouteRequirements } from './authorization/route-access.js';
export {
  OidcGraphQLError,
  type OidcGraphQLErrorExtensions,
} from './transports/graphql.transport.js';
export type { OAuthErrorDetails } from './transports/oauth-error.js';
export { socketPrincipal } from './transports/principal-store.js';
export { OidcResourceExceptionFilter } from './guards/oidc-resource-exception.filter.js';
export { TokenValidationService } from './services/token-validation.service.js';
export { TokenCacheService } from './services/token-cache.service.js';
export { UserInfoService } from './services/user-info.service.js';
export { IssuerMetadataService, type IssuerMetadata } from './services/issuer-metadata.service.js';
export {
  OidcResourceError,
  TokenMissingError,
  InvalidRequestError,
  InvalidTokenError,
  TokenExpiredError,
  TokenInactiveError,
  InsufficientScopeError,
  AccessDeniedError,
  InsufficientUserAuthenticationError,
  InvalidDpopProofError,
  UseDpopNonceError,
  type StepUpChallenge,
  UserInfoNotPermittedError,
  UserInfoSubjectMismatchError,
  UserInfoFailedError,
  IssuerUnavailableError,
  InvalidConfigurationError,
  OIDC_ERROR_STATUS,
  type OidcResourceErrorCode,
  type OidcResourceErrorOptions,
  type OidcResourceErrorReason,
} from './errors/oidc-resource.error.js';
export {
  bearerChallenge,
  toHttpError,
  type ChallengeContext,
  type OidcHttpError,
} from './errors/www-authenticate.js';
export type { Clock } from './utils/clock.js';
export {
  OidcHealthIndicator,
  HEALTH_CHECK_INTERVAL,
  type OidcHealthResult,
  type OidcIssuerHealth,
} from './health/oidc-health.indicator.js';
export {
  diagnose,
  type DiagnoseSettings,
  type Diagnosis,
  type DoctorCheck,
  type DoctorFinding,
  type DoctorStatus,
} from './doctor/diagnose.js';
export type {
  AuthenticatedPrincipal,
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
} from './interfaces/index.js';
