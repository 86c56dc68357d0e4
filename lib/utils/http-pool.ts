import * as http from 'node:http';
import * as https from 'node:https';

/** A fully read answer: status, raw headers (lower-case names), the body as UTF-8. */
export interface PooledResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** The answer came, but its body could not be read to the end (`cause`: the socket error). */
export class ResponseReadError extends Error {
  override readonly name = 'ResponseReadError';
}

/**
 * The time budget of one call, across its attempts: `expire()` fails the attempt in flight with
 * the timeout error, and every later one before it starts.
 */
export class Deadline {
  expired = false;
  /** Fails the attempt in flight; set by {@link pooledRequest} while one runs. */
  abort: ((error: Error) => void) | undefined = undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(milliseconds: number) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.abort?.(timeoutError());
    }, milliseconds);
    // Like AbortSignal.timeout: a pending call's timer alone does not hold the process open.
    this.timer.unref();
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** What the timeout fails a call with: named like AbortSignal.timeout's reason. */
function timeoutError(): Error {
  const error = new Error('The operation was aborted due to timeout');
  error.name = 'TimeoutError';
  return error;
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
      // Node's default scheduling, 'lifo', gives the most recently used socket first: under
      // light load the others go idle and time out.
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
 * One request over the origin's keep-alive pool, read to the end, with `node:http` rather than
 * `fetch`, and events rather than streams: fetch's WHATWG streams, headers and abort machinery,
 * and a stream's async iterator, cost several times the CPU of the call itself, and an API pays
 * that once per new opaque token. Redirects are not followed. Rejects with the socket error
 * (`code` ECONNRESET, ECONNREFUSED…) before an answer, a {@link ResponseReadError} after one, a
 * `RangeError` for a body over `maxBytes` (declared or read), or the deadline's `TimeoutError`.
 */
export function pooledRequest(
  target: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  deadline: Deadline,
  maxBytes: number,
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
    // No Content-Length of ours: given the whole body in `end()`, node:http sets it (no chunks).
    // The origin's agent makes the connection, so an https.Agent makes it over TLS.
    const req = http.request(url, {
      method: init.method,
      headers: init.headers,
      agent: agentFor(url),
    });
    // A promise settles once: a second failure (more data after an oversize chunk) changes
    // nothing. After the answer, the request is detached from its socket, so no failure of
    // the socket reaches it, nor the deadline (cleared by the caller first).
    const fail = (error: Error): void => {
      req.destroy();
      reject(error);
    };
    deadline.abort = fail;
    req.on('error', fail);
    req.once('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        fail(new RangeError());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > maxBytes) fail(new RangeError());
        else chunks.push(chunk);
      });
      // A body cut off is an 'error' here (ECONNRESET, "aborted"): node:http emits one when a
      // listener is there; the deadline covers anything else.
      res.on('error', (cause) => fail(new ResponseReadError('response not read', { cause })));
      res.once('end', () => {
        deadline.abort = undefined;
        // Decoded once at the end: a TextDecoder per call costs more than the bytes it decodes.
        let text = Buffer.concat(chunks, size).toString('utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM, as TextDecoder drops it
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
      });
    });
    req.end(init.body);
  });
}
