/**
 * DPoP (RFC 9449) at the guard, on Express and Fastify, against the real oidc-provider: tokens
 * bound by the authorization server (a `cc-dpop` JWT with `cnf.jkt`, an opaque token whose
 * introspection shows `cnf.jkt`), proofs made with jose or signed by hand for hostile cases.
 */
import type { INestApplication } from '@nestjs/common';
import { sign } from 'node:crypto';
import * as net from 'node:net';
import { SignJWT } from 'jose';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import {
  ath,
  boundJwt,
  boundOpaque,
  dpopClient,
  dpopHeaders,
  type DpopClient,
} from '../fixtures/dpop.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';
import { generateKeyPairSync } from '../../lib/testing/key-pair.js';

const ALGS = 'algs="ES256 EdDSA PS256 RS256"';
const introspection = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json } satisfies Answer;
}

/** A 401 with a DPoP challenge carrying `error` and the accepted algorithms. */
function expectDpopChallenge(res: Answer, error: string): void {
  expect(res.status).toBe(401);
  const value = res.headers.get('www-authenticate') ?? '';
  expect(value).toMatch(/^DPoP /);
  expect(value).toContain(`error="${error}"`);
  expect(value).toContain(ALGS);
}

let as: AuthorizationServer;
let alice: DpopClient;
let mallory: DpopClient;

beforeAll(async () => {
  as = await startAuthorizationServer();
  [alice, mallory] = await Promise.all([dpopClient(), dpopClient()]);
});

afterAll(async () => {
  await as.close();
});

