/**
 * What an introspection answer must say to be accepted, and which issuer's answer decides when
 * several introspect: each rule on its own. The real RFC 7662 client asks a loopback server
 * whose answer per issuer each test sets (an aud naming this API without a token_type, one
 * issuer refusing the token while another calls it inactive: answers neither oidc-provider nor
 * the testing kit give on demand). Time comes from an injected clock. The same rules run end to
 * end in introspection-rules, several-issuers and token-validation.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  InvalidRequestError,
  IssuerUnavailableError,
  OidcResourceError,
  TokenExpiredError,
  TokenInactiveError,
} from '../errors/oidc-resource.error.js';
import type { IssuerOptions } from '../interfaces/oidc-resource-options.interface.js';
import { TrustedIssuer } from '../issuers/trusted-issuer.js';
import { resolveIssuerOptions } from '../options/issuer-options.js';
import { closeConnectionPools } from '../utils/http-pool.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { IntrospectionVerifier } from './introspection-verifier.js';
import { OpaqueTokenIntrospector, Rfc7662Introspector } from './opaque-token-introspector.js';

const NOW = 1_750_000_000_000;
const clock = () => NOW;
const now = NOW / 1000;

interface Answer {
  status: number;
  body: unknown;
}

let server: http.Server;
let origin: string;
/** The answer of each issuer's endpoint, by issuer name (`/a/introspect` answers `answers.a`). */
let answers: Record<string, Answer>;
let asked: string[];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const name = (req.url ?? '').split('/')[1]!;
      asked.push(name);
      const { status, body } = answers[name] ?? { status: 404, body: { error: 'not_found' } };
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
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
  answers = {};
  asked = [];
});

const iss = (name: string) => `${origin}/${name}`;

function trusted(name: string, extra: Partial<IssuerOptions> = {}): TrustedIssuer {
  const { introspection, ...rest } = extra;
  const settings = resolveIssuerOptions(
    {
      issuer: iss(name),
      audience: 'api',
      introspection: {
        clientId: 'rs',
        clientSecret: 'rs-secret',
        endpoint: `${iss(name)}/introspect`,
        ...introspection,
      },
      ...rest,
    },
    {},
    '',
    true,
  );
  return new TrustedIssuer(settings, { httpTimeout: 5000, unsafeAllowInsecureIssuer: true }, clock);
}

const rfc7662 = new Rfc7662Introspector({ httpTimeout: 5000 } as ResolvedOidcResourceOptions);
const verifier = new IntrospectionVerifier(clock, rfc7662);

/** An access token's answer from issuer `name`, with `claims` over (undefined removes one). */
function active(name: string, claims: Record<string, unknown> = {}): Answer {
  const body: Record<string, unknown> = {
    active: true,
    iss: iss(name),
    aud: 'api',
    token_type: 'Bearer',
    sub: 'u1',
    client_id: 'c1',
    scope: 'read',
    iat: now - 10,
    exp: now + 60,
    ...claims,
  };
  for (const [key, value] of Object.entries(body)) if (value === undefined) delete body[key];
  return { status: 200, body };
}
const INACTIVE: Answer = { status: 200, body: { active: false } };
const REFUSED: Answer = { status: 400, body: { error: 'unsupported_token_type' } };
const FAILED: Answer = { status: 500, body: { error: 'server_error' } };

async function rejection(promise: Promise<unknown>): Promise<OidcResourceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OidcResourceError);
  return error as OidcResourceError;
}

const verdict = (error: OidcResourceError) => ({
  code: error.code,
  reason: error.reason,
  claim: error.claim,
  message: error.message,
});

