import { DEFAULTS } from '../oidc-resource.constants.js';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { observeAuthorizationServerCall } from '../observability/authorization-server-calls.js';
import { Deadline, ResponseReadError, pooledRequest, type PooledResponse } from './http-pool.js';

/** A fully read response from the authorization server. */
export interface HttpResult {
  status: number;
  contentType: string;
  retryAfter?: number;
  text: string;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, (date - Date.now()) / 1000), 3600);
}

/** "Other side closed" / reset errors (matched by code: errors may come from another realm). */
function isClosedConnection(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Why a connection failed, as the log needs it (`ECONNREFUSED`…); never a body or a header.
 * node:http puts the code on the error itself.
 */
function reachFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? ` (${code})` : '';
}

/**
 * One bounded call to the authorization server: `timeout` covers connecting, the headers and
 * the whole body; bodies larger than `maxBytes` are refused; redirects are not followed (an
 * authorization server's endpoints answer directly). Any transport failure becomes
 * {@link IssuerUnavailableError}: an unreachable server is never mistaken for an invalid token.
 */
export function httpCall(
  what: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  timeout: number,
  maxBytes: number = DEFAULTS.maxResponseBytes,
): Promise<HttpResult> {
  // One client span and one duration per call, when OpenTelemetry is there.
  return observeAuthorizationServerCall(what, url, init.method ?? 'GET', () =>
    boundedCall(what, url, init, timeout, maxBytes),
  );
}

async function boundedCall(
  what: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  timeout: number,
  maxBytes: number,
): Promise<HttpResult> {
  const deadline = new Deadline(timeout);
  let response: PooledResponse | undefined;
  try {
    for (let attempt = 0; response === undefined; attempt++) {
      try {
        response = await pooledRequest(url, init, deadline, maxBytes);
      } catch (cause) {
        // A keep-alive connection that the server closed while it sat idle fails before any
        // answer. Every call made here is idempotent (GETs, and introspection, which only
        // reads), so one fresh attempt within the same time budget is safe.
        if (attempt === 0 && !deadline.expired && isClosedConnection(cause)) continue;
        throw new IssuerUnavailableError(failureMessage(what, cause, deadline, timeout, maxBytes), {
          cause,
          url,
        });
      }
    }
  } finally {
    deadline.clear();
  }
  const retryAfter = parseRetryAfter(header(response.headers['retry-after']));
  return {
    status: response.status,
    contentType: (header(response.headers['content-type']) ?? '').toLowerCase(),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    text: response.text,
  };
}

/** A single-valued header (node:http keeps the first of repeated `content-type`, `retry-after`). */
function header(value: string | undefined): string | null {
  return value ?? null;
}

function failureMessage(
  what: string,
  cause: unknown,
  deadline: Deadline,
  timeout: number,
  maxBytes: number,
): string {
  if (cause instanceof RangeError)
    return `${what}: the authorization server's response exceeds ${maxBytes} bytes`;
  if (deadline.expired)
    return `${what}: the authorization server did not answer within ${timeout} ms`;
  if (cause instanceof ResponseReadError)
    return `${what}: the authorization server's response could not be read`;
  return `${what}: the authorization server could not be reached${reachFailure(cause)}`;
}

/**
 * Parses a JSON object body, or throws {@link IssuerUnavailableError} naming what was expected
 * (and `url`, where the body came from).
 */
export function parseJsonObject(what: string, text: string, url?: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new IssuerUnavailableError(
      `${what}: the authorization server answered with something that is not JSON`,
      { cause, url },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IssuerUnavailableError(
      `${what}: the authorization server did not answer with a JSON object`,
      { url },
    );
  }
  return value as Record<string, unknown>;
}