describe.each(ADAPTERS)('%s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let read: string;
  let jwt: string;
  let opaque: string;
  const proof = (token: string, options?: Parameters<DpopClient['proof']>[3], htu = read) =>
    alice.proof('GET', htu, token, options);

  beforeAll(async () => {
    ({ app, url } = await startTestApp(adapter, {
      issuer: as.issuer,
      audience: API,
      introspection,
      dpop: { mode: 'allowed' },
    }));
    read = `${url}/api/read`;
    [jwt, opaque] = await Promise.all([boundJwt(as, alice), boundOpaque(as, alice)]);
  });

  afterAll(async () => {
    await app.close();
  });

  it('50: a bound JWT and a bound opaque token with valid proofs: 200', async () => {
    for (const token of [jwt, opaque]) {
      const res = await get(read, dpopHeaders(token, await proof(token)));
      expect(res.status).toBe(200);
    }
  });

  it('51: a bound token sent as Bearer, with or without a DPoP header: 401 invalid_token', async () => {
    for (const token of [jwt, opaque]) {
      expectDpopChallenge(await get(read, { authorization: `Bearer ${token}` }), 'invalid_token');
      const res = await get(read, { authorization: `Bearer ${token}`, dpop: await proof(token) });
      expectDpopChallenge(res, 'invalid_token');
    }
  });

  it('52: the DPoP scheme without a DPoP header: 401 invalid_dpop_proof', async () => {
    expectDpopChallenge(await get(read, { authorization: `DPoP ${jwt}` }), 'invalid_dpop_proof');
  });

  it('53: two DPoP header fields (raw TCP): 401', async () => {
    const { port } = new URL(url);
    const [p1, p2] = [await proof(jwt), await proof(jwt)];
    const head =
      `GET /api/read HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: DPoP ${jwt}\r\n` +
      `DPoP: ${p1}\r\nDPoP: ${p2}\r\nConnection: close\r\n\r\n`;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(head));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/\r\nwww-authenticate: DPoP [^\r]*error="invalid_dpop_proof"/i);
  });

  describe('54: proof syntax, type, algorithm and key: 401 invalid_dpop_proof', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const cases: [string, () => Promise<string> | string][] = [
      ['not a JWT', () => 'not-a-jwt'],
      ['typ JWT', () => proof(jwt, { header: { typ: 'JWT' } })],
      [
        'alg none',
        () => {
          const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
          const claims = alice.claims('GET', read, jwt);
          return `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: alice.jwk })}.${b64(claims)}.`;
        },
      ],
      [
        'alg HS256 keyed with the public JWK',
        () =>
          new SignJWT(alice.claims('GET', read, jwt))
            .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: alice.jwk })
            .sign(new TextEncoder().encode(JSON.stringify(alice.jwk))),
      ],
      ['no jwk', () => alice.handSigned({ alg: 'ES256', typ: 'dpop+jwt' }, claimsFor())],
      [
        'jwk with d',
        () =>
          alice.handSigned(
            { alg: 'ES256', typ: 'dpop+jwt', jwk: { ...alice.jwk, d: 'AAAA' } },
            claimsFor(),
          ),
      ],
      [
        'an RSA key of 1024 bits',
        () => {
          const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
          const jwk = small.publicKey.export({ format: 'jwk' });
          const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk })}.${b64(claimsFor())}`;
          return `${input}.${sign('sha256', Buffer.from(input), small.privateKey).toString('base64url')}`;
        },
      ],
      ['a bad signature', async () => (await proof(jwt)).replace(/.{8}$/, 'AAAAAAAA')],
      [
        'a proof signed by another key',
        () => mallory.proof('GET', read, jwt, { header: { jwk: alice.jwk } }),
      ],
      [
        'iat as a string',
        () => proof(jwt, { claims: { iat: String(Math.floor(Date.now() / 1000)) } }),
      ],
      ['a JSON array payload', () => alice.handSigned(header(), [claimsFor()] as never)],
      ['a 12 KB proof', () => 'a'.repeat(12_000)],
      ...(['jti', 'htm', 'htu', 'iat'] as const).map(
        (claim) =>
          [`${claim} missing`, () => proof(jwt, { claims: { [claim]: undefined } })] as [
            string,
            () => Promise<string>,
          ],
      ),
    ];
    function header() {
      return { alg: 'ES256', typ: 'dpop+jwt', jwk: alice.jwk };
    }
    function claimsFor() {
      return alice.claims('GET', read, jwt);
    }

    it.each(cases)('%s', async (_, make) => {
      expectDpopChallenge(await get(read, dpopHeaders(jwt, await make())), 'invalid_dpop_proof');
    });

    it('a 50 KB proof is refused (431 by Node, or 401), and the process goes on', async () => {
      const res = await get(read, dpopHeaders(jwt, 'a'.repeat(50_000)));
      expect([401, 431]).toContain(res.status);
      expect((await get(read, dpopHeaders(jwt, await proof(jwt)))).status).toBe(200);
    });
  });

  it('55: htm POST on GET: 401 invalid_dpop_proof', async () => {
    const p = await alice.proof('POST', read, jwt);
    expectDpopChallenge(await get(read, dpopHeaders(jwt, p)), 'invalid_dpop_proof');
  });

  it('56: htu of another path, host or scheme: 401; the query is ignored: 200', async () => {
    const other = new URL(read);
    for (const htu of [
      `${url}/api/write`,
      read.replace('127.0.0.1', 'localhost'),
      read.replace('http:', 'https:'),
    ]) {
      expectDpopChallenge(
        await get(read, dpopHeaders(jwt, await proof(jwt, {}, htu))),
        'invalid_dpop_proof',
      );
    }
    other.search = '?x=1';
    const res = await get(other.href, dpopHeaders(jwt, await proof(jwt, {}, read)));
    expect(res.status).toBe(200);
    const viaX = await get(`${read}`, {
      ...dpopHeaders(jwt, await proof(jwt, {}, 'https://api.example.test/api/read')),
      'x-forwarded-host': 'api.example.test',
      'x-forwarded-proto': 'https',
    });
    expectDpopChallenge(viaX, 'invalid_dpop_proof'); // X-Forwarded-* are never trusted
  });

  it('57: iat 600 s ago or ahead: 401; 5 s ago: 200', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 600, now + 600]) {
      const res = await get(read, dpopHeaders(jwt, await proof(jwt, { iat })));
      expectDpopChallenge(res, 'invalid_dpop_proof');
    }
    expect((await get(read, dpopHeaders(jwt, await proof(jwt, { iat: now - 5 })))).status).toBe(
      200,
    );
  });

  it('58: the same proof twice: 200 then 401; two distinct proofs: both 200', async () => {
    const p = await proof(jwt);
    expect((await get(read, dpopHeaders(jwt, p))).status).toBe(200);
    expectDpopChallenge(await get(read, dpopHeaders(jwt, p)), 'invalid_dpop_proof');
    expect((await get(read, dpopHeaders(jwt, await proof(jwt)))).status).toBe(200);
    expect((await get(read, dpopHeaders(jwt, await proof(jwt)))).status).toBe(200);
  });

  it('58: a jti is recorded only once the token is accepted', async () => {
    const jti = `reused-${Date.now()}`;
    const unbound = await as.clientCredentials();
    // A valid proof for an unbound token: refused at the token step, so its jti is not kept.
    const first = await proof(unbound, { claims: { jti } });
    expectDpopChallenge(await get(read, dpopHeaders(unbound, first)), 'invalid_token');
    const second = await proof(jwt, { claims: { jti } });
    expect((await get(read, dpopHeaders(jwt, second))).status).toBe(200);
    const third = await proof(jwt, { claims: { jti } });
    expectDpopChallenge(await get(read, dpopHeaders(jwt, third)), 'invalid_dpop_proof');
  });

  it('59: ath missing or of another token: 401 invalid_dpop_proof', async () => {
    for (const claims of [{ ath: undefined }, { ath: ath('another token') }]) {
      const res = await get(read, dpopHeaders(jwt, await proof(jwt, { claims })));
      expectDpopChallenge(res, 'invalid_dpop_proof');
    }
  });

  it('60: a valid proof by another key than cnf.jkt: 401 invalid_token', async () => {
    for (const token of [jwt, opaque]) {
      const res = await get(read, dpopHeaders(token, await mallory.proof('GET', read, token)));
      expectDpopChallenge(res, 'invalid_token');
    }
  });

  it('61: an unbound token with the DPoP scheme; a Bearer token with a stray DPoP header: 401 invalid_token', async () => {
    const unbound = await as.clientCredentials();
    const p = await proof(unbound);
    expect((await get(read, dpopHeaders(unbound, p))).status).toBe(401);
    expect((await get(read, { authorization: `Bearer ${unbound}`, dpop: p })).status).toBe(401);
    expect((await get(read, { authorization: `Bearer ${unbound}` })).status).toBe(200);
  });

  it('62: a request without a token is offered both Bearer and DPoP', async () => {
    const res = await get(read);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="${API}", DPoP realm="${API}", ${ALGS}`,
    );
  });

  it('84: a bound token never reaches UserInfo as a bearer token: 403, and no /me call', async () => {
    const user = await as.mintAccessToken({
      format: 'opaque',
      resource: null,
      scope: 'openid',
      jkt: alice.jkt,
    });
    const me = `${url}/api/me`;
    as.resetHits();
    const res = await get(me, dpopHeaders(user, await alice.proof('GET', me, user)));
    expect(res.status).toBe(403);
    expect(as.hits.get('POST /token/introspection')).toBe(1); // the token itself was accepted
    expect(as.hits.get('/me')).toBe(0);
  });

  it('scopes still apply to DPoP requests: 403 on /api/write', async () => {
    const write = `${url}/api/write`;
    const res = await get(write, dpopHeaders(jwt, await alice.proof('GET', write, jwt)));
    expect(res.status).toBe(403);
  });
});

