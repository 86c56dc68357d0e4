import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { checkUrl, resolveOptions } from './resolve-options.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const BASE = { issuer: 'https://idp.example.com', audience: 'https://api.example.com' } as const;

/** Runs resolveOptions and returns the configuration error it throws (fails the test otherwise). */
function configError(options: unknown): InvalidConfigurationError {
  try {
    resolveOptions(options as OidcResourceModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    return error as InvalidConfigurationError;
  }
  throw new Error(`resolveOptions accepted ${JSON.stringify(options)}`);
}

/** The first (here: only) issuer's resolved settings. */
const first = (options: OidcResourceModuleOptions) => resolveOptions(options).issuers[0]!;

function expectRefused(options: unknown, key: string): void {
  const error = configError(options);
  expect(error.code).toBe('invalid_configuration');
  expect(error.message).toContain(`"${key}"`);
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateJwk = {
  ...(rsa.privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kty: 'RSA',
};
const publicJwk = {
  ...(rsa.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kty: 'RSA',
};

describe('resolveOptions: defaults', () => {
  it('applies every documented default', () => {
    const resolved = resolveOptions({ ...BASE });
    expect(resolved.issuers).toHaveLength(1);
    expect(resolved.issuers[0]).toMatchObject({
      issuer: BASE.issuer,
      audiences: [BASE.audience],
      tokenFormat: 'auto',
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockTolerance: 30,
      requireJwtAccessTokenType: true,
    });
    expect(resolved).toMatchObject({
      maxIssuers: 100,
      cache: { ttl: 300_000, negativeTtl: 5_000, max: 10_000, stores: [] },
      userInfo: { ttl: 300_000 },
      global: true,
      realm: BASE.audience,
      allowQueryToken: false,
      maxTokenLength: 8192,
      httpTimeout: 5000,
      unsafeAllowInsecureIssuer: false,
    });
    expect(resolved.issuers[0]!.introspection).toBeUndefined();
    expect(resolved.issuers[0]!.jwksUri).toBeUndefined();
    expect(resolved.resolveIssuer).toBeUndefined();
    expect(resolved.rpc).toBeUndefined(); // microservice messages pass through
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('introspection.allowUntypedResponses is off unless set to true', () => {
    const introspection = { clientId: 'rs', clientSecret: 's' };
    expect(first({ ...BASE, introspection }).introspection).toMatchObject({
      allowUntypedResponses: false,
    });
    expect(
      first({ ...BASE, introspection: { ...introspection, allowUntypedResponses: true } })
        .introspection,
    ).toMatchObject({ allowUntypedResponses: true });
  });

  it('realm: the first audience, else the issuer; an explicit realm wins', () => {
    expect(resolveOptions({ ...BASE, audience: ['a', 'b'] }).realm).toBe('a');
    expect(resolveOptions({ ...BASE, audience: false }).realm).toBe(BASE.issuer);
    expect(first({ ...BASE, audience: false }).audiences).toBe(false);
    expect(resolveOptions({ ...BASE, realm: 'api' }).realm).toBe('api');
  });

  it('introspection defaults to client_secret_basic', () => {
    expect(
      first({ ...BASE, introspection: { clientId: 'rs', clientSecret: 's' } }).introspection,
    ).toEqual({
      clientId: 'rs',
      clientSecret: 's',
      authMethod: 'client_secret_basic',
      allowUntypedResponses: false,
    });
  });

  it('accepts private_key_jwt with a private JWK or a private KeyObject', () => {
    for (const privateKey of [privateJwk, rsa.privateKey]) {
      const resolved = resolveOptions({
        ...BASE,
        introspection: {
          clientId: 'rs',
          authMethod: 'private_key_jwt',
          privateKey: privateKey as never,
        },
      });
      expect(resolved.issuers[0]!.introspection?.authMethod).toBe('private_key_jwt');
    }
  });

  it('plain http is accepted for loopback hosts, and anywhere with unsafeAllowInsecureIssuer', () => {
    for (const issuer of [
      'http://127.0.0.1:8080',
      'http://localhost:3000/realms/x',
      'http://[::1]:9000',
      'http://127.10.20.30',
    ]) {
      expect(first({ ...BASE, issuer }).issuer).toBe(issuer);
    }
    expect(
      first({ ...BASE, issuer: 'http://idp.internal', unsafeAllowInsecureIssuer: true }).issuer,
    ).toBe('http://idp.internal');
  });

  it('deduplicates algorithms and accepts every supported asymmetric one', () => {
    expect(first({ ...BASE, algorithms: ['RS256', 'RS256', 'ES512'] }).algorithms).toEqual([
      'RS256',
      'ES512',
    ]);
    expect(
      first({
        ...BASE,
        algorithms: ['RS384', 'RS512', 'PS384', 'PS512', 'ES384', 'Ed25519'],
      }).algorithms,
    ).toHaveLength(6);
  });
});

describe('resolveOptions: each invalid option names its key', () => {
  it.each([
    [['none'], 'none'],
    [['NONE'], 'NONE case variant'],
    [['RS256', 'nOnE'], 'none among others'],
    [['HS256'], 'HS256'],
    [['RS256', 'hs512'], 'lower-case HMAC'],
    [['HS384'], 'HS384'],
    [[], 'empty'],
    ['RS256', 'a string'],
    [['RS1'], 'unknown algorithm'],
    [[42], 'a number'],
  ] as Array<[unknown, string]>)('algorithms %p (%s)', (algorithms) => {
    expectRefused({ ...BASE, algorithms }, 'algorithms');
  });

  it('the algorithms message says why none/HMAC are refused', () => {
    expect(configError({ ...BASE, algorithms: ['HS256'] }).message).toMatch(/never accepted/);
  });

  it.each([[undefined], [null], [''], [[]], [['']], [[42]], [true], [{}]])(
    'audience %p',
    (audience) => {
      const options: Record<string, unknown> = { ...BASE, audience };
      if (audience === undefined) delete options.audience;
      expectRefused(options, 'audience');
    },
  );

  it.each([
    [undefined, 'missing'],
    ['', 'empty'],
    ['idp.example.com', 'not a URL'],
    ['http://idp.example.com', 'plain http on a public host'],
    ['http://127.0.0.1.nip.io', 'a loopback look-alike'],
    ['http://localhost.evil.test', 'a localhost look-alike'],
    ['ftp://idp.example.com', 'not http(s)'],
    ['https://idp.example.com/#frag', 'a fragment'],
    ['https://idp.example.com/?tenant=1', 'a query'],
    [42, 'a number'],
  ] as Array<[unknown, string]>)('issuer %p (%s)', (issuer) => {
    const options: Record<string, unknown> = { ...BASE, issuer };
    if (issuer === undefined) delete options.issuer;
    expectRefused(options, 'issuer');
  });

  it.each([
    [{ clientId: 'rs', authMethod: 'private_key_jwt' }, 'introspection.privateKey'],
    [
      { clientId: 'rs', authMethod: 'private_key_jwt', privateKey: publicJwk },
      'introspection.privateKey',
    ],
    [
      { clientId: 'rs', authMethod: 'private_key_jwt', privateKey: rsa.publicKey },
      'introspection.privateKey',
    ],
    [
      { clientId: 'rs', authMethod: 'private_key_jwt', privateKey: 'PEM' },
      'introspection.privateKey',
    ],
    [{ clientId: 'rs' }, 'introspection.clientSecret'],
    [{ clientId: 'rs', clientSecret: '' }, 'introspection.clientSecret'],
    [{ clientId: 'rs', authMethod: 'client_secret_post' }, 'introspection.clientSecret'],
    [{ clientSecret: 's' }, 'introspection.clientId'],
    [{ clientId: '', clientSecret: 's' }, 'introspection.clientId'],
    [
      { clientId: 'rs', clientSecret: 's', authMethod: 'tls_client_auth' },
      'introspection.authMethod',
    ],
    [{ clientId: 'rs', clientSecret: 's', clientSecrt: 's' }, 'introspection.clientSecrt'],
    [
      { clientId: 'rs', clientSecret: 's', endpoint: 'http://as.example.com/introspect' },
      'introspection.endpoint',
    ],
    [{ clientId: 'rs', clientSecret: 's', endpoint: 'not a url' }, 'introspection.endpoint'],
    [
      { clientId: 'rs', clientSecret: 's', allowUntypedResponses: 'yes' },
      'introspection.allowUntypedResponses',
    ],
    [
      { clientId: 'rs', clientSecret: 's', allowUntypedResponses: 1 },
      'introspection.allowUntypedResponses',
    ],
    ['rs', 'introspection'],
  ])('introspection %p → %s', (introspection, key) => {
    expectRefused({ ...BASE, introspection }, key);
  });

  it.each([
    ['audiences', 'https://api.example.com'],
    ['jwksUrl', 'https://idp.example.com/jwks'],
    ['clockTolerence', 5],
    ['introspect', {}],
    ['Issuer', 'https://idp.example.com'],
  ])('unknown key %s (a typo)', (key, value) => {
    expectRefused({ ...BASE, [key]: value }, key);
  });

  it.each([
    [{ tokenFormat: 'jws' }, 'tokenFormat'],
    [{ tokenFormat: 'opaque' }, 'introspection'],
    [{ jwksUri: 'http://keys.example.com/jwks' }, 'jwksUri'],
    [{ jwksUri: '' }, 'jwksUri'],
    [{ clockTolerance: -1 }, 'clockTolerance'],
    [{ clockTolerance: '30' }, 'clockTolerance'],
    [{ clockTolerance: Number.NaN }, 'clockTolerance'],
    [{ clockTolerance: Number.POSITIVE_INFINITY }, 'clockTolerance'],
    [{ requireJwtAccessTokenType: 'yes' }, 'requireJwtAccessTokenType'],
    [{ cache: { ttl: -1 } }, 'cache.ttl'],
    [{ cache: { negativeTtl: '5s' } }, 'cache.negativeTtl'],
    [{ cache: { max: 0 } }, 'cache.max'],
    [{ cache: { max: 1.5 } }, 'cache.max'],
    [{ cache: { tll: 1000 } }, 'cache.tll'],
    [{ cache: { coalesce: 'yes' } }, 'cache.coalesce'],
    [{ cache: { stores: {} } }, 'cache.stores'],
    [{ cache: { stores: [{}] } }, 'cache.stores[0]'],
    [{ cache: 'redis://localhost' }, 'cache'],
    [{ userInfo: { ttl: -5 } }, 'userInfo.ttl'],
    [{ userInfo: { tl: 5 } }, 'userInfo.tl'],
    [{ global: 'true' }, 'global'],
    [{ realm: '' }, 'realm'],
    [{ allowQueryToken: 1 }, 'allowQueryToken'],
    [{ maxTokenLength: 0 }, 'maxTokenLength'],
    [{ maxTokenLength: 100.5 }, 'maxTokenLength'],
    [{ httpTimeout: 0 }, 'httpTimeout'],
    [{ unsafeAllowInsecureIssuer: 'yes' }, 'unsafeAllowInsecureIssuer'],
    [{ rpc: true }, 'rpc'],
    [{ rpc: {} }, 'rpc.token'],
    [{ rpc: { token: 'data.token' } }, 'rpc.token'],
    [{ rpc: { token: () => undefined, header: 'authorization' } }, 'rpc.header'],
  ])('%p → %s', (change, key) => {
    expectRefused({ ...BASE, ...change }, key);
  });

  it('the missing-audience message suggests the usual value before the opt-out', () => {
    const message = configError({ issuer: BASE.issuer }).message;
    expect(message).toMatch(/"audience" is required/);
    expect(message).toMatch(/URL or its client id/);
    expect(message.indexOf("audience: 'https://")).toBeGreaterThan(-1);
    expect(message.indexOf("audience: 'https://")).toBeLessThan(message.indexOf('audience: false'));
  });

  it('options that are not an object', () => {
    expectRefused(null, 'options');
    expectRefused('https://idp.example.com', 'options');
  });

  it('messages do not contain the client secret', () => {
    const message = configError({
      ...BASE,
      introspection: { clientId: 'rs', clientSecret: 'top-secret-value', authMethod: 'nope' },
    }).message;
    expect(message).not.toContain('top-secret-value');
  });
});

describe('checkUrl (also used for discovered endpoints)', () => {
  it('an unparsable URL is shown, with a hint when its scheme is missing', () => {
    expect(() => checkUrl('issuer', 'idp.example.com/realms/acme', false)).toThrow(
      'option "issuer" is not a valid URL: "idp.example.com/realms/acme" (the scheme is missing: https://…)',
    );
    expect(() => checkUrl('issuer', 'https://exa mple.com', false)).toThrow(
      /is not a valid URL: "https:\/\/exa mple\.com"$/,
    );
    const long = `x${'y'.repeat(200)}`;
    expect(() => checkUrl('issuer', long, false)).toThrow(`"${long.slice(0, 80)}…"`);
  });

  it('names the key it checks', () => {
    expect(() => checkUrl('jwks_uri', 'http://evil.example.com/jwks', false)).toThrow(/"jwks_uri"/);
    expect(checkUrl('jwks_uri', 'http://127.0.0.1:1/jwks', false)).toBe('http://127.0.0.1:1/jwks');
    expect(checkUrl('jwks_uri', 'https://idp.example.com/jwks', false)).toBe(
      'https://idp.example.com/jwks',
    );
  });
});

describe('resolveOptions: dpop and mtls', () => {
  it('applies the DPoP defaults and builds the challenge context', () => {
    const resolved = resolveOptions({ ...BASE, dpop: {} });
    expect(resolved.dpop).toEqual({
      mode: 'allowed',
      algorithms: ['ES256', 'EdDSA', 'PS256', 'RS256'],
      proofMaxAge: 300,
      nonce: false,
      stores: [],
    });
    expect(resolved.challenge).toEqual({
      realm: BASE.audience,
      dpop: { algs: 'ES256 EdDSA PS256 RS256', required: false },
    });
    expect(resolveOptions(BASE).challenge).toEqual({ realm: BASE.audience });
    expect(resolveOptions(BASE).dpop).toBeUndefined();
    const required = resolveOptions({
      ...BASE,
      dpop: { mode: 'required', algorithms: ['ES256'], publicUrl: 'https://API.example.com:443/' },
    });
    expect(required.challenge.dpop).toEqual({ algs: 'ES256', required: true });
    expect(required.dpop!.publicUrl).toBe('https://api.example.com');
  });

  it.each([
    [{ mode: 'always' }, 'dpop.mode'],
    [{ algorithms: ['HS256'] }, 'dpop.algorithms'],
    [{ algorithms: [] }, 'dpop.algorithms'],
    [{ proofMaxAge: 0 }, 'dpop.proofMaxAge'],
    [{ nonce: 'yes' }, 'dpop.nonce'],
    [{ stores: [{}] }, 'dpop.stores[0]'],
    [{ publicUrl: 'https://api.example.com/v1' }, 'dpop.publicUrl'],
    [{ publicUrl: 'http://api.example.com' }, 'dpop.publicUrl'],
    [{ replay: true }, 'dpop.replay'],
  ])('refuses dpop %j, naming %s', (dpop, key) => {
    expect(() => resolveOptions({ ...BASE, dpop } as never)).toThrow(`option "${key}"`);
  });

  it('reads mtls, with the header name lower-cased, and refuses bad names', () => {
    expect(resolveOptions({ ...BASE, mtls: {} }).mtls).toEqual({});
    expect(resolveOptions({ ...BASE, mtls: { certificateHeader: 'X-Client-Cert' } }).mtls).toEqual({
      certificateHeader: 'x-client-cert',
    });
    expect(() => resolveOptions({ ...BASE, mtls: { certificateHeader: 'a b' } })).toThrow(
      'option "mtls.certificateHeader"',
    );
    expect(() => resolveOptions({ ...BASE, mtls: { header: 'x' } } as never)).toThrow(
      'option "mtls.header"',
    );
  });
});
