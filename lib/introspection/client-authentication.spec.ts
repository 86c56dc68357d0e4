/**
 * How this API authenticates at the introspection endpoint, each strategy on its own: the exact
 * header or form members it adds, and for private_key_jwt the signed assertion (checked with
 * jose, not with the signing code). Time comes from an injected clock. Interoperability with a
 * real authorization server (oidc-provider accepts each method) is in token-validation.
 */
import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import type { JsonWebKeyObject as JWK } from '../interfaces/oidc-resource-options.interface.js';
import { generateKeyPairSync } from '../testing/key-pair.js';
import {
  ClientSecretBasic,
  ClientSecretPost,
  PrivateKeyJwt,
  clientAuthentication,
  type ClientAuthentication,
} from './client-authentication.js';

const ISSUER = 'https://as.example.com';
const NOW = 1_750_000_000_700; // ms; the assertion's iat is 1_750_000_000
const clock = () => NOW;

const jwkOf = (key: KeyObject, extra: Record<string, unknown> = {}): JWK =>
  ({ ...(key.export({ format: 'jwk' }) as JWK), ...extra }) as JWK;

const RSA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const EC_256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const EC_384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const EC_521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ED = generateKeyPairSync('ed25519');

async function applied(auth: ClientAuthentication) {
  const headers: Record<string, string> = { accept: 'application/json' };
  const body = new URLSearchParams({ token: 't' });
  await auth.apply(headers, body);
  return { headers, body: Object.fromEntries(body) };
}

/** What the server reads back from a Basic header (RFC 6749 §2.3.1: form-urlencoded parts). */
function readBasic(header: string): { id: string; secret: string } {
  const [scheme, credentials] = header.split(' ');
  expect(scheme).toBe('Basic');
  const decoded = Buffer.from(credentials!, 'base64').toString('utf8');
  const [id, secret, ...rest] = decoded.split(':');
  expect(rest).toEqual([]);
  const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return { id: formDecode(id!), secret: formDecode(secret!) };
}

