import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Longest `htu` considered: a URL longer than any request line a server accepts is no URL of ours. */
const MAX_HTU_LENGTH = 8192;

const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;
/** RFC 3986 §2.3 unreserved characters: their percent-encoded and plain forms are equivalent. */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

function normalizeEscape(_: string, hex: string): string {
  const char = String.fromCharCode(parseInt(hex, 16));
  return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
}

/**
 * An `htu` or request URI reduced to the form two equivalent URIs share, or `undefined` when it
 * is not an absolute http(s) URI: the query and fragment dropped (RFC 9449 §4.3 step 9), then
 * RFC 3986 §6.2.2 syntax-based normalization (scheme and host case, percent-encoding case,
 * percent-encoded unreserved characters decoded, dot-segments removed) and §6.2.3 scheme-based
 * normalization (the default port and an empty path).
 *
 * The WHATWG URL parser does the case, port, dot-segment and empty-path steps; the
 * percent-encodings, which it keeps as written, are normalized here.
 * @see RFC 3986 §6.2.2, §6.2.3
 */
export function normalizeHtu(value: string): string | undefined {
  if (value.length > MAX_HTU_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // Userinfo is deprecated in http(s) URIs (RFC 9110 §4.2.4) and no request carries it.
  if (url.username !== '' || url.password !== '') return undefined;
  const path = url.pathname.includes('%')
    ? url.pathname.replace(PERCENT_ESCAPE, normalizeEscape)
    : url.pathname;
  return `${url.protocol}//${url.host}${path}`;
}

/** Where the request's external origin comes from. */
export interface OriginSource {
  /**
   * The origin clients use, as configured (`https://api.example.com`): behind a proxy the socket
   * and the `Host` header describe the hop, not what the client signed.
   */
  publicUrl?: string;
}

/**
 * The URI of a request, normalized as {@link normalizeHtu}, for comparing with a proof's `htu`;
 * `undefined` when it cannot be built (no `Host`, or a target that is not an origin-form path).
 *
 * With `publicUrl`, its scheme and authority and the request's path. Otherwise the socket's
 * scheme (TLS or not) and the `Host` header (or the HTTP/2 `:authority`). `X-Forwarded-*` and
 * `Forwarded` are never read: anyone can send them, and only the application knows which proxy
 * it trusts, so it says so by setting `publicUrl`.
 */
export function requestHtu(raw: IncomingMessage, source: OriginSource): string | undefined {
  // Express rewrites `url` inside mounted routers and keeps the original in `originalUrl`.
  const target = (raw as { originalUrl?: unknown }).originalUrl;
  const url = typeof target === 'string' ? target : raw.url;
  if (url === undefined || !url.startsWith('/') || url.startsWith('//')) return undefined;
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  let origin = source.publicUrl;
  if (origin === undefined) {
    const host = raw.headers.host ?? raw.headers[':authority'];
    if (typeof host !== 'string' || host.length === 0 || /[/?#@\\\s]/.test(host)) return undefined;
    origin = `${(raw.socket as TLSSocket | undefined)?.encrypted === true ? 'https' : 'http'}://${host}`;
  }
  return normalizeHtu(`${origin}${path}`);
}
