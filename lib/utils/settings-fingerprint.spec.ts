import * as crypto from 'node:crypto';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { resolveOptions, type ResolvedOidcResourceOptions } from './resolve-options.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';
import {
  FINGERPRINT_INTROSPECTION,
  FINGERPRINT_ISSUER,
  FINGERPRINT_OPTIONS,
  settingsFingerprint,
} from './settings-fingerprint.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

/** `options` with its first issuer's settings changed by `patch`. */
function withFirstIssuer(
  options: ResolvedOidcResourceOptions,
  patch: Partial<ResolvedIssuerOptions>,
): ResolvedOidcResourceOptions {
  const [first, ...rest] = options.issuers;
  return { ...options, issuers: [{ ...first!, ...patch }, ...rest] };
}

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
  rpc: { token: () => undefined },
  unsafeAllowInsecureIssuer: false,
  dpop: { mode: 'required', nonce: true },
  mtls: { certificateHeader: 'x-client-cert' },
  resourceMetadata: { resource: 'https://api.example.com' },
};

const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

const included = (table: object) =>
  Object.entries(table)
    .filter(([, rule]) => typeof rule === 'function')
    .map(([key]) => key);

describe('settingsFingerprint', () => {
  it('places every resolved option: in the fingerprint, or excluded with a reason', () => {
    const resolved = resolveOptions(FULL);
    // A key missing from the table is a new option nobody decided about.
    const dynamic = resolveOptions({ ...FULL, resolveIssuer: () => undefined });
    expect(Object.keys(dynamic).sort()).toEqual(Object.keys(FINGERPRINT_OPTIONS).sort());
    expect(Object.keys(resolved.issuers[0]!).sort()).toEqual(
      Object.keys(FINGERPRINT_ISSUER).sort(),
    );
    const withKey = resolveOptions({
      ...BASE,
      introspection: { clientId: 'api', authMethod: 'private_key_jwt', privateKey: ecKey },
    });
    const introspectionKeys = new Set([
      ...Object.keys(resolved.issuers[0]!.introspection!),
      ...Object.keys(withKey.issuers[0]!.introspection!),
    ]);
    expect([...introspectionKeys].sort()).toEqual(Object.keys(FINGERPRINT_INTROSPECTION).sort());
    for (const rule of [
      ...Object.values(FINGERPRINT_OPTIONS),
      ...Object.values(FINGERPRINT_ISSUER),
      ...Object.values(FINGERPRINT_INTROSPECTION),
    ]) {
      if (typeof rule !== 'function') expect((rule as { excluded: string }).excluded).toMatch(/\w/);
    }
  });

  it('is pinned: a change to it is deliberate (shared-store entries written before are dropped)', () => {
    expect(settingsFingerprint(resolveOptions(BASE))).toBe('f_i_3_yVRl9Fa3iX');
    expect(settingsFingerprint(resolveOptions(FULL))).toBe('IyNnIdUQGj43Uzpq');
    expect(settingsFingerprint(resolveOptions({ ...BASE, audience: false }))).toBe(
      '-_qNJX_RyyQH4DYw',
    );
  });

  it('changes with every included option, and with none of the excluded ones', () => {
    const base = resolveOptions(FULL);
    const first = base.issuers[0]!;
    const fingerprint = settingsFingerprint(base);
    const changed: Partial<Record<keyof ResolvedIssuerOptions, unknown>> = {
      issuer: 'https://other.example.com',
      audiences: ['https://c.example'],
      tokenFormat: 'jwt',
      algorithms: ['EdDSA'],
      jwksUri: 'https://idp.example.com/other-jwks',
      clockTolerance: 0,
      requireJwtAccessTokenType: true,
      scopeClaims: [['scope']],
      roleClaims: [['roles']],
      introspection: { ...first.introspection!, clientId: 'other' },
    };
    expect(Object.keys(changed).sort()).toEqual(included(FINGERPRINT_ISSUER).sort());
    for (const [key, value] of Object.entries(changed)) {
      expect([key, settingsFingerprint(withFirstIssuer(base, { [key]: value }))]).not.toEqual([
        key,
        fingerprint,
      ]);
    }
    for (const key of included(FINGERPRINT_INTROSPECTION)) {
      const introspection = { ...first.introspection!, [key]: 'changed' };
      expect([key, settingsFingerprint(withFirstIssuer(base, { introspection }))]).not.toEqual([
        key,
        fingerprint,
      ]);
    }
    // Top level: another issuer, a resolver, other defaults for resolved issuers.
    const second = { ...first, issuer: 'https://second.example.com' };
    for (const [key, options] of [
      ['issuers', { ...base, issuers: [...base.issuers, second] }],
      ['issuers order', { ...base, issuers: [second, first] }],
      ['resolveIssuer', { ...base, resolveIssuer: () => undefined }],
      ['issuerDefaults', { ...base, issuerDefaults: { ...base.issuerDefaults, audience: 'x' } }],
    ] as const) {
      expect([key, settingsFingerprint(options)]).not.toEqual([key, fingerprint]);
    }
    expect(included(FINGERPRINT_OPTIONS).sort()).toEqual([
      'issuerDefaults',
      'issuers',
      'resolveIssuer',
    ]);
    const unrelated: ResolvedOidcResourceOptions = {
      ...withFirstIssuer(base, {
        introspection: { ...first.introspection!, clientSecret: 'other' },
        userInfoEndpoint: 'https://idp.example.com/other-userinfo',
      }),
      maxIssuers: 3,
      cache: { ...base.cache, ttl: 1 },
      userInfo: { ttl: 5 },
      global: !base.global,
      realm: 'other',
      allowQueryToken: !base.allowQueryToken,
      maxTokenLength: 100,
      httpTimeout: 1,
      unsafeAllowInsecureIssuer: true,
      issuerDefaults: {
        ...base.issuerDefaults,
        introspection: { ...base.issuerDefaults.introspection!, clientSecret: 'other' },
        userInfo: { endpoint: 'https://idp.example.com/elsewhere' },
      },
    };
    expect(settingsFingerprint(unrelated)).toBe(fingerprint);
  });
});
