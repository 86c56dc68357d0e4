/**
 * Certificate-bound access tokens (RFC 8705 §3) on Express and Fastify: the app serves HTTPS
 * with `requestCert`, and clients present certificates made for this run by `openssl`. Tokens
 * come from the real oidc-provider: minted with `cnf["x5t#S256"]` (JWT and opaque, whose
 * introspection carries the binding) or forged with its signing key.
 */
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { request as httpsRequest } from 'node:https';
import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { selfSignedCertificate, type CertificateAndKey } from '../fixtures/certificates.js';
import { forgeAccessToken } from '../fixtures/tokens.js';
import { ADAPTERS, startTestApp, testAppModule } from '../fixtures/test-app.js';
import { graphql, startGraphQLApp, type GraphQLDriverName } from '../fixtures/graphql-app.js';
import { OidcResourceModule, type OidcResourceModuleOptions } from '../../lib/index.js';

interface Answer {
  status: number;
  challenge?: string;
  body: string;
}

const server = selfSignedCertificate('127.0.0.1', 'IP:127.0.0.1');
const clientA = selfSignedCertificate('client-a');
const clientB = selfSignedCertificate('client-b');

/** GET over HTTPS, with a client certificate or none, trusting the test server's certificate. */
function get(url: string, token: string, client?: CertificateAndKey): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        headers: { authorization: `Bearer ${token}` },
        ca: server.cert,
        ...(client ? { cert: client.cert, key: client.key } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            challenge: res.headers['www-authenticate'] as string | undefined,
            body,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function startHttpsApp(
  adapter: 'express' | 'fastify',
  options: OidcResourceModuleOptions,
): Promise<{ app: INestApplication; url: string }> {
  // Self-signed client certificates are legal here (RFC 8705 §2.2): the binding, not a chain,
  // is what the resource server checks.
  const https = {
    key: server.key,
    cert: server.cert,
    requestCert: true,
    rejectUnauthorized: false,
  };
  const root = testAppModule(OidcResourceModule.forRoot(options));
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(root, new FastifyAdapter({ https }), { logger: false })
      : await NestFactory.create(root, { httpsOptions: https, logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `https://127.0.0.1:${port}` };
}

const INVALID_TOKEN = /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/;

describe.each(ADAPTERS)('certificate-bound tokens (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let plainApp: INestApplication;
  let plainUrl: string;
  const t: Record<string, string> = {};
  const options = (): OidcResourceModuleOptions => ({
    issuer: as.issuer,
    audience: API,
    realm: 'api',
    introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
  });

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startHttpsApp(adapter, { ...options(), mtls: {} }));
    ({ app: plainApp, url: plainUrl } = await startHttpsApp(adapter, options()));
    t.jwt = await as.mintAccessToken({ scope: 'api:read', x5t: clientA.cert });
    t.opaque = await as.mintAccessToken({ scope: 'api:read', format: 'opaque', x5t: clientA.cert });
    t.unbound = await as.mintAccessToken({ scope: 'api:read' });
    t.forged = await forgeAccessToken(as, {
      claims: { scope: 'api:read', cnf: { 'x5t#S256': clientB.thumbprint } },
    });
  });

  afterAll(async () => {
    await app?.close();
    await plainApp?.close();
    await as?.close();
  });

  it('the minted tokens carry the certificate thumbprint (the premise of the other tests)', async () => {
    const payload = JSON.parse(Buffer.from(t.jwt!.split('.')[1]!, 'base64url').toString());
    expect(payload.cnf).toEqual({ 'x5t#S256': clientA.thumbprint });
    expect(await as.introspect(t.opaque!)).toMatchObject({
      active: true,
      cnf: { 'x5t#S256': clientA.thumbprint },
    });
  });

  it.each(['jwt', 'opaque'])(
    'accepts a %s token with the certificate it is bound to',
    async (kind) => {
      const res = await get(`${url}/api/read`, t[kind]!, clientA);
      expect(res).toMatchObject({ status: 200, body: JSON.stringify({ sub: 'alice' }) });
    },
  );

  it.each(['jwt', 'opaque'])(
    'refuses a %s token with another certificate, or none, as invalid_token (401)',
    async (kind) => {
      for (const client of [clientB, undefined]) {
        const res = await get(`${url}/api/read`, t[kind]!, client);
        expect(res.status).toBe(401);
        expect(res.challenge).toMatch(INVALID_TOKEN);
        expect(res.body).not.toContain(t[kind]!);
      }
    },
  );

  it('checks the binding on every request, not once per cached token', async () => {
    expect((await get(`${url}/api/read`, t.jwt!, clientA)).status).toBe(200);
    expect((await get(`${url}/api/read`, t.jwt!, clientB)).status).toBe(401);
    expect((await get(`${url}/api/read`, t.jwt!, clientA)).status).toBe(200);
  });

  it('accepts a forged-but-validly-signed token only with its own certificate', async () => {
    expect((await get(`${url}/api/read`, t.forged!, clientB)).status).toBe(200);
    expect((await get(`${url}/api/read`, t.forged!, clientA)).status).toBe(401);
  });

  it('still accepts unbound bearer tokens, with or without a client certificate', async () => {
    expect((await get(`${url}/api/read`, t.unbound!, clientA)).status).toBe(200);
    expect((await get(`${url}/api/read`, t.unbound!)).status).toBe(200);
  });

  it('refuses certificate-bound tokens when mtls is not configured, even with the right certificate', async () => {
    const res = await get(`${plainUrl}/api/read`, t.jwt!, clientA);
    expect(res.status).toBe(401);
    expect(res.challenge).toMatch(INVALID_TOKEN);
    expect(res.challenge).toContain('certificate-bound');
  });
});