describe('the claim rules of one answer', () => {
  const a = () => trusted('a');

  it('an access token is accepted as the issuer answered it', async () => {
    answers.a = active('a');
    const issuer = a();
    await expect(verifier.verify('t', issuer)).resolves.toEqual({
      source: 'introspection',
      issuer: iss('a'),
      settings: issuer.settings,
      claims: answers.a!.body,
    });
  });

  it.each(['Bearer', 'bearer', 'DPoP'])('token_type %s is an access token', async (tokenType) => {
    answers.a = active('a', { token_type: tokenType });
    await expect(verifier.verify('t', a())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it.each(['refresh_token', 'N_A', 'urn:ietf:params:oauth:token-type:id_token'])(
    'token_type %s is not an access token',
    async (tokenType) => {
      answers.a = active('a', { token_type: tokenType });
      expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
        code: 'invalid_token',
        reason: 'not_access_token',
        claim: 'token_type',
        message: 'The token is not an access token ("token_type" claim)',
      });
    },
  );

  it('an answer naming this API in aud needs no token_type', async () => {
    answers.a = active('a', { token_type: undefined });
    await expect(verifier.verify('t', a())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it('a Bearer answer needs no aud (the audience check lets an empty one through)', async () => {
    answers.a = active('a', { aud: undefined });
    await expect(verifier.verify('t', a())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it.each([
    ['no aud', undefined],
    ['an empty aud', []],
  ])('%s and no token_type (a refresh token, maybe) is refused as untyped', async (_name, aud) => {
    answers.a = active('a', { aud, token_type: undefined });
    expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
      code: 'invalid_token',
      reason: 'untyped_introspection',
      claim: undefined,
      message: 'The token has no audience and is not typed as an access token',
    });
  });

  it('allowUntypedResponses accepts an answer with neither aud nor token_type', async () => {
    answers.a = active('a', { aud: undefined, token_type: undefined });
    const issuer = trusted('a', { introspection: { allowUntypedResponses: true } as never });
    await expect(verifier.verify('t', issuer)).resolves.toMatchObject({ issuer: iss('a') });
  });

  it('an aud naming another API is refused', async () => {
    answers.a = active('a', { aud: ['other', 'more'] });
    expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
      code: 'invalid_token',
      reason: 'aud_mismatch',
      claim: 'aud',
      message: 'The access token is meant for another audience',
    });
  });

  it('a malformed aud is refused', async () => {
    answers.a = active('a', { aud: 42 });
    expect(verdict(await rejection(verifier.verify('t', a())))).toMatchObject({
      reason: 'claim_malformed',
      claim: 'aud',
    });
  });

  it('another iss is refused; no iss is accepted (RFC 7662 makes it optional)', async () => {
    answers.a = active('a', { iss: iss('b') });
    expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
      code: 'invalid_token',
      reason: 'iss_mismatch',
      claim: 'iss',
      message: 'The access token was issued by another issuer',
    });
    answers.a = active('a', { iss: undefined });
    await expect(verifier.verify('t', a())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it('an answer with an ID-token claim is refused', async () => {
    answers.a = active('a', { at_hash: 'x' });
    expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
      code: 'invalid_token',
      reason: 'id_token',
      claim: 'at_hash',
      message: 'The token is an ID token ("at_hash" claim), not an access token',
    });
  });

  it('a provider marker of another kind is refused', async () => {
    answers.a = active('a', { typ: 'Refresh' });
    expect(verdict(await rejection(verifier.verify('t', a())))).toMatchObject({
      reason: 'not_access_token',
      claim: 'typ',
    });
  });

  it('an answer need not name a client (the server vouched for the token)', async () => {
    answers.a = active('a', { client_id: undefined });
    await expect(verifier.verify('t', a())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it('exp is checked against the injected clock', async () => {
    const strict = () => trusted('a', { clockTolerance: 0 });
    answers.a = active('a', { exp: now });
    const error = await rejection(verifier.verify('t', strict()));
    expect(error).toBeInstanceOf(TokenExpiredError);
    expect(verdict(error)).toEqual({
      code: 'token_expired',
      reason: 'expired',
      claim: 'exp',
      message: 'The access token expired',
    });
    answers.a = active('a', { exp: now + 1 });
    await expect(verifier.verify('t', strict())).resolves.toMatchObject({ issuer: iss('a') });
  });

  it("the issuer's clockTolerance applies to exp and nbf", async () => {
    const lenient = trusted('a', { clockTolerance: 90 });
    answers.a = active('a', { exp: now - 60, nbf: now + 60 });
    await expect(verifier.verify('t', lenient)).resolves.toMatchObject({ issuer: iss('a') });
    // The default tolerance (30 s) refuses both.
    answers.a = active('a', { exp: now - 60 });
    expect(verdict(await rejection(verifier.verify('t', a())))).toMatchObject({
      reason: 'expired',
    });
    answers.a = active('a', { nbf: now + 60 });
    expect(verdict(await rejection(verifier.verify('t', a())))).toEqual({
      code: 'invalid_token',
      reason: 'not_yet_valid',
      claim: 'nbf',
      message: 'The access token is not valid yet (nbf)',
    });
  });
});

/** The real client, but issuer `faulty` fails with `fault` (a bug, not an answer). */
class FaultyIntrospector extends OpaqueTokenIntrospector {
  constructor(
    private readonly faulty: TrustedIssuer,
    private readonly fault: unknown,
  ) {
    super();
  }

  introspect(token: string, issuer: TrustedIssuer): Promise<Record<string, unknown>> {
    if (issuer === this.faulty) return Promise.reject(this.fault);
    return rfc7662.introspect(token, issuer);
  }
}

describe('several issuers: who decides', () => {
  const pair = () => [trusted('a'), trusted('b')] as const;

  it('the first issuer that answers active decides; later ones are not asked', async () => {
    answers.a = active('a');
    answers.b = active('b');
    await expect(verifier.verifyAtAny('t', pair())).resolves.toMatchObject({ issuer: iss('a') });
    expect(asked).toEqual(['a']);
  });

  it('an issuer that calls the token inactive passes it on to the next', async () => {
    answers.a = INACTIVE;
    answers.b = active('b');
    await expect(verifier.verifyAtAny('t', pair())).resolves.toMatchObject({ issuer: iss('b') });
    expect(asked).toEqual(['a', 'b']);
  });

  it('an issuer that does not introspect such tokens passes it on to the next', async () => {
    answers.a = REFUSED;
    answers.b = active('b');
    await expect(verifier.verifyAtAny('t', pair())).resolves.toMatchObject({ issuer: iss('b') });
  });

  it('an issuer that could not answer does not stop the others: a later active answer decides', async () => {
    answers.a = FAILED;
    answers.b = active('b');
    await expect(verifier.verifyAtAny('t', pair())).resolves.toMatchObject({ issuer: iss('b') });
    expect(asked).toEqual(['a', 'b']);
  });

  it("the active issuer's refusal is the verdict: the token is its token", async () => {
    answers.a = active('a', { aud: 'other' });
    answers.b = active('b');
    expect(verdict(await rejection(verifier.verifyAtAny('t', pair())))).toMatchObject({
      reason: 'aud_mismatch',
    });
    expect(asked).toEqual(['a']);
  });

  it.each([
    ['failed, then inactive', FAILED, INACTIVE],
    ['inactive, then failed', INACTIVE, FAILED],
    ['refused, then failed', REFUSED, FAILED],
  ])(
    '%s: an issuer that could not answer might have claimed it, so 503',
    async (_n, first, second) => {
      answers.a = first;
      answers.b = second;
      const error = await rejection(verifier.verifyAtAny('t', pair()));
      expect(error).toBeInstanceOf(IssuerUnavailableError);
      expect(error.message).toBe('Introspection: the authorization server failed (HTTP 500)');
    },
  );

  it.each([
    ['inactive, then refused', INACTIVE, REFUSED],
    ['refused, then inactive', REFUSED, INACTIVE],
    ['inactive at both', INACTIVE, INACTIVE],
  ])('%s: token_inactive', async (_n, first, second) => {
    answers.a = first;
    answers.b = second;
    const error = await rejection(verifier.verifyAtAny('t', pair()));
    expect(error).toBeInstanceOf(TokenInactiveError);
    expect(verdict(error)).toEqual({
      code: 'token_inactive',
      reason: 'inactive',
      claim: undefined,
      message: 'The access token is not active',
    });
  });

  it('refused by both: the refusal', async () => {
    answers.a = REFUSED;
    answers.b = REFUSED;
    expect(verdict(await rejection(verifier.verifyAtAny('t', pair())))).toEqual({
      code: 'invalid_token',
      reason: 'unsupported_token_type',
      claim: undefined,
      message: 'The authorization server does not introspect this kind of token',
    });
  });

  it('no issuer at all: token_inactive', async () => {
    const error = await rejection(verifier.verifyAtAny('t', []));
    expect(error).toBeInstanceOf(TokenInactiveError);
    expect(asked).toEqual([]);
  });

  it('one issuer: its own verdict', async () => {
    answers.a = REFUSED;
    expect(verdict(await rejection(verifier.verifyAtAny('t', [trusted('a')])))).toMatchObject({
      reason: 'unsupported_token_type',
    });
  });

  it.each([
    ['a bug', new TypeError('boom')],
    ['a library error that is no verdict on the token', new InvalidRequestError('odd')],
    [
      'a foreign error that happens to carry code invalid_token',
      Object.assign(new Error('foreign'), { code: 'invalid_token' }),
    ],
  ])('%s is thrown as is, never taken for an answer', async (_n, fault) => {
    const [a, b] = pair();
    answers.b = active('b');
    const faulty = new IntrospectionVerifier(clock, new FaultyIntrospector(a, fault));
    await expect(faulty.verifyAtAny('t', [a, b])).rejects.toBe(fault);
    answers.b = INACTIVE;
    await expect(faulty.verifyAtAny('t', [a, b])).rejects.toBe(fault);
  });
});
