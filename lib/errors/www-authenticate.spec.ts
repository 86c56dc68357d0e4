import { bearerChallenge, sanitizeDescription, toHttpError } from './www-authenticate.js';
import {
  AccessDeniedError,
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  InvalidDpopProofError,
  OidcResourceError,
  InvalidConfigurationError,
  InvalidRequestError,
  InvalidTokenError,
  IssuerUnavailableError,
  TokenExpiredError,
  TokenInactiveError,
  TokenMissingError,
  UseDpopNonceError,
  UserInfoNotPermittedError,
  UserInfoSubjectMismatchError,
} from './oidc-resource.error.js';

/** RFC 6750 §3: `error` / `error_description` values. */
const DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
/** RFC 6750 §3: one `scope` value; values are separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Parses `Bearer k="v", k2="v2"` strictly (quoted-string with `\` escapes); throws on anything else. */
function parseChallenge(header: string): Map<string, string> {
  expect(header.startsWith('Bearer ')).toBe(true);
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  const rest = header.slice('Bearer '.length);
  let pos = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) throw new Error(`unparseable challenge at ${pos}: ${JSON.stringify(rest.slice(pos))}`);
    expect(params.has(m[1]!)).toBe(false); // every attribute at most once (RFC 6750 §3)
    params.set(m[1]!, m[2]!.replace(/\\(.)/g, '$1'));
    pos = re.lastIndex;
  }
  return params;
}

/** Asserts RFC 6750 §3 hygiene on a challenge; returns its attributes. */
function expectHygienic(header: string): Map<string, string> {
  // Header-safe: printable ASCII only, no CR/LF/controls.
  expect(header).toMatch(/^[\x20-\x7E]+$/);
  const params = parseChallenge(header);
  for (const key of ['error', 'error_description']) {
    const v = params.get(key);
    if (v !== undefined) expect(v).toMatch(DESCRIPTION_CHARS);
  }
  const scope = params.get('scope');
  if (scope !== undefined) for (const s of scope.split(' ')) expect(s).toMatch(SCOPE_TOKEN);
  return params;
}

describe('bearerChallenge', () => {
  it('is a bare realm challenge without an error', () => {
    expect(bearerChallenge('api')).toBe('Bearer realm="api"');
  });

  it('adds error and error_description', () => {
    expect(bearerChallenge('api', 'invalid_token', 'The access token expired')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The access token expired"',
    );
  });

  it('omits an empty description', () => {
    expect(bearerChallenge('api', 'invalid_token', '')).toBe(
      'Bearer realm="api", error="invalid_token"',
    );
  });

  it('lists scopes space-separated, in the order given', () => {
    expect(
      bearerChallenge('api', 'insufficient_scope', 'missing', ['api:write', 'admin', 'api:read']),
    ).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="missing", scope="api:write admin api:read"',
    );
  });

  it('adds no scope parameter for an empty scope list', () => {
    expect(bearerChallenge('api', 'insufficient_scope', 'd', [])).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="d"',
    );
  });

  it('does not add scope without an error', () => {
    expect(bearerChallenge('api', undefined, undefined, ['a'])).toBe('Bearer realm="api"');
  });

  it('escapes quotes and backslashes in the realm (quoted-string) and drops controls and non-ASCII', () => {
    const header = bearerChallenge('a"b\\c\r\nX-Injected: 1\u00e9\u2028', 'invalid_token', 'x');
    expect(header).toBe(
      'Bearer realm="a\\"b\\\\cX-Injected: 1", error="invalid_token", error_description="x"',
    );
    expect(parseChallenge(header).get('realm')).toBe('a"b\\cX-Injected: 1');
    expectHygienic(header);
  });

  it('drops quotes, backslashes, CR/LF, controls and non-ASCII from error_description', () => {
    const header = bearerChallenge(
      'api',
      'invalid_token',
      'bad "kid" \\ here\r\nSet-Cookie: a=b\t\u0000 t\u00f6k \u{1F600}',
    );
    expect(header).toBe(
      'Bearer realm="api", error="invalid_token", error_description="bad kid  hereSet-Cookie: a=b tk "',
    );
    expect(header).not.toMatch(/[\r\n]/);
    expectHygienic(header);
  });

  it('caps a very long description', () => {
    const header = bearerChallenge('api', 'invalid_token', `kid ${'k'.repeat(5000)}`);
    const description = expectHygienic(header).get('error_description')!;
    expect(description.length).toBeLessThanOrEqual(200);
    expect(description.startsWith('kid k')).toBe(true);
  });

  it('sanitises scope values (no space, quote or backslash inside one) and drops empty ones', () => {
    const header = bearerChallenge('api', 'insufficient_scope', 'd', [
      'a"b',
      'c\\d',
      '\u00e9',
      'e f',
      'g\r\nh',
    ]);
    expect(expectHygienic(header).get('scope')).toBe('ab cd ef gh');
  });

  it('keeps every legal description character', () => {
    const legal = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((c) => c !== '"' && c !== '\\')
      .join('');
    expect(sanitizeDescription(legal, 1000)).toBe(legal);
  });
});

