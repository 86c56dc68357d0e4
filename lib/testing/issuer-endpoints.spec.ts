/**
 * The test issuer's endpoints as an HTTP client sees them: introspection (RFC 7662) and its
 * client authentication, revocation (RFC 7009), UserInfo, and hostile or malformed requests,
 * which must get an answer and never bring the issuer down.
 */
import { connect } from 'node:net';
import { createTestIssuer, type TestIssuer } from './index.js';

let issuer: TestIssuer;
let clientId: string;
let clientSecret: string;
let now = Date.parse('2030-01-01T00:00:00Z');

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256', clock: () => now });
  ({ clientId, clientSecret } = issuer.moduleOptions().introspection as {
    clientId: string;
    clientSecret: string;
  });
});
afterAll(() => issuer.close());

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

async function post(
  path: string,
  body: Record<string, string> | string,
  headers: Record<string, string> = { authorization: basic(clientId, clientSecret) },
) {
  const res = await fetch(`${issuer.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': FORM, ...headers },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const introspect = (token: string) => post('/introspect', { token });

describe('introspection', () => {
  it('answers a live token with its claims, typed Bearer', async () => {
    const token = await issuer.accessToken({
      format: 'opaque',
      sub: 'alice',
      scopes: ['notes:read'],
      roles: ['editor'],
      audience: 'api',
    });
    const res = await introspect(token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({
      active: true,
      token_type: 'Bearer',
      iss: issuer.issuer,
      sub: 'alice',
      client_id: 'test-client',
      aud: 'api',
      scope: 'notes:read',
      roles: ['editor'],
      exp: now / 1000 + 300,
      iat: now / 1000,
    });
  });

  it('explains JWTs it issued too, and types a DPoP-bound token DPoP', async () => {
    const jkt = 'x'.repeat(43);
    const res = await introspect(await issuer.accessToken({ jkt }));
    expect(res.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  it('answers just active:false for unknown, forged, revoked and expired tokens', async () => {
    const revoked = await issuer.accessToken({ format: 'opaque' });
    expect(issuer.revoke(revoked)).toBe(true);
    const soon = await issuer.accessToken({ format: 'opaque', expiresIn: 60 });
    const inactive = [
      'never-issued',
      await issuer.accessToken({ unknownKey: true }),
      revoked,
      await issuer.accessToken({ expiresIn: -60 }),
    ];
    for (const token of inactive) {
      expect((await introspect(token)).body).toEqual({ active: false });
    }
    expect((await introspect(soon)).body.active).toBe(true);
    now += 60_000; // the issuer's clock decides expiry
    try {
      expect((await introspect(soon)).body).toEqual({ active: false });
    } finally {
      now -= 60_000;
    }
  });

  it('accepts client_secret_post', async () => {
    const token = await issuer.accessToken({ format: 'opaque' });
    const res = await post(
      '/introspect',
      { token, client_id: clientId, client_secret: clientSecret },
      {},
    );
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
  });

  it('decodes form-urlencoded client_secret_basic parts (RFC 6749 §2.3.1)', async () => {
    const encoded = basic(encodeURIComponent(clientId), encodeURIComponent(clientSecret));
    const token = await issuer.accessToken({ format: 'opaque' });
    expect((await post('/introspect', { token }, { authorization: encoded })).status).toBe(200);
  });

  it.each([
    ['no credentials', {}, {}],
    ['a wrong secret (basic)', {}, { authorization: basic('test-resource-server', 'nope') }],
    ['a wrong client id (basic)', {}, { authorization: basic('someone', 'x') }],
    ['a wrong secret (post)', { client_id: 'test-resource-server', client_secret: 'nope' }, {}],
    ['a client id without a secret', { client_id: 'test-resource-server' }, {}],
    ['a Basic header that is not base64', {}, { authorization: 'Basic !!!' }],
    ['a Basic header without a colon', {}, { authorization: `Basic ${btoa('nocolon')}` }],
    ['another scheme', {}, { authorization: 'Bearer abc' }],
  ])('refuses %s with 401 invalid_client and a Basic challenge', async (_, extra, headers) => {
    const res = await post('/introspect', { token: 't', ...extra }, headers as never);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client' });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('refuses two client authentication methods at once (RFC 6749 §2.3)', async () => {
    const res = await post('/introspect', {
      token: 't',
      client_id: clientId,
      client_secret: clientSecret,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request' });
  });

  it.each([
    ['no token', 'token_type_hint=access_token'],
    ['an empty token', 'token='],
    ['a repeated token', 'token=a&token=b'],
  ])('answers 400 invalid_request for %s', async (_, body) => {
    const res = await post('/introspect', body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request' });
  });
});

describe('revocation', () => {
  it('revokes a token, answers 200 for unknown ones, and needs client authentication', async () => {
    const token = await issuer.accessToken({ format: 'opaque' });
    expect((await post('/revoke', { token }, {})).status).toBe(401);
    expect((await introspect(token)).body.active).toBe(true);
    const res = await post('/revoke', { token, token_type_hint: 'access_token' });
    expect(res.status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
    expect((await post('/revoke', { token: 'never-issued' })).status).toBe(200);
    expect((await post('/revoke', {})).status).toBe(400);
    expect(issuer.revoke('never-issued')).toBe(false);
  });
});

describe('UserInfo', () => {
  const userinfo = (authorization?: string, method = 'GET') =>
    fetch(`${issuer.issuer}/userinfo`, {
      method,
      headers: authorization === undefined ? {} : { authorization },
    });

  it("answers the claims set for the token's sub, with that sub, on GET and POST", async () => {
    issuer.setUserInfo('bob', { name: 'Bob', email: 'bob@example.test', sub: 'someone-else' });
    const token = await issuer.accessToken({ sub: 'bob' });
    for (const method of ['GET', 'POST']) {
      const res = await userinfo(`Bearer ${token}`, method);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ sub: 'bob', name: 'Bob', email: 'bob@example.test' });
    }
    const stranger = await issuer.accessToken({ sub: 'carol', format: 'opaque' });
    expect(await (await userinfo(`bearer  ${stranger}`)).json()).toEqual({ sub: 'carol' });
  });

  it('answers 401 invalid_token for unknown, revoked, expired and DPoP-bound tokens', async () => {
    const revoked = await issuer.accessToken();
    issuer.revoke(revoked);
    for (const token of [
      'unknown',
      revoked,
      await issuer.accessToken({ expiresIn: -1 }),
      await issuer.accessToken({ jkt: 'y'.repeat(43) }),
      await issuer.accessToken({ claims: { sub: undefined } }),
    ]) {
      const res = await userinfo(`Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
  });

  it('answers a bare 401 challenge without a token, and 400 for a malformed one', async () => {
    for (const authorization of [undefined, 'Basic abc']) {
      const res = await userinfo(authorization);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await userinfo('Bearer a b')).status).toBe(400);
    expect((await userinfo('Bearer')).status).toBe(400);
  });

  it('refuses setUserInfo() without a sub or with claims that are not an object', () => {
    expect(() => issuer.setUserInfo('', {})).toThrow(TypeError);
    expect(() => issuer.setUserInfo('x', null as never)).toThrow(TypeError);
  });
});

