import * as http from 'node:http';
import * as https from 'node:https';

/** The part of a response that {@link pooledRequest} callers read (shaped like fetch's `Response`). */
export interface PooledResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: (AsyncIterable<Uint8Array> & { cancel(): Promise<void> }) | null;
}

/**
 * Sockets per authorization-server origin: enough for a burst of new tokens, bounded so that a
 * flood of them queues here instead of opening hundreds of connections to the server.
 */
export const MAX_SOCKETS_PER_ORIGIN = 32;

/**
 * How long an idle connection is kept: shorter than the keep-alive timeouts servers commonly use
 * (Node 5 s, nginx 75 s), so that it is usually this side that closes, not the server while a
 * request is being written. A `Keep-Alive: timeout=N` hint from the server shortens it further.
 */
export const IDLE_SOCKET_TIMEOUT = 4000;

/** Origins with a pool; beyond this (only a misconfiguration reaches it), the oldest is closed. */
const MAX_ORIGINS = 64;

const agents = new Map<string, http.Agent>();

/** The keep-alive pool for one origin (scheme, host, port), made on first use. */
export function agentFor(url: URL): http.Agent {
  const origin = url.origin;
  let agent = agents.get(origin);
  if (agent === undefined) {
    const options: http.AgentOptions = {
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_ORIGIN,
      maxFreeSockets: MAX_SOCKETS_PER_ORIGIN,
      timeout: IDLE_SOCKET_TIMEOUT,
      // The most recently used socket first: under light load the others go idle and time out.
      scheduling: 'lifo',
    };
    agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    if (agents.size >= MAX_ORIGINS) {
      const [oldest, old] = agents.entries().next().value as [string, http.Agent];
      agents.delete(oldest);
      old.destroy();
    }
    agents.set(origin, agent);
  }
  return agent;
}

/** Closes every pooled connection (idle sockets never hold the process open; this is for tests). */
export function closeConnectionPools(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/**
 * One request over the origin's keep-alive pool, with `node:http` rather than `fetch`: fetch's
 * WHATWG streams, headers and abort machinery cost several times the CPU of the call itself, and
 * an API pays that once per new opaque token. Redirects are not followed. Rejects with the socket
 * error (`code` ECONNRESET, ECONNREFUSED…) or, once `signal` fires, an AbortError.
 */
export function pooledRequest(
  target: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  signal: AbortSignal,
): Promise<PooledResponse> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(target);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new TypeError(`unsupported protocol ${url.protocol}`);
    } catch (error) {
      reject(error);
      return;
    }
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: init.method ?? 'GET',
      headers,
      agent: agentFor(url),
      signal,
    });
    req.on('error', reject);
    req.once('response', (res) => {
      const body = Object.assign(res, {
        cancel: () => {
          res.destroy();
          return Promise.resolve();
        },
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: {
          get: (name) => {
            const value = res.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
        },
        body,
      });
    });
    req.end(init.body);
  });
}