describe.each(ADAPTERS)('certificate from a trusted proxy header (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let token: string;

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(adapter, {
      issuer: as.issuer,
      audience: API,
      realm: 'api',
      mtls: { certificateHeader: 'X-Client-Cert' },
    }));
    token = await as.mintAccessToken({ scope: 'api:read', x5t: clientA.cert });
  });

  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  const call = (cert?: string) =>
    fetch(`${url}/api/read`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(cert !== undefined ? { 'x-client-cert': cert } : {}),
      },
    });

  it('accepts the URL-encoded PEM of the bound certificate', async () => {
    const res = await call(encodeURIComponent(clientA.cert));
    expect(res.status).toBe(200);
  });

  it.each([
    ['another certificate', encodeURIComponent(clientB.cert)],
    ['no header', undefined],
    ['an empty header', ''],
    ['garbage', 'not-a-certificate'],
    ['a broken percent-encoding', '%E0%A4%A'],
    ['two certificates', encodeURIComponent(clientA.cert + clientB.cert)],
  ])('refuses %s as invalid_token', async (_name, cert) => {
    const res = await call(cert);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(INVALID_TOKEN);
  });
});

describe.each(['apollo', 'mercurius'] as GraphQLDriverName[])(
  'certificate-bound tokens over GraphQL (%s)',
  (driver) => {
    let as: AuthorizationServer;
    let app: INestApplication;
    let url: string;
    let token: string;

    beforeAll(async () => {
      as = await startAuthorizationServer();
      ({ app, url } = await startGraphQLApp(
        driver,
        OidcResourceModule.forRoot({
          issuer: as.issuer,
          audience: API,
          realm: 'api',
          mtls: { certificateHeader: 'x-client-cert' },
        }),
      ));
      token = await as.mintAccessToken({ scope: 'api:read', x5t: clientA.cert });
    });

    afterAll(async () => {
      await app?.close();
      await as?.close();
    });

    it('accepts the bound token with its certificate, refuses it with another or none', async () => {
      const headers = (cert: CertificateAndKey) => ({
        'x-client-cert': encodeURIComponent(cert.cert),
      });
      let res = await graphql(url, '{ notes }', { token, headers: headers(clientA) });
      expect(res.body).toEqual({ data: { notes: ['first note'] } });
      for (const init of [{ token, headers: headers(clientB) }, { token }]) {
        res = await graphql(url, '{ notes }', init);
        expect(res.body.errors![0]!.extensions).toMatchObject({
          code: 'UNAUTHENTICATED',
          oauth: { error: 'invalid_token' },
        });
        expect(res.headers.get('www-authenticate')).toMatch(INVALID_TOKEN);
      }
      // A public query: the principal only with the certificate.
      res = await graphql(url, '{ hello }', { token, headers: headers(clientA) });
      expect(res.body).toEqual({ data: { hello: 'alice' } });
      res = await graphql(url, '{ hello }', { token });
      expect(res.body).toEqual({ data: { hello: 'anonymous' } });
    });
  },
);
