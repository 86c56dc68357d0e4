import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from '../../test/fixtures/certificates.js';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { httpCall } from './http.js';
import { Deadline, MAX_SOCKETS_PER_ORIGIN, agentFor, closeConnectionPools } from './http-pool.js';

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
    const call = httpCall('Test', 'ftp://127.0.0.1/x', {}, 1000);
    await expect(call).rejects.toBeInstanceOf(IssuerUnavailableError);
    await expect(call).rejects.toThrow(/^Test: the authorization server could not be reached$/);
    await expect(call).rejects.toMatchObject({ cause: { message: 'unsupported protocol ftp:' } });
  });

  it('an idle connection is reused most recent first, so the others can time out', async () => {
    const ports: number[] = [];
    const server = await countingServer((req, res) => {
      ports.push(req.socket.remotePort!);
      setTimeout(() => json(res, {}), 20);
    });
    try {
      // Two connections, then one call at a time: the most recently freed one serves them all.
      await Promise.all([1, 2].map(() => httpCall('Test', `${server.url}/`, {}, 5000)));
      ports.length = 0;
      for (let i = 0; i < 4; i++) await httpCall('Test', `${server.url}/`, {}, 5000);
      expect(server.stats().connections).toBe(2);
      expect(new Set(ports).size).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('an https URL is called over TLS (an untrusted certificate is an outage naming why)', async () => {
    const { cert, key } = selfSignedCertificate('127.0.0.1', 'IP:127.0.0.1');
    const server = https.createServer({ cert, key }, (_req, res) => res.end('{}'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      await expect(httpCall('Test', url, {}, 5000)).rejects.toThrow(
        'Test: the authorization server could not be reached (DEPTH_ZERO_SELF_SIGNED_CERT)',
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('agentFor', () => {
  afterEach(() => closeConnectionPools());

  it('one pool per origin, kept until the pools are closed', () => {
    const a = agentFor(new URL('http://127.0.0.1:1/a'));
    expect(agentFor(new URL('http://127.0.0.1:1/b?c'))).toBe(a);
    expect(agentFor(new URL('http://127.0.0.1:2/a'))).not.toBe(a);
    expect(agentFor(new URL('https://127.0.0.1:1/a'))).toBeInstanceOf(https.Agent);
    closeConnectionPools();
    expect(agentFor(new URL('http://127.0.0.1:1/a'))).not.toBe(a);
  });

  it('at most 64 origins: the oldest pool is dropped for the 65th', () => {
    const first = agentFor(new URL('http://127.0.0.1:1/'));
    for (let port = 2; port <= 64; port++) agentFor(new URL(`http://127.0.0.1:${port}/`));
    expect(agentFor(new URL('http://127.0.0.1:1/'))).toBe(first);
    agentFor(new URL('http://127.0.0.1:65/'));
    expect(agentFor(new URL('http://127.0.0.1:1/'))).not.toBe(first);
  });
});

describe('Deadline', () => {
  it('fails the attempt in flight with a TimeoutError, once its time is up', async () => {
    const deadline = new Deadline(10);
    const failed = new Promise<Error>((resolve) => (deadline.abort = resolve));
    const error = await failed;
    expect(deadline.expired).toBe(true);
    expect(error).toMatchObject({
      name: 'TimeoutError',
      message: 'The operation was aborted due to timeout',
    });
  });

  it('expires quietly with no attempt in flight, and never once cleared', async () => {
    const idle = new Deadline(5);
    const cleared = new Deadline(5);
    cleared.clear();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(idle.expired).toBe(true);
    expect(cleared.expired).toBe(false);
  });
});
