/**
 * The test issuer itself: discovery, keys, minted tokens (checked with the library's own JWS
 * verifier), options, counters and the outage lifecycle. Endpoint refusals and hostile input
 * are in issuer-endpoints.spec.ts.
 */
import { request } from 'node:http';
import { calculateJwkThumbprint, type JWK } from 'jose';
import {
  decodeJsonSegment,
  importPublicJwk,
  parseCompactJws,
  verifyJwsSignature,
} from '../utils/jws.js';
import { createTestIssuer, DEFAULT_TEST_AUDIENCE, type TestIssuer } from './index.js';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await createTestIssuer();
});
afterAll(() => issuer.close());

async function getJson(url: string): Promise<Record<string, any>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

/** Verifies a minted JWT against the published JWKS; returns its header and claims. */
async function verify(token: string, jwksUri = `${issuer.issuer}/jwks`) {
  const jws = parseCompactJws(token)!;
  const { keys } = await getJson(jwksUri);
  const jwk = keys.find((k: { kid: string }) => k.kid === jws.header.kid);
  const valid =
    jwk !== undefined &&
    verifyJwsSignature(
      jws.header.alg as string,
      importPublicJwk(jwk, jws.header.alg as string),
      jws.signingInput,
      jws.signature,
    );
  return { valid, header: jws.header, claims: decodeJsonSegment(jws.payloadSegment)! };
}

describe('discovery and keys', () => {
  it('publishes OIDC and RFC 8414 metadata whose issuer is exactly moduleOptions().issuer', async () => {
    const { issuer: url } = issuer.moduleOptions();
    expect(url).toBe(issuer.issuer);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const path of ['openid-configuration', 'oauth-authorization-server']) {
      const doc = await getJson(`${url}/.well-known/${path}`);
      expect(doc).toMatchObject({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        introspection_endpoint: `${url}/introspect`,
        revocation_endpoint: `${url}/revoke`,
        userinfo_endpoint: `${url}/userinfo`,
      });
    }
  });

  it('publishes public signing keys only', async () => {
    const res = await fetch(`${issuer.issuer}/jwks`);
    expect(res.headers.get('content-type')).toBe('application/jwk-set+json');
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
      expect(key).not.toHaveProperty('p');
    }
  });
});

