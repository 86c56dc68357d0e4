/**
 * The RFC 7662 client on its own: the request it sends, and how it reads every kind of answer.
 * The answers come from a loopback server, because most of them (HTML from a proxy, a 201, a
 * string `active`, an odd content type) are faults a real authorization server does not produce
 * on demand; oidc-provider's own answers run end to end in token-validation and several-issuers.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  InvalidTokenError,
  IssuerUnavailableError,
  OidcResourceError,
  TokenInactiveError,
} from '../errors/oidc-resource.error.js';
import type { IssuerOptions } from '../interfaces/oidc-resource-options.interface.js';
import { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { resolveIssuerOptions } from '../options/issuer-options.js';
import { closeConnectionPools } from '../utils/http-pool.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { Rfc7662Introspector } from './opaque-token-introspector.js';

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let origin: string;
let answer: Answer;
let seen: Seen[];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const { status = 200, headers = { 'content-type': 'application/json' }, body } = answer;
      res.writeHead(status, headers);
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  closeConnectionPools();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  answer = { body: { active: true } };
  seen = [];
});

const introspector = new Rfc7662Introspector({ httpTimeout: 5000 } as ResolvedOidcResourceOptions);

function issuer(
  introspection: Partial<NonNullable<IssuerOptions['introspection']>> | null = {},
): TrustedIssuer {
  const settings = resolveIssuerOptions(
    {
      issuer: origin,
      audience: 'api',
      ...(introspection === null
        ? {}
        : {
            introspection: {
              clientId: 'rs',
              clientSecret: 'rs-secret',
              endpoint: `${origin}/introspect`,
              ...introspection,
            },
          }),
    },
    {},
    '',
    true,
  );
  return new TrustedIssuer(settings, { httpTimeout: 5000, unsafeAllowInsecureIssuer: true }, () =>
    Date.now(),
  );
}

async function refusal(token = 'opaque-1', trusted = issuer()): Promise<OidcResourceError> {
  const error = await introspector.introspect(token, trusted).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OidcResourceError);
  return error as OidcResourceError;
}

/** An outage: its class, code, message and the endpoint it names. */
async function outage(message: string): Promise<IssuerUnavailableError> {
  const error = await refusal();
  expect(error).toBeInstanceOf(IssuerUnavailableError);
  expect({
    code: error.code,
    message: error.message,
    url: (error as IssuerUnavailableError).url,
  }).toEqual({
    code: 'issuer_unavailable',
    message,
    url: `${origin}/introspect`,
  });
  return error as IssuerUnavailableError;
}

