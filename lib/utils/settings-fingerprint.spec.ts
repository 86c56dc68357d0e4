import * as crypto from 'node:crypto';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { resolveOptions, type ResolvedOidcResourceOptions } from './resolve-options.js';
import {
  FINGERPRINT_INTROSPECTION,
  FINGERPRINT_OPTIONS,
  settingsFingerprint,
} from './settings-fingerprint.js';

const BASE = { issuer: 'https://idp.example.com', audience: 'https://api.example.com' } as const;

/** Every option set, so that every resolved key is present. */
const FULL: OidcResourceModuleOptions = {
  ...BASE,
  audience: ['https://b.example', 'https://a.example'],
  tokenFormat: 'auto',
  algorithms: ['RS256', 'ES256'],
  jwksUri: 'https://idp.example.com/jwks',
  clockTolerance: 30,
  requireJwtAccessTokenType: false,
  scopeClaims: ['scp', 'scope'],
  roleClaims: ['realm_access.roles'],
  introspection: {
    clientId: 'api',
    clientSecret: 's3cret',
    authMethod: 'client_secret_post',
    endpoint: 'https://idp.example.com/introspect',
    allowUntypedResponses: true,
  },
  cache: { ttl: 60_000, signingKey: crypto.randomBytes(32) },
  userInfo: { ttl: 1000, endpoint: 'https://idp.example.com/me' },
  realm: 'api',
  allowQueryToken: true,
  maxTokenLength: 9000,
  httpTimeout: 3000,
  unsafeAllowInsecureIssuer: false,
};

const ecKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

const included = (table: object) =>
  Object.entries(table)
    .filter(([, rule]) => typeof rule === 'function')
    .map(([key]) => key);

describe('settingsFingerprint', () => {
  it('places every resolved option: in the fingerprint, or excluded with a reason', () => {
    const resolved = resolveOptions(FULL);
    // A key missing from the table is a new option nobody decided about.
    expect(Object.keys(resolved).sort()).toEqual(Object.keys(FINGERPRINT_OPTIONS).sort());
    const withKey = resolveOptions({
      ...BASE,
      introspection: { clientId: 'api', authMethod: 'private_key_jwt', privateKey: ecKey },
    });
    const introspectionKeys = new Set([
      ...Object.keys(resolved.introspection!),
      ...Object.keys(withKey.introspection!),
    ]);
    expect([...introspectionKeys].sort()).toEqual(Object.keys(FINGERPRINT_INTROSPECTION).sort());
    for (const rule of [
      ...Object.values(FINGERPRINT_OPTIONS),
      ...Object.values(FINGERPRINT_INTROSPECTION),
    ]) {
      if (typeof rule !== 'function') expect((rule as { excluded: string }).excluded).toMatch(/\w/);
    }
  });

  it('is unchanged from the hand-written version, so shared-store entries stay readable', () => {
    expect(settingsFingerprint(resolveOptions(BASE))).toBe('qovlEKoodcwzawq9');
    expect(settingsFingerprint(resolveOptions(FULL))).toBe('vrSE5niXbQajNSCg');
    expect(settingsFingerprint(resolveOptions({ ...BASE, audience: false }))).toBe(
      'nC0n3fVb29YuiKHw',
    );
  });

  it('changes with every included option, and with none of the excluded ones', () => {
    const base = resolveOptions(FULL);
    const fingerprint = settingsFingerprint(base);
    const changed: Partial<Record<keyof ResolvedOidcResourceOptions, unknown>> = {
      issuer: 'https://other.example.com',
      audiences: ['https://c.example'],
      tokenFormat: 'jwt',
      algorithms: ['EdDSA'],
      jwksUri: 'https://idp.example.com/other-jwks',
      clockTolerance: 0,
      requireJwtAccessTokenType: true,
      scopeClaims: [['scope']],
      roleClaims: [['roles']],
      introspection: { ...base.introspection!, clientId: 'other' },
    };
    expect(Object.keys(changed).sort()).toEqual(included(FINGERPRINT_OPTIONS).sort());
    for (const [key, value] of Object.entries(changed)) {
      expect([key, settingsFingerprint({ ...base, [key]: value })]).not.toEqual([key, fingerprint]);
    }
    for (const key of included(FINGERPRINT_INTROSPECTION)) {
      const introspection = { ...base.introspection!, [key]: 'changed' };
      expect([key, settingsFingerprint({ ...base, introspection })]).not.toEqual([
        key,
        fingerprint,
      ]);
    }
    const unrelated: ResolvedOidcResourceOptions = {
      ...base,
      cache: { ...base.cache, ttl: 1 },
      userInfo: { ttl: 5 },
      global: !base.global,
      realm: 'other',
      allowQueryToken: !base.allowQueryToken,
      maxTokenLength: 100,
      httpTimeout: 1,
      unsafeAllowInsecureIssuer: true,
      introspection: { ...base.introspection!, clientSecret: 'other' },
    };
    expect(settingsFingerprint(unrelated)).toBe(fingerprint);
  });
});
