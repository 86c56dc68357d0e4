/**
 * Checks around the token cache, each pinned on its own: the shape check of entries read back
 * from a shared store, negative caching of forged and expired JWTs, and clock tolerance on
 * introspection answers. Real oidc-provider AS; the shared store is an in-process Keyv, written
 * to directly as another writer (or corruption) could.
 */
import 'reflect-metadata';
import { randomUUID, type JsonWebKey } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import {
  TokenValidationService,
  type Clock,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  CLIENTS,
  RS_CLIENT,
  generateSigningKeys,
  startAuthorizationServer,
  type AuthorizationServer,
  type SigningJwk,
} from '../fixtures/authorization-server.js';
import { buildValidationService, rejection } from '../fixtures/validation.js';
import { attackerKeys, forgeAccessToken, forgeByHand } from '../fixtures/tokens.js';

let as: AuthorizationServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  as = await startAuthorizationServer();
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await as?.close();
});

type Options = Partial<OidcResourceModuleOptions>;

/** A movable clock for OIDC_RESOURCE_CLOCK: real time plus an offset in ms. */
function movableClock(): Clock & { set(offset: number): void } {
  let offset = 0;
  const clock = (() => Date.now() + offset) as Clock & { set(offset: number): void };
  clock.set = (ms: number) => {
    offset = ms;
  };
  return clock;
}

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

async function expectReason(
  service: TokenValidationService,
  token: string,
  code: string,
  reason: string | undefined,
): Promise<void> {
  const error = await rejection(service.validate(token));
  expect({ code: error.code, reason: error.reason }).toEqual({ code, reason });
}

// ---------------------------------------------------------------------------

describe('entries read back from a shared store are checked', () => {
  /**
   * Without introspection, an opaque token is refused (`introspection_not_configured`): a
   * shared-store entry under its key that the check lets through would decide instead.
   */
  async function afterPlanting(entry: unknown): Promise<Promise<unknown>> {
    const shared = new Keyv();
    const options = { cache: { stores: [shared] } } as Options;
    const token = `opaque-${randomUUID()}`;
    const writer = await build(options);
    await expectReason(writer, token, 'invalid_token', 'introspection_not_configured');
    const keys = [...(shared.store as Map<string, unknown>).keys()];
    expect(keys).toHaveLength(1);
    const key = keys[0]!.slice(`${shared.namespace}:`.length);
    await shared.set(key, { until: Date.now() + 60_000, value: entry });
    const reader = await build(options);
    return reader.validate(token);
  }

  /** The planted entry is ignored: the token gets its own (uncached) verdict. */
  async function expectMiss(entry: unknown): Promise<void> {
    const error = await rejection(afterPlanting(entry));
    expect({ code: error.code, reason: error.reason }).toEqual({
      code: 'invalid_token',
      reason: 'introspection_not_configured',
    });
  }

  const principal = () => ({
    issuer: as.issuer,
    source: 'introspection',
    sub: 'mallory',
    clientId: 'planted',
    scopes: ['admin'],
    roles: ['root'],
    audience: [API],
    claims: { sub: 'mallory' },
    exp: Date.now() + 60_000,
  });

  it('control: a well-formed planted entry is served (so the refusals below are the check)', async () => {
    await expect(afterPlanting({ ok: true, principal: principal() })).resolves.toMatchObject({
      sub: 'mallory',
      clientId: 'planted',
      scopes: ['admin'],
      roles: ['root'],
      issuer: as.issuer,
      audience: [API],
      source: 'introspection',
    });
    const refusal = await rejection(
      afterPlanting({
        ok: false,
        code: 'token_inactive',
        message: 'planted',
        reason: 'kid_unknown',
      }),
    );
    expect({ code: refusal.code, reason: refusal.reason }).toEqual({
      code: 'token_inactive',
      reason: 'kid_unknown',
    });
  });

  const positive: [string, Record<string, unknown>][] = [
    ['another issuer', { issuer: 'http://127.0.0.1:1' }],
    ['another source', { source: 'userinfo' }],
    ['a scope that is not a string', { scopes: ['admin', 1] }],
    ['scopes that are not an array', { scopes: 'admin' }],
    ['a role that is not a string', { roles: [{}] }],
    ['an audience member that is not a string', { audience: [API, 7] }],
    ['claims that are null', { claims: null }],
    ['claims that are not an object', { claims: 'sub' }],
    ['an exp that is not a number', { exp: String(Date.now() + 60_000) }],
    ['a sub that is not a string', { sub: 42 }],
    ['a clientId that is not a string', { clientId: ['planted'] }],
  ];

  it.each(positive)('a principal with %s is a miss', async (_name, change) => {
    await expectMiss({ ok: true, principal: { ...principal(), ...change } });
  });

  it.each([
    ['a null principal', { ok: true, principal: null }],
    ['a principal that is not an object', { ok: true, principal: 'mallory' }],
    ['ok that is not a boolean', () => ({ ok: 'true', principal: principal() })],
    ['an unknown code', { ok: false, code: 'issuer_unavailable', message: 'x' }],
    ['a message that is not a string', { ok: false, code: 'invalid_token', message: 1 }],
    ['an unknown reason', { ok: false, code: 'invalid_token', message: 'x', reason: 'planted' }],
    ['a claim that is not a string', { ok: false, code: 'invalid_token', message: 'x', claim: 1 }],
    ['null', null],
  ])('an entry with %s is a miss, not a 500', async (_name, entry) => {
    await expectMiss(typeof entry === 'function' ? (entry as () => unknown)() : entry);
  });
});

