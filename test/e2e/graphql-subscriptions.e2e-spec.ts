/**
 * GraphQL subscriptions over graphql-ws (Apollo on Express, Mercurius on Fastify), with the graphql-ws client
 * over `ws` and tokens minted by the real oidc-provider fixture. The token comes from
 * `connectionParams`; refusals are GraphQL errors with the same `extensions` as over HTTP, and a
 * live subscription whose token expires is ended with close code 4401.
 */
import type { INestApplication } from '@nestjs/common';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { OidcResourceModule } from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { startGraphQLApp, type GraphQLDriverName } from '../fixtures/graphql-app.js';

/** A JWT's `exp`, in milliseconds. */
const expiresAt = (jwt: string): number =>
  (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp *
  1000;

interface Outcome {
  results: { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] }[];
  /** A close code when the connection ended the subscription. */
  closeCode?: number;
  completed: boolean;
}

const DRIVERS: GraphQLDriverName[] = ['apollo', 'mercurius'];

describe.each(DRIVERS)('GraphQL subscriptions over graphql-ws (%s)', (driver) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let wsUrl: string;
  let reader: string;
  let skew = 0;
  const clients: Client[] = [];

  const client = (connectionParams?: Record<string, unknown>) => {
    const created = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      ...(connectionParams ? { connectionParams } : {}),
    });
    clients.push(created);
    return created;
  };

  /** Subscribes and collects up to `take` results, or until an error or completion. */
  const subscribe = (on: Client, query: string, take = 2): Promise<Outcome> =>
    new Promise((resolve) => {
      const outcome: Outcome = { results: [], completed: false };
      const stop = on.subscribe(
        { query },
        {
          next: (result) => {
            outcome.results.push(result as Outcome['results'][number]);
            if (outcome.results.length >= take) {
              stop();
              resolve(outcome);
            }
          },
          error: (error) => {
            // graphql-ws's `error` message (Mercurius's way to refuse) carries GraphQL errors;
            // a closed connection, a close event.
            if (Array.isArray(error)) outcome.results.push({ errors: error });
            else outcome.closeCode = (error as { code?: number }).code;
            resolve(outcome);
          },
          complete: () => {
            outcome.completed = true;
            resolve(outcome);
          },
        },
      );
    });

  beforeAll(async () => {
    as = await startAuthorizationServer();
    let url: string;
    ({ app, url } = await startGraphQLApp(
      driver,
      OidcResourceModule.forRoot({
        issuer: as.issuer,
        audience: API,
        realm: 'api',
        clockTolerance: 0,
      }),
      { clock: () => Date.now() + skew },
    ));
    wsUrl = `${url.replace('http', 'ws')}/graphql`;
    reader = await as.mintAccessToken({ scope: 'api:read' });
  });
  afterEach(async () => {
    skew = 0;
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('streams a protected subscription to a token from connectionParams.Authorization', async () => {
    const outcome = await subscribe(
      client({ Authorization: `Bearer ${reader}` }),
      'subscription { ticks }',
    );
    expect(outcome.results).toEqual([{ data: { ticks: 'tick 0' } }, { data: { ticks: 'tick 1' } }]);
  });

  it('reads the member in any case, and the scheme in any case', async () => {
    const outcome = await subscribe(
      client({ authorization: `bearer ${reader}` }),
      'subscription { ticks }',
      1,
    );
    expect(outcome.results).toEqual([{ data: { ticks: 'tick 0' } }]);
  });

  it('refuses a subscription without a token (UNAUTHENTICATED); the connection stays open for public ones', async () => {
    const anonymous = client();
    const refused = await subscribe(anonymous, 'subscription { ticks }');
    expect(refused.results).toHaveLength(1);
    expect(refused.closeCode).toBeUndefined();
    expect(refused.results[0]!.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: { error: 'invalid_token', error_description: 'No access token was sent' },
    });
    const open = await subscribe(anonymous, 'subscription { publicTicks }', 1);
    expect(open.results).toEqual([{ data: { publicTicks: 'anonymous: tick 0' } }]);
  });

  it('fills @CurrentUser() in a public subscription when a valid token was sent', async () => {
    const outcome = await subscribe(
      client({ Authorization: `Bearer ${reader}` }),
      'subscription { publicTicks }',
      1,
    );
    expect(outcome.results).toEqual([{ data: { publicTicks: 'alice: tick 0' } }]);
  });

  it('refuses a subscription lacking a scope (FORBIDDEN, with the scope)', async () => {
    const outcome = await subscribe(
      client({ Authorization: `Bearer ${reader}` }),
      'subscription { adminTicks }',
    );
    expect(outcome.results[0]!.errors![0]!.extensions).toMatchObject({
      code: 'FORBIDDEN',
      oauth: { error: 'insufficient_scope', scope: 'admin' },
    });
  });

  it('refuses an invalid token (UNAUTHENTICATED, invalid_token)', async () => {
    const outcome = await subscribe(
      client({ Authorization: `Bearer ${reader.slice(0, -4)}AAAA` }),
      'subscription { ticks }',
    );
    expect(outcome.results[0]!.errors![0]!.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      oauth: { error: 'invalid_token' },
    });
  });

  it('ends a live subscription when its token expires, with close code 4401', async () => {
    // The library's clock is moved to 3 s before the token's exp (a margin for a loaded
    // machine: the token must still be valid when it is checked), so the close comes soon.
    const token = await as.mintAccessToken({ scope: 'api:read', expiresIn: 300 });
    skew = expiresAt(token) - 3_000 - Date.now();
    const outcome = await subscribe(
      client({ Authorization: `Bearer ${token}` }),
      'subscription { ticks }',
      10_000,
    );
    expect(outcome.results[0]).toEqual({ data: { ticks: 'tick 0' } });
    expect(outcome.closeCode).toBe(4401);
  });

  describe('bad input: a clean refusal, and the server goes on', () => {
    afterEach(async () => {
      const outcome = await subscribe(
        client({ Authorization: `Bearer ${reader}` }),
        'subscription { ticks }',
        1,
      );
      expect(outcome.results).toEqual([{ data: { ticks: 'tick 0' } }]);
    });

    it.each([
      ['two Authorization members', { Authorization: 'Bearer a', authorization: 'Bearer b' }],
      ['an Authorization that is not a string', { Authorization: ['Bearer', 'x'] }],
      ['a malformed Bearer value', { Authorization: 'Bearer a"b' }],
    ])('%s is UNAUTHENTICATED with invalid_request', async (_name, params) => {
      const outcome = await subscribe(client(params), 'subscription { ticks }');
      expect(outcome.results[0]!.errors![0]!.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        oauth: { error: 'invalid_request' },
      });
    });

    it('a huge connectionParams (10,000 members, a 100 kB token) is refused, the token as too long', async () => {
      const params: Record<string, string> = {};
      // Under Mercurius's 1 MiB frame limit (beyond it, its socket closes with 1009), so that
      // both drivers hand it to the guard.
      for (let i = 0; i < 10_000; i++) params[`key${i}`] = 'x'.repeat(50);
      params.Authorization = `Bearer ${'a'.repeat(100_000)}`;
      const outcome = await subscribe(client(params), 'subscription { ticks }');
      expect(outcome.results[0]!.errors![0]!.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        oauth: { error: 'invalid_token' },
      });
    });

    it('a subscribe message before connection_init closes the socket with 4401, nothing else', async () => {
      // A protocol violation no real client commits, so the frame is written by hand.
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: { query: 'subscription { ticks }' },
        }),
      );
      const [code] = await new Promise<[number, string]>((resolve) =>
        socket.once('close', (closeCode, reason) => resolve([closeCode, reason.toString()])),
      );
      // graphql-ws (Apollo) says 4401 Unauthorized; Mercurius closes without a code.
      expect(code).toBe(driver === 'apollo' ? 4401 : 1005);
    });
  });
});
