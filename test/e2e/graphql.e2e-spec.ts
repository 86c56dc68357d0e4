/**
 * GraphQL over HTTP with real drivers and real HTTP: Apollo Server on Express and Mercurius on
 * Fastify, tokens minted by the real oidc-provider fixture. Refusals are GraphQL errors with
 * `extensions.code` and `extensions.oauth`, and the HTTP answer carries the challenge a REST
 * route would.
 */
import type { INestApplication } from '@nestjs/common';
import { OidcResourceModule, type OidcResourceModuleOptions } from '../../lib/index.js';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { forgeAccessToken } from '../fixtures/tokens.js';
import { graphql, startGraphQLApp, type GraphQLDriverName } from '../fixtures/graphql-app.js';

const DRIVERS: GraphQLDriverName[] = ['apollo', 'mercurius'];

describe.each(DRIVERS)('GraphQL over HTTP (%s)', (driver) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let reader: string;
  let writer: string;
  const options = (extra: Partial<OidcResourceModuleOptions> = {}) =>
    OidcResourceModule.forRoot({
      issuer: as.issuer,
      audience: API,
      realm: 'api',
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      // No positive cache: each validation of an opaque token is an introspection call.
      cache: { ttl: 0 },
      ...extra,
    });

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startGraphQLApp(driver, options()));
    reader = await as.mintAccessToken({ scope: 'api:read' });
    writer = await as.mintAccessToken({ scope: 'api:read api:write' });
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('answers a public query without a token, and with one fills @CurrentUser()', async () => {
    let res = await graphql(url, '{ hello }');
    expect(res.body).toEqual({ data: { hello: 'anonymous' } });
    expect(res.headers.get('www-authenticate')).toBeNull();
    res = await graphql(url, '{ hello }', { token: reader });
    expect(res.body).toEqual({ data: { hello: 'alice' } });
  });

  it('a public query never fails because of its token (an invalid one leaves no user)', async () => {
    const res = await graphql(url, '{ hello }', { token: 'not-a-real-token' });
    expect(res.body).toEqual({ data: { hello: 'anonymous' } });
  });

  it('refuses a protected query without a token: UNAUTHENTICATED and a bare challenge', async () => {
    const res = await graphql(url, '{ notes }');
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0]!.path).toEqual(['notes']);
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: { error: 'invalid_token', error_description: 'No access token was sent' },
    });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  });

  it('answers a protected query with the scope, and @CurrentUser() works in the resolver', async () => {
    let res = await graphql(url, '{ notes }', { token: reader });
    expect(res.body).toEqual({ data: { notes: ['first note'] } });
    res = await graphql(url, '{ me { sub scopes } }', { token: reader });
    expect(res.body).toEqual({ data: { me: { sub: 'alice', scopes: ['api:read'] } } });
  });

  it('refuses an expired or forged token: UNAUTHENTICATED, invalid_token, and the challenge', async () => {
    for (const token of [
      await forgeAccessToken(as, { claims: { exp: Math.floor(Date.now() / 1000) - 120 } }),
      `${reader.slice(0, -4)}AAAA`,
    ]) {
      const res = await graphql(url, '{ notes }', { token });
      const extensions = res.body.errors![0]!.extensions as {
        code: string;
        oauth: { error: string };
      };
      expect(extensions.code).toBe('UNAUTHENTICATED');
      expect(extensions.oauth.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
      );
    }
  });

  it('refuses a mutation without the scope: FORBIDDEN with the scope, as a 403 would', async () => {
    let res = await graphql(url, 'mutation { addNote(text: "hi") }', { token: reader });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'FORBIDDEN',
      oauth: { error: 'insufficient_scope', scope: 'api:write' },
    });
    expect(res.headers.get('www-authenticate')).toContain(
      'error="insufficient_scope", error_description="The access token lacks a required scope", scope="api:write"',
    );
    res = await graphql(url, 'mutation { addNote(text: "hi") }', { token: writer });
    expect(res.body).toEqual({ data: { addNote: 'alice: hi' } });
  });

  it('applies class metadata, overridden per handler (@Scopes on the resolver class, @Public on one query)', async () => {
    let res = await graphql(url, '{ adminReport }', { token: reader });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'FORBIDDEN',
      oauth: { error: 'insufficient_scope', scope: 'admin' },
    });
    res = await graphql(url, '{ adminStatus }');
    expect(res.body).toEqual({ data: { adminStatus: 'ok' } });
  });

  it('checks roles and policies as on HTTP routes (FORBIDDEN, no scope)', async () => {
    let res = await graphql(url, '{ adminOnly }', { token: reader });
    const extensions = res.body.errors![0]!.extensions as { code: string; oauth: object };
    expect(extensions.code).toBe('FORBIDDEN');
    expect(extensions.oauth).toEqual({
      error: 'insufficient_scope',
      error_description: 'The access token lacks a required role: admin',
    });
    const admin = await forgeAccessToken(as, { claims: { roles: ['admin'] } });
    res = await graphql(url, '{ adminOnly aliceOnly }', { token: admin });
    expect(res.body).toEqual({ data: { adminOnly: true, aliceOnly: true } });
    const bob = await forgeAccessToken(as, { claims: { sub: 'bob' } });
    res = await graphql(url, '{ aliceOnly }', { token: bob });
    expect(res.body.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('validates the token once per operation, however many protected fields it selects', async () => {
    // Mutations run one after the other, so nothing but the per-operation memo can share a
    // validation here (the positive cache is off).
    const opaque = await as.mintAccessToken({ scope: 'api:read api:write', format: 'opaque' });
    const before = as.hits.get('POST /token/introspection') ?? 0;
    let res = await graphql(url, 'mutation { a: addNote(text: "1") b: addNote(text: "2") }', {
      token: opaque,
    });
    expect(res.body).toEqual({ data: { a: 'alice: 1', b: 'alice: 2' } });
    expect((as.hits.get('POST /token/introspection') ?? 0) - before).toBe(1);
    res = await graphql(url, '{ notes me { sub } again: notes }', { token: opaque });
    expect(res.body).toEqual({
      data: { notes: ['first note'], me: { sub: 'alice' }, again: ['first note'] },
    });
    expect((as.hits.get('POST /token/introspection') ?? 0) - before).toBe(2);
  });

  it('answers only the refused fields: public fields of the same operation still resolve', async () => {
    const res = await graphql(url, '{ hello adminStatus }', { token: 'x' });
    expect(res.body).toEqual({ data: { hello: 'anonymous', adminStatus: 'ok' } });
  });

  it('malformed Authorization is UNAUTHENTICATED with invalid_request', async () => {
    const res = await graphql(url, '{ notes }', { headers: { authorization: 'Bearer a b' } });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: { error: 'invalid_request' },
    });
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('a token in the query string is governed by allowQueryToken (off: invalid_request)', async () => {
    const res = await graphql(url, '{ notes }', { path: `/graphql?access_token=${reader}` });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: {
        error: 'invalid_request',
        error_description: 'Access tokens in the query string are not accepted',
      },
    });
  });

  it('answers SERVICE_UNAVAILABLE, never UNAUTHENTICATED, while the issuer is down', async () => {
    const opaque = await as.mintAccessToken({ scope: 'api:read', format: 'opaque' });
    await as.stop();
    try {
      const res = await graphql(url, '{ notes }', { token: opaque });
      expect(res.body.errors![0]!.extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        oauth: { error: 'temporarily_unavailable' },
      });
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(JSON.stringify(res.body)).not.toContain(opaque);
    } finally {
      await as.start();
    }
  });
});

describe.each(DRIVERS)('GraphQL over HTTP with allowQueryToken (%s)', (driver) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startGraphQLApp(
      driver,
      OidcResourceModule.forRoot({ issuer: as.issuer, audience: API, allowQueryToken: true }),
    ));
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('accepts a query-string token, marks the answer private, and refuses one sent twice', async () => {
    const reader = await as.mintAccessToken({ scope: 'api:read' });
    let res = await graphql(url, '{ notes }', { path: `/graphql?access_token=${reader}` });
    expect(res.body).toEqual({ data: { notes: ['first note'] } });
    // RFC 6750 §2.3: private; Apollo answers no-store, which is stricter.
    expect(res.headers.get('cache-control')).toMatch(/^(private|no-store)$/);
    res = await graphql(url, '{ notes }', {
      path: `/graphql?access_token=${reader}`,
      token: reader,
    });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      oauth: {
        error: 'invalid_request',
        error_description: 'The access token was sent in more than one way',
      },
    });
  });
});
