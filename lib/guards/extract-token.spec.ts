import type { IncomingMessage } from 'node:http';
import { extractToken } from './extract-token.js';
import { InvalidRequestError, OidcResourceError } from '../errors/oidc-resource.error.js';

/** The fields `extractToken` reads from Node's request: `rawHeaders`, `headers` and `url`. */
function request(
  headers: [string, string][] = [],
  url = '/api/read',
  contentType = 'application/x-www-form-urlencoded',
): IncomingMessage {
  return {
    rawHeaders: headers.flat(),
    headers: { 'content-type': contentType },
    url,
  } as unknown as IncomingMessage;
}

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_~+/==';

function expectInvalid(result: ReturnType<typeof extractToken>): void {
  expect(result.token).toBeUndefined();
  expect(result.error).toBeInstanceOf(InvalidRequestError);
  expect(result.error!.code).toBe('invalid_request');
  expect(result.error!.status).toBe(400);
}

describe('extractToken', () => {
  describe('Authorization header (RFC 6750 §2.1)', () => {
    it('finds nothing in a request without credentials', () => {
      expect(extractToken(request(), undefined, false)).toEqual({});
    });

    it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])(
      'reads the %s scheme (case-insensitive)',
      (scheme) => {
        expect(
          extractToken(request([['Authorization', `${scheme} ${TOKEN}`]]), undefined, false),
        ).toEqual({ token: TOKEN });
      },
    );

    it('accepts 1*SP between scheme and token', () => {
      expect(
        extractToken(request([['authorization', `Bearer    ${TOKEN}`]]), undefined, false),
      ).toEqual({ token: TOKEN });
    });

    it('accepts every b64token character and trailing "="', () => {
      const token = 'AZaz09-._~+/==';
      expect(
        extractToken(request([['authorization', `Bearer ${token}`]]), undefined, false),
      ).toEqual({ token });
    });

    it.each([
      ['no token', 'Bearer'],
      ['only spaces', 'Bearer    '],
      ['a space inside', 'Bearer a b'],
      ['a comma', 'Bearer a,b'],
      ['non-ASCII', 'Bearer t\u00f6k'],
      ['quotes', 'Bearer "x"'],
      ['"=" inside', 'Bearer a=b'],
      ['a CR', 'Bearer a\rb'],
      ['auth-params instead of a token', 'Bearer token="abc"'],
    ])('refuses malformed credentials: %s', (_name, value) => {
      expectInvalid(extractToken(request([['Authorization', value]]), undefined, false));
    });

    it.each(['Basic dXNlcjpwYXNz', 'Token x', 'MAC x', 'Bearerx abc', 'DPoP abc'])(
      'treats another scheme (%s) as no bearer credentials',
      (value) => {
        expect(extractToken(request([['Authorization', value]]), undefined, false)).toEqual({});
      },
    );

    it('refuses two Authorization fields, even with the same valid token, whatever their case', () => {
      expectInvalid(
        extractToken(
          request([
            ['Authorization', `Bearer ${TOKEN}`],
            ['AUTHORIZATION', `Bearer ${TOKEN}`],
          ]),
          undefined,
          false,
        ),
      );
    });

    it('refuses two Authorization fields even when one is another scheme', () => {
      expectInvalid(
        extractToken(
          request([
            ['authorization', 'Basic dXNlcjpwYXNz'],
            ['authorization', `Bearer ${TOKEN}`],
          ]),
          undefined,
          false,
        ),
      );
    });

    it('ignores look-alike header names', () => {
      expect(
        extractToken(
          request([
            ['X-Authorization', `Bearer ${TOKEN}`],
            ['Proxy-Authorization', `Bearer ${TOKEN}`],
          ]),
          undefined,
          false,
        ),
      ).toEqual({});
    });

    it('ignores another header of the same length (Cache-Control: Bearer …)', () => {
      // "Cache-Control" has 13 characters, as "Authorization" does: only the name decides.
      expect(
        extractToken(request([['Cache-Control', `Bearer ${TOKEN}`]]), undefined, false),
      ).toEqual({});
    });

    it.each(['Basic dXNlcjpwYXNz', `Digest username="u", response="${TOKEN}"`, `DPoP ${TOKEN}`])(
      'finds no bearer token in another scheme: %s',
      (value) => {
        expect(extractToken(request([['Authorization', value]]), undefined, false)).toEqual({});
      },
    );

    it('says what is wrong in each refusal', () => {
      const message = (headers: [string, string][], url = '/api/read', allowQuery = false) =>
        extractToken(request(headers, url), { access_token: 'x' }, allowQuery).error?.message;
      expect(message([['Authorization', 'Bearer']])).toBe('The Bearer credentials are empty');
      expect(message([['Authorization', 'Bearer a b']])).toBe(
        'The Bearer token is not a valid b64token (RFC 6750 section 2.1)',
      );
      expect(
        message([
          ['Authorization', `Bearer ${TOKEN}`],
          ['authorization', `Bearer ${TOKEN}`],
        ]),
      ).toBe('The request has more than one Authorization header');
      expect(message([], '/r?access_token=x')).toBe(
        'Access tokens in the query string are not accepted',
      );
      expect(message([['Authorization', `Bearer ${TOKEN}`]])).toBe(
        'The access token was sent in more than one way',
      );
      expect(
        extractToken(request([], '/r?access_token=a%20b'), undefined, true).error?.message,
      ).toBe('The access_token parameter is not a valid b64token');
      expect(
        extractToken(
          request([['Authorization', `Bearer ${TOKEN}`]], `/r?access_token=${TOKEN}`),
          undefined,
          true,
        ).error?.message,
      ).toBe('The access token was sent in more than one way');
    });

    it('never puts the token into an error message', () => {
      const secret = 'secret-token-value';
      const cases = [
        extractToken(request([['authorization', `Bearer ${secret},x`]]), undefined, false),
        extractToken(
          request([['authorization', `Bearer ${secret}`]], `/x?access_token=${secret}`),
          undefined,
          false,
        ),
        extractToken(
          request([['authorization', `Bearer ${secret}`]], `/x?access_token=${secret}`),
          undefined,
          true,
        ),
        extractToken(
          request([['authorization', `Bearer ${secret}`]]),
          { access_token: secret },
          false,
        ),
      ];
      for (const result of cases) {
        expect(result.error).toBeDefined();
        expect(result.error!.message).not.toContain(secret);
        expect(JSON.stringify(result.error)).not.toContain(secret);
      }
    });
  });

  describe('query parameter (RFC 6750 §2.3)', () => {
    it('is invalid_request while allowQueryToken is off', () => {
      expectInvalid(extractToken(request([], `/api/read?access_token=${TOKEN}`), undefined, false));
    });

    it('is invalid_request while off even when empty', () => {
      expectInvalid(extractToken(request([], '/api/read?x=1&access_token='), undefined, false));
    });

    it('does not mistake a similar parameter or a path segment for it', () => {
      expect(
        extractToken(
          request([], '/access_token?my_access_token=1&access_tokens=2'),
          undefined,
          false,
        ),
      ).toEqual({});
    });

    it('is read only after the "?": a path that looks like parameters is not a query', () => {
      for (const url of [`/files/a&access_token=${TOKEN}`, `/a&access_token=x&%41=1`])
        for (const allowQuery of [false, true])
          expect(extractToken(request([], url), undefined, allowQuery)).toEqual({});
    });

    it('is read when allowed, marked fromQuery', () => {
      expect(
        extractToken(
          request([], `/api/read?a=1&access_token=${encodeURIComponent(TOKEN)}`),
          undefined,
          true,
        ),
      ).toEqual({
        token: TOKEN,
        fromQuery: true,
      });
    });

    it('is invalid_request when sent twice, or beside a header or a body token', () => {
      expectInvalid(extractToken(request([], '/r?access_token=a&access_token=a'), undefined, true));
      expectInvalid(
        extractToken(
          request([['authorization', `Bearer ${TOKEN}`]], `/r?access_token=${TOKEN}`),
          undefined,
          true,
        ),
      );
      expectInvalid(
        extractToken(request([], `/r?access_token=${TOKEN}`), { access_token: TOKEN }, true),
      );
    });

    it.each(['access%5Ftoken', 'access%5ftoken', '%61ccess_token', 'access_t%6Fken'])(
      'a percent-encoded name (%s) is the same parameter: refused while off, read when allowed',
      (name) => {
        // The query is application/x-www-form-urlencoded (RFC 6750 §2.3): names are decoded
        // like values, so these ARE access_token, for this library as for any query parser.
        const off = extractToken(request([], `/r?${name}=${TOKEN}`), undefined, false);
        expectInvalid(off);
        expect(off.error!.reason).toBe('query_token_not_allowed');
        expect(
          extractToken(request([], `/r?${name}=${encodeURIComponent(TOKEN)}`), undefined, true),
        ).toEqual({ token: TOKEN, fromQuery: true });
        const twice = extractToken(
          request([], `/r?access_token=${TOKEN}&${name}=${TOKEN}`),
          undefined,
          true,
        );
        expectInvalid(twice);
        expect(twice.error!.reason).toBe('token_sent_twice');
      },
    );

    it('an encoded name that decodes to something else is not a token', () => {
      expect(extractToken(request([], '/r?access%5Ftokens=1&x=%41'), undefined, false)).toEqual({});
    });

    it('each refusal names its reason', () => {
      const reasons = [
        extractToken(request([], `/r?access_token=${TOKEN}`), undefined, false),
        extractToken(request([], '/r?access_token=a%20b'), undefined, true),
        extractToken(request([['authorization', 'Bearer']]), undefined, false),
        extractToken(
          request([
            ['authorization', `Bearer ${TOKEN}`],
            ['Authorization', `Bearer ${TOKEN}`],
          ]),
          undefined,
          false,
        ),
        extractToken(request([['authorization', `Bearer ${TOKEN}`]]), { access_token: 'x' }, false),
        extractToken(request([['authorization', 'Bearer a b']]), undefined, false),
        extractToken(
          request([['authorization', `Bearer ${TOKEN}`]], `/r?access_token=${TOKEN}`),
          undefined,
          true,
        ),
      ].map((result) => result.error?.reason);
      expect(reasons).toEqual([
        'query_token_not_allowed',
        'request_malformed',
        'request_malformed',
        'authorization_duplicated',
        'token_sent_twice',
        'request_malformed',
        'token_sent_twice',
      ]);
    });

    it('must be a b64token', () => {
      expectInvalid(extractToken(request([], '/r?access_token=a%20b'), undefined, true));
      expectInvalid(extractToken(request([], '/r?access_token='), undefined, true));
    });
  });

  describe('form body (RFC 6750 §2.2)', () => {
    it('is never read on its own', () => {
      expect(extractToken(request(), { access_token: TOKEN }, false)).toEqual({});
      expect(extractToken(request(), { access_token: TOKEN }, true)).toEqual({});
    });

    it('beside a header token is invalid_request', () => {
      expectInvalid(
        extractToken(
          request([['authorization', `Bearer ${TOKEN}`]]),
          { access_token: TOKEN },
          false,
        ),
      );
    });

    it('is a token transmission with parameters on the content type (; charset=) in any case', () => {
      const header: [string, string][] = [['authorization', `Bearer ${TOKEN}`]];
      for (const type of [
        'application/x-www-form-urlencoded; charset=UTF-8',
        'Application/X-WWW-Form-Urlencoded;charset=utf-8',
      ]) {
        const result = extractToken(
          request(header, '/api/read', type),
          { access_token: 'x' },
          false,
        );
        expectInvalid(result);
        expect(result.error!.reason).toBe('token_sent_twice');
      }
    });

    it('is not a token transmission when the body is not form-encoded (JSON)', () => {
      const header: [string, string][] = [['authorization', `Bearer ${TOKEN}`]];
      expect(
        extractToken(
          request(header, '/api/read', 'application/json'),
          { access_token: 'x' },
          false,
        ),
      ).toEqual({ token: TOKEN });
    });

    it('is not a token transmission without a content type', () => {
      const raw = {
        rawHeaders: ['authorization', `Bearer ${TOKEN}`],
        headers: {},
        url: '/api/read',
      } as unknown as IncomingMessage;
      expect(extractToken(raw, { access_token: 'x' }, false)).toEqual({ token: TOKEN });
    });

    it('ignores bodies that are not objects, and inherited properties', () => {
      const header: [string, string][] = [['authorization', `Bearer ${TOKEN}`]];
      expect(extractToken(request(header), 'access_token=x', false)).toEqual({ token: TOKEN });
      expect(extractToken(request(header), null, false)).toEqual({ token: TOKEN });
      expect(extractToken(request(header), Object.create({ access_token: 'x' }), false)).toEqual({
        token: TOKEN,
      });
    });
  });
});

