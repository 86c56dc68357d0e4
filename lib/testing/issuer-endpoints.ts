import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActiveToken } from './token-registry.js';
import type { TestIssuerRequests } from './test-issuer.types.js';

/** What the endpoints read from the issuer. */
export interface EndpointContext {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly algorithm: string;
  publicJwks(): readonly Readonly<Record<string, unknown>>[];
  active(token: string): ActiveToken | undefined;
  revoke(token: string): boolean;
  userInfo(sub: string): Readonly<Record<string, unknown>>;
  count(endpoint: keyof TestIssuerRequests): void;
}

/** The endpoints' paths, relative to the issuer. */
export const PATHS = {
  jwks: '/jwks',
  introspection: '/introspect',
  revocation: '/revoke',
  userinfo: '/userinfo',
} as const;

const MAX_BODY_BYTES = 64 * 1024;
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

/** A refusal with an OAuth error body (RFC 6749 §5.2). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    /** The OAuth `error` code; none when the request simply carried no credentials. */
    readonly error: string | undefined,
    readonly headers: Record<string, string> = {},
  ) {
    super(error ?? `HTTP ${status}`);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function discovery(context: EndpointContext): Record<string, unknown> {
  const { issuer } = context;
  return {
    issuer,
    jwks_uri: issuer + PATHS.jwks,
    introspection_endpoint: issuer + PATHS.introspection,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint: issuer + PATHS.revocation,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    userinfo_endpoint: issuer + PATHS.userinfo,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [context.algorithm],
    claims_parameter_supported: false,
  };
}

function allow(req: IncomingMessage, methods: readonly string[]): void {
  if (!methods.includes(req.method ?? '')) {
    throw new HttpError(405, 'invalid_request', { allow: methods.join(', ') });
  }
}

/** An `application/x-www-form-urlencoded` body, at most 64 KiB. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(400, 'invalid_request');
  const chunks: Buffer[] = [];
  let size = 0;
  // An oversized body is read to its end and dropped: leaving early would destroy the socket
  // under a client that may reuse the connection (keep-alive) for its next request.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new HttpError(413, 'invalid_request');
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The one value of a form parameter; RFC 6749 §3.1: parameters must not repeat. */
function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new HttpError(400, 'invalid_request');
  return values[0];
}

function sameSecret(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** RFC 6749 §2.3.1: `client_secret_basic` (form-urlencoded parts) or `client_secret_post`. */
function authenticateClient(req: IncomingMessage, form: URLSearchParams, ctx: EndpointContext) {
  const invalidClient = new HttpError(401, 'invalid_client', {
    'www-authenticate': 'Basic realm="test-issuer"',
  });
  const authorization = req.headers.authorization;
  const postSecret = single(form, 'client_secret');
  let id: string | undefined;
  let secret: string | undefined;
  if (authorization !== undefined) {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    if (postSecret !== undefined) throw new HttpError(400, 'invalid_request');
    const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
    if (!match) throw invalidClient;
    const pair = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    if (colon < 0) throw invalidClient;
    const decode = (part: string) => new URLSearchParams(`v=${part}`).get('v') ?? '';
    id = decode(pair.slice(0, colon));
    secret = decode(pair.slice(colon + 1));
  } else {
    id = single(form, 'client_id');
    secret = postSecret;
  }
  if (id !== ctx.clientId || secret === undefined || !sameSecret(secret, ctx.clientSecret))
    throw invalidClient;
}

async function introspect(req: IncomingMessage, res: ServerResponse, ctx: EndpointContext) {
  allow(req, ['POST']);
  const form = await readForm(req);
  authenticateClient(req, form, ctx);
  const token = single(form, 'token');
  if (!token) throw new HttpError(400, 'invalid_request');
  const found = ctx.active(token);
  // RFC 7662 §2.2: unknown, revoked and expired tokens all answer just `active: false`.
  send(res, 200, found ? { ...found.claims, active: true } : { active: false });
}

async function revoke(req: IncomingMessage, res: ServerResponse, ctx: EndpointContext) {
  allow(req, ['POST']);
  const form = await readForm(req);
  authenticateClient(req, form, ctx);
  const token = single(form, 'token');
  if (!token) throw new HttpError(400, 'invalid_request');
  ctx.revoke(token);
  // RFC 7009 §2.2: an invalid or unknown token is not an error.
  send(res, 200, undefined);
}

function userinfo(req: IncomingMessage, res: ServerResponse, ctx: EndpointContext) {
  allow(req, ['GET', 'POST']);
  const authorization = req.headers.authorization;
  if (authorization === undefined || !/^bearer(\s|$)/i.test(authorization)) {
    // RFC 6750 §3.1: no error code when the request had no credentials at all.
    throw new HttpError(401, undefined, { 'www-authenticate': 'Bearer' });
  }
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!match) {
    throw new HttpError(400, 'invalid_request', {
      'www-authenticate': 'Bearer error="invalid_request"',
    });
  }
  const found = ctx.active(match[1]!);
  const sub = found?.claims.sub;
  // RFC 9449 §7.2: a DPoP-bound token is refused when sent as a bearer token.
  if (!found || found.bound || typeof sub !== 'string') {
    throw new HttpError(401, 'invalid_token', {
      'www-authenticate': 'Bearer error="invalid_token"',
    });
  }
  send(res, 200, { ...ctx.userInfo(sub), sub });
}

/**
 * Answers one request. Every failure is an HTTP answer: a test issuer that crashes on odd input
 * would turn a test of the app into a test of the kit.
 */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server':
        ctx.count('discovery');
        allow(req, ['GET']);
        return send(res, 200, discovery(ctx));
      case PATHS.jwks:
        ctx.count('jwks');
        allow(req, ['GET']);
        return send(res, 200, { keys: ctx.publicJwks() }, {}, 'application/jwk-set+json');
      case PATHS.introspection:
        ctx.count('introspection');
        return await introspect(req, res, ctx);
      case PATHS.revocation:
        ctx.count('revocation');
        return await revoke(req, res, ctx);
      case PATHS.userinfo:
        ctx.count('userinfo');
        return userinfo(req, res, ctx);
      default:
        return send(res, 404, { error: 'not_found' });
    }
  } catch (error) {
    if (error instanceof HttpError) {
      send(res, error.status, error.error ? { error: error.error } : {}, error.headers);
    } else {
      send(res, 500, { error: 'server_error' });
    }
  }
}
