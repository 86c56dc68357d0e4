/**
 * DPoP over GraphQL HTTP requests (Apollo on Express, Mercurius on Fastify): the same guard, the
 * same headers; the proof is for `POST <url>/graphql`, checked once per operation.
 */
import type { INestApplication } from '@nestjs/common';
import { OidcResourceModule } from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { boundJwt, dpopClient, dpopHeaders, type DpopClient } from '../fixtures/dpop.js';
import { graphql, startGraphQLApp, type GraphQLDriverName } from '../fixtures/graphql-app.js';

const DRIVERS: GraphQLDriverName[] = ['apollo', 'mercurius'];

describe.each(DRIVERS)('DPoP over GraphQL (%s)', (driver) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let alice: DpopClient;
  let jwt: string;
  const proof = () => alice.proof('POST', `${url}/graphql`, jwt);

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startGraphQLApp(
      driver,
      OidcResourceModule.forRoot({ issuer: as.issuer, audience: API, realm: 'api', dpop: {} }),
    ));
    alice = await dpopClient();
    jwt = await boundJwt(as, alice);
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('a bound token with a valid proof: the protected query and @CurrentUser() on a public one', async () => {
    let res = await graphql(url, '{ notes }', { headers: dpopHeaders(jwt, await proof()) });
    expect(res.body).toEqual({ data: { notes: ['first note'] } });
    res = await graphql(url, '{ hello }', { headers: dpopHeaders(jwt, await proof()) });
    expect(res.body).toEqual({ data: { hello: 'cc-dpop' } });
  });

  it('a replayed proof: UNAUTHENTICATED, invalid_dpop_proof, a DPoP challenge', async () => {
    const headers = dpopHeaders(jwt, await proof());
    expect((await graphql(url, '{ notes }', { headers })).body.data).toEqual({
      notes: ['first note'],
    });
    const res = await graphql(url, '{ notes }', { headers });
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: { error: 'invalid_dpop_proof' },
    });
    expect(res.headers.get('www-authenticate')).toMatch(
      /^DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof was already used", algs="ES256 EdDSA PS256 RS256"$/,
    );
    // A public query with the replayed proof gets no user.
    expect((await graphql(url, '{ hello }', { headers })).body).toEqual({
      data: { hello: 'anonymous' },
    });
  });

  it('the bound token as Bearer: invalid_token', async () => {
    const res = await graphql(url, '{ notes }', { token: jwt });
    expect(res.body.errors![0]!.extensions).toMatchObject({ oauth: { error: 'invalid_token' } });
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP /);
  });
});
