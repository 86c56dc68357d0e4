export * from './oidc-resource.error.js';
export {
  bearerChallenge,
  toHttpError,
  type ChallengeContext,
  type OidcHttpError,
} from './www-authenticate.js';
