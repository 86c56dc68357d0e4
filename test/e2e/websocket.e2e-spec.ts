/**
 * WebSocket gateways with real clients: socket.io-client against `OidcIoAdapter`, `ws` against
 * `OidcWsAdapter`, tokens minted by the real oidc-provider fixture. The token is read once, at
 * the handshake; each message is checked against its handler's decorators and the token's
 * expiry.
 */
import type { INestApplication } from '@nestjs/common';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { OidcResourceModule } from '../../lib/index.js';
import {
  API,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { forgeAccessToken } from '../fixtures/tokens.js';
import { startGatewayApp, type SocketAdapterName } from '../fixtures/gateway-app.js';

interface Handshake {
  headers?: Record<string, string>;
  query?: string;
  auth?: Record<string, unknown>;
}

/** What a connection attempt gave: a client to talk to, or the refusal. */
type Connection =
  | {
      ok: true;
      send(event: string, data?: unknown): Promise<Reply>;
      closed: Promise<number | string>;
      close(): void;
    }
  | { ok: false; status?: number; challenge?: string; error: unknown };

interface Reply {
  event: string;
  data: unknown;
}

function connectIo(url: string, namespace: string, handshake: Handshake): Promise<Connection> {
  return new Promise((resolve) => {
    const socket: Socket = io(
      `${url}/${namespace}${handshake.query ? `?${handshake.query}` : ''}`,
      {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        extraHeaders: handshake.headers ?? {},
        ...(handshake.auth ? { auth: handshake.auth } : {}),
      },
    );
    const closed = new Promise<string>((done) => socket.on('disconnect', (reason) => done(reason)));
    socket.on('connect_error', (error: Error & { data?: unknown }) => {
      socket.close();
      resolve({ ok: false, error: error.data });
    });
    socket.on('connect', () =>
      resolve({
        ok: true,
        closed,
        close: () => socket.close(),
        send: (event, data) =>
          new Promise((reply) => {
            const answer = (name: string) => (payload: unknown) => {
              socket.offAny();
              reply({ event: name, data: payload });
            };
            socket.onAny((name: string, payload: unknown) => answer(name)(payload));
            socket.emit(event, data);
          }),
      }),
    );
  });
}

function connectWs(url: string, path: string, handshake: Handshake): Promise<Connection> {
  return new Promise((resolve) => {
    const target = `${url.replace('http', 'ws')}${path}${handshake.query ? `?${handshake.query}` : ''}`;
    const ws = new WebSocket(target, { headers: handshake.headers ?? {} });
    const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)));
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        resolve({
          ok: false,
          status: response.statusCode,
          challenge: response.headers['www-authenticate'] as string | undefined,
          error: JSON.parse(body) as unknown,
        });
      });
    });
    ws.on('error', () => undefined);
    ws.on('open', () =>
      resolve({
        ok: true,
        closed,
        close: () => ws.close(),
        send: (event, data) =>
          new Promise((reply) => {
            ws.once('message', (raw: Buffer) => reply(JSON.parse(raw.toString()) as Reply));
            ws.send(JSON.stringify({ event, data }));
          }),
      }),
    );
  });
}

