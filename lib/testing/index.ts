/**
 * `nestjs-oidc-resource/testing`: a real OpenID provider for the tests of an app that uses
 * `OidcResourceModule`. A separate entry point: the main one never loads it.
 *
 * @example
 * import { createTestIssuer } from 'nestjs-oidc-resource/testing';
 *
 * const issuer = await createTestIssuer();
 * OidcResourceModule.forRoot(issuer.moduleOptions({ audience: 'api' }));
 * const token = await issuer.accessToken({ sub: 'alice', scopes: ['notes:read'] });
 */
export {
  createTestIssuer,
  DEFAULT_TEST_AUDIENCE,
  TEST_RESOURCE_SERVER_CLIENT_ID,
} from './test-issuer.js';
export type {
  TestAccessTokenOptions,
  TestIssuer,
  TestIssuerOptions,
  TestIssuerRequests,
} from './test-issuer.types.js';
export type { TestSigningAlgorithm } from './signing-keys.js';