/** The body of every 503 and 502: nothing about the cause (the log line has it). */
const GENERIC_503 = 'The service is temporarily unavailable; try again later';
const GENERIC_502 = 'An upstream identity service answered in a way this API cannot use';

describe('toHttpError', () => {
  const body = (status: number, error: string) => ({
    statusCode: status,
    message: expect.any(String),
    error,
  });

  it('token_missing: 401, bare challenge', () => {
    const http = toHttpError(new TokenMissingError(), 'api');
    expect(http).toEqual({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
      body: body(401, 'Unauthorized'),
    });
  });

  it('invalid_request: 400 with error_description', () => {
    const http = toHttpError(new InvalidRequestError('The Bearer credentials are empty'), 'api');
    expect(http.status).toBe(400);
    expect(http.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="invalid_request", error_description="The Bearer credentials are empty"',
    );
    expect(http.body).toEqual({
      statusCode: 400,
      message: 'The Bearer credentials are empty',
      error: 'Bad Request',
    });
  });

  it.each([
    ['invalid_token', new InvalidTokenError('The access token signature is invalid')],
    ['token_expired', new TokenExpiredError()],
    ['token_inactive', new TokenInactiveError()],
  ])('%s: 401 invalid_token', (_code, error) => {
    const http = toHttpError(error, 'api');
    expect(http.status).toBe(401);
    expect(http.headers['WWW-Authenticate']).toBe(
      `Bearer realm="api", error="invalid_token", error_description="${error.message}"`,
    );
    expect(http.body).toEqual({ statusCode: 401, message: error.message, error: 'Unauthorized' });
  });

  it('insufficient_scope: 403 with the required scopes in order', () => {
    const http = toHttpError(new InsufficientScopeError(['api:write', 'api:read']), 'api');
    expect(http.status).toBe(403);
    expect(http.headers['WWW-Authenticate']).toMatch(
      /^Bearer realm="api", error="insufficient_scope", error_description="[^"]+", scope="api:write api:read"$/,
    );
    expect(http.body).toEqual(body(403, 'Forbidden'));
  });

  it('userinfo_not_permitted: 403 insufficient_scope, scope="openid"', () => {
    const http = toHttpError(new UserInfoNotPermittedError('UserInfo refused the token'), 'api');
    expect(http.status).toBe(403);
    expect(http.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="UserInfo refused the token", scope="openid"',
    );
  });

  it('access_denied: 403 insufficient_scope with the message, and no scope (no scope would grant it)', () => {
    const http = toHttpError(new AccessDeniedError('Role admin is required', ['admin']), 'api');
    expect(http).toEqual({
      status: 403,
      headers: {
        'WWW-Authenticate':
          'Bearer realm="api", error="insufficient_scope", error_description="Role admin is required"',
      },
      body: { statusCode: 403, message: 'Role admin is required', error: 'Forbidden' },
    });
  });

  it("takes the challenge's scopes only from the library's scope errors, not from a look-alike", () => {
    const lookAlike = Object.assign(new OidcResourceError('insufficient_scope', 'x'), {
      requiredScopes: ['admin'],
    });
    expect(toHttpError(lookAlike, 'api').headers).toEqual({
      'WWW-Authenticate': 'Bearer realm="api", error="insufficient_scope", error_description="x"',
    });
  });

  it('names a status it has no reason phrase for "Error" in the body', () => {
    const odd = new InvalidTokenError('x');
    Object.defineProperty(odd, 'status', { value: 418 });
    expect(toHttpError(odd, 'api').body).toEqual({ statusCode: 418, message: 'x', error: 'Error' });
  });

  it('issuer_unavailable: 503 without a challenge, Retry-After when known (whole seconds, >= 1)', () => {
    expect(toHttpError(new IssuerUnavailableError('down'), 'api')).toEqual({
      status: 503,
      headers: {},
      body: { statusCode: 503, message: GENERIC_503, error: 'Service Unavailable' },
    });
    expect(
      toHttpError(new IssuerUnavailableError('down', { retryAfter: 2.2 }), 'api').headers,
    ).toEqual({ 'Retry-After': '3' });
    expect(
      toHttpError(new IssuerUnavailableError('down', { retryAfter: 0 }), 'api').headers,
    ).toEqual({ 'Retry-After': '1' });
  });

  it('userinfo_subject_mismatch: 502 without a challenge', () => {
    const http = toHttpError(new UserInfoSubjectMismatchError(), 'api');
    expect(http.status).toBe(502);
    expect(http.headers).toEqual({});
    expect(http.body.error).toBe('Bad Gateway');
  });

  it('tells an anonymous caller nothing about why the authorization server fails (CWE-209)', () => {
    const details = [
      new IssuerUnavailableError(
        "Introspection: the authorization server refused this API's client credentials (HTTP 401)",
        { url: 'https://idp.example.test/token/introspection' },
      ),
      new IssuerUnavailableError(
        'Discovery: the metadata names issuer "https://idp.example.test/", but the configured issuer is "https://idp.example.test"',
      ),
      new IssuerUnavailableError('JWKS: the authorization server answered HTTP 500'),
    ];
    const bodies = details.map((error) => toHttpError(error, 'api').body);
    for (const body of bodies) {
      expect(body).toEqual({ statusCode: 503, message: GENERIC_503, error: 'Service Unavailable' });
      expect(JSON.stringify(body)).not.toMatch(/credential|issuer|JWKS|HTTP \d|idp\.example/i);
    }
    const mismatch = toHttpError(new UserInfoSubjectMismatchError(), 'api').body;
    expect(mismatch).toEqual({ statusCode: 502, message: GENERIC_502, error: 'Bad Gateway' });
  });

  it('keeps the readable message, quotes and § included, in the body while the header is RFC-safe', () => {
    const message = 'The access token\'s "typ" header is not acceptable (RFC 9068 §4)';
    const http = toHttpError(new InvalidTokenError(message), 'api');
    expect(http.body.message).toBe(message);
    const params = expectHygienic(http.headers['WWW-Authenticate']!);
    expect(params.get('error_description')).toBe(
      "The access token's typ header is not acceptable (RFC 9068 4)",
    );
  });

  it('bounds the body message and strips line breaks and controls from it', () => {
    const http = toHttpError(
      new InvalidTokenError(`a\r\nb\u0000c\u2028d${'x'.repeat(2000)}`),
      'api',
    );
    expect(http.body.message.startsWith('abcd')).toBe(true);
    expect(http.body.message.length).toBeLessThanOrEqual(500);
    expect(http.body.message).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
  });

  it('hides the message of a 500', () => {
    const http = toHttpError(new InvalidConfigurationError('secret detail'), 'api');
    expect(http.status).toBe(500);
    expect(http.headers).toEqual({});
    expect(http.body).toEqual({
      statusCode: 500,
      message: 'Internal server error',
      error: 'Internal Server Error',
    });
  });

  it('never lets hostile message content into the header or the body', () => {
    const hostile = 'evil "quote" \\ back\r\nX-Injected: yes \u00e9\u0000';
    for (const error of [
      new InvalidRequestError(hostile),
      new InvalidTokenError(hostile),
      new InsufficientScopeError(['a'], hostile),
    ]) {
      const http = toHttpError(error, 'r"\r\n');
      const header = http.headers['WWW-Authenticate']!;
      expectHygienic(header);
      expect(header).not.toMatch(/[\r\n"]X-Injected/);
      // The body is JSON: quotes are safe there, line breaks and controls are not kept.
      expect(http.body.message).not.toMatch(/\p{Cc}/u);
    }
  });
});

describe('toHttpError with a challenge context (DPoP, RFC 9728, RFC 9470)', () => {
  const META = 'https://api.example.com/.well-known/oauth-protected-resource';
  const dpop = { realm: 'api', dpop: { algs: 'ES256 EdDSA', required: false } };
  const header = (http: { headers: Record<string, string> }) => http.headers['WWW-Authenticate'];

  it('offers Bearer and DPoP to a request without a token, DPoP alone when DPoP is required', () => {
    expect(header(toHttpError(new TokenMissingError(), dpop))).toBe(
      'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA"',
    );
    const required = { ...dpop, dpop: { ...dpop.dpop, required: true } };
    expect(header(toHttpError(new TokenMissingError(), required))).toBe(
      'DPoP realm="api", algs="ES256 EdDSA"',
    );
  });

  it('answers a DPoP request, and a DPoP-only error, with a DPoP challenge (RFC 9449 §7.1)', () => {
    expect(header(toHttpError(new InvalidTokenError('bad'), dpop, 'DPoP'))).toBe(
      'DPoP realm="api", error="invalid_token", error_description="bad", algs="ES256 EdDSA"',
    );
    expect(header(toHttpError(new InvalidTokenError('bad'), dpop))).toBe(
      'Bearer realm="api", error="invalid_token", error_description="bad"',
    );
    expect(header(toHttpError(new InvalidTokenError('bound', { scheme: 'DPoP' }), dpop))).toBe(
      'DPoP realm="api", error="invalid_token", error_description="bound", algs="ES256 EdDSA"',
    );
    expect(header(toHttpError(new InvalidDpopProofError('no proof'), dpop))).toBe(
      'DPoP realm="api", error="invalid_dpop_proof", error_description="no proof", algs="ES256 EdDSA"',
    );
    expect(toHttpError(new InvalidDpopProofError('x'), dpop).status).toBe(401);
  });

  it('answers every error with a DPoP challenge when DPoP is required, whatever the scheme', () => {
    const required = { ...dpop, dpop: { ...dpop.dpop, required: true } };
    expect(header(toHttpError(new InvalidTokenError('bad'), required))).toBe(
      'DPoP realm="api", error="invalid_token", error_description="bad", algs="ES256 EdDSA"',
    );
    expect(header(toHttpError(new InsufficientScopeError(['a']), required))).toMatch(
      /^DPoP realm="api", error="insufficient_scope", .*, scope="a", algs="ES256 EdDSA"$/,
    );
  });

  it('sets no challenge header at all on a 5xx answer, and omits a list whose values are all unusable', () => {
    expect(Object.keys(toHttpError(new IssuerUnavailableError('down'), dpop).headers)).toEqual([]);
    expect(Object.keys(toHttpError(new UserInfoSubjectMismatchError(), 'api').headers)).toEqual([]);
    expect(header(toHttpError(new InsufficientScopeError(['"', ' ']), 'api'))).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope"',
    );
    expect(header(toHttpError(new UserInfoNotPermittedError('no'), 'api'))).toMatch(
      /, scope="openid"$/,
    );
    expect(bearerChallenge('api', 'insufficient_scope', 'x', [])).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="x"',
    );
  });

  it('sends the nonce of use_dpop_nonce in DPoP-Nonce, only when it is a valid header value', () => {
    const http = toHttpError(new UseDpopNonceError('n-1_A.b~'), dpop);
    expect(http.status).toBe(401);
    expect(http.headers['DPoP-Nonce']).toBe('n-1_A.b~');
    expect(header(http)).toMatch(/^DPoP realm="api", error="use_dpop_nonce", /);
    expect(
      toHttpError(new UseDpopNonceError('a\r\nb'), dpop).headers['DPoP-Nonce'],
    ).toBeUndefined();
  });

  it('adds resource_metadata to every 401 challenge and to no other', () => {
    const context = { realm: 'api', resourceMetadata: META };
    const suffix = `, resource_metadata="${META}"`;
    expect(header(toHttpError(new TokenMissingError(), context))).toBe(
      `Bearer realm="api"${suffix}`,
    );
    expect(header(toHttpError(new TokenExpiredError(), context))).toMatch(new RegExp(`${suffix}$`));
    expect(header(toHttpError(new InsufficientScopeError(['a']), context))).not.toContain(
      'resource_metadata',
    );
    expect(header(toHttpError(new InvalidRequestError('x'), context))).not.toContain(
      'resource_metadata',
    );
    expect(header(toHttpError(new TokenMissingError(), { ...context, ...dpop }))).toBe(
      `Bearer realm="api"${suffix}, DPoP realm="api", algs="ES256 EdDSA"${suffix}`,
    );
  });

  it('renders a step-up challenge with only the requirements that failed (RFC 9470 §3)', () => {
    const both = new InsufficientUserAuthenticationError('stronger login needed', {
      acrValues: ['urn:loa:3', 'urn:loa:2'],
      maxAge: 300,
      scopes: ['admin'],
    });
    const http = toHttpError(both, 'api');
    expect(http.status).toBe(401);
    expect(header(http)).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="stronger login needed", ' +
        'scope="admin", acr_values="urn:loa:3 urn:loa:2", max_age="300"',
    );
    const age = new InsufficientUserAuthenticationError('too old', { maxAge: 0 });
    expect(header(toHttpError(age, 'api'))).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="too old", max_age="0"',
    );
    const negative = new InsufficientUserAuthenticationError('x', { acrValues: ['a'], maxAge: -1 });
    expect(header(toHttpError(negative, 'api'))).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="x", acr_values="a"',
    );
    const evil = new InsufficientUserAuthenticationError('x', {
      acrValues: ['a"b', ' '],
      maxAge: 1.5,
    });
    expect(header(toHttpError(evil, 'api'))).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="x", acr_values="ab"',
    );
  });
});
