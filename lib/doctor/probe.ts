import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { httpCall, type HttpResult } from '../utils/http.js';

/** The outcome of one GET or POST, never thrown: the doctor explains failures, it does not stop on them. */
export interface ProbeResult {
  url: string;
  /** The HTTP answer, when there was one. */
  response?: HttpResult;
  /** The JSON object body of a 200, when it is one. */
  json?: Record<string, unknown>;
  /** Why there was no answer (`ECONNREFUSED`, a TLS error code, a timeout), when there was none. */
  failure?: string;
  /** A low-level code of the failure (`ECONNREFUSED`, `EPROTO`, `ERR_SSL_…`), when there is one. */
  failureCode?: string;
}

function failureCode(error: unknown): string | undefined {
  let cause: unknown = error;
  for (let depth = 0; depth < 5 && cause && typeof cause === 'object'; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** One bounded call through the library's own HTTP client; never throws. */
export async function probe(
  url: string,
  timeout: number,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<ProbeResult> {
  try {
    const response = await httpCall(
      'Doctor',
      url,
      { headers: { accept: 'application/json' }, ...init },
      timeout,
    );
    let json: Record<string, unknown> | undefined;
    try {
      const value: unknown = JSON.parse(response.text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        json = value as Record<string, unknown>;
      }
    } catch {
      json = undefined;
    }
    return { url, response, ...(json ? { json } : {}) };
  } catch (error) {
    const code = failureCode(error);
    return {
      url,
      failure:
        error instanceof OidcResourceError ? error.message.replace(/^Doctor: /, '') : String(error),
      ...(code ? { failureCode: code } : {}),
    };
  }
}

/** A TLS handshake against a plain-http server (or the reverse) fails with one of these. */
export function looksLikeTlsMismatch(result: ProbeResult): boolean {
  const code = result.failureCode ?? '';
  return (
    code === 'EPROTO' ||
    code.startsWith('ERR_SSL') ||
    code === 'ECONNRESET' ||
    code === 'UND_ERR_SOCKET' ||
    code === 'HPE_INVALID_CONSTANT' ||
    code.startsWith('HPE_')
  );
}

/** `https://x` ⇄ `http://x`. */
export function otherScheme(url: string): string {
  return url.startsWith('https:') ? `http:${url.slice(6)}` : `https:${url.slice(5)}`;
}

/** Where OIDC discovery (first) and RFC 8414 discovery look for an issuer's metadata. */
export function discoveryUrls(issuer: string): [string, string] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return [
    `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}
