/**
 * One test per security check that a later check would otherwise hide: each token here is valid
 * except for the one property under test, so the refusal (and its `reason`) comes from that
 * check alone. The AS is the real oidc-provider fixture, publishing keys of every supported
 * algorithm, keys without `alg`, and two RSA keys that both fit RS256.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { JWK } from 'jose';
import {
  TokenValidationService,
  type AuthenticatedPrincipal,
  type Clock,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import { DEFAULT_ALGORITHMS, SUPPORTED_ALGORITHMS } from '../../lib/oidc-resource.constants.js';
import {
  API,
  OTHER_API,
  generateSigningKeys,
  startAuthorizationServer,
  type AuthorizationServer,
  type SigningJwk,
} from '../fixtures/authorization-server.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import { forgeByHand } from '../fixtures/tokens.js';
import { generateKeyPairSync } from '../../lib/testing/key-pair.js';

/** A private signing JWK of any kind, as oidc-provider takes it (`alg`/`use` optional). */
function privateJwk(
  pair: crypto.KeyObject,
  kid: string,
  extra: Record<string, unknown> = {},
): SigningJwk {
  return { ...(pair.export({ format: 'jwk' }) as JWK), kid, ...extra } as SigningJwk;
}

const gen = {
  rsa: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ec: (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey,
  ed25519: () => generateKeyPairSync('ed25519').privateKey,
};

const EXTRA = {
  /** RSA, no `alg` (legal, RFC 7517 §4.4): fits every RS* and PS* algorithm. */
  rsaNoAlg: privateJwk(gen.rsa(), 'x-rsa-noalg', { use: 'sig' }),
  ps256: privateJwk(gen.rsa(), 'x-ps256', { use: 'sig', alg: 'PS256' }),
  es384: privateJwk(gen.ec('P-384'), 'x-es384', { use: 'sig', alg: 'ES384' }),
  es512: privateJwk(gen.ec('P-521'), 'x-es512', { use: 'sig', alg: 'ES512' }),
  /** No `alg`. */
  eddsa: privateJwk(gen.ed25519(), 'x-eddsa'),
};

let as: AuthorizationServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  as = await startAuthorizationServer({
    keys: [...generateSigningKeys('k1'), ...Object.values(EXTRA)],
  });
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await as?.close();
});

type Options = Partial<OidcResourceModuleOptions>;

function build(
  options: Options = {},
  clock?: Clock,
  target: AuthorizationServer = as,
): Promise<TokenValidationService> {
  return buildValidationService(
    modules,
    { issuer: target.issuer, audience: API, ...options } as OidcResourceModuleOptions,
    clock,
  );
}

/** Refused as an invalid token by exactly this rule. */
async function expectRefused(
  service: TokenValidationService,
  token: string,
  reason: string,
  claim?: string,
): Promise<void> {
  const error = await rejection(service.validate(token));
  expect({ code: error.code, reason: error.reason, claim: error.claim }).toEqual({
    code: 'invalid_token',
    reason,
    claim,
  });
}

/** Accepted, with the principal of the forged defaults (alice via web-app, api:read). */
async function expectAccepted(
  service: TokenValidationService,
  token: string,
  audience: string[] = [API],
): Promise<AuthenticatedPrincipal> {
  const principal = await service.validate(token);
  expect(principal).toMatchObject({
    sub: 'alice',
    clientId: 'web-app',
    scopes: ['api:read'],
    issuer: as.issuer,
    audience,
    source: 'jwt',
  });
  return principal;
}

/** A token signed with `key` as `alg`, kid `key.kid` unless the header says otherwise. */
function signedWith(
  key: SigningJwk,
  alg: string,
  options: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {},
): string {
  return forgeByHand(as, {
    key,
    alg,
    header: { alg, kid: key.kid, ...options.header },
    ...(options.claims ? { claims: options.claims } : {}),
  });
}

describe('the AS publishes the keys as configured', () => {
  it('serves the keys without alg as they are (oidc-provider adds use: sig)', async () => {
    const res = await fetch(as.url('/jwks'));
    const { keys } = (await res.json()) as { keys: JWK[] };
    const byKid = new Map(keys.map((k) => [k.kid, k]));
    expect(byKid.get('x-rsa-noalg')).toMatchObject({ kty: 'RSA', use: 'sig' });
    expect(byKid.get('x-rsa-noalg')?.alg).toBeUndefined();
    expect(byKid.get('x-eddsa')).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(byKid.get('x-eddsa')?.alg).toBeUndefined();
  });
});

describe('the algorithms allow-list decides on its own (a key without alg)', () => {
  it('refuses RS384 when only RS256 is allowed, though the key and signature fit', async () => {
    const token = signedWith(EXTRA.rsaNoAlg, 'RS384');
    await expectRefused(await build({ algorithms: ['RS256'] }), token, 'alg_not_allowed');
    // Control: the same token with RS384 allowed.
    await expectAccepted(await build({ algorithms: ['RS256', 'RS384'] }), token);
  });
});