// ---------------------------------------------------------------------------

describe('negative caching of JWTs', () => {
  it('an expired JWT stays refused from the cache when the clock is set back', async () => {
    const clock = movableClock();
    const service = await build({}, clock);
    const token = await forgeAccessToken(as, {
      claims: { iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 },
    });
    clock.set(120_000);
    await expectReason(service, token, 'token_expired', 'expired');
    clock.set(0);
    await expectReason(service, token, 'token_expired', 'expired');
    // Control: the token itself is valid at this time.
    await expect((await build({}, clock)).validate(token)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('a forged JWT stays refused from the cache after its signature would verify', async () => {
    // A dedicated AS whose key "swap" is later replaced by the forger's key.
    const own = await startAuthorizationServer();
    try {
      const keys = generateSigningKeys('s1');
      const jwk = (key: JsonWebKey): SigningJwk =>
        ({ ...key, kid: 'swap', alg: 'RS256', use: 'sig' }) as SigningJwk;
      const genuine = generateSigningKeys('g')[0]!;
      await own.rotateKeys([...keys, jwk(genuine)]);
      const forger = attackerKeys().rsa.privateKey;
      const token = forgeByHand(own, {
        key: forger,
        header: { alg: 'RS256', kid: 'swap' },
        claims: { exp: Math.floor(Date.now() / 1000) + 7200 },
      });
      const clock = movableClock();
      const options = { cache: { negativeTtl: 3_600_000 } } as Options;
      const service = await build(options, clock, own);
      await expectReason(service, token, 'invalid_token', 'signature_invalid');

      await own.rotateKeys([...keys, jwk(forger.export({ format: 'jwk' }))]);
      clock.set(11 * 60_000); // past the JWKS's maximum age: the new key would be fetched
      await expectReason(service, token, 'invalid_token', 'signature_invalid');
      // Control: uncached, the token now verifies.
      await expect((await build(options, clock, own)).validate(token)).resolves.toMatchObject({
        sub: 'alice',
        issuer: own.issuer,
      });
    } finally {
      await own.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe('introspection answers: clock tolerance on exp', () => {
  const introspection = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

  it('accepts an exp just past inside the tolerance, refuses it without tolerance', async () => {
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id, scope: 'api:read' });
    const answer = (await as.introspect(token)) as { exp: number };
    const clock = movableClock();
    clock.set(answer.exp * 1000 + 5_000 - Date.now());
    const tolerant = await build({ introspection, clockTolerance: 30 }, clock);
    await expect(tolerant.validate(token)).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      scopes: ['api:read'],
      source: 'introspection',
    });
    const strict = await build({ introspection, clockTolerance: 0 }, clock);
    await expectReason(strict, token, 'token_expired', 'expired');
  });
});
