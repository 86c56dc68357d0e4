/**
 * `diagnose()` as data, from both entry points, over every configured issuer: each issuer's
 * discovery and keys are checked, and the token is judged by the issuer it names.
 */
import { diagnose } from '../../lib/index.js';
import { diagnose as fromDoctorEntry } from '../../lib/doctor/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { forgeAccessToken } from '../fixtures/tokens.js';

let staff: AuthorizationServer;
let partner: AuthorizationServer;

beforeAll(async () => {
  [staff, partner] = await Promise.all([startAuthorizationServer(), startAuthorizationServer()]);
});

afterAll(async () => {
  await staff?.close();
  await partner?.close();
});

it('is the same function from the main entry and from nestjs-oidc-resource/doctor', () => {
  expect(fromDoctorEntry).toBe(diagnose);
});

it('checks every listed issuer, and the token against the issuer it names', async () => {
  const token = await partner.clientCredentials();
  const diagnosis = await diagnose(
    { audience: API, issuers: [{ issuer: staff.issuer }, { issuer: partner.issuer }] },
    token,
    { quiet: true },
  );
  expect(diagnosis.ok).toBe(true);
  expect(diagnosis.findings.map((f) => `${f.check}:${f.status}:${f.issuer}`)).toEqual([
    `discovery:pass:${staff.issuer}`,
    `jwks:pass:${staff.issuer}`,
    `discovery:pass:${partner.issuer}`,
    `jwks:pass:${partner.issuer}`,
    `token:pass:${partner.issuer}`,
    `scopes:pass:${partner.issuer}`,
  ]);
  expect(JSON.stringify(diagnosis)).not.toContain(token);
});

it('names the issuer whose settings refused the token, and the fix', async () => {
  const token = await forgeAccessToken(partner, { header: { typ: 'JWT' } });
  const diagnosis = await diagnose(
    { audience: API, issuers: [{ issuer: staff.issuer }, { issuer: partner.issuer }] },
    token,
    { quiet: true },
  );
  expect(diagnosis.ok).toBe(false);
  const refusal = diagnosis.findings.find((f) => f.check === 'token' && f.status === 'fail');
  expect(refusal).toMatchObject({
    issuer: partner.issuer,
    code: 'invalid_token',
    reason: 'typ_not_accepted',
    option: 'requireJwtAccessTokenType',
    suggestion: false,
  });
  expect(diagnosis.suggestedOptions.requireJwtAccessTokenType).toBe(false);
  expect(JSON.stringify(diagnosis)).not.toContain(token.split('.')[2]);
});
