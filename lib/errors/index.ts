export * from './oidc-resource.error.js';
export { bearerChallenge, toHttpError, type OidcHttpError } from './www-authenticate.js';
