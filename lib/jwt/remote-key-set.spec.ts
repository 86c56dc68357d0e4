/**
 * Key selection on its own: which JWK a JWS header gets, which JWKS entries count at all, and
 * when the set is fetched again. The JWKS comes from a loopback server so that each test can
 * publish exactly the keys it needs (members oidc-provider never publishes included); time
 * comes from an injected clock. End to end, the same rules run in security-checks and
 * jwt-hostile against the real authorization server.
 */
import { once } from 'node:events';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger, type LoggerService } from '@nestjs/common';
import type { JsonWebKeyObject as JWK } from '../interfaces/oidc-resource-options.interface.js';
import { IssuerUnavailableError, InvalidTokenError } from '../errors/oidc-resource.error.js';
import { closeConnectionPools } from '../utils/http-pool.js';
import { RemoteKeySet, type KeyHint } from './remote-key-set.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const publicJwk = (key: crypto.KeyObject, extra: Record<string, unknown> = {}): JWK =>
  ({ ...(crypto.createPublicKey(key).export({ format: 'jwk' }) as JWK), ...extra }) as JWK;

const pair = {
  rsa: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ec: (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey,
  ed25519: () => generateKeyPairSync('ed25519').privateKey,
};

const RSA_A = pair.rsa();
const RSA_B = pair.rsa();
const EC_256 = pair.ec('P-256');
const EC_384 = pair.ec('P-384');
const ED = pair.ed25519();

/** A JWKS endpoint whose document, status and headers each test sets. */
interface JwksServer {
  url: string;
  doc: unknown;
  /** Documents served at other paths than `url`'s. */
  byPath: Record<string, unknown>;
  status: number;
  headers: Record<string, string>;
  fetches: number;
  accept?: string;
}

let server: http.Server;
let jwks: JwksServer;

beforeAll(async () => {
  Logger.overrideLogger(false);
  server = http.createServer((req, res) => {
    jwks.fetches += 1;
    jwks.accept = req.headers.accept;
    res.writeHead(jwks.status, { 'content-type': 'application/json', ...jwks.headers });
    res.end(JSON.stringify(jwks.byPath[req.url ?? ''] ?? jwks.doc));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(async () => {
  closeConnectionPools();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let path = 0;
beforeEach(() => {
  // A fresh path per test: each RemoteKeySet starts with nothing known about its URI.
  const port = (server.address() as AddressInfo).port;
  jwks = {
    url: `http://127.0.0.1:${port}/jwks-${++path}`,
    doc: { keys: [] },
    byPath: {},
    status: 200,
    headers: {},
    fetches: 0,
  };
});

interface Harness {
  set: RemoteKeySet;
  clock: { now: number };
}

function keySet(keys: unknown[], uri: () => string = () => jwks.url): Harness {
  jwks.doc = { keys };
  const clock = { now: 1_000_000 };
  return {
    set: new RemoteKeySet(
      async () => uri(),
      5000,
      () => clock.now,
    ),
    clock,
  };
}

/** The public key `getKey` resolved, as a JWK (to compare with the key expected). */
async function resolved(set: RemoteKeySet, hint: KeyHint): Promise<JWK> {
  return (await set.getKey(hint)).export({ format: 'jwk' }) as JWK;
}

const material = (key: crypto.KeyObject) =>
  crypto.createPublicKey(key).export({ format: 'jwk' }) as JWK;

/** The InvalidTokenError (or other error) getKey fails with. */
async function failure(set: RemoteKeySet, hint: KeyHint): Promise<InvalidTokenError> {
  try {
    await set.getKey(hint);
  } catch (error) {
    return error as InvalidTokenError;
  }
  throw new Error('getKey resolved');
}

async function refusedWith(set: RemoteKeySet, hint: KeyHint, reason: string, message?: string) {
  const error = await failure(set, hint);
  expect(error).toBeInstanceOf(InvalidTokenError);
  expect(error.reason).toBe(reason);
  if (message !== undefined) expect(error.message).toBe(message);
}

describe('the JWS header', () => {
  it('without a string alg is malformed, before any fetch', async () => {
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    for (const alg of [undefined, 256, null])
      await refusedWith(
        set,
        { alg, kid: 'a' } as unknown as KeyHint,
        'malformed',
        'The access token header has no alg',
      );
    expect(jwks.fetches).toBe(0);
  });

  it('with a kid that is not a string, or longer than 256 characters, is malformed', async () => {
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    for (const kid of [7, null, 'k'.repeat(257)])
      await refusedWith(
        set,
        { alg: 'RS256', kid } as unknown as KeyHint,
        'malformed',
        'The access token header has an invalid kid',
      );
    expect(jwks.fetches).toBe(0);
    // 256 characters is still a kid: looked up (and not found).
    await refusedWith(set, { alg: 'RS256', kid: 'k'.repeat(256) }, 'kid_unknown');
  });
});

describe('key selection', () => {
  it('takes the key the kid names, when it fits the algorithm', async () => {
    const { set } = keySet([
      publicJwk(RSA_A, { kid: 'a', alg: 'RS256' }),
      publicJwk(RSA_B, { kid: 'b', alg: 'RS256' }),
    ]);
    expect(await resolved(set, { alg: 'RS256', kid: 'b' })).toEqual(material(RSA_B));
    expect(await resolved(set, { alg: 'RS256', kid: 'a' })).toEqual(material(RSA_A));
  });

  it('a key labelled for another algorithm is not a match', async () => {
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a', alg: 'PS256' })]);
    await refusedWith(
      set,
      { alg: 'RS256', kid: 'a' },
      'kid_unknown',
      'No key of the issuer matches the access token (kid/alg)',
    );
    expect(await resolved(set, { alg: 'PS256', kid: 'a' })).toEqual(material(RSA_A));
  });

  it('a key of another type or curve is not a match', async () => {
    const { set } = keySet([
      publicJwk(EC_256, { kid: 'p256' }),
      publicJwk(ED, { kid: 'ed' }),
      publicJwk(RSA_A, { kid: 'rsa' }),
    ]);
    await refusedWith(set, { alg: 'ES384', kid: 'p256' }, 'kid_unknown');
    await refusedWith(set, { alg: 'RS256', kid: 'p256' }, 'kid_unknown');
    await refusedWith(set, { alg: 'ES256', kid: 'ed' }, 'kid_unknown');
    await refusedWith(set, { alg: 'EdDSA', kid: 'rsa' }, 'kid_unknown');
    expect(await resolved(set, { alg: 'ES256', kid: 'p256' })).toEqual(material(EC_256));
    expect(await resolved(set, { alg: 'EdDSA', kid: 'ed' })).toEqual(material(ED));
  });

  it('key_ops must include verify when present', async () => {
    const { set } = keySet([
      publicJwk(RSA_A, { kid: 'sign-only', key_ops: ['sign'] }),
      publicJwk(RSA_B, { kid: 'verify', key_ops: ['sign', 'verify'] }),
    ]);
    await refusedWith(set, { alg: 'RS256', kid: 'sign-only' }, 'kid_unknown');
    expect(await resolved(set, { alg: 'RS256', kid: 'verify' })).toEqual(material(RSA_B));
    // Without a kid only the verify key fits: no ambiguity.
    expect(await resolved(set, { alg: 'RS256' })).toEqual(material(RSA_B));
  });

  it('use "sig" or no use fits; a key for encryption is never used', async () => {
    const { set } = keySet([
      publicJwk(RSA_A, { kid: 'sig', use: 'sig' }),
      publicJwk(RSA_B, { kid: 'enc', use: 'enc' }),
      publicJwk(EC_256, { kid: 'none' }),
    ]);
    expect(await resolved(set, { alg: 'RS256', kid: 'sig' })).toEqual(material(RSA_A));
    expect(await resolved(set, { alg: 'ES256', kid: 'none' })).toEqual(material(EC_256));
    await refusedWith(set, { alg: 'RS256', kid: 'enc' }, 'kid_unknown');
    expect(await resolved(set, { alg: 'RS256' })).toEqual(material(RSA_A));
  });

  it('without a kid, the one key that fits is taken, whatever else the set holds', async () => {
    const { set } = keySet([
      publicJwk(EC_256, { kid: 'p256' }),
      publicJwk(RSA_A, { kid: 'rsa', alg: 'RS256' }),
      publicJwk(EC_384, { kid: 'p384' }),
    ]);
    expect(await resolved(set, { alg: 'ES384' })).toEqual(material(EC_384));
    expect(await resolved(set, { alg: 'RS256' })).toEqual(material(RSA_A));
  });

  it('without a kid, two keys that fit are ambiguous, in either order', async () => {
    for (const keys of [
      [publicJwk(RSA_A, { kid: 'a' }), publicJwk(RSA_B, { kid: 'b' })],
      [publicJwk(RSA_B, { kid: 'b' }), publicJwk(RSA_A, { kid: 'a' })],
    ]) {
      const { set } = keySet(keys);
      await refusedWith(
        set,
        { alg: 'RS256' },
        'kid_ambiguous',
        'The access token has no kid and several issuer keys could match',
      );
    }
  });

  it('a key without kid serves a token without kid, never one that names a kid', async () => {
    const { set } = keySet([publicJwk(RSA_A)]);
    expect(await resolved(set, { alg: 'RS256' })).toEqual(material(RSA_A));
    await refusedWith(set, { alg: 'RS256', kid: 'a' }, 'kid_unknown');
  });

  it('with a kid, other keys that would fit do not matter', async () => {
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a' }), publicJwk(RSA_B, { kid: 'b' })]);
    expect(await resolved(set, { alg: 'RS256', kid: 'a' })).toEqual(material(RSA_A));
  });
});

describe('which JWKS entries count', () => {
  const good = () => publicJwk(RSA_A, { kid: 'good' });
  const rsa = (extra: Record<string, unknown>, drop?: string): Record<string, unknown> => {
    const jwk: Record<string, unknown> = { ...publicJwk(RSA_B), kid: 'other', ...extra };
    if (drop) delete jwk[drop];
    return jwk;
  };
  const ec = (drop: string): Record<string, unknown> => {
    const jwk: Record<string, unknown> = { ...publicJwk(EC_256), kid: 'ec' };
    delete jwk[drop];
    return jwk;
  };
  const okp = (drop: string): Record<string, unknown> => {
    const jwk: Record<string, unknown> = { ...publicJwk(ED), kid: 'okp' };
    delete jwk[drop];
    return jwk;
  };

  it('control: a good key alone is a usable set', async () => {
    const { set } = keySet([good()]);
    expect(await resolved(set, { alg: 'RS256' })).toEqual(material(RSA_A));
  });

  // A set of nothing but this entry holds no usable key: the fetch fails as an outage.
  it.each([
    ['null', null],
    ['a string', 'key'],
    ['a private key (d)', { ...(RSA_B.export({ format: 'jwk' }) as JWK), kid: 'private' }],
    ['a kid that is not a string', rsa({ kid: 7 })],
    ['an RSA key without n', rsa({}, 'n')],
    ['an RSA key without e', rsa({}, 'e')],
    ['an RSA key whose e is not a string', rsa({ e: 65537 })],
    ['an EC key without crv', ec('crv')],
    ['an EC key without x', ec('x')],
    ['an EC key without y', ec('y')],
    ['an OKP key without crv', okp('crv')],
    ['an OKP key without x', okp('x')],
    ['a key for encryption', rsa({ use: 'enc' })],
    ['a symmetric key', { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }],
  ])('%s is left out', async (_name, entry) => {
    const { set } = keySet([entry]);
    const error = await failure(set, { alg: 'RS256' });
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect(error.message).toBe('JWKS: the document holds no usable signing key');
  });

  it('usable EC and OKP keys count', async () => {
    for (const key of [EC_256, ED]) {
      const { set } = keySet([publicJwk(key, { kid: 'k' })]);
      await expect(set.getKey({ alg: 'RS256' })).rejects.toMatchObject({ reason: 'kid_unknown' });
    }
  });
});

describe('imported keys', () => {
  it('are imported once per key and algorithm', async () => {
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    const first = await set.getKey({ alg: 'RS256', kid: 'a' });
    expect(await set.getKey({ alg: 'RS256', kid: 'a' })).toBe(first);
    const pss = await set.getKey({ alg: 'PS256', kid: 'a' });
    expect(await set.getKey({ alg: 'PS256', kid: 'a' })).toBe(pss);
  });

  it('a key that fits but cannot be used (RSA under 2048 bits) is key_unusable', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const { set } = keySet([publicJwk(weak, { kid: 'weak' })]);
    const error = await failure(set, { alg: 'RS256', kid: 'weak' });
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect(error).toMatchObject({
      reason: 'key_unusable',
      message: 'The issuer key that matches the access token cannot be used',
      cause: expect.objectContaining({ name: 'UnusableKeyError' }),
    });
  });
});

describe('fetching the set', () => {
  it('asks for a JWK set, once while it is fresh, again after 10 minutes', async () => {
    const { set, clock } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    await set.getKey({ alg: 'RS256', kid: 'a' });
    expect(jwks.accept).toBe('application/jwk-set+json, application/json');
    clock.now += 600_000 - 1;
    await set.getKey({ alg: 'RS256', kid: 'a' });
    expect(jwks.fetches).toBe(1);
    // Rotated: the old key is gone at the next fetch.
    jwks.doc = { keys: [publicJwk(RSA_B, { kid: 'b' })] };
    clock.now += 1;
    expect(await resolved(set, { alg: 'RS256', kid: 'b' })).toEqual(material(RSA_B));
    expect(jwks.fetches).toBe(2);
  });

  it('an unknown kid fetches the set again, at most once per 30 s', async () => {
    const { set, clock } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    await set.getKey({ alg: 'RS256', kid: 'a' });
    jwks.doc = { keys: [publicJwk(RSA_A, { kid: 'a' }), publicJwk(RSA_B, { kid: 'b' })] };
    expect(await resolved(set, { alg: 'RS256', kid: 'b' })).toEqual(material(RSA_B));
    expect(jwks.fetches).toBe(2);
    clock.now += 30_000 - 1;
    await refusedWith(set, { alg: 'RS256', kid: 'c' }, 'kid_unknown');
    expect(jwks.fetches).toBe(2);
    clock.now += 1;
    await refusedWith(set, { alg: 'RS256', kid: 'c' }, 'kid_unknown');
    expect(jwks.fetches).toBe(3);
  });

  it('while the set cannot be fetched, an unknown kid is an outage, never invalid', async () => {
    const { set, clock } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    await set.getKey({ alg: 'RS256', kid: 'a' });
    jwks.status = 500;
    const down = await failure(set, { alg: 'RS256', kid: 'new' });
    expect(down).toBeInstanceOf(IssuerUnavailableError);
    expect(down.message).toBe('JWKS: the authorization server answered HTTP 500');
    // Within the 30 s, the same failure without asking, with the time left as retryAfter.
    clock.now += 10_000;
    const again = (await failure(set, { alg: 'RS256', kid: 'new' })) as IssuerUnavailableError;
    expect(again).toBeInstanceOf(IssuerUnavailableError);
    expect(again).toMatchObject({ message: down.message, url: jwks.url, retryAfter: 20 });
    expect(again.cause).toBeInstanceOf(IssuerUnavailableError);
    expect(jwks.fetches).toBe(2);
    // The known key still works.
    expect(await resolved(set, { alg: 'RS256', kid: 'a' })).toEqual(material(RSA_A));
    // Once a fetch succeeds, an unknown kid is just unknown.
    jwks.status = 200;
    clock.now += 20_000;
    await refusedWith(set, { alg: 'RS256', kid: 'new' }, 'kid_unknown');
    await refusedWith(set, { alg: 'RS256', kid: 'newer' }, 'kid_unknown');
    expect(jwks.fetches).toBe(3);
  });

  it('a failed refresh keeps the known keys, logs it, and is tried again after 30 s', async () => {
    const { set, clock } = keySet([publicJwk(RSA_A, { kid: 'a' })]);
    await set.getKey({ alg: 'RS256', kid: 'a' });
    jwks.status = 503;
    clock.now += 600_000;
    const lines: string[] = [];
    const capture: LoggerService = {
      log: () => undefined,
      error: () => undefined,
      warn: (message: unknown) => lines.push(String(message)),
    };
    Logger.overrideLogger(capture);
    try {
      expect(await resolved(set, { alg: 'RS256', kid: 'a' })).toEqual(material(RSA_A));
    } finally {
      Logger.overrideLogger(false);
    }
    expect(lines).toEqual([
      `Refreshing the JWKS failed; keeping the keys already known: JWKS: the authorization server answered HTTP 503 [${jwks.url}]`,
    ]);
    expect(jwks.fetches).toBe(2);
    clock.now += 30_000 - 1;
    await set.getKey({ alg: 'RS256', kid: 'a' });
    expect(jwks.fetches).toBe(2);
    jwks.status = 200;
    jwks.doc = { keys: [publicJwk(RSA_A, { kid: 'a' }), publicJwk(RSA_B, { kid: 'b' })] };
    clock.now += 1;
    // 30 s later a known key's lookup refreshes the set.
    await set.getKey({ alg: 'RS256', kid: 'a' });
    expect(jwks.fetches).toBe(3);
    expect(await resolved(set, { alg: 'RS256', kid: 'b' })).toEqual(material(RSA_B));
    expect(jwks.fetches).toBe(3);
    // Refreshed: fresh for another 10 minutes.
    clock.now += 600_000 - 1;
    await set.getKey({ alg: 'RS256', kid: 'b' });
    expect(jwks.fetches).toBe(3);
  });

  it('a new JWKS URI starts afresh', async () => {
    let uri = jwks.url;
    const { set } = keySet([publicJwk(RSA_A, { kid: 'a' })], () => uri);
    await set.getKey({ alg: 'RS256', kid: 'a' });
    // The old URI still serves the old key: only the new URI's keys may count.
    uri = `${jwks.url}-moved`;
    jwks.byPath[new URL(uri).pathname] = { keys: [publicJwk(RSA_B, { kid: 'b' })] };
    expect(await resolved(set, { alg: 'RS256', kid: 'b' })).toEqual(material(RSA_B));
    expect(jwks.fetches).toBe(2);
    // The old URI's key is not among the new URI's keys.
    await refusedWith(set, { alg: 'RS256', kid: 'a' }, 'kid_unknown');
  });

  it('a first fetch that fails is answered again for a second, without asking', async () => {
    const { set, clock } = keySet([]);
    jwks.status = 502;
    jwks.headers = { 'retry-after': '7' };
    const first = await failure(set, { alg: 'RS256', kid: 'a' });
    expect(first).toMatchObject({
      message: 'JWKS: the authorization server answered HTTP 502',
      url: jwks.url,
      retryAfter: 7,
    });
    const again = await failure(set, { alg: 'RS256', kid: 'a' });
    expect(again).toBeInstanceOf(IssuerUnavailableError);
    expect(again.message).toBe(first.message);
    expect(jwks.fetches).toBe(1);
    clock.now += 2000;
    jwks.status = 200;
    jwks.doc = { keys: [publicJwk(RSA_A, { kid: 'a' })] };
    expect(await resolved(set, { alg: 'RS256', kid: 'a' })).toEqual(material(RSA_A));
  });

  it.each([
    ['no keys array', { keys: 'none' }, 'JWKS: the document has no "keys" array'],
    ['no keys member', {}, 'JWKS: the document has no "keys" array'],
    ['an empty keys array', { keys: [] }, 'JWKS: the document holds no usable signing key'],
  ])('a document with %s is an outage', async (_name, doc, message) => {
    const { set } = keySet([]);
    jwks.doc = doc;
    const error = await failure(set, { alg: 'RS256' });
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect(error).toMatchObject({ message, url: jwks.url });
  });

  it('a JWKS that is not JSON, or cannot be reached, is an outage that says JWKS', async () => {
    const { set } = keySet([]);
    jwks.doc = undefined; // JSON.stringify(undefined): an empty body
    await expect(set.getKey({ alg: 'RS256' })).rejects.toMatchObject({
      code: 'issuer_unavailable',
      message: 'JWKS: the authorization server answered with something that is not JSON',
    });
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks`;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = new RemoteKeySet(
      async () => url,
      5000,
      () => 0,
    );
    await expect(unreachable.getKey({ alg: 'RS256' })).rejects.toMatchObject({
      code: 'issuer_unavailable',
      message: 'JWKS: the authorization server could not be reached (ECONNREFUSED)',
    });
  });

  it('an error status without Retry-After gets the cooldown as retryAfter', async () => {
    const { set } = keySet([]);
    jwks.status = 500;
    const error = (await failure(set, { alg: 'RS256' })) as IssuerUnavailableError;
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error.retryAfter).toBeLessThanOrEqual(2);
  });
});
