import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { httpCall } from './http.js';
import { MAX_SOCKETS_PER_ORIGIN, closeConnectionPools } from './http-pool.js';

/** A loopback server that counts the connections it accepts and the requests it answers. */
async function countingServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  let connections = 0;
  let open = 0;
  let mostOpen = 0;
  server.on('connection', (socket) => {
    connections += 1;
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    socket.on('close', () => (open -= 1));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ connections, mostOpen }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: http.ServerResponse, body: unknown) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};

describe('httpCall over the keep-alive pool', () => {
  afterEach(() => closeConnectionPools());

  it('sequential calls to one origin share one connection', async () => {
    const server = await countingServer((req, res) => json(res, { path: req.url }));
    try {
      for (let i = 0; i < 20; i++) {
        const result = await httpCall('Test', `${server.url}/n/${i}`, {}, 5000);
        expect(JSON.parse(result.text)).toEqual({ path: `/n/${i}` });
      }
      expect(server.stats().connections).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a burst of concurrent calls opens at most MAX_SOCKETS_PER_ORIGIN connections, and every call is answered', async () => {
    const server = await countingServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      // Answered a little later, so that the calls really overlap.
      req.on('end', () => setTimeout(() => json(res, { echo: body }), 5));
    });
    try {
      const calls = Array.from({ length: 4 * MAX_SOCKETS_PER_ORIGIN }, (_, i) =>
        httpCall('Test', `${server.url}/x`, { method: 'POST', body: `token=${i}` }, 10_000),
      );
      const answers = (await Promise.all(calls)).map((r) => JSON.parse(r.text) as unknown);
      expect(answers).toEqual(
        Array.from({ length: 4 * MAX_SOCKETS_PER_ORIGIN }, (_, i) => ({ echo: `token=${i}` })),
      );
      expect(server.stats().mostOpen).toBeLessThanOrEqual(MAX_SOCKETS_PER_ORIGIN);
      expect(server.stats().connections).toBeLessThanOrEqual(MAX_SOCKETS_PER_ORIGIN);
    } finally {
      await server.close();
    }
  });

  it('reads the status and headers, keeps bytes as UTF-8 (and drops a BOM), sends the body with its length', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const server = await countingServer((req, res) => {
      seen = req.headers;
      req.resume();
      res.writeHead(429, { 'content-type': 'Application/JSON', 'retry-after': '7' });
      res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"é":"ü"}')]));
    });
    try {
      const result = await httpCall(
        'Test',
        `${server.url}/`,
        { method: 'POST', headers: { 'x-test': 'yes' }, body: 'a=é' },
        5000,
      );
      expect(result).toEqual({
        status: 429,
        contentType: 'application/json',
        retryAfter: 7,
        text: '{"é":"ü"}',
      });
      expect(seen['content-length']).toBe('4');
      expect(seen['x-test']).toBe('yes');
    } finally {
      await server.close();
    }
  });

  it('a URL that is not http(s) is an outage, not a crash', async () => {
    await expect(httpCall('Test', 'ftp://127.0.0.1/x', {}, 1000)).rejects.toBeInstanceOf(
      IssuerUnavailableError,
    );
  });
});