describe('odd requests', () => {
  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    for (const path of ['/', '/token', '/jwks/', '/.well-known/openid-configuration/x']) {
      const res = await fetch(`${issuer.issuer}${path}`);
      expect(res.status).toBe(404);
    }
    expect((await fetch(`${issuer.issuer}/jwks`, { method: 'POST' })).status).toBe(405);
    const res = await fetch(`${issuer.issuer}/introspect`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('refuses a body that is not a form, and one over 64 KiB (here 1 MiB) with 413', async () => {
    const json = await post('/introspect', '{"token":"t"}', {
      authorization: basic(clientId, clientSecret),
      'content-type': 'application/json',
    });
    expect(json.status).toBe(400);
    const huge = await post('/introspect', `token=${'a'.repeat(1024 * 1024)}`);
    expect(huge.status).toBe(413);
    // The connection survives for the next request (fetch reuses it).
    expect((await post('/introspect', { token: 't' })).status).toBe(200);
  });

  it('survives malformed percent-encoding, binary bodies and raw garbage', async () => {
    expect((await post('/introspect', 'token=%E0%A4%A&%%%=1')).status).toBe(200);
    expect((await post('/introspect', '\u0000\uffff=\ud800')).status).toBe(400);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(issuer.issuer).port), '127.0.0.1', () => {
        socket.end('NOT HTTP AT ALL\r\n\r\n');
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    // Still serving.
    expect((await fetch(`${issuer.issuer}/jwks`)).status).toBe(200);
  });
});
