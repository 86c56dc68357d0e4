/**
 * Claim rules that only an introspection answer can exercise, each on its own. The testing kit's
 * issuer answers with the token's claims, so it sends shapes a provider rarely does; oidc-provider
 * sends the refresh-token shape. Each test fails when the rule it names is removed or widened.
 */
import type { TestingModule } from '@nestjs/testing';
import type { TokenValidationService } from '../../lib/index.js';
import { createTestIssuer, type TestIssuer } from '../../lib/testing/index.js';
import { API, RS_CLIENT, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';

let issuer: TestIssuer;
let tokens: TokenValidationService;
const modules: TestingModule[] = [];

beforeAll(async () => {
  issuer = await createTestIssuer();
  tokens = await buildValidationService(modules, issuer.moduleOptions({ audience: 'api' }));
});
afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await issuer.close();
});

const opaque = (claims: Record<string, unknown>) =>
  issuer.accessToken({ format: 'opaque', audience: 'api', claims });

it('an answer need not name a client (unlike an untyped JWT)', async () => {
  const principal = await tokens.validate(await opaque({ client_id: undefined }));
  expect(principal.clientId).toBeUndefined();
  expect(principal.sub).toBe('test-user');
});

it('a token_type other than Bearer or DPoP is refused, naming the claim', async () => {
  const error = await rejection(tokens.validate(await opaque({ token_type: 'refresh_token' })));
  expect({ reason: error.reason, claim: error.claim, message: error.message }).toEqual({
    reason: 'not_access_token',
    claim: 'token_type',
    message: 'The token is not an access token ("token_type" claim)',
  });
});

it('an answer with neither aud nor token_type (a refresh token) is refused as untyped', async () => {
  // oidc-provider introspects its refresh tokens exactly so: active, no aud, no token_type.
  const as = await startAuthorizationServer();
  try {
    const withAs = await buildValidationService(modules, {
      issuer: as.issuer,
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    });
    const error = await rejection(withAs.validate(await as.mintRefreshToken()));
    expect({ reason: error.reason, message: error.message }).toEqual({
      reason: 'untyped_introspection',
      message: 'The token has no audience and is not typed as an access token',
    });
  } finally {
    await as.close();
  }
});
