import { telemetry } from './telemetry.js';

/** The endpoint names of the duration histogram, by the label the HTTP client is given. */
const ENDPOINTS: Readonly<Record<string, string>> = {
  Discovery: 'discovery',
  JWKS: 'jwks',
  Introspection: 'introspection',
  UserInfo: 'userinfo',
};

/** The URL as a span may show it: no user name or password (HTTP semantic conventions). */
function redacted(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = 'REDACTED';
  copy.password = copy.password ? 'REDACTED' : '';
  return copy.href;
}

/** A low-cardinality name for a call that got no answer. */
function failureType(error: unknown): string {
  let cause: unknown = (error as { cause?: unknown } | null)?.cause;
  for (let depth = 0; depth < 4 && cause && typeof cause === 'object'; depth++) {
    const name = (cause as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
    if (name === 'RangeError') return 'response_too_large';
    cause = (cause as { cause?: unknown }).cause;
  }
  return 'unreachable';
}

/**
 * Runs one call to the authorization server inside a client span (HTTP semantic conventions)
 * and records its duration. Nothing of the request body or headers is recorded: they hold
 * tokens and client credentials. Without OpenTelemetry, this is a plain call.
 */
export async function observeAuthorizationServerCall<T extends { status: number }>(
  what: string,
  url: string,
  method: string,
  call: () => Promise<T>,
): Promise<T> {
  const { tracer, duration, api } = telemetry;
  if (!tracer && !duration) return call();
  const endpoint = ENDPOINTS[what] ?? what.toLowerCase();
  const parsed = new URL(url);
  const span = tracer?.startSpan(method, {
    kind: api!.SpanKind.CLIENT,
    attributes: {
      'http.request.method': method,
      'url.full': redacted(parsed),
      'server.address': parsed.hostname,
      'server.port': Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
      'oidc_resource.endpoint': endpoint,
    },
  });
  const started = performance.now();
  let outcome = 'ok';
  try {
    const result = await call();
    span?.setAttribute('http.response.status_code', result.status);
    if (result.status >= 400) {
      outcome = `http_${result.status}`;
      span?.setAttribute('error.type', String(result.status));
      span?.setStatus({ code: api!.SpanStatusCode.ERROR });
    }
    return result;
  } catch (error) {
    outcome = failureType(error);
    span?.setAttribute('error.type', outcome);
    span?.setStatus({ code: api!.SpanStatusCode.ERROR, message: outcome });
    throw error;
  } finally {
    span?.end();
    duration?.record((performance.now() - started) / 1000, { endpoint, outcome });
  }
}