describe('the request', () => {
  it('POSTs the token as an access token hint, form-encoded, asking for JSON, authenticated', async () => {
    answer = { body: { active: true, sub: 'u1', aud: 'api' } };
    await expect(introspector.introspect('tok en+/=', issuer())).resolves.toEqual({
      active: true,
      sub: 'u1',
      aud: 'api',
    });
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect({ method: request!.method, url: request!.url }).toEqual({
      method: 'POST',
      url: '/introspect',
    });
    expect(request!.headers).toMatchObject({
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: `Basic ${Buffer.from('rs:rs-secret').toString('base64')}`,
    });
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({
      token: 'tok en+/=',
      token_type_hint: 'access_token',
    });
  });

  it("adds the issuer's client authentication to the form (client_secret_post)", async () => {
    await introspector.introspect('t', issuer({ authMethod: 'client_secret_post' }));
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
      token: 't',
      token_type_hint: 'access_token',
      client_id: 'rs',
      client_secret: 'rs-secret',
    });
  });

  it('an endpoint that cannot be reached is an outage of introspection', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/introspect`;
    await new Promise((resolve) => closed.close(resolve));
    const error = await refusal('t', issuer({ endpoint }));
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect(error.message).toBe(
      'Introspection: the authorization server could not be reached (ECONNREFUSED)',
    );
    expect((error as IssuerUnavailableError).url).toBe(endpoint);
  });

  it('an issuer without introspection settings is refused before any call', async () => {
    const error = await refusal('t', issuer(null));
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect({ code: error.code, reason: error.reason, message: error.message }).toEqual({
      code: 'invalid_token',
      reason: 'introspection_not_configured',
      message: 'Introspection is not configured',
    });
    expect(seen).toHaveLength(0);
  });
});

describe('the answer', () => {
  it('active: true gives the claims as sent', async () => {
    answer = { body: { active: true, scope: 'a b', exp: 1, nested: { x: [1] } } };
    await expect(introspector.introspect('t', issuer())).resolves.toEqual({
      active: true,
      scope: 'a b',
      exp: 1,
      nested: { x: [1] },
    });
  });

  it('active: false is token_inactive', async () => {
    answer = { body: { active: false, sub: 'u1' } };
    const error = await refusal();
    expect(error).toBeInstanceOf(TokenInactiveError);
    expect({ code: error.code, reason: error.reason, message: error.message }).toEqual({
      code: 'token_inactive',
      reason: 'inactive',
      message: 'The access token is not active',
    });
  });

  it.each([
    ['"true" as a string', { active: 'true' }],
    ['1', { active: 1 }],
    ['no active member', { sub: 'u1' }],
    ['null', { active: null }],
  ])('active %s is an outage, not a verdict', async (_name, body) => {
    answer = { body };
    await outage('Introspection: the response has no boolean "active" member');
  });

  it('400 unsupported_token_type is a verdict on the token (invalid_token), not an outage', async () => {
    answer = { status: 400, body: { error: 'unsupported_token_type' } };
    const error = await refusal();
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect({ code: error.code, reason: error.reason, message: error.message }).toEqual({
      code: 'invalid_token',
      reason: 'unsupported_token_type',
      message: 'The authorization server does not introspect this kind of token',
    });
  });

  it.each([
    ['400 with another OAuth error', 400, { error: 'invalid_request' }],
    ['400 with a non-string error', 400, { error: ['unsupported_token_type'] }],
    ['400 that is not JSON', 400, 'unsupported_token_type'],
    ['400 with JSON null', 400, 'null'],
    ['500 unsupported_token_type', 500, { error: 'unsupported_token_type' }],
    ['201 with an active answer', 201, { active: true }],
  ])('%s: the authorization server failed', async (_name, status, body) => {
    answer = { status, body };
    await outage(`Introspection: the authorization server failed (HTTP ${status})`);
  });

  it.each([401, 403])(
    "%i: the authorization server refused this API's credentials",
    async (status) => {
      answer = { status, body: { error: 'invalid_client' } };
      const error = await outage(
        `Introspection: the authorization server refused this API's client credentials (HTTP ${status})`,
      );
      expect(error.retryAfter).toBeUndefined();
    },
  );

  it('a Retry-After of a failed call is kept for the 503', async () => {
    answer = {
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '120' },
      body: {},
    };
    const error = await outage('Introspection: the authorization server failed (HTTP 503)');
    expect(error.retryAfter).toBe(120);
  });

  it.each([
    'application/json',
    'application/json;charset=utf-8',
    'application/json ; charset=utf-8',
    'Application/JSON',
    'application/token-introspection+json',
    'application/vnd.example.v1+json',
  ])('content type %s is JSON', async (contentType) => {
    answer = { headers: { 'content-type': contentType }, body: { active: true } };
    await expect(introspector.introspect('t', issuer())).resolves.toEqual({ active: true });
  });

  it.each([
    ['text/html; charset=utf-8', 'text/html; charset=utf-8'],
    ['text/plain', 'text/plain'],
    ['application/jsonp', 'application/jsonp'],
    ['application/json-seq', 'application/json-seq'],
    ['text/application/json', 'text/application/json'],
    ['application/a+b+json', 'application/a+b+json'],
    ['application/+json', 'application/+json'],
    ['application/jwt', 'application/jwt'],
    ['application/x json', 'application/x json'],
  ])('content type %s is not JSON (RFC 7662 §2.2)', async (contentType, shown) => {
    answer = { headers: { 'content-type': contentType }, body: { active: true } };
    await outage(
      `Introspection: the authorization server answered with content type "${shown}", not JSON`,
    );
  });

  it('a missing content type is not JSON', async () => {
    answer = { headers: {}, body: { active: true } };
    await outage('Introspection: the authorization server answered with content type "", not JSON');
  });

  it('the content type in the message is cut at 64 characters, unprintable ones replaced', async () => {
    const long = `text/html; charset=utf-8; x=${'a'.repeat(80)}`;
    answer = { headers: { 'content-type': long }, body: '<html>' };
    await outage(
      `Introspection: the authorization server answered with content type "${long.slice(0, 64)}", not JSON`,
    );
    answer = { headers: { 'content-type': 'text/html;\tcharset=\u00e9' }, body: '<html>' };
    await outage(
      'Introspection: the authorization server answered with content type "text/html;?charset=?", not JSON',
    );
  });

  it('a JSON content type with a body that is not JSON, or not an object, is an outage', async () => {
    answer = { body: '<html>' };
    await outage(
      'Introspection: the authorization server answered with something that is not JSON',
    );
    answer = { body: [{ active: true }] };
    await outage('Introspection: the authorization server did not answer with a JSON object');
  });
});
