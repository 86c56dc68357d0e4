/**
 * The sample's OIDC_* variables: what each one sets, and the message a malformed one stops the
 * start with (naming the variable).
 */
import { oidcOptionsFromEnv, SampleEnvironmentError } from '../../sample/oidc-env.js';

const BASE = { OIDC_ISSUER: 'https://idp.example.com', OIDC_AUDIENCE: 'notes-api' };
const read = (env: Record<string, string>) => oidcOptionsFromEnv((name) => env[name]);

describe('sample OIDC_* variables', () => {
  it('needs only the issuer and the audience; the rest keeps the library defaults', () => {
    expect(read(BASE)).toEqual({ issuer: 'https://idp.example.com', audience: 'notes-api' });
  });

  it('publishes RFC 9728 metadata for OIDC_RESOURCE', () => {
    expect(read({ ...BASE, OIDC_RESOURCE: ' https://api.example.com ' }).resourceMetadata).toEqual({
      resource: 'https://api.example.com',
    });
    expect(read({ ...BASE, OIDC_RESOURCE: '' })).not.toHaveProperty('resourceMetadata');
  });

  it('reads several audiences, comma-separated', () => {
    expect(read({ ...BASE, OIDC_AUDIENCE: 'api-id, api://api-id' }).audience).toEqual([
      'api-id',
      'api://api-id',
    ]);
  });

  it('names a missing required variable, and says what its value is', () => {
    expect(() => read({ OIDC_AUDIENCE: 'a' })).toThrow(
      new SampleEnvironmentError(
        "OIDC_ISSUER is required: your identity provider's issuer (unset: the embedded dev server)",
      ),
    );
    expect(() => read({ ...BASE, OIDC_AUDIENCE: ' ' })).toThrow(
      new SampleEnvironmentError(
        "OIDC_AUDIENCE is required: this API's identifier, the aud its tokens carry (comma-separated: several)",
      ),
    );
  });

  it('turns introspection on with the client id, and then requires the secret', () => {
    expect(
      read({
        ...BASE,
        OIDC_INTROSPECTION_CLIENT_ID: 'notes-api',
        OIDC_INTROSPECTION_CLIENT_SECRET: 's3cret',
      }).introspection,
    ).toEqual({ clientId: 'notes-api', clientSecret: 's3cret' });
    expect(read({ ...BASE, OIDC_INTROSPECTION_CLIENT_SECRET: 's3cret' })).not.toHaveProperty(
      'introspection',
    );
    expect(() => read({ ...BASE, OIDC_INTROSPECTION_CLIENT_ID: 'notes-api' })).toThrow(
      /^OIDC_INTROSPECTION_CLIENT_SECRET is required when OIDC_INTROSPECTION_CLIENT_ID is set/,
    );
  });

  it('reads OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE as true or false, in any case', () => {
    const typ = (value: string) =>
      read({ ...BASE, OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE: value }).requireJwtAccessTokenType;
    expect(typ('false')).toBe(false);
    expect(typ('FALSE')).toBe(false);
    expect(typ('true')).toBe(true);
    expect(typ('')).toBeUndefined();
    expect(() => typ('no')).toThrow(
      'OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE must be true or false, not "no"',
    );
  });

  it('reads OIDC_TOKEN_FORMAT as auto, jwt or opaque', () => {
    const format = (value: string) => read({ ...BASE, OIDC_TOKEN_FORMAT: value }).tokenFormat;
    expect(format('opaque')).toBe('opaque');
    expect(format('JWT')).toBe('jwt');
    expect(format('auto')).toBe('auto');
    expect(() => format('jwts')).toThrow(
      'OIDC_TOKEN_FORMAT must be one of auto, jwt, opaque, not "jwts"',
    );
  });

  it('reads OIDC_ALGORITHMS as a list, and leaves the names to the library', () => {
    const algorithms = (value: string) => read({ ...BASE, OIDC_ALGORITHMS: value }).algorithms;
    expect(algorithms('RS256,ES256')).toEqual(['RS256', 'ES256']);
    expect(algorithms(' PS256 , EdDSA ')).toEqual(['PS256', 'EdDSA']);
    expect(algorithms('HS256')).toEqual(['HS256']); // refused at start by the library, by name
    expect(() => algorithms(',')).toThrow('OIDC_ALGORITHMS lists nothing: ","');
  });

  it('reads OIDC_DPOP as allowed or required', () => {
    const dpop = (value: string) => read({ ...BASE, OIDC_DPOP: value }).dpop;
    expect(dpop('allowed')).toEqual({ mode: 'allowed' });
    expect(dpop('REQUIRED')).toEqual({ mode: 'required' });
    expect(read(BASE).dpop).toBeUndefined();
    expect(() => dpop('yes')).toThrow('OIDC_DPOP must be allowed or required, not "yes"');
  });
});