describe.each(['RS256', 'RS384', 'PS256', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const)(
  'createTestIssuer({ algorithm: %s })',
  (algorithm) => {
    it('signs tokens that verify, under a kid that is the RFC 7638 thumbprint', async () => {
      const own = await createTestIssuer({ algorithm });
      try {
        const { valid, header } = await verify(await own.accessToken(), `${own.issuer}/jwks`);
        expect(valid).toBe(true);
        expect(header.alg).toBe(algorithm);
        const { keys } = await getJson(`${own.issuer}/jwks`);
        expect(header.kid).toBe(await calculateJwkThumbprint(keys[0] as JWK));
      } finally {
        await own.close();
      }
    });
  },
);

describe('accessToken()', () => {
  it('mints an RFC 9068 JWT signed with a published key', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await issuer.accessToken({
      sub: 'alice',
      clientId: 'web',
      scopes: ['notes:read', 'notes:write'],
      roles: ['admin'],
      audience: 'notes-api',
      acr: 'urn:example:mfa',
      authTime: new Date(before * 1000 - 60_000),
      claims: { tenant: 'acme' },
    });
    const { valid, header, claims } = await verify(token);
    expect(valid).toBe(true);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(claims).toMatchObject({
      iss: issuer.issuer,
      aud: 'notes-api',
      sub: 'alice',
      client_id: 'web',
      scope: 'notes:read notes:write',
      roles: ['admin'],
      acr: 'urn:example:mfa',
      auth_time: before - 60,
      tenant: 'acme',
    });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    expect(claims).not.toHaveProperty('cnf');
  });

  it('defaults sub, client_id and the audience last given to moduleOptions()', async () => {
    const own = await createTestIssuer({ algorithm: 'ES256' });
    try {
      let { claims } = await verify(await own.accessToken(), `${own.issuer}/jwks`);
      expect(claims).toMatchObject({ sub: 'test-user', client_id: 'test-client' });
      expect(claims.aud).toBe(DEFAULT_TEST_AUDIENCE);
      expect(claims).not.toHaveProperty('scope');
      own.moduleOptions({ audience: ['a', 'b'] });
      ({ claims } = await verify(await own.accessToken(), `${own.issuer}/jwks`));
      expect(claims.aud).toEqual(['a', 'b']);
      own.moduleOptions({ audience: false }); // no audience to copy: the last one stays
      ({ claims } = await verify(await own.accessToken(), `${own.issuer}/jwks`));
      expect(claims.aud).toEqual(['a', 'b']);
    } finally {
      await own.close();
    }
  });

  it('makes expired tokens, DPoP-bound tokens and claims removals on request', async () => {
    const jkt = 'A'.repeat(43);
    const { claims } = await verify(
      await issuer.accessToken({ expiresIn: -60, jkt, claims: { jti: undefined } }),
    );
    expect(claims.exp).toBeLessThan(Date.now() / 1000 - 59);
    expect(claims.iat).toBeLessThan(claims.exp as number);
    expect(claims.cnf).toEqual({ jkt });
    expect(claims).not.toHaveProperty('jti');
  });

  it('binds tokens to a certificate thumbprint, alone or beside a DPoP key', async () => {
    const x5tS256 = 'B'.repeat(43);
    let { claims } = await verify(await issuer.accessToken({ x5tS256 }));
    expect(claims.cnf).toEqual({ 'x5t#S256': x5tS256 });
    ({ claims } = await verify(await issuer.accessToken({ x5tS256, jkt: 'A'.repeat(43) })));
    expect(claims.cnf).toEqual({ jkt: 'A'.repeat(43), 'x5t#S256': x5tS256 });
    await expect(issuer.accessToken({ x5tS256: 'short' })).rejects.toThrow(/x5tS256/);
  });

  it('forges with unknownKey: a published kid, a signature no published key makes', async () => {
    const forged = await issuer.accessToken({ unknownKey: true });
    const genuine = parseCompactJws(await issuer.accessToken())!;
    const { valid, header } = await verify(forged);
    expect(header.kid).toBe(genuine.header.kid);
    expect(valid).toBe(false);
  });

  it('mints opaque tokens that are not JWS-shaped', async () => {
    const token = await issuer.accessToken({ format: 'opaque' });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await issuer.accessToken({ format: 'opaque' })).not.toBe(token);
  });

  it.each([
    [{ scopes: ['two words'] }, /scopes/],
    [{ scopes: 'notes:read' }, /scopes/],
    [{ roles: [1] }, /roles/],
    [{ sub: '' }, /sub/],
    [{ audience: [] }, /audience/],
    [{ expiresIn: Number.NaN }, /expiresIn/],
    [{ authTime: 'yesterday' }, /authTime/],
    [{ jkt: 'short' }, /jkt/],
    [{ format: 'jwe' }, /format/],
    [{ format: 'opaque', unknownKey: true }, /unknownKey/],
    [{ claims: [] }, /claims/],
  ])('refuses %j with a TypeError', async (options, message) => {
    await expect(issuer.accessToken(options as never)).rejects.toThrow(TypeError);
    await expect(issuer.accessToken(options as never)).rejects.toThrow(message);
  });
});

describe('moduleOptions()', () => {
  it('gives issuer, audience and introspection credentials, overrides last', () => {
    const options = issuer.moduleOptions();
    expect(options).toEqual({
      issuer: issuer.issuer,
      audience: 'test-api',
      introspection: { clientId: 'test-resource-server', clientSecret: expect.any(String) },
    });
    expect(
      issuer.moduleOptions({
        audience: 'api',
        cache: { ttl: 0 },
        introspection: { clientId: 'ignored', authMethod: 'client_secret_post' },
      }),
    ).toEqual({
      issuer: issuer.issuer,
      audience: 'api',
      cache: { ttl: 0 },
      introspection: {
        clientId: 'ignored',
        clientSecret: options.introspection!.clientSecret,
        authMethod: 'client_secret_post',
      },
    });
    expect(issuer.moduleOptions({ introspection: undefined })).not.toHaveProperty('introspection');
  });
});