describe('client_secret_basic', () => {
  it('form-urlencodes the id and the secret before base64 (RFC 6749 §2.3.1)', async () => {
    const { headers, body } = await applied(new ClientSecretBasic('api:one two', 'p+w/d%é:&='));
    // Spelled out, not computed: a ':' in the id must not split the pair, '+' is a space.
    const pair = 'api%3Aone+two:p%2Bw%2Fd%25%C3%A9%3A%26%3D';
    expect(headers).toEqual({
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(pair).toString('base64')}`,
    });
    expect(readBasic(headers.authorization!)).toEqual({ id: 'api:one two', secret: 'p+w/d%é:&=' });
    expect(body).toEqual({ token: 't' }); // nothing in the form
  });

  it('plain ASCII ids and secrets are sent as they are', async () => {
    const { headers } = await applied(new ClientSecretBasic('rs', 'secret-1'));
    expect(headers.authorization).toBe(`Basic ${Buffer.from('rs:secret-1').toString('base64')}`);
  });
});

describe('client_secret_post', () => {
  it('puts client_id and client_secret in the form, not in a header', async () => {
    const { headers, body } = await applied(new ClientSecretPost('api one', 'p+w&d='));
    expect(headers).toEqual({ accept: 'application/json' });
    expect(body).toEqual({ token: 't', client_id: 'api one', client_secret: 'p+w&d=' });
  });
});

describe('private_key_jwt', () => {
  async function assertion(privateKey: JWK | KeyObject, publicKey: KeyObject) {
    const { headers, body } = await applied(
      new PrivateKeyJwt('rs-client', privateKey, ISSUER, clock),
    );
    expect(headers).toEqual({ accept: 'application/json' });
    const { client_assertion: jwt, ...rest } = body;
    expect(rest).toEqual({
      token: 't',
      client_id: 'rs-client',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    const { payload, protectedHeader } = await compactVerify(jwt!, publicKey);
    return { header: protectedHeader, claims: JSON.parse(new TextDecoder().decode(payload)) };
  }

  it('signs iss = sub = client_id, aud = the issuer, a jti, iat now and exp a minute on (RFC 7523 §3)', async () => {
    const { header, claims } = await assertion(jwkOf(RSA.privateKey, { kid: 'k1' }), RSA.publicKey);
    expect(header).toEqual({ alg: 'RS256', kid: 'k1' });
    expect(claims).toEqual({
      iss: 'rs-client',
      sub: 'rs-client',
      aud: ISSUER,
      jti: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      iat: 1_750_000_000,
      exp: 1_750_000_060,
    });
  });

  it('a fresh assertion per call: a new jti, the time of the call', async () => {
    let now = NOW;
    const auth = new PrivateKeyJwt('rs-client', jwkOf(ED.privateKey), ISSUER, () => now);
    const first = await applied(auth);
    now += 30_000;
    const second = await applied(auth);
    const claims = (b: Record<string, string>) =>
      JSON.parse(Buffer.from(b.client_assertion!.split('.')[1]!, 'base64url').toString());
    expect(claims(second.body).jti).not.toBe(claims(first.body).jti);
    expect(claims(second.body).iat).toBe(claims(first.body).iat + 30);
  });

  it.each([
    { name: 'RSA without alg', pair: RSA, extra: {}, alg: 'RS256' },
    { name: 'RSA with alg PS384', pair: RSA, extra: { alg: 'PS384' }, alg: 'PS384' },
    { name: 'RSA with a non-string alg', pair: RSA, extra: { alg: 384 }, alg: 'RS256' },
    { name: 'EC P-256', pair: EC_256, extra: {}, alg: 'ES256' },
    { name: 'EC P-384', pair: EC_384, extra: {}, alg: 'ES384' },
    { name: 'EC P-521', pair: EC_521, extra: {}, alg: 'ES512' },
    { name: 'Ed25519', pair: ED, extra: {}, alg: 'EdDSA' },
  ])('a JWK ($name) signs with $alg', async ({ pair, extra, alg }) => {
    const { header } = await assertion(jwkOf(pair.privateKey, extra), pair.publicKey);
    expect(header).toEqual({ alg });
  });

  it.each([
    { name: 'RSA', pair: RSA, alg: 'RS256' },
    { name: 'EC P-384', pair: EC_384, alg: 'ES384' },
    { name: 'Ed25519', pair: ED, alg: 'EdDSA' },
  ])('an $name KeyObject signs with $alg, without kid', async ({ pair, alg }) => {
    const { header } = await assertion(pair.privateKey, pair.publicKey);
    expect(header).toEqual({ alg });
  });

  it('an empty kid is left out of the header', async () => {
    const { header } = await assertion(jwkOf(EC_256.privateKey, { kid: '' }), EC_256.publicKey);
    expect(header).toEqual({ alg: 'ES256' });
  });

  it('the key is imported once: later changes to the JWK object are not seen', async () => {
    const jwk = jwkOf(EC_256.privateKey, { kid: 'first' });
    const auth = new PrivateKeyJwt('rs-client', jwk, ISSUER, clock);
    await applied(auth);
    (jwk as { kid?: string }).kid = 'second';
    const { body } = await applied(auth);
    expect(decodeProtectedHeader(body.client_assertion!)).toEqual({ alg: 'ES256', kid: 'first' });
  });

  it('a key of an unsupported type is an outage of this API, naming neither the key nor its secret', async () => {
    const secret = 'c2VjcmV0LXN5bW1ldHJpYy1rZXktbWF0ZXJpYWw';
    const auth = new PrivateKeyJwt('rs-client', { kty: 'oct', k: secret } as JWK, ISSUER, clock);
    const error = await applied(auth).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    const unavailable = error as IssuerUnavailableError;
    expect(unavailable.code).toBe('issuer_unavailable');
    expect(unavailable.message).toBe('Introspection: the private_key_jwt key cannot be used');
    expect(unavailable.cause).toBeInstanceOf(IssuerUnavailableError);
    expect((unavailable.cause as Error).message).toBe(
      'Introspection: the private_key_jwt key type is not supported',
    );
    expect(JSON.stringify(unavailable.toJSON())).not.toContain(secret);
    expect(unavailable.message + String(unavailable.cause)).not.toContain(secret);
  });

  it('a key that cannot be imported is not remembered: the next call tries again', async () => {
    const jwk = jwkOf(EC_256.privateKey);
    const d = jwk.d as string;
    delete (jwk as { d?: string }).d; // a public key: cannot sign
    const auth = new PrivateKeyJwt('rs-client', jwk, ISSUER, clock);
    const error = await applied(auth).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IssuerUnavailableError);
    expect((error as Error).message).toBe('Introspection: the private_key_jwt key cannot be used');
    (jwk as { d?: string }).d = d; // the set-up is fixed
    const { body } = await applied(auth);
    const { payload } = await compactVerify(body.client_assertion!, EC_256.publicKey);
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ iss: 'rs-client' });
  });
});

describe('clientAuthentication', () => {
  const settings = { clientId: 'rs', allowUntypedResponses: false } as const;

  it('client_secret_basic gives the Basic header', async () => {
    const auth = clientAuthentication(
      { ...settings, authMethod: 'client_secret_basic', clientSecret: 's' },
      ISSUER,
      clock,
    );
    expect(auth).toBeInstanceOf(ClientSecretBasic);
    expect((await applied(auth)).headers.authorization).toBe(
      `Basic ${Buffer.from('rs:s').toString('base64')}`,
    );
  });

  it('client_secret_post gives the form members', async () => {
    const auth = clientAuthentication(
      { ...settings, authMethod: 'client_secret_post', clientSecret: 's' },
      ISSUER,
      clock,
    );
    expect(auth).toBeInstanceOf(ClientSecretPost);
    expect((await applied(auth)).body).toEqual({ token: 't', client_id: 'rs', client_secret: 's' });
  });

  it('without a secret (the option checks never allow it) the secret is empty, not "undefined"', async () => {
    const basic = clientAuthentication(
      { ...settings, authMethod: 'client_secret_basic' },
      ISSUER,
      clock,
    );
    expect((await applied(basic)).headers.authorization).toBe(
      `Basic ${Buffer.from('rs:').toString('base64')}`,
    );
    const post = clientAuthentication(
      { ...settings, authMethod: 'client_secret_post' },
      ISSUER,
      clock,
    );
    expect((await applied(post)).body.client_secret).toBe('');
  });

  it('private_key_jwt signs for the issuer with the injected clock', async () => {
    const auth = clientAuthentication(
      { ...settings, authMethod: 'private_key_jwt', privateKey: RSA.privateKey },
      ISSUER,
      clock,
    );
    expect(auth).toBeInstanceOf(PrivateKeyJwt);
    const { body } = await applied(auth);
    const { payload } = await compactVerify(body.client_assertion!, RSA.publicKey);
    const claims = JSON.parse(new TextDecoder().decode(payload));
    expect({ aud: claims.aud, iss: claims.iss, iat: claims.iat }).toEqual({
      aud: ISSUER,
      iss: 'rs',
      iat: 1_750_000_000,
    });
  });
});