/** A JWT's `exp`, in milliseconds. */
const expiresAt = (jwt: string): number =>
  (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp *
  1000;

const ADAPTERS: SocketAdapterName[] = ['socket.io', 'ws'];

describe.each(ADAPTERS)('WebSocket gateways (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let reader: string;
  let writer: string;
  let skew = 0;
  const connect = (where: 'notes' | 'lobby', handshake: Handshake = {}) =>
    adapter === 'socket.io'
      ? connectIo(url, where, handshake)
      : connectWs(url, `/${where}`, handshake);
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  /** How each adapter words a refusal of the handshake. */
  const expectRefused = (
    connection: Connection,
    status: number,
    oauth: Record<string, unknown>,
  ) => {
    expect(connection.ok).toBe(false);
    if (connection.ok) return;
    if (adapter === 'socket.io') expect(connection.error).toMatchObject(oauth);
    else expect(connection.status).toBe(status);
  };

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startGatewayApp(
      adapter,
      OidcResourceModule.forRoot({
        issuer: as.issuer,
        audience: API,
        realm: 'api',
        clockTolerance: 0,
      }),
      { clock: () => Date.now() + skew },
    ));
    reader = await as.mintAccessToken({ scope: 'api:read' });
    writer = await as.mintAccessToken({ scope: 'api:read api:write' });
  });
  afterEach(() => {
    skew = 0;
  });
  afterAll(async () => {
    await app?.close();
    await as?.close();
  });

  it('accepts a handshake with a valid token, and @CurrentUser() works in handlers', async () => {
    const connection = await connect('notes', bearer(reader));
    expect(connection.ok).toBe(true);
    if (!connection.ok) return;
    expect(await connection.send('whoami')).toEqual({ event: 'whoami', data: 'alice' });
    connection.close();
  });

  it('refuses a handshake without a token, as a REST route would', async () => {
    const connection = await connect('notes');
    expectRefused(connection, 401, {
      error: 'invalid_token',
      error_description: 'No access token was sent',
    });
    if (adapter === 'ws' && !connection.ok) expect(connection.challenge).toBe('Bearer realm="api"');
  });

  it('refuses a handshake with an expired or forged token (invalid_token)', async () => {
    const expired = await forgeAccessToken(as, {
      claims: { exp: Math.floor(Date.now() / 1000) - 60 },
    });
    for (const token of [expired, `${reader.slice(0, -4)}AAAA`]) {
      const connection = await connect('notes', bearer(token));
      expectRefused(connection, 401, { error: 'invalid_token' });
      if (adapter === 'ws' && !connection.ok)
        expect(connection.challenge).toMatch(/^Bearer realm="api", error="invalid_token"/);
    }
  });

  it('takes the token from access_token in the handshake URL (allowQueryToken is off)', async () => {
    const connection = await connect('notes', { query: `access_token=${reader}` });
    expect(connection.ok).toBe(true);
    if (!connection.ok) return;
    expect(await connection.send('whoami')).toEqual({ event: 'whoami', data: 'alice' });
    connection.close();
  });

  it('checks each message against its handler: a missing scope or role is refused, the socket stays open', async () => {
    const connection = await connect('notes', bearer(reader));
    if (!connection.ok) throw new Error('not connected');
    expect(await connection.send('write')).toEqual({
      event: 'exception',
      data: {
        error: 'insufficient_scope',
        error_description: 'The access token lacks a required scope',
        scope: 'api:write',
      },
    });
    expect(await connection.send('admin')).toEqual({
      event: 'exception',
      data: {
        error: 'insufficient_scope',
        error_description: 'The access token lacks a required role: admin',
      },
    });
    expect(await connection.send('ping')).toEqual({ event: 'pong', data: true });
    expect(await connection.send('whoami')).toEqual({ event: 'whoami', data: 'alice' });
    connection.close();
    const allowed = await connect('notes', bearer(writer));
    if (!allowed.ok) throw new Error('not connected');
    expect(await allowed.send('write')).toEqual({ event: 'written', data: 'alice' });
    allowed.close();
  });

  it('a @StepUp handler refuses a token without the acr (acr_values named), the socket stays open', async () => {
    const connection = await connect('notes', bearer(reader));
    if (!connection.ok) throw new Error('not connected');
    expect(await connection.send('sensitive')).toEqual({
      event: 'exception',
      data: {
        error: 'insufficient_user_authentication',
        error_description: expect.stringContaining('acr'),
        acr_values: 'urn:example:loa:2',
      },
    });
    expect(await connection.send('whoami')).toEqual({ event: 'whoami', data: 'alice' });
    connection.close();
    const strong = await as.mintAccessToken({ testClaims: { acr: 'urn:example:loa:2' } });
    const allowed = await connect('notes', bearer(strong));
    if (!allowed.ok) throw new Error('not connected');
    expect(await allowed.send('sensitive')).toEqual({ event: 'sensitive', data: true });
    allowed.close();
  });

  it('a @Public() gateway accepts a handshake without a token, and one with a token fills @CurrentUser()', async () => {
    let connection = await connect('lobby');
    if (!connection.ok) throw new Error('not connected');
    expect(await connection.send('hello')).toEqual({ event: 'hello', data: 'anonymous' });
    connection.close();
    connection = await connect('lobby', bearer(reader));
    if (!connection.ok) throw new Error('not connected');
    expect(await connection.send('hello')).toEqual({ event: 'hello', data: 'alice' });
    connection.close();
    connection = await connect('lobby', bearer('not-a-token'));
    expect(connection.ok).toBe(true);
    if (connection.ok) connection.close();
  });

  it('disconnects the socket when its token expires (one timer per connection)', async () => {
    // The library's clock is moved to 3 s before the token's exp (a margin for a loaded
    // machine: the token must still be valid when it is checked), so the close comes soon.
    const token = await as.mintAccessToken({ scope: 'api:read', expiresIn: 300 });
    skew = expiresAt(token) - 3_000 - Date.now();
    const connection = await connect('notes', bearer(token));
    if (!connection.ok) throw new Error('not connected');
    const closed = await connection.closed;
    if (adapter === 'ws') expect(closed).toBe(4401);
    else expect(closed).toBe('io server disconnect');
  });

  it('refuses a message once the token has expired, and disconnects', async () => {
    const token = await as.mintAccessToken({ scope: 'api:read', expiresIn: 300 });
    const connection = await connect('notes', bearer(token));
    if (!connection.ok) throw new Error('not connected');
    skew = 301_000;
    expect(await connection.send('whoami')).toEqual({
      event: 'exception',
      data: { error: 'invalid_token', error_description: 'The access token expired' },
    });
    expect(await connection.closed).toBe(adapter === 'ws' ? 4401 : 'io server disconnect');
  });

  describe('bad input: a clean refusal, and the server goes on', () => {
    afterEach(async () => {
      const connection = await connect('notes', bearer(reader));
      expect(connection.ok).toBe(true);
      if (connection.ok) connection.close();
    });

    it('a handshake with two tokens (header and query) is invalid_request', async () => {
      const connection = await connect('notes', {
        ...bearer(reader),
        query: `access_token=${reader}`,
      });
      expectRefused(connection, 400, {
        error: 'invalid_request',
        error_description: 'The access token was sent in more than one way',
      });
      if (adapter === 'ws' && !connection.ok)
        expect(connection.challenge).toContain('error="invalid_request"');
    });

    it('a malformed Authorization header is invalid_request', async () => {
      const connection = await connect('notes', { headers: { authorization: 'Bearer a"b' } });
      expectRefused(connection, 400, { error: 'invalid_request' });
    });

    if (adapter === 'socket.io') {
      it.each([[42], [{ nested: 'token' }], [['a', 'b']], ['']])(
        'an auth.token that is not a usable string (%j) is invalid_request',
        async (token) => {
          const connection = await connect('notes', { auth: { token } });
          expectRefused(connection, 400, { error: 'invalid_request' });
        },
      );

      it('takes auth.token with or without "Bearer ", and refuses it beside a header', async () => {
        for (const token of [reader, `Bearer ${reader}`]) {
          const connection = await connect('notes', { auth: { token } });
          if (!connection.ok) throw new Error('not connected');
          expect(await connection.send('whoami')).toEqual({ event: 'whoami', data: 'alice' });
          connection.close();
        }
        const twice = await connect('notes', { ...bearer(reader), auth: { token: reader } });
        expectRefused(twice, 400, {
          error: 'invalid_request',
          error_description: 'The access token was sent in more than one way',
        });
      });
    }
  });
});