describe('rotateKeys()', () => {
  it('signs with a new kid, keeps the previous key published and drops the one before', async () => {
    const own = await createTestIssuer({ algorithm: 'EdDSA' });
    try {
      const first = await own.accessToken();
      await own.rotateKeys();
      const second = await own.accessToken();
      const kid = (token: string) => parseCompactJws(token)!.header.kid;
      expect(kid(second)).not.toBe(kid(first));
      expect((await verify(first, `${own.issuer}/jwks`)).valid).toBe(true);
      expect((await verify(second, `${own.issuer}/jwks`)).valid).toBe(true);
      await own.rotateKeys();
      expect((await verify(first, `${own.issuer}/jwks`)).valid).toBe(false);
      expect((await verify(second, `${own.issuer}/jwks`)).valid).toBe(true);
      expect((await getJson(`${own.issuer}/jwks`)).keys).toHaveLength(2);
    } finally {
      await own.close();
    }
  });
});

/** One GET on a fresh connection; resolves the status or the connection error's code. */
function probe(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    req.end();
  });
}

describe('stop(), start(), close() and requests', () => {
  it('refuses connections while stopped, then serves on the same port', async () => {
    const own = await createTestIssuer();
    try {
      const discovery = `${own.issuer}/.well-known/openid-configuration`;
      expect(await probe(discovery)).toBe(200);
      await own.stop();
      await own.stop(); // idempotent
      expect(await probe(discovery)).toBe('ECONNREFUSED');
      await own.start();
      await own.start(); // idempotent
      expect(await probe(discovery)).toBe(200);
      expect(own.moduleOptions().issuer).toBe(own.issuer);
    } finally {
      await own.close();
    }
  });

  it('drops keep-alive connections when stopped', async () => {
    const own = await createTestIssuer();
    try {
      expect((await fetch(`${own.issuer}/jwks`)).status).toBe(200); // pooled connection
      await own.stop();
      await expect(fetch(`${own.issuer}/jwks`)).rejects.toThrow();
    } finally {
      await own.close();
    }
  });

  it('counts requests per endpoint, refused ones included', async () => {
    const own = await createTestIssuer();
    try {
      expect(own.requests).toEqual({
        discovery: 0,
        jwks: 0,
        introspection: 0,
        revocation: 0,
        userinfo: 0,
      });
      await probe(`${own.issuer}/.well-known/openid-configuration`);
      await probe(`${own.issuer}/.well-known/oauth-authorization-server`);
      await probe(`${own.issuer}/jwks`);
      await probe(`${own.issuer}/introspect`); // 405
      await probe(`${own.issuer}/userinfo`); // 401
      await probe(`${own.issuer}/elsewhere`); // 404, not counted
      const snapshot = own.requests;
      expect(snapshot).toEqual({
        discovery: 2,
        jwks: 1,
        introspection: 1,
        revocation: 0,
        userinfo: 1,
      });
      await probe(`${own.issuer}/jwks`);
      expect(snapshot.jwks).toBe(1); // a copy, not a live view
      expect(own.requests.jwks).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('cannot start or mint after close(), and close() twice is harmless', async () => {
    const own = await createTestIssuer();
    const url = own.issuer;
    await own.close();
    await own.close();
    expect(await probe(`${url}/jwks`)).toBe('ECONNREFUSED');
    await expect(own.start()).rejects.toThrow(/closed/);
    await expect(own.accessToken()).rejects.toThrow(/closed/);
  });

  it('refuses an unknown algorithm or a clock that is not a function', async () => {
    await expect(createTestIssuer({ algorithm: 'HS256' as never })).rejects.toThrow(TypeError);
    await expect(createTestIssuer({ clock: 5 as never })).rejects.toThrow(TypeError);
  });
});
