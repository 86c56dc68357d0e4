/**
 * httpCall's faults, each on its own: what a real authorization server does not do on demand
 * (reset connections, stall, oversize bodies, odd Retry-After values) from a loopback server.
 */
import { jest } from '@jest/globals';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { httpCall, parseJsonObject } from './http.js';
import { closeConnectionPools } from './http-pool.js';

interface Loopback {
  url: string;
  requests: () => number;
  close: () => Promise<void>;
}

const servers: Loopback[] = [];

async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<Loopback> {
  let requests = 0;
  const server = http.createServer((req, res) => handler(req, res, ++requests));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const loopback = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(loopback);
  return loopback;
}

afterEach(async () => {
  closeConnectionPools();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The IssuerUnavailableError the call fails with. */
async function failure(call: Promise<unknown>): Promise<IssuerUnavailableError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    return error as IssuerUnavailableError;
  }
  throw new Error('the call succeeded');
}

describe('Retry-After', () => {
  async function retryAfter(value: string): Promise<number | undefined> {
    const server = await serve((_req, res) => {
      res.writeHead(503, { 'retry-after': value });
      res.end();
    });
    const result = await httpCall('Test', server.url, {}, 5000);
    expect(result.status).toBe(503);
    return 'retryAfter' in result ? result.retryAfter : undefined;
  }

  it('takes seconds, capped at an hour', async () => {
    expect(await retryAfter('120')).toBe(120);
    expect(await retryAfter('0')).toBe(0);
    expect(await retryAfter('3600')).toBe(3600);
    expect(await retryAfter('3601')).toBe(3600);
    // Never negative (V8 then reads "-1" as a date, the year 2001: in the past).
    expect(await retryAfter('-1')).toBe(0);
  });

  it('takes an HTTP date: seconds from now, none in the past, capped at an hour', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const spy = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      expect(await retryAfter('Thu, 01 Jan 2026 00:01:30 GMT')).toBe(90);
      expect(await retryAfter('Wed, 31 Dec 2025 23:59:00 GMT')).toBe(0);
      expect(await retryAfter('Thu, 01 Jan 2026 02:00:00 GMT')).toBe(3600);
    } finally {
      spy.mockRestore();
    }
  });

  it('ignores an empty or unreadable value', async () => {
    expect(await retryAfter('')).toBeUndefined();
    expect(await retryAfter('soon')).toBeUndefined();
  });

  it('a response without one has no retryAfter member', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    expect(await httpCall('Test', server.url, {}, 5000)).toStrictEqual({
      status: 200,
      contentType: '',
      text: 'ok',
    });
  });
});

describe('transport failures are outages', () => {
  it('a connection reset before the answer is retried once, on a fresh connection', async () => {
    const server = await serve((req, res, n) => {
      if (n === 1) req.socket.destroy();
      else res.end(`answer ${n}`);
    });
    const result = await httpCall('Test', server.url, {}, 5000);
    expect(result.text).toBe('answer 2');
    expect(server.requests()).toBe(2);
  });

  it('a second reset is an outage that names the socket error', async () => {
    const server = await serve((req) => req.socket.destroy());
    const error = await failure(httpCall('JWKS', server.url, {}, 5000));
    expect(error.message).toBe('JWKS: the authorization server could not be reached (ECONNRESET)');
    expect(error.url).toBe(server.url);
    expect(server.requests()).toBe(2);
  });

  it('only a reset is retried: a malformed answer is an outage at once', async () => {
    const server = await serve((req, res, n) => {
      if (n === 1) req.socket.end('HTTP/1.1 abc\r\n\r\n');
      else res.end('answer');
    });
    const error = await failure(httpCall('Test', server.url, {}, 5000));
    expect(error.message).toMatch(
      /^Test: the authorization server could not be reached \(HPE_[A-Z_]+\)$/,
    );
    expect(server.requests()).toBe(1);
  });

  it('a refused connection is not retried and names ECONNREFUSED', async () => {
    const server = await serve((_req, res) => res.end());
    const url = server.url;
    await server.close();
    const error = await failure(httpCall('Discovery', url, {}, 5000));
    expect(error.message).toBe(
      'Discovery: the authorization server could not be reached (ECONNREFUSED)',
    );
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('a failure without a code says only that the server could not be reached', async () => {
    const error = await failure(httpCall('Test', 'ftp://127.0.0.1/x', {}, 5000));
    expect(error.message).toBe('Test: the authorization server could not be reached');
  });

  it('no answer within the timeout', async () => {
    await serve(() => undefined);
    const error = await failure(httpCall('Introspection', servers[0]!.url, {}, 150));
    expect(error.message).toBe(
      'Introspection: the authorization server did not answer within 150 ms',
    );
    // Telemetry counts the failure as a timeout by the cause's name.
    expect(error.cause).toMatchObject({ name: 'TimeoutError' });
    expect(servers[0]!.requests()).toBe(1);
  });

  it('a body that stops coming within the timeout', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":');
    });
    const error = await failure(httpCall('JWKS', server.url, {}, 150));
    expect(error.message).toBe('JWKS: the authorization server did not answer within 150 ms');
  });

  it('a body cut off by the server cannot be read', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"keys":', () => res.socket?.destroy());
    });
    const error = await failure(httpCall('JWKS', server.url, {}, 5000));
    expect(error.message).toBe("JWKS: the authorization server's response could not be read");
    expect(error.cause).toMatchObject({
      name: 'ResponseReadError',
      message: 'response not read',
      cause: { code: 'ECONNRESET' },
    });
    expect(error.url).toBe(server.url);
  });
});

describe('response size', () => {
  const body = 'x'.repeat(100);

  it('a body of exactly maxBytes is read', async () => {
    const server = await serve((_req, res) => res.end(body));
    expect((await httpCall('Test', server.url, {}, 5000, 100)).text).toBe(body);
  });

  it('a declared length over maxBytes is refused before the body is read', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '101' });
      res.write('x'); // the rest never comes: only the declared length can refuse it in time
    });
    const error = await failure(httpCall('UserInfo', server.url, {}, 5000, 100));
    expect(error.message).toBe("UserInfo: the authorization server's response exceeds 100 bytes");
  });

  it('a chunked body over maxBytes is refused', async () => {
    const server = await serve((_req, res) => {
      res.write(body);
      res.end('y');
    });
    const error = await failure(httpCall('Test', server.url, {}, 5000, 100));
    expect(error.message).toBe("Test: the authorization server's response exceeds 100 bytes");
    expect(error.url).toBe(server.url);
  });
});

describe('parseJsonObject', () => {
  it('returns the object', () => {
    expect(parseJsonObject('Test', '{"a":1}')).toEqual({ a: 1 });
  });

  it('refuses text that is not JSON, naming the URL when given', () => {
    for (const url of ['https://as.example/x', undefined]) {
      let error: unknown;
      try {
        parseJsonObject('JWKS', '{"keys":', url);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect(error).toMatchObject({
        message: 'JWKS: the authorization server answered with something that is not JSON',
        cause: expect.objectContaining({ name: 'SyntaxError' }),
      });
      expect((error as IssuerUnavailableError).url).toBe(url);
    }
  });

  it.each(['[]', 'null', '42', '"text"'])('refuses %s: not a JSON object', (text) => {
    for (const url of ['https://as.example/x', undefined]) {
      let error: unknown;
      try {
        parseJsonObject('Discovery', text, url);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect((error as Error).message).toBe(
        'Discovery: the authorization server did not answer with a JSON object',
      );
      expect((error as IssuerUnavailableError).url).toBe(url);
    }
  });
});