describe('extractToken with DPoP on (RFC 9449 §7.1)', () => {
  const PROOF = 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln';
  const refusal = (result: ReturnType<typeof extractToken>) => {
    expect(result.token).toBeUndefined();
    expect(result.error).toBeInstanceOf(OidcResourceError);
    const { code, reason, scheme, status } = result.error!;
    return { code, reason, scheme, status };
  };

  it('reads the DPoP scheme, case-insensitively, with its one proof', () => {
    for (const scheme of ['DPoP', 'dpop', 'DPOP']) {
      expect(
        extractToken(
          request([
            ['Authorization', `${scheme} ${TOKEN}`],
            ['DPoP', PROOF],
          ]),
          undefined,
          false,
          true,
        ),
      ).toEqual({ token: TOKEN, scheme: 'DPoP', proof: PROOF });
    }
  });

  it('reads the one DPoP field among other four-letter fields, and no other scheme as DPoP', () => {
    const headers: [string, string][] = [
      ['Host', 'api.example'],
      ['Date', 'Tue, 01 Dec 2026 00:00:00 GMT'],
      ['Authorization', `DPoP ${TOKEN}`],
      ['DPoP', PROOF],
    ];
    expect(extractToken(request(headers), undefined, false, true)).toEqual({
      token: TOKEN,
      scheme: 'DPoP',
      proof: PROOF,
    });
    for (const scheme of ['HOBA', 'Digest', 'Basic', 'Bearer2']) {
      const other = request([
        ['Authorization', `${scheme} ${TOKEN}`],
        ['DPoP', PROOF],
      ]);
      expect(extractToken(other, undefined, false, true)).toEqual({});
    }
  });

  it('says what is wrong with a DPoP request in its message', () => {
    const message = (headers: [string, string][]) =>
      extractToken(request(headers), undefined, false, true).error?.message;
    expect(message([['Authorization', `DPoP ${TOKEN}`]])).toBe('The request has no DPoP proof');
    expect(
      message([
        ['Authorization', `DPoP ${TOKEN}`],
        ['DPoP', PROOF],
        ['DPoP', PROOF],
      ]),
    ).toBe('The request has more than one DPoP proof');
    expect(
      message([
        ['Authorization', `Bearer ${TOKEN}`],
        ['DPoP', PROOF],
      ]),
    ).toBe('A DPoP proof was sent with a bearer token: send the token with the DPoP scheme');
    expect(
      message([
        ['Authorization', 'DPoP '],
        ['DPoP', PROOF],
      ]),
    ).toBe('The DPoP credentials are empty');
    expect(
      message([
        ['Authorization', 'DPoP a,b'],
        ['DPoP', PROOF],
      ]),
    ).toBe('The DPoP token is not a valid b64token (RFC 6750 section 2.1)');
  });

  it('treats the DPoP scheme as an unknown scheme while DPoP is off', () => {
    expect(
      extractToken(
        request([
          ['Authorization', `DPoP ${TOKEN}`],
          ['DPoP', PROOF],
        ]),
        undefined,
        false,
      ),
    ).toEqual({});
    expect(
      extractToken(
        request([
          ['Authorization', `Bearer ${TOKEN}`],
          ['DPoP', PROOF],
        ]),
        undefined,
        false,
      ),
    ).toEqual({ token: TOKEN });
  });

  it('refuses a DPoP request without a proof, or with two', () => {
    expect(
      refusal(extractToken(request([['Authorization', `DPoP ${TOKEN}`]]), undefined, false, true)),
    ).toEqual({
      code: 'invalid_dpop_proof',
      reason: 'dpop_proof_missing',
      scheme: 'DPoP',
      status: 401,
    });
    const two = request([
      ['Authorization', `DPoP ${TOKEN}`],
      ['DPoP', PROOF],
      ['dpop', PROOF],
    ]);
    expect(refusal(extractToken(two, undefined, false, true))).toMatchObject({
      code: 'invalid_dpop_proof',
      reason: 'dpop_proof_duplicated',
    });
  });

  it('refuses a proof sent beside a bearer token, but not a proof alone', () => {
    const stray = request([
      ['Authorization', `Bearer ${TOKEN}`],
      ['DPoP', PROOF],
    ]);
    expect(refusal(extractToken(stray, undefined, false, true))).toEqual({
      code: 'invalid_token',
      reason: 'dpop_proof_unexpected',
      scheme: 'DPoP',
      status: 401,
    });
    expect(extractToken(request([['DPoP', PROOF]]), undefined, false, true)).toEqual({});
  });

  it('checks DPoP credentials like bearer ones', () => {
    expectInvalid(
      extractToken(
        request([
          ['Authorization', 'DPoP '],
          ['DPoP', PROOF],
        ]),
        undefined,
        false,
        true,
      ),
    );
    expectInvalid(
      extractToken(
        request([
          ['Authorization', 'DPoP a,b'],
          ['DPoP', PROOF],
        ]),
        undefined,
        false,
        true,
      ),
    );
  });
});
