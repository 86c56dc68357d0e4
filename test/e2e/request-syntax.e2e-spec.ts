/**
 * How a request carries its token (RFC 6750 §2) and how malformed requests are answered
 * (400 invalid_request), on Express and Fastify. Requests that fetch refuses to send
 * (non-ASCII bytes, two Authorization fields) go over a raw TCP socket.
 */
import type { INestApplication } from '@nestjs/common';
import * as net from 'node:net';
import {
  startAuthorizationServer,
  API,
  RS_CLIENT,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { startTestApp, ADAPTERS } from '../fixtures/test-app.js';

interface Answer {
  status: number;
  /** Lower-cased names; every value of a repeated field. */
  headers: Map<string, string[]>;
  text: string;
  json: unknown;
}

const DESCRIPTION = '[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]+';
const BARE = 'Bearer realm="api"';
const INVALID_REQUEST = new RegExp(
  `^Bearer realm="api", error="invalid_request", error_description="${DESCRIPTION}"$`,
);
const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  const headers = new Map<string, string[]>();
  for (const [name, value] of res.headers) headers.set(name, [...(headers.get(name) ?? []), value]);
  return { status: res.status, headers, text, json: parseJson(text) };
}

function decodeChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', pos);
    if (eol === -1) break;
    const size = parseInt(body.subarray(pos, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/**
 * Sends `head` (request line and header lines, CRLF-separated, without the final blank line)
 * as raw bytes, with `Connection: close`, and parses the answer.
 */
function rawRequest(baseUrl: string, head: Buffer | string, body = ''): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const lines = all.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      let payload: Buffer = all.subarray(split + 4);
      if (headers.get('transfer-encoding')?.[0]?.toLowerCase() === 'chunked')
        payload = decodeChunked(payload);
      const text = payload.toString('utf8');
      resolve({ status, headers, text, json: parseJson(text) });
    });
    socket.on('connect', () => {
      const headBytes = typeof head === 'string' ? Buffer.from(head, 'latin1') : head;
      socket.end(
        Buffer.concat([
          headBytes,
          Buffer.from(
            `\r\nHost: ${hostname}:${port}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
            'latin1',
          ),
        ]),
      );
    });
  });
}

const header = (res: Answer, name: string): string | undefined => {
  const values = res.headers.get(name);
  expect((values ?? []).length).toBeLessThanOrEqual(1);
  return values?.[0];
};

/** Status, the exact challenge, Nest's JSON error shape, and the token nowhere in the answer. */
function expectError(
  res: Answer,
  status: number,
  challenge: string | RegExp,
  secret?: string,
): void {
  expect(res.status).toBe(status);
  const value = header(res, 'www-authenticate');
  if (typeof challenge === 'string') expect(value).toBe(challenge);
  else expect(value).toMatch(challenge);
  expect(res.json).toEqual({
    statusCode: status,
    message: expect.any(String),
    error: REASON[status],
  });
  if (secret !== undefined) {
    expect(res.text).not.toContain(secret);
    for (const [name, values] of res.headers)
      for (const v of values) expect(`${name}: ${v}`).not.toContain(secret);
  }
}

const OPTIONS = (as: AuthorizationServer) => ({
  issuer: as.issuer,
  audience: API,
  realm: 'api',
  introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
});

describe.each(ADAPTERS)('request syntax (%s)', (adapter) => {
  let as: AuthorizationServer;
  let app: INestApplication;
  let url: string;
  let queryApp: INestApplication;
  let queryUrl: string;
  let read: string;
  let write: string;
  let opaque: string;

  beforeAll(async () => {
    as = await startAuthorizationServer();
    ({ app, url } = await startTestApp(adapter, OPTIONS(as)));
    ({ app: queryApp, url: queryUrl } = await startTestApp(adapter, {
      ...OPTIONS(as),
      allowQueryToken: true,
    }));
    [read, write, opaque] = await Promise.all([
      as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:read' }),
      as.clientCredentials({ clientId: 'cc-jwt', scope: 'api:write' }),
      as.clientCredentials({ clientId: 'cc-opaque', scope: 'api:read' }),
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await queryApp?.close();
    await as?.close();
  });

  describe('Authorization header', () => {
    it.each([
      'Bearer',
      'Bearer a b',
      'Bearer a,b',
      'Bearer "x"',
      'Bearer token="abc"',
      'Bearer a=b',
    ])('malformed %j: 400 invalid_request', async (value) => {
      const res = await call(`${url}/api/read`, { headers: { authorization: value } });
      expectError(res, 400, INVALID_REQUEST);
    });

    it('"Bearer" followed only by spaces (raw): 400 invalid_request', async () => {
      const res = await rawRequest(url, 'GET /api/read HTTP/1.1\r\nAuthorization: Bearer    ');
      expectError(res, 400, INVALID_REQUEST);
    });

    it('non-ASCII bytes in the token (raw UTF-8 "tök"): 400 invalid_request', async () => {
      const head = Buffer.concat([
        Buffer.from('GET /api/read HTTP/1.1\r\nAuthorization: Bearer '),
        Buffer.from('tök', 'utf8'),
      ]);
      const res = await rawRequest(url, head);
      expectError(res, 400, INVALID_REQUEST);
    });

    it('a valid token with non-ASCII appended (raw) is refused, not truncated', async () => {
      const head = Buffer.concat([
        Buffer.from(`GET /api/read HTTP/1.1\r\nAuthorization: Bearer ${read}`),
        Buffer.from('é', 'utf8'),
      ]);
      const res = await rawRequest(url, head);
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('"Bearer␠␠<valid>" (1*SP): 200', async () => {
      const res = await call(`${url}/api/read`, { headers: { authorization: `Bearer   ${read}` } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: 'cc-jwt' });
    });

    it.each(['bearer', 'BEARER', 'BeArEr'])('scheme %s (case-insensitive): 200', async (scheme) => {
      const res = await call(`${url}/api/read`, {
        headers: { authorization: `${scheme} ${read}` },
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: 'cc-jwt' });
    });

    it.each(['Basic dXNlcjpwYXNz', 'Token x', 'MAC x', `DPoP ${'a'.repeat(20)}`])(
      'another scheme (%s): 401 with a bare Bearer challenge',
      async (value) => {
        const res = await call(`${url}/api/read`, { headers: { authorization: value } });
        expectError(res, 401, BARE);
      },
    );

    it('another scheme carrying a valid bearer token does not authenticate', async () => {
      const res = await call(`${url}/api/read`, { headers: { authorization: `Token ${read}` } });
      expectError(res, 401, BARE, read);
    });

    it('two Authorization fields, both valid (raw): 400 invalid_request, not "200 with the first"', async () => {
      const res = await rawRequest(
        url,
        `GET /api/read HTTP/1.1\r\nAuthorization: Bearer ${read}\r\nAuthorization: Bearer ${read}`,
      );
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('two Authorization fields differing in case, one Basic (raw): 400 invalid_request', async () => {
      const res = await rawRequest(
        url,
        `GET /api/read HTTP/1.1\r\nauthorization: Basic dXNlcjpwYXNz\r\nAUTHORIZATION: Bearer ${read}`,
      );
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('two Authorization fields on a public route: still 200, user undefined', async () => {
      const res = await rawRequest(
        url,
        `GET /api/public HTTP/1.1\r\nAuthorization: Bearer ${read}\r\nAuthorization: Bearer ${read}`,
      );
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ user: null });
    });

    it('one Authorization field (raw, control case): 200', async () => {
      const res = await rawRequest(url, `GET /api/read HTTP/1.1\r\nAuthorization: Bearer ${read}`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: 'cc-jwt' });
    });
  });

  describe('hostile token content never reaches the challenge', () => {
    const hostile = [
      'Bearer "x"',
      'Bearer x"\\y',
      'Bearer abc", error="hacked',
      'Bearer x\\", scope="admin',
      'Bearer <script>alert(1)</script>',
    ];

    it.each(hostile)('%j: 400 and a well-formed challenge', async (value) => {
      const res = await call(`${url}/api/read`, { headers: { authorization: value } });
      expectError(res, 400, INVALID_REQUEST);
      const challenge = header(res, 'www-authenticate')!;
      expect(challenge).not.toMatch(/hacked|scope=|<script>/);
      expect(res.text).not.toContain('<script>');
    });

    it('CR/LF-like content: the request never gets an injected header back', async () => {
      // A bare CR inside a field value is refused by Node's parser itself (400, before the app).
      const res = await rawRequest(
        url,
        'GET /api/read HTTP/1.1\r\nAuthorization: Bearer a\rX-Injected: yes',
      );
      expect(res.status).toBe(400);
      expect(res.headers.has('x-injected')).toBe(false);
      expect(res.text).not.toContain('X-Injected');
      // Percent-encoded CR/LF in a query token is decoded by URLSearchParams but is not a b64token.
      const q = await call(`${queryUrl}/api/read?access_token=a%0D%0AX-Injected:%20yes`);
      expectError(q, 400, INVALID_REQUEST);
      expect(q.headers.has('x-injected')).toBe(false);
    });
  });

  describe('query parameter (allowQueryToken: false, the default)', () => {
    it('?access_token=<valid>: 400 invalid_request, never authenticated', async () => {
      const res = await call(`${url}/api/read?access_token=${read}`);
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('?access_token= beside a valid header: 400 invalid_request', async () => {
      const res = await call(`${url}/api/read?access_token=${read}`, {
        headers: { authorization: `Bearer ${read}` },
      });
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('?access%5Ftoken=<valid> is the same parameter: 400 invalid_request', async () => {
      const res = await call(`${url}/api/read?access%5Ftoken=${read}`);
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('a query parameter merely named like it is not a token', async () => {
      const res = await call(`${url}/api/read?my_access_token=x&access_tokens=y`, {
        headers: { authorization: `Bearer ${read}` },
      });
      expect(res.status).toBe(200);
    });
  });

  describe('query parameter (allowQueryToken: true)', () => {
    it('?access_token=<valid JWT>: 200 with Cache-Control private', async () => {
      const res = await call(`${queryUrl}/api/read?access_token=${encodeURIComponent(read)}`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: 'cc-jwt' });
      expect(header(res, 'cache-control')).toMatch(/(^|[\s,])private($|[\s,])/);
    });

    it('?access_token=<valid opaque>: 200 with Cache-Control private', async () => {
      const res = await call(`${queryUrl}/api/any?access_token=${encodeURIComponent(opaque)}`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ clientId: 'cc-opaque', source: 'introspection' });
      expect(header(res, 'cache-control')).toMatch(/private/);
    });

    it('?access%5Ftoken=<valid JWT> is read like ?access_token=: 200', async () => {
      const res = await call(`${queryUrl}/api/read?access%5Ftoken=${encodeURIComponent(read)}`);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ sub: 'cc-jwt' });
      expect(header(res, 'cache-control')).toMatch(/private/);
    });

    it('header + query: 400 invalid_request', async () => {
      const res = await call(`${queryUrl}/api/read?access_token=${read}`, {
        headers: { authorization: `Bearer ${read}` },
      });
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('the parameter twice: 400 invalid_request', async () => {
      const res = await call(`${queryUrl}/api/read?access_token=${read}&access_token=${read}`);
      expectError(res, 400, INVALID_REQUEST, read);
    });

    it('an invalid query token: 401 invalid_token; insufficient scope: 403', async () => {
      const bad = await call(`${queryUrl}/api/read?access_token=nope`);
      expectError(
        bad,
        401,
        new RegExp(
          `^Bearer realm="api", error="invalid_token", error_description="${DESCRIPTION}"$`,
        ),
      );
      const forbidden = await call(`${queryUrl}/api/write?access_token=${read}`);
      expectError(
        forbidden,
        403,
        new RegExp(
          `^Bearer realm="api", error="insufficient_scope", error_description="${DESCRIPTION}", scope="api:write"$`,
        ),
        read,
      );
    });

    it('a header token does not get Cache-Control private added', async () => {
      const res = await call(`${queryUrl}/api/read`, {
        headers: { authorization: `Bearer ${read}` },
      });
      expect(res.status).toBe(200);
      expect(header(res, 'cache-control') ?? '').not.toMatch(/private/);
    });
  });

  describe('form body (never read)', () => {
    const form = (token: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: token, note: 'hi' }).toString(),
    });

    it('body access_token only: 401 with a bare challenge', async () => {
      const res = await call(`${url}/api/write`, form(write));
      expectError(res, 401, BARE, write);
    });

    it('body access_token only, with allowQueryToken on too: still 401 bare', async () => {
      const res = await call(`${queryUrl}/api/write`, form(write));
      expectError(res, 401, BARE, write);
    });

    it('header + body access_token: 400 invalid_request', async () => {
      const init = form(write);
      const res = await call(`${url}/api/write`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${write}` },
      });
      expectError(res, 400, INVALID_REQUEST, write);
    });

    it('query + body access_token (allowQueryToken on): 400 invalid_request', async () => {
      const res = await call(`${queryUrl}/api/write?access_token=${write}`, form(write));
      expectError(res, 400, INVALID_REQUEST, write);
    });

    it('header with a form body without access_token: 201 and the body reaches the handler', async () => {
      const res = await call(`${url}/api/write`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Bearer ${write}`,
        },
        body: 'note=hi',
      });
      expect(res.status).toBe(201); // Nest's default for POST
      expect(res.json).toEqual({ ok: true, body: { note: 'hi' } });
    });
  });
});