describe.each(ADAPTERS)('%s, required mode with nonces and publicUrl', (adapter) => {
  let app: INestApplication;
  let url: string;
  let jwt: string;
  let offset = 0;
  const PUBLIC = 'https://api.example.test';
  const htu = `${PUBLIC}/api/read`;
  const nowSeconds = () => Math.floor((Date.now() + offset) / 1000);

  beforeAll(async () => {
    ({ app, url } = await startTestApp(
      adapter,
      {
        issuer: as.issuer,
        audience: API,
        dpop: { mode: 'required', nonce: true, publicUrl: PUBLIC },
      },
      { clock: () => Date.now() + offset },
    ));
    jwt = await boundJwt(as, alice);
  });

  afterAll(async () => {
    await app.close();
  });

  async function nonceFromChallenge(): Promise<string> {
    const res = await get(
      `${url}/api/read`,
      dpopHeaders(jwt, await alice.proof('GET', htu, jwt, { iat: nowSeconds() })),
    );
    expectDpopChallenge(res, 'use_dpop_nonce');
    const nonce = res.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    return nonce!;
  }

  it('63: no nonce → 401 use_dpop_nonce with DPoP-Nonce; the retry with it → 200', async () => {
    const nonce = await nonceFromChallenge();
    const p = await alice.proof('GET', htu, jwt, { claims: { nonce }, iat: nowSeconds() });
    expect((await get(`${url}/api/read`, dpopHeaders(jwt, p))).status).toBe(200);
  });

  it('63: a stale nonce → 401 use_dpop_nonce with a fresh nonce', async () => {
    const nonce = await nonceFromChallenge();
    offset += 125_000;
    try {
      const p = await alice.proof('GET', htu, jwt, { claims: { nonce }, iat: nowSeconds() });
      const res = await get(`${url}/api/read`, dpopHeaders(jwt, p));
      expectDpopChallenge(res, 'use_dpop_nonce');
      const fresh = res.headers.get('dpop-nonce');
      expect(fresh).toBeTruthy();
      expect(fresh).not.toBe(nonce);
    } finally {
      offset = 0;
    }
  });

  it('56: htu with the default port and an upper-case host (publicUrl, not Host): 200', async () => {
    const nonce = await nonceFromChallenge();
    const p = await alice.proof('GET', 'HTTPS://API.Example.TEST:443/api/read', jwt, {
      claims: { nonce },
      iat: nowSeconds(),
    });
    expect((await get(`${url}/api/read?q=1`, dpopHeaders(jwt, p))).status).toBe(200);
  });

  it('64: required mode: an unbound token as Bearer → 401 with a DPoP challenge', async () => {
    const res = await get(`${url}/api/read`, {
      authorization: `Bearer ${await as.clientCredentials()}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP /);
  });
});