describe('every supported algorithm, end to end', () => {
  let all: TokenValidationService;
  beforeAll(async () => {
    all = await build({ algorithms: [...SUPPORTED_ALGORITHMS] });
  });

  it.each(['RS384', 'RS512', 'PS256', 'PS384', 'PS512'])(
    '%s with an RSA key without alg',
    async (alg) => {
      await expectAccepted(all, signedWith(EXTRA.rsaNoAlg, alg));
    },
  );

  it.each([
    ['ES384', EXTRA.es384],
    ['ES512', EXTRA.es512],
    ['EdDSA', EXTRA.eddsa],
    ['Ed25519', EXTRA.eddsa],
    ['PS256', EXTRA.ps256],
  ] as const)('%s with its own key', async (alg, key) => {
    await expectAccepted(all, signedWith(key, alg));
  });

  it('PS256 and EdDSA pass with the default algorithms', async () => {
    const defaults = await build();
    expect([...DEFAULT_ALGORITHMS]).toEqual(expect.arrayContaining(['PS256', 'EdDSA']));
    await expectAccepted(defaults, signedWith(EXTRA.ps256, 'PS256'));
    await expectAccepted(defaults, signedWith(EXTRA.eddsa, 'EdDSA'));
  });

  it('a key labelled for one algorithm never verifies another', async () => {
    // The PS256 key with RS256 (same kty, other alg): key selection refuses it.
    await expectRefused(all, signedWith(EXTRA.ps256, 'RS256'), 'kid_unknown');
    await expectRefused(all, signedWith(EXTRA.es384, 'ES512'), 'kid_unknown');
  });
});

describe('JWKS key selection', () => {
  it('without kid, two keys that fit are ambiguous, whichever of them signed', async () => {
    const service = await build();
    const rs256 = as.keys.find((k) => k.kid === 'k1-rs256')!;
    for (const key of [rs256, EXTRA.rsaNoAlg])
      await expectRefused(
        service,
        signedWith(key, 'RS256', { header: { kid: undefined } }),
        'kid_ambiguous',
      );
  });

  it('without kid, the one key that fits is used', async () => {
    const service = await build({ algorithms: [...SUPPORTED_ALGORITHMS] });
    await expectAccepted(service, signedWith(EXTRA.es384, 'ES384', { header: { kid: undefined } }));
    await expectAccepted(service, signedWith(EXTRA.eddsa, 'EdDSA', { header: { kid: undefined } }));
  });

  it('a kid that names a key of another type is not a match', async () => {
    const service = await build({ algorithms: [...SUPPORTED_ALGORITHMS] });
    await expectRefused(
      service,
      signedWith(EXTRA.es384, 'ES384', { header: { kid: EXTRA.es512.kid } }),
      'kid_unknown',
    );
  });
});

describe('JWK members oidc-provider never publishes (a JWKS served by the fault server)', () => {
  let fault: FaultServer;
  beforeAll(async () => {
    fault = await startFaultServer();
  });
  afterAll(async () => {
    await fault?.close();
  });

  /** The AS's public keys, the k1-rs256 key changed by `change` (`undefined` removes a member). */
  async function serviceWith(change: Record<string, unknown>): Promise<TokenValidationService> {
    const keys = as.jwks.keys.map((k) => {
      if (k.kid !== 'k1-rs256') return k;
      const out: Record<string, unknown> = { ...k, ...change };
      for (const [name, value] of Object.entries(out)) if (value === undefined) delete out[name];
      return out;
    });
    const path = `/keys-${Math.random().toString(36).slice(2)}`;
    fault.route(path, faults.json({ keys }));
    return build({ jwksUri: fault.url(path) });
  }
  const token = () =>
    signedWith(
      as.keys.find((k) => k.kid === 'k1-rs256')!,
      'RS256',
    );

  it('a key without use or alg verifies', async () => {
    await expectAccepted(await serviceWith({ use: undefined, alg: undefined }), token());
  });

  it('a key whose key_ops include verify verifies', async () => {
    await expectAccepted(await serviceWith({ key_ops: ['verify'] }), token());
  });

  it('a key whose key_ops leave out verify, or meant for encryption, is not a match', async () => {
    await expectRefused(await serviceWith({ key_ops: ['sign'] }), token(), 'kid_unknown');
    await expectRefused(await serviceWith({ use: 'enc' }), token(), 'kid_unknown');
  });
});

describe('lenient mode (requireJwtAccessTokenType: false) keeps its required claims', () => {
  let lenient: TokenValidationService;
  beforeAll(async () => {
    lenient = await build({ requireJwtAccessTokenType: false });
  });
  const rs256 = () => as.keys.find((k) => k.kid === 'k1-rs256')!;

  it('control: a plain JWT-typed token passes', async () => {
    await expectAccepted(lenient, signedWith(rs256(), 'RS256', { header: { typ: 'JWT' } }));
  });

  it.each(['exp', 'iss', 'aud'])('refuses a token without %s', async (claim) => {
    const token = signedWith(rs256(), 'RS256', {
      header: { typ: 'JWT' },
      claims: { [claim]: undefined },
    });
    await expectRefused(lenient, token, 'claim_missing', claim);
  });

  it('refuses a non-string typ header as malformed', async () => {
    for (const typ of [42, null, ['JWT'], { jwt: true }])
      await expectRefused(lenient, signedWith(rs256(), 'RS256', { header: { typ } }), 'malformed');
  });
});

describe('audience: false', () => {
  it('accepts any well-formed aud, refuses a malformed one', async () => {
    const service = await build({ audience: false } as Options);
    const rs256 = as.keys.find((k) => k.kid === 'k1-rs256')!;
    await expectAccepted(service, signedWith(rs256, 'RS256', { claims: { aud: OTHER_API } }), [
      OTHER_API,
    ]);
    for (const aud of [42, [API, 7], { a: API }])
      await expectRefused(
        service,
        signedWith(rs256, 'RS256', { claims: { aud } }),
        'claim_malformed',
        'aud',
      );
  });
});
