/**
 * TokenValidationService against the real oidc-provider fixture (issue 3):
 * discovery, JWT access tokens (RFC 9068 / RFC 8725), key rotation, RFC 7662
 * introspection, hostile and malformed input. Service level: each test builds
 * the real module with `Test.createTestingModule` and calls `validate()`.
 * The fault server stands in only for answers a real AS never gives.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  OIDC_ERROR_STATUS,
  OIDC_RESOURCE_CLOCK,
  OidcResourceError,
  OidcResourceModule,
  TokenValidationService,
  type AuthenticatedPrincipal,
  type Clock,
  type OidcResourceErrorCode,
  type OidcResourceErrorReason,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  CLIENTS,
  OTHER_API,
  RS_CLIENT,
  RS_CLIENT_POST,
  generateSigningKeys,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { rejection } from '../fixtures/validation.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import {
  algNoneToken,
  asSigningKey,
  attackerKeys,
  corruptSignature,
  critHeaderToken,
  decodeJws,
  embeddedJwkToken,
  expiredToken,
  forgeAccessToken,
  forgeByHand,
  foreignKeyToken,
  hs256ConfusionToken,
  idToken,
  jweShapedToken,
  oversizedToken,
  signByHand,
  tamperToken,
  unknownKidToken,
  wrongAudienceToken,
  wrongIssuerToken,
  type ConfusionSecret,
  type ForgeTarget,
} from '../fixtures/tokens.js';

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

let as: AuthorizationServer;
let fault: FaultServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  // The JWKS/metadata services warn when a refresh fails; that is expected here.
  Logger.overrideLogger(false);
  [as, fault] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await Promise.all([as?.close(), fault?.close()]);
});

beforeEach(() => {
  fault.clearRoutes();
  fault.resetHits();
});

type Options = Partial<OidcResourceModuleOptions>;

/** A movable clock for OIDC_RESOURCE_CLOCK: real time plus `offset` ms. */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  const clock = (() => Date.now() + offset) as Clock & { advance(ms: number): void };
  clock.advance = (ms: number) => {
    offset += ms;
  };
  return clock;
}

/** The real module, built the way an app imports it; returns its TokenValidationService. */
async function build(options: Options = {}, clock?: Clock): Promise<TokenValidationService> {
  let builder = Test.createTestingModule({
    imports: [
      OidcResourceModule.forRoot({
        issuer: as.issuer,
        audience: API,
        ...options,
      } as OidcResourceModuleOptions),
    ],
  });
  if (clock) builder = builder.overrideProvider(OIDC_RESOURCE_CLOCK).useValue(clock);
  const moduleRef = await builder.compile();
  modules.push(moduleRef);
  return moduleRef.get(TokenValidationService);
}

const introspectionBasic = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

/**
 * Asserts `validate(token)` fails with `code` (and the status API.md gives it) and, when given, by
 * the rule `reason` names, without echoing the token.
 */
async function expectCode(
  service: TokenValidationService,
  token: string,
  code: OidcResourceErrorCode,
  reason?: OidcResourceErrorReason,
): Promise<OidcResourceError> {
  const error = await rejection(service.validate(token));
  // Which rule refused, not only that something did: a later check could hide a missing one.
  if (reason !== undefined) expect(error.reason).toBe(reason);
  expect({ code: error.code, status: error.status, message: error.message }).toEqual({
    code,
    status: OIDC_ERROR_STATUS[code],
    message: expect.any(String),
  });
  if (token.length >= 8) {
    expect(error.message).not.toContain(token);
    expect(JSON.stringify(error)).not.toContain(token);
  }
  return error;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const randomOpaque = (): string => crypto.randomBytes(32).toString('base64url');
const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

describe('discovery', () => {
  it('uses {issuer}/.well-known/openid-configuration of the real AS, once', async () => {
    const service = await build();
    const token = await as.clientCredentials({ clientId: CLIENTS.ccJwt.id });
    as.resetHits();
    await expect(service.validate(token)).resolves.toMatchObject({ source: 'jwt' });
    expect(as.hits.get('GET /.well-known/openid-configuration')).toBe(1);
    expect(as.hits.get('/.well-known/oauth-authorization-server')).toBe(0);
    expect(as.hits.get('GET /jwks')).toBe(1);
    // A second token reuses metadata and keys.
    await service.validate(
      await as.clientCredentials({ clientId: CLIENTS.ccJwt.id, scope: 'api:write' }),
    );
    expect(as.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(as.hits.get('GET /jwks')).toBe(1);
  });

  it('falls back to RFC 8414 with path insertion for an issuer with a path', async () => {
    const issuer = fault.url('/tenants/acme');
    fault.route(
      '/.well-known/oauth-authorization-server/tenants/acme',
      faults.json(fault.discoveryDocument({ issuer, metadata: { jwks_uri: as.url('/jwks') } })),
    );
    const target: ForgeTarget = { issuer, keys: as.keys };
    const service = await build({ issuer });
    const principal = await service.validate(await forgeAccessToken(target));
    expect(principal.issuer).toBe(issuer);
    expect(principal.sub).toBe('alice');
    // openid-configuration was tried first (404), then the RFC 8414 location.
    expect(fault.hits.get('GET /tenants/acme/.well-known/openid-configuration')).toBe(1);
    expect(fault.hits.get('GET /.well-known/oauth-authorization-server/tenants/acme')).toBe(1);
    expect(fault.hits.get('/.well-known/oauth-authorization-server')).toBe(0);
  });

  it('falls back to RFC 8414 when openid-configuration is not JSON (issuer without a path)', async () => {
    fault.route('/.well-known/openid-configuration', faults.text('not json', 'application/json'));
    fault.route(
      '/.well-known/oauth-authorization-server',
      faults.json(fault.discoveryDocument({ metadata: { jwks_uri: as.url('/jwks') } })),
    );
    const service = await build({ issuer: fault.origin });
    await expect(
      service.validate(await forgeAccessToken({ issuer: fault.origin, keys: as.keys })),
    ).resolves.toMatchObject({
      issuer: fault.origin,
    });
    expect(fault.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(fault.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
  });

  it('neither well-known document → issuer_unavailable', async () => {
    const service = await build({ issuer: fault.url('/nothing') });
    await expectCode(
      service,
      await forgeAccessToken({ issuer: fault.url('/nothing'), keys: as.keys }),
      'issuer_unavailable',
    );
  });

  it('configured issuer with a trailing slash ≠ the AS issuer → issuer_unavailable, never invalid_token', async () => {
    const service = await build({ issuer: `${as.issuer}/`, introspection: introspectionBasic });
    const jwt = await as.clientCredentials({ clientId: CLIENTS.ccJwt.id });
    await expectCode(service, jwt, 'issuer_unavailable');
    // Even a JWT whose iss matches the (wrong) configured issuer is not accepted: the metadata is unusable.
    await expectCode(
      service,
      await forgeAccessToken({ issuer: `${as.issuer}/`, keys: as.keys }),
      'issuer_unavailable',
    );
    const opaque = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expectCode(service, opaque, 'issuer_unavailable');
    expect(as.hits.get('/token/introspection')).toBe(0);
  });

  it('a metadata document naming another issuer → issuer_unavailable, and its keys are never fetched', async () => {
    fault.serveDiscovery({
      issuer: 'https://idp.evil.test',
      metadata: { jwks_uri: fault.url('/jwks') },
    });
    fault.route('/jwks', faults.json(as.jwks));
    const service = await build({ issuer: fault.origin });
    await expectCode(
      service,
      await forgeAccessToken({ issuer: fault.origin, keys: as.keys }),
      'issuer_unavailable',
    );
    expect(fault.hits.get('/jwks')).toBe(0);
  });

  it('is lazy: the module builds while the AS is down; the failure is not cached', async () => {
    const token = await as.clientCredentials({ clientId: CLIENTS.ccJwt.id });
    await as.stop();
    const clock = movableClock();
    let service: TokenValidationService;
    try {
      service = await build({}, clock);
      const error = await expectCode(service, token, 'issuer_unavailable');
      expect(error.status).toBe(503);
      // Still down: a second try fails the same way (and does not turn into invalid_token).
      await expectCode(service, token, 'issuer_unavailable');
    } finally {
      await as.start();
    }
    clock.advance(2_000); // past the failure cooldown (1–2 s), during which discovery is not retried
    as.resetHits();
    await expect(service.validate(token)).resolves.toMatchObject({
      clientId: 'cc-jwt',
      source: 'jwt',
    });
    expect(as.hits.get('/.well-known/openid-configuration')).toBe(1);
  });

  it('jwksUri override skips discovery', async () => {
    const service = await build({ jwksUri: as.url('/jwks') });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccJwt.id });
    as.resetHits();
    await expect(service.validate(token)).resolves.toMatchObject({ source: 'jwt' });
    expect(as.hits.get('/.well-known/openid-configuration')).toBe(0);
    expect(as.hits.get('/.well-known/oauth-authorization-server')).toBe(0);
    expect(as.hits.get('GET /jwks')).toBe(1);
  });

  it('jwksUri override is used instead of the discovered jwks_uri', async () => {
    fault.route('/keys', faults.json(as.jwks));
    const service = await build({ jwksUri: fault.url('/keys') });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccJwt.id });
    as.resetHits();
    await service.validate(token);
    expect(fault.hits.get('GET /keys')).toBe(1);
    expect(as.hits.total).toBe(0);
  });

  it('introspection.endpoint override skips discovery', async () => {
    const service = await build({
      introspection: { ...introspectionBasic, endpoint: as.url('/token/introspection') },
    });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expect(service.validate(token)).resolves.toMatchObject({ source: 'introspection' });
    expect(as.hits.get('/.well-known/openid-configuration')).toBe(0);
    expect(as.hits.get('/.well-known/oauth-authorization-server')).toBe(0);
    expect(as.hits.get('POST /token/introspection')).toBe(1);
    expect(as.hits.total).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// JWT access tokens
// ---------------------------------------------------------------------------

describe('JWT access tokens', () => {
  let service: TokenValidationService;
  beforeAll(async () => {
    service = await build({ introspection: introspectionBasic });
  });

  it('a real cc-jwt token → principal', async () => {
    const token = await as.clientCredentials({
      clientId: CLIENTS.ccJwt.id,
      scope: 'api:read api:write',
    });
    const { header, payload } = decodeJws(token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: 'k1-rs256' });
    as.resetHits();
    const principal = await service.validate(token);
    expect(principal).toEqual({
      sub: 'cc-jwt',
      clientId: 'cc-jwt',
      scopes: ['api:read', 'api:write'],
      roles: [],
      issuer: as.issuer,
      audience: [API],
      expiresAt: new Date((payload.exp as number) * 1000),
      claims: payload,
      source: 'jwt',
    } satisfies AuthenticatedPrincipal);
    expect(principal.expiresAt).toBeInstanceOf(Date);
    expect(JSON.stringify(principal)).not.toContain(token);
    expect(Object.values(principal)).not.toContain(token);
    // JWTs are never sent to introspection.
    expect(as.hits.get('/token/introspection')).toBe(0);
  });

  it('user-bound AS token (azp-less, client_id) and an ES256 token by the AS EC key are accepted', async () => {
    const minted = await as.mintAccessToken({ scope: 'api:read admin' });
    await expect(service.validate(minted)).resolves.toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      scopes: ['api:read', 'admin'],
    });
    const es = await forgeAccessToken(as, {
      key: asSigningKey(as, 'ES256'),
      header: { kid: asSigningKey(as, 'ES256').kid },
    });
    expect(decodeJws(es).header.alg).toBe('ES256');
    await expect(service.validate(es)).resolves.toMatchObject({ sub: 'alice', source: 'jwt' });
  });

  it('scp (array) is read when scope is absent; clientId falls back to azp (relaxed typing only)', async () => {
    await expect(
      service.validate(
        await forgeAccessToken(as, { claims: { scope: undefined, scp: ['a', 'b'] } }),
      ),
    ).resolves.toMatchObject({
      scopes: ['a', 'b'],
    });
    // client_id is REQUIRED by RFC 9068, so azp only matters with requireJwtAccessTokenType: false.
    const azp = await forgeAccessToken(as, { claims: { client_id: undefined, azp: 'the-azp' } });
    await expectCode(service, azp, 'invalid_token', 'claim_missing');
    const relaxed = await build({ requireJwtAccessTokenType: false });
    await expect(relaxed.validate(azp)).resolves.toMatchObject({ clientId: 'the-azp' });
  });

  describe('typ', () => {
    it.each(['at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/AT+JWT'])(
      'typ %s → accepted',
      async (typ) => {
        await expect(
          service.validate(await forgeAccessToken(as, { header: { typ } })),
        ).resolves.toMatchObject({ sub: 'alice' });
      },
    );
    it.each([undefined, 'JWT', 'jwt', 'dpop+jwt', 'token-introspection+jwt', 'logout+jwt', ''])(
      'typ %p → invalid_token',
      async (typ) => {
        await expectCode(
          service,
          await forgeAccessToken(as, { header: { typ } }),
          'invalid_token',
          'typ_not_accepted',
        );
      },
    );
  });

  it('ID tokens are rejected: aud = client, aud = API, no typ', async () => {
    await expectCode(service, await idToken(as), 'invalid_token', 'typ_not_accepted');
    await expectCode(
      service,
      await idToken(as, { claims: { aud: API } }),
      'invalid_token',
      'typ_not_accepted',
    );
    await expectCode(
      service,
      await idToken(as, { claims: { aud: API }, header: { typ: undefined } }),
      'invalid_token',
      'typ_not_accepted',
    );
    // Even with every RFC 9068 claim added, typ JWT keeps it out.
    await expectCode(
      service,
      await idToken(as, {
        claims: { aud: API, client_id: 'web-app', jti: crypto.randomUUID(), scope: 'api:read' },
      }),
      'invalid_token',
      'typ_not_accepted',
    );
  });

  describe('iss must match exactly', () => {
    it.each([
      ['trailing slash', (iss: string) => `${iss}/`],
      ['other host', () => 'http://127.0.0.1:1'],
      ['localhost instead of 127.0.0.1', (iss: string) => iss.replace('127.0.0.1', 'localhost')],
      ['https instead of http', (iss: string) => iss.replace('http:', 'https:')],
      ['array', (iss: string) => [iss]],
    ])('%s → invalid_token', async (_name, make) => {
      await expectCode(
        service,
        await wrongIssuerToken(as, make(as.issuer) as string),
        'invalid_token',
        'iss_mismatch',
      );
    });
    it('missing → invalid_token', async () => {
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { iss: undefined } }),
        'invalid_token',
        'claim_missing',
      );
    });
  });

  describe('aud', () => {
    it.each([
      ['other API', OTHER_API, 'aud_mismatch'],
      ['other API in an array', [OTHER_API], 'aud_mismatch'],
      ['a client id (web-app)', 'web-app', 'aud_mismatch'],
      ['API without trailing slash', API.replace(/\/$/, ''), 'aud_mismatch'],
      ['empty array', [], 'aud_mismatch'],
      ['number', 42, 'claim_malformed'],
    ] as Array<[string, unknown, OidcResourceErrorReason]>)(
      '%s → invalid_token (%s)',
      async (_name, aud, reason) => {
        await expectCode(service, await wrongAudienceToken(as, aud), 'invalid_token', reason);
      },
    );
    it('missing → invalid_token', async () => {
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { aud: undefined } }),
        'invalid_token',
        'claim_missing',
      );
    });
    it('a real AS token for another resource → invalid_token', async () => {
      await expectCode(
        service,
        await as.clientCredentials({ clientId: CLIENTS.ccJwt.id, resource: OTHER_API }),
        'invalid_token',
        'aud_mismatch',
      );
    });
    it('an array that contains the API → accepted, audience lists both', async () => {
      const principal = await service.validate(await wrongAudienceToken(as, [OTHER_API, API]));
      expect(principal.audience).toEqual([OTHER_API, API]);
    });
    it('any of several configured audiences is enough', async () => {
      const multi = await build({ audience: ['https://first.example.test/', OTHER_API] });
      await expect(
        multi.validate(await as.clientCredentials({ resource: OTHER_API })),
      ).resolves.toMatchObject({ audience: [OTHER_API] });
      await expectCode(multi, await as.clientCredentials(), 'invalid_token', 'aud_mismatch');
    });
  });

  describe('signature', () => {
    it('one flipped bit in a real token → invalid_token', async () => {
      const token = await as.clientCredentials();
      await expect(service.validate(token)).resolves.toMatchObject({
        audience: [API],
        source: 'jwt',
        issuer: as.issuer,
      });
      await expectCode(service, corruptSignature(token), 'invalid_token', 'signature_invalid');
    });
    it('one changed character of the signature segment → invalid_token', async () => {
      const token = await as.clientCredentials();
      const i = token.length - 10;
      const flipped = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
      await expectCode(service, flipped, 'invalid_token', 'signature_invalid');
    });
    it('payload altered (more scopes), original signature kept → invalid_token', async () => {
      const token = await as.clientCredentials();
      await expectCode(
        service,
        tamperToken(token, { claims: { scope: 'api:read api:write admin' } }),
        'invalid_token',
        'signature_invalid',
      );
    });
    it('header altered (kid kept, typ changed), original signature kept → invalid_token', async () => {
      const token = await as.clientCredentials();
      await expectCode(
        service,
        tamperToken(token, { header: { typ: 'application/at+jwt' } }),
        'invalid_token',
        'signature_invalid',
      );
    });
    it('signed by an attacker key with the AS kid → invalid_token', async () => {
      await expectCode(service, await foreignKeyToken(as), 'invalid_token', 'signature_invalid');
    });
    it('signature stripped → invalid_token', async () => {
      const token = await as.clientCredentials();
      await expectCode(
        service,
        token.slice(0, token.lastIndexOf('.') + 1),
        'invalid_token',
        'malformed',
      );
    });
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s → invalid_token', async (alg) => {
    await expectCode(service, algNoneToken(as, alg), 'invalid_token', 'alg_not_allowed');
    await expectCode(
      service,
      algNoneToken(as, alg, { header: { kid: asSigningKey(as).kid } }),
      'invalid_token',
      'alg_not_allowed',
    );
  });

  it.each(['spki-pem', 'pkcs1-pem', 'jwks-json', 'der', 'jwk-n'] satisfies ConfusionSecret[])(
    'HS256 keyed with the AS public key (%s) → invalid_token',
    async (kind) => {
      await expectCode(service, hs256ConfusionToken(as, kind), 'invalid_token', 'alg_not_allowed');
      await expectCode(
        service,
        hs256ConfusionToken(as, kind, { header: { alg: 'HS512' } }),
        'invalid_token',
        'alg_not_allowed',
      );
    },
  );

  it('PS256 signed with the key the JWKS labels RS256 → invalid_token', async () => {
    const token = await forgeAccessToken(as, { header: { alg: 'PS256' } });
    expect(decodeJws(token).header).toMatchObject({ alg: 'PS256', kid: 'k1-rs256' });
    await expectCode(service, token, 'invalid_token', 'kid_unknown');
  });

  it.each(['ES384', 'ES512', 'RS384', 'RS512'])(
    '%s (not in the allow-list) → invalid_token',
    async (alg) => {
      const ec = asSigningKey(as, 'ES256');
      const token = alg.startsWith('ES')
        ? forgeByHand(as, { key: ec, header: { alg, kid: ec.kid }, alg })
        : forgeByHand(as, { header: { alg }, alg });
      await expectCode(service, token, 'invalid_token', 'alg_not_allowed');
    },
  );

  describe('time claims', () => {
    it('exp in the past → token_expired', async () => {
      await expectCode(service, await expiredToken(as), 'token_expired');
      // Outside the 30 s tolerance, but only just.
      await expectCode(service, await expiredToken(as, 60), 'token_expired');
    });
    it('exp within clockTolerance → accepted', async () => {
      await expect(service.validate(await expiredToken(as, 5))).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
    });
    it('exp missing or a string → invalid_token', async () => {
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { exp: undefined } }),
        'invalid_token',
        'claim_missing',
      );
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { exp: '9999999999' } }),
        'invalid_token',
        'claim_malformed',
      );
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { exp: null } }),
        'invalid_token',
        'claim_malformed',
      );
    });
    it('nbf in the future → invalid_token; in the past → accepted', async () => {
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { nbf: nowSeconds() + 600 } }),
        'invalid_token',
        'not_yet_valid',
      );
      await expect(
        service.validate(await forgeAccessToken(as, { claims: { nbf: nowSeconds() - 10 } })),
      ).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
    });
    it('iat in the future → invalid_token; iat a few seconds ahead (tolerance) → accepted', async () => {
      const now = nowSeconds();
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { iat: now + 3600, exp: now + 3900 } }),
        'invalid_token',
        'iat_in_future',
      );
      await expect(
        service.validate(await forgeAccessToken(as, { claims: { iat: now + 10 } })),
      ).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { iat: 'yesterday' } }),
        'invalid_token',
        'claim_malformed',
      );
    });
    it('a real token with a 2 s lifetime is refused once the injected clock passes exp + tolerance', async () => {
      const clock = movableClock();
      const timed = await build({ clockTolerance: 0, cache: { ttl: 0 } }, clock);
      const token = await as.mintAccessToken({ expiresIn: 2 });
      await expect(timed.validate(token)).resolves.toMatchObject({
        sub: expect.any(String),
        audience: [API],
        source: 'jwt',
      });
      clock.advance(3000);
      await expectCode(timed, token, 'token_expired');
    });
  });

  it.each(['sub', 'client_id', 'iat', 'jti'])(
    'RFC 9068: %s missing → invalid_token',
    async (claim) => {
      await expectCode(
        service,
        await forgeAccessToken(as, { claims: { [claim]: undefined } }),
        'invalid_token',
        'claim_missing',
      );
    },
  );

  describe('requireJwtAccessTokenType: false', () => {
    let relaxed: TokenValidationService;
    beforeAll(async () => {
      relaxed = await build({ requireJwtAccessTokenType: false });
    });
    it('typ JWT with aud = API → accepted; typ absent → accepted', async () => {
      await expect(
        relaxed.validate(await forgeAccessToken(as, { header: { typ: 'JWT' } })),
      ).resolves.toMatchObject({ sub: 'alice' });
      await expect(
        relaxed.validate(await forgeAccessToken(as, { header: { typ: undefined } })),
      ).resolves.toMatchObject({ sub: 'alice' });
    });
    it('a token with nonce (an ID token) → invalid_token', async () => {
      await expectCode(
        relaxed,
        await forgeAccessToken(as, { header: { typ: 'JWT' }, claims: { nonce: 'n-0S6_WzA2Mj' } }),
        'invalid_token',
        'id_token',
      );
      await expectCode(
        relaxed,
        await idToken(as, { claims: { aud: API } }),
        'invalid_token',
        'id_token',
      );
      await expectCode(
        relaxed,
        await idToken(as, { claims: { aud: API }, header: { typ: undefined } }),
        'invalid_token',
        'id_token',
      );
    });
    it('other JWT kinds (dpop+jwt, logout+jwt) → invalid_token', async () => {
      await expectCode(
        relaxed,
        await forgeAccessToken(as, { header: { typ: 'dpop+jwt' } }),
        'invalid_token',
        'typ_not_accepted',
      );
      await expectCode(
        relaxed,
        await forgeAccessToken(as, { header: { typ: 'logout+jwt' } }),
        'invalid_token',
        'typ_not_accepted',
      );
    });
    it('aud is still checked', async () => {
      await expectCode(
        relaxed,
        await forgeAccessToken(as, { header: { typ: 'JWT' }, claims: { aud: 'web-app' } }),
        'invalid_token',
        'aud_mismatch',
      );
      await expectCode(
        relaxed,
        await forgeAccessToken(as, { header: { typ: 'JWT' }, claims: { aud: undefined } }),
        'invalid_token',
        'claim_missing',
      );
    });
  });

  it('unknown crit header → invalid_token', async () => {
    const token = critHeaderToken(as);
    expect(decodeJws(token).header).toMatchObject({ crit: ['urn:x'] });
    await expectCode(service, token, 'invalid_token', 'crit_not_supported');
    await expectCode(
      service,
      critHeaderToken(as, { b64: false }),
      'invalid_token',
      'crit_not_supported',
    );
  });

  it('embedded jwk / jku / x5u are ignored: refused, and the attacker URL gets 0 requests', async () => {
    const jku = fault.url('/attacker/jwks');
    fault.route('/attacker/jwks', faults.json({ keys: [attackerKeys().rsa.publicJwk] }));
    fault.route('/attacker/x5u', faults.text('-----BEGIN CERTIFICATE-----'));
    await expectCode(service, await embeddedJwkToken(as, jku), 'invalid_token', 'kid_unknown');
    await expectCode(
      service,
      await embeddedJwkToken(as, jku, { header: { kid: asSigningKey(as).kid } }),
      'invalid_token',
      'signature_invalid',
    );
    await expectCode(
      service,
      await embeddedJwkToken(as, jku, { header: { kid: undefined } }),
      'invalid_token',
      'signature_invalid',
    );
    await expectCode(
      service,
      await forgeAccessToken(as, {
        key: attackerKeys().rsa.privateKey,
        header: { kid: 'x5u-key', x5u: fault.url('/attacker/x5u') },
      }),
      'invalid_token',
      'kid_unknown',
    );
    expect(fault.hits.total).toBe(0);
  });

  it('a JWE-shaped token → invalid_token, not introspected', async () => {
    const token = await jweShapedToken(as);
    expect(token.split('.')).toHaveLength(5);
    as.resetHits();
    await expectCode(service, token, 'invalid_token', 'encrypted');
    expect(as.hits.get('/token/introspection')).toBe(0);
  });

  it('a.b.c.d → invalid_token without introspection; token_inactive at the AS with it', async () => {
    const jwtOnly = await build();
    await expectCode(jwtOnly, 'a.b.c.d', 'invalid_token', 'introspection_not_configured');
    await expectCode(
      jwtOnly,
      'aaaa.bbbb.cccc.dddd',
      'invalid_token',
      'introspection_not_configured',
    );
    await expectCode(service, 'aaaa.bbbb.cccc.dddd', 'token_inactive');
  });

  it('token longer than maxTokenLength → invalid_token before any fetch', async () => {
    const fresh = await build({ introspection: introspectionBasic });
    const big = await oversizedToken(as, 8193);
    expect(big.length).toBeGreaterThan(8192);
    as.resetHits();
    await expectCode(fresh, big, 'invalid_token', 'too_long');
    await expectCode(fresh, 'x'.repeat(8193), 'invalid_token', 'too_long');
    expect(as.hits.total).toBe(0);
    // Custom limit.
    const small = await build({ maxTokenLength: 64 });
    await expectCode(small, await as.clientCredentials(), 'invalid_token', 'too_long');
    expect(as.hits.get('/jwks')).toBe(0);
    expect(as.hits.get('/.well-known/openid-configuration')).toBe(0);
  });

  describe('weird kid values never cause a 500', () => {
    it.each([
      ['path traversal', '../../etc/passwd'],
      ['SQL', "' OR '1'='1"],
      ['CRLF', 'a\r\nb'],
      ['empty', ''],
      ['__proto__', '__proto__'],
    ])('%s → invalid_token', async (_name, kid) => {
      await expectCode(service, await unknownKidToken(as, kid), 'invalid_token', 'kid_unknown');
    });
    it('non-string kid → invalid_token', async () => {
      await expectCode(
        service,
        forgeByHand(as, { key: attackerKeys().rsa.privateKey, header: { kid: { $ne: 1 } } }),
        'invalid_token',
        'malformed',
      );
      await expectCode(
        service,
        forgeByHand(as, { header: { kid: 42 } }),
        'invalid_token',
        'malformed',
      );
    });
    it('10 KB kid → invalid_token (length limit, and with a raised limit the kid check)', async () => {
      const kid = 'k'.repeat(10 * 1024);
      await expectCode(service, await unknownKidToken(as, kid), 'invalid_token', 'too_long');
      const roomy = await build({ maxTokenLength: 65536 });
      await expectCode(roomy, await unknownKidToken(as, kid), 'invalid_token', 'malformed');
      await expectCode(roomy, forgeByHand(as, { header: { kid } }), 'invalid_token', 'malformed');
    });
  });
});

// ---------------------------------------------------------------------------
// Key rotation without restart
// ---------------------------------------------------------------------------

describe('key rotation without restart', () => {
  let rotating: AuthorizationServer;
  let service: TokenValidationService;
  const clock = movableClock();
  const k1 = generateSigningKeys('k1');
  const k2 = generateSigningKeys('k2');
  const jwksGets = (): number => rotating.hits.get('GET /jwks');

  beforeAll(async () => {
    rotating = await startAuthorizationServer({ keys: k1 });
    // No token cache: every validate() really verifies, so only the JWKS cache is under test.
    service = await build({ issuer: rotating.issuer, cache: { ttl: 0, negativeTtl: 0 } }, clock);
  });
  afterAll(async () => {
    await rotating?.close();
  });

  it('1. a k1 token validates; the JWKS is fetched once', async () => {
    const token = await rotating.clientCredentials();
    expect(decodeJws(token).header.kid).toBe('k1-rs256');
    await expect(service.validate(token)).resolves.toMatchObject({ sub: 'cc-jwt' });
    await service.validate(token);
    expect(jwksGets()).toBe(1);
  });

  it('2. after rotateKeys([...k2, ...k1]) a k2 token is valid on first use, with exactly one extra GET /jwks', async () => {
    await rotating.rotateKeys([...k2, ...k1]);
    const token = await rotating.clientCredentials();
    expect(decodeJws(token).header.kid).toBe('k2-rs256');
    rotating.resetHits();
    await expect(service.validate(token)).resolves.toMatchObject({ sub: 'cc-jwt' });
    expect(jwksGets()).toBe(1);
    // Old-key tokens still validate, without another fetch.
    await expect(
      service.validate(await forgeAccessToken({ issuer: rotating.issuer, keys: k1 })),
    ).resolves.toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      scopes: ['api:read'],
      audience: [API],
      source: 'jwt',
    });
    expect(jwksGets()).toBe(1);
  });

  it('3. a flood of 20 unknown-kid tokens causes at most one JWKS fetch per 30 s, all invalid_token', async () => {
    const target = { issuer: rotating.issuer, keys: k2 };
    // Within the cooldown of the fetch in step 2: no fetch at all.
    rotating.resetHits();
    const first = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        rejection(service.validate(await unknownKidToken(target, `bogus-a${i}`))),
      ),
    );
    expect(first.map((e) => e.code)).toEqual(Array(20).fill('invalid_token'));
    expect(jwksGets()).toBe(0);
    // After the 30 s cooldown: exactly one fetch for the whole flood.
    clock.advance(31_000);
    const second = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        rejection(service.validate(await unknownKidToken(target, `bogus-b${i}`))),
      ),
    );
    expect(second.map((e) => e.code)).toEqual(Array(20).fill('invalid_token'));
    expect(jwksGets()).toBe(1);
    // Sequential, still within the cooldown: no more.
    for (let i = 0; i < 5; i += 1)
      await expectCode(
        service,
        await unknownKidToken(target, `bogus-c${i}`),
        'invalid_token',
        'kid_unknown',
      );
    expect(jwksGets()).toBe(1);
  });

  it('4. a removed key keeps working while the key set is cached (10 min) and is refused after', async () => {
    const oldKidToken = await forgeAccessToken(
      { issuer: rotating.issuer, keys: k1 },
      { claims: { exp: nowSeconds() + 3600 } },
    );
    const newKidToken = await forgeAccessToken(
      { issuer: rotating.issuer, keys: k2 },
      { claims: { exp: nowSeconds() + 3600 } },
    );
    await rotating.rotateKeys([...k2]);
    expect(rotating.jwks.keys.map((k) => k.kid)).toEqual(['k2-rs256', 'k2-es256']);
    rotating.resetHits();
    await expect(service.validate(oldKidToken)).resolves.toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      scopes: ['api:read'],
      audience: [API],
      source: 'jwt',
    });
    expect(jwksGets()).toBe(0);
    clock.advance(11 * 60_000);
    await expectCode(service, oldKidToken, 'invalid_token', 'kid_unknown');
    expect(jwksGets()).toBeGreaterThanOrEqual(1);
    expect(jwksGets()).toBeLessThanOrEqual(2);
    await expect(service.validate(newKidToken)).resolves.toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      scopes: ['api:read'],
      audience: [API],
      source: 'jwt',
    });
  });

  it('5. JWKS endpoint down: known kids still validate, an unknown kid → issuer_unavailable', async () => {
    const target = { issuer: rotating.issuer, keys: k2 };
    const known = await forgeAccessToken(target, { claims: { exp: nowSeconds() + 3600 } });
    rotating.setHandler(faults.status(503, 'down', { 'retry-after': '7' }));
    try {
      await expect(service.validate(known)).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
      clock.advance(31_000); // past the unknown-kid cooldown: the next unknown kid triggers a (failing) fetch
      rotating.resetHits();
      const error = await expectCode(
        service,
        await unknownKidToken(target, 'after-outage-1'),
        'issuer_unavailable',
      );
      expect(error.status).toBe(503);
      expect(jwksGets()).toBe(1);
      // Within the cooldown, the last fetch having failed: still issuer_unavailable, no new fetch.
      await expectCode(
        service,
        await unknownKidToken(target, 'after-outage-2'),
        'issuer_unavailable',
      );
      expect(jwksGets()).toBe(1);
      await expect(service.validate(known)).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
      // Past the key-set max age the refresh fails, the known keys stay in use.
      clock.advance(11 * 60_000);
      await expect(service.validate(known)).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
      // And the outage is not confused with an invalid signature.
      await expectCode(service, corruptSignature(known), 'invalid_token', 'signature_invalid');
    } finally {
      rotating.restoreHandler();
    }
    // Back up: after the cooldown an unknown kid gets a real fetch and a definite answer again.
    clock.advance(31_000);
    await expectCode(
      service,
      await unknownKidToken(target, 'after-recovery'),
      'invalid_token',
      'kid_unknown',
    );
  });
});

// ---------------------------------------------------------------------------
// Introspection (RFC 7662)
// ---------------------------------------------------------------------------

describe('introspection', () => {
  let service: TokenValidationService;
  beforeAll(async () => {
    service = await build({ introspection: introspectionBasic });
  });

  it('a real cc-opaque token → introspection principal', async () => {
    const token = await as.clientCredentials({
      clientId: CLIENTS.ccOpaque.id,
      scope: 'api:read admin',
    });
    expect(token.split('.')).toHaveLength(1);
    as.resetHits();
    const principal = await service.validate(token);
    expect(principal).toMatchObject({
      clientId: 'cc-opaque',
      scopes: ['api:read', 'admin'],
      issuer: as.issuer,
      audience: [API],
      source: 'introspection',
    });
    expect(principal.expiresAt).toBeInstanceOf(Date);
    expect(principal.expiresAt!.getTime()).toBe((principal.claims.exp as number) * 1000);
    expect(principal.claims).toMatchObject({
      active: true,
      client_id: 'cc-opaque',
      token_type: 'Bearer',
      iss: as.issuer,
    });
    expect(JSON.stringify(principal)).not.toContain(token);
    expect(
      as.seen
        .filter((r) => r.path === '/token/introspection')
        .map((r) => [r.method, r.auth, r.contentType]),
    ).toEqual([['POST', 'Basic', 'application/x-www-form-urlencoded']]);
    // Cached: a second validation does not call the AS again.
    await service.validate(token);
    expect(as.hits.get('/token/introspection')).toBe(1);
  });

  it('client_secret_post authenticates (and a wrong secret → issuer_unavailable)', async () => {
    const post = await build({
      introspection: {
        clientId: RS_CLIENT_POST.id,
        clientSecret: RS_CLIENT_POST.secret,
        authMethod: 'client_secret_post',
      },
    });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expect(post.validate(token)).resolves.toMatchObject({
      clientId: 'cc-opaque',
      source: 'introspection',
    });
    expect(as.seen.find((r) => r.path === '/token/introspection')).toMatchObject({
      method: 'POST',
      auth: '',
    });
    const wrong = await build({
      introspection: {
        clientId: RS_CLIENT_POST.id,
        clientSecret: 'wrong',
        authMethod: 'client_secret_post',
      },
    });
    await expectCode(wrong, token, 'issuer_unavailable');
  });

  it('client_secret_basic with the special-character secret authenticates; a wrong secret → issuer_unavailable', async () => {
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    const basic = await build({
      introspection: { ...introspectionBasic, authMethod: 'client_secret_basic' },
    });
    await expect(basic.validate(token)).resolves.toMatchObject({ clientId: 'cc-opaque' });
    const wrong = await build({
      introspection: { clientId: RS_CLIENT.id, clientSecret: 'rs+secret/with:special&chars' },
    });
    const error = await expectCode(wrong, token, 'issuer_unavailable');
    expect(error.message).not.toContain('rs+secret');
    // A secret sent without the RFC 6749 §2.3.1 form-encoding would also be refused by the AS;
    // the success above therefore proves the encoding. The wrong secret is not cached as a token verdict:
    await expect(basic.validate(token)).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      source: 'introspection',
    });
  });

  it('private_key_jwt with the fixture client authenticates; an unknown key → issuer_unavailable', async () => {
    const { id, privateJwk } = as.privateKeyJwtClient;
    const pkjwt = await build({
      introspection: { clientId: id, authMethod: 'private_key_jwt', privateKey: privateJwk },
    });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expect(pkjwt.validate(token)).resolves.toMatchObject({
      clientId: 'cc-opaque',
      source: 'introspection',
    });
    expect(as.seen.find((r) => r.path === '/token/introspection')).toMatchObject({
      method: 'POST',
      auth: '',
    });
    // The same key as a KeyObject.
    const keyObject = crypto.createPrivateKey({
      key: privateJwk as crypto.JsonWebKey,
      format: 'jwk',
    });
    const viaKeyObject = await build({
      introspection: { clientId: id, authMethod: 'private_key_jwt', privateKey: keyObject },
    });
    await expect(
      viaKeyObject.validate(await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id })),
    ).resolves.toMatchObject({ clientId: CLIENTS.ccOpaque.id, source: 'introspection' });
    // An attacker key is refused by the AS → issuer_unavailable, never an answer about the token.
    const forged = await build({
      introspection: {
        clientId: id,
        authMethod: 'private_key_jwt',
        privateKey: {
          ...(attackerKeys().rsa.privateKey.export({ format: 'jwk' }) as object),
          kty: 'RSA',
          kid: privateJwk.kid,
        },
      },
    });
    await expectCode(forged, token, 'issuer_unavailable');
  });

  it('a random string → token_inactive', async () => {
    await expectCode(service, randomOpaque(), 'token_inactive');
  });

  it('a revoked token → token_inactive (no cache), and with a cache after its TTL', async () => {
    const noCache = await build({ introspection: introspectionBasic, cache: { ttl: 0 } });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    await expect(noCache.validate(token)).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      source: 'introspection',
    });
    await as.revoke(token);
    await expectCode(noCache, token, 'token_inactive');

    const clock = movableClock();
    const cached = await build(
      { introspection: introspectionBasic, cache: { ttl: 60_000 } },
      clock,
    );
    const other = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    await expect(cached.validate(other)).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      source: 'introspection',
    });
    await as.revoke(other);
    // Within the TTL (the documented revocation window) the cached result stands.
    await expect(cached.validate(other)).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      source: 'introspection',
    });
    clock.advance(61_000);
    await expectCode(cached, other, 'token_inactive');
  });

  it('a refresh token (active, no aud, no token_type) → invalid_token', async () => {
    const refresh = await as.mintRefreshToken();
    const answer = (await as.introspect(refresh)) as Record<string, unknown>;
    expect(answer).toMatchObject({ active: true });
    expect(answer.aud).toBeUndefined();
    expect(answer.token_type).toBeUndefined();
    await expectCode(service, refresh, 'invalid_token', 'untyped_introspection');
    await expectCode(
      service,
      await as.mintRefreshToken({ resource: null, scope: 'openid offline_access' }),
      'invalid_token',
      'untyped_introspection',
    );
  });

  it('an aud-less openid access token (token_type Bearer) → accepted', async () => {
    const token = await as.mintAccessToken({
      resource: null,
      format: 'opaque',
      scope: 'openid email',
    });
    const principal = await service.validate(token);
    expect(principal).toMatchObject({
      sub: 'alice',
      clientId: 'web-app',
      audience: [],
      scopes: ['openid', 'email'],
      source: 'introspection',
    });
    expect(principal.claims.token_type).toBe('Bearer');
  });

  it('an opaque token for OTHER_API → invalid_token', async () => {
    const token = await as.clientCredentials({
      clientId: CLIENTS.ccOpaque.id,
      resource: OTHER_API,
    });
    expect(await as.introspect(token)).toMatchObject({ active: true, aud: OTHER_API });
    await expectCode(service, token, 'invalid_token', 'aud_mismatch');
  });

  it('with audience: false an audience-less token still needs an access-token token_type', async () => {
    const open = await build({ audience: false, introspection: introspectionBasic });
    await expect(
      open.validate(
        await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id, resource: OTHER_API }),
      ),
    ).resolves.toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      audience: [OTHER_API],
      source: 'introspection',
    });
    await expectCode(open, await as.mintRefreshToken(), 'invalid_token', 'untyped_introspection');
  });

  it("tokenFormat 'auto': a JWT is never introspected", async () => {
    const jwt = await as.clientCredentials();
    as.resetHits();
    await service.validate(jwt);
    await expectCode(service, await foreignKeyToken(as), 'invalid_token', 'signature_invalid');
    await expectCode(service, await expiredToken(as), 'token_expired');
    expect(as.hits.get('/token/introspection')).toBe(0);
  });

  it("tokenFormat 'opaque': a JWT is introspected and refused as invalid_token (AS: unsupported_token_type)", async () => {
    const opaqueOnly = await build({ tokenFormat: 'opaque', introspection: introspectionBasic });
    const jwt = await as.clientCredentials();
    as.resetHits();
    await expectCode(opaqueOnly, jwt, 'invalid_token', 'unsupported_token_type');
    expect(as.hits.get('POST /token/introspection')).toBe(1);
    expect(as.hits.get('/jwks')).toBe(0);
  });

  it("tokenFormat 'jwt': an opaque token is refused without introspection", async () => {
    const jwtOnly = await build({ tokenFormat: 'jwt', introspection: introspectionBasic });
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expectCode(jwtOnly, token, 'invalid_token', 'malformed');
    expect(as.hits.get('/token/introspection')).toBe(0);
  });

  it('an opaque token without introspection configured → invalid_token, no request', async () => {
    const noIntrospection = await build();
    const token = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    as.resetHits();
    await expectCode(noIntrospection, token, 'invalid_token', 'introspection_not_configured');
    expect(as.hits.total).toBe(0);
  });

  describe('answers a real AS would not give (fault server)', () => {
    let faulty: TokenValidationService;
    beforeAll(async () => {
      faulty = await build({
        issuer: fault.origin,
        introspection: { clientId: 'rs', clientSecret: 'secret' },
        httpTimeout: 300,
        cache: { ttl: 0, negativeTtl: 0 },
      });
    });
    beforeEach(() => {
      fault.serveDiscovery();
    });
    const good = (): Record<string, unknown> => ({
      active: true,
      iss: fault.origin,
      aud: API,
      token_type: 'Bearer',
      scope: 'api:read',
      client_id: 'c1',
      sub: 's1',
      exp: nowSeconds() + 300,
      iat: nowSeconds(),
    });

    it('control: a well-formed active answer → accepted', async () => {
      fault.route('/token/introspection', faults.json(good()));
      await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({
        sub: 's1',
        clientId: 'c1',
        scopes: ['api:read'],
        source: 'introspection',
      });
    });

    it.each([
      ['{"active":"true"}', () => faults.json({ ...good(), active: 'true' })],
      ['{"active":1}', () => faults.json({ ...good(), active: 1 })],
      ['{}', () => faults.json({})],
      ['a JSON array', () => faults.json([good()])],
      ['JSON null', () => faults.json(null)],
      ['non-JSON body', () => faults.text('active=true', 'application/json')],
      ['an HTML page', () => faults.html()],
      [
        'a JSON body labelled text/html',
        () => faults.text(JSON.stringify(good()), 'text/html; charset=utf-8'),
      ],
      ['HTTP 500', () => faults.status(500, '{"error":"server_error"}')],
      ['HTTP 503', () => faults.status(503)],
      [
        'HTTP 401 (credentials refused)',
        () => faults.json({ error: 'invalid_client' }, { status: 401 }),
      ],
      ['HTTP 400 invalid_client', () => faults.json({ error: 'invalid_client' }, { status: 400 })],
      [
        'HTTP 400 with a non-JSON body',
        () => faults.text('unsupported_token_type', 'text/plain', { status: 400 }),
      ],
      [
        'a JSON body without a content type',
        () => faults.text(JSON.stringify({ active: true, aud: API, token_type: 'Bearer' }), ''),
      ],
      ['a 302 redirect', () => faults.status(302, '', { location: 'http://127.0.0.1:1/' })],
      ['a closed socket', () => faults.destroy()],
      ['a hang (httpTimeout 300 ms)', () => faults.hang()],
      [
        'a body that trickles past the timeout',
        () => faults.slow(JSON.stringify(good()), { chunks: 5, intervalMs: 200 }),
      ],
    ])('%s → issuer_unavailable', async (_name, handler) => {
      fault.route('/token/introspection', handler());
      await expectCode(faulty, randomOpaque(), 'issuer_unavailable');
    });

    it('a connection dropped before any answer is tried once more (stale keep-alive socket)', async () => {
      fault.route('/token/introspection', faults.sequence(faults.destroy(), faults.json(good())));
      const before = fault.hits.get('/token/introspection');
      await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({ sub: 's1' });
      expect(fault.hits.get('/token/introspection')).toBe(before + 2);
    });

    it('a connection dropped twice in a row → issuer_unavailable after exactly two attempts', async () => {
      fault.route('/token/introspection', faults.destroy());
      const before = fault.hits.get('/token/introspection');
      await expectCode(faulty, randomOpaque(), 'issuer_unavailable');
      expect(fault.hits.get('/token/introspection')).toBe(before + 2);
    });

    it('an introspection endpoint that is not advertised → issuer_unavailable', async () => {
      fault.serveDiscovery({ metadata: { introspection_endpoint: undefined } });
      await expectCode(faulty, randomOpaque(), 'issuer_unavailable');
    });

    it.each([
      ['iss of another issuer', { iss: 'http://evil' }, 'iss_mismatch'],
      ['token_type refresh_token', { token_type: 'refresh_token' }, 'not_access_token'],
      ['token_type N_A', { token_type: 'N_A' }, 'not_access_token'],
      ['aud of another API', { aud: OTHER_API }, 'aud_mismatch'],
      ['aud array without the API', { aud: [OTHER_API, 'web-app'] }, 'aud_mismatch'],
      ['aud a number', { aud: 7 }, 'claim_malformed'],
      [
        'no aud and no token_type',
        { aud: undefined, token_type: undefined },
        'untyped_introspection',
      ],
      ['non-string sub', { sub: { id: 1 } }, 'claim_malformed'],
      ['string exp', { exp: String(nowSeconds() + 300) }, 'claim_malformed'],
      ['nbf in the future', { nbf: nowSeconds() + 600 }, 'not_yet_valid'],
      [
        'cnf (sender-constrained)',
        { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } },
        'sender_constrained',
      ],
      ['token_type DPoP presented as Bearer', { token_type: 'DPoP' }, 'sender_constrained'],
    ] as Array<[string, Record<string, unknown>, OidcResourceErrorReason]>)(
      '%s → invalid_token (%s)',
      async (_name, changes, reason) => {
        const body: Record<string, unknown> = { ...good(), ...changes };
        for (const [k, v] of Object.entries(changes)) if (v === undefined) delete body[k];
        fault.route('/token/introspection', faults.json(body));
        await expectCode(faulty, randomOpaque(), 'invalid_token', reason);
      },
    );

    // A malformed scope claim grants nothing; it no longer refuses the token (scopeClaims).
    it.each([
      ['numeric scope', 42, []],
      ['object scope', { 'api:read': true }, []],
      ['nested array scope', [['api:read']], []],
      // RFC 7662 §2.2 defines `scope` as a space-separated string: an array is malformed.
      ['array of strings scope', ['api:read', 'admin'], []],
    ] as Array<[string, unknown, string[]]>)(
      '%s → accepted with scopes %j',
      async (_n, scope, scopes) => {
        fault.route('/token/introspection', faults.json({ ...good(), scope }));
        await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({ scopes });
      },
    );

    it('aud array containing the API → accepted', async () => {
      fault.route('/token/introspection', faults.json({ ...good(), aud: [OTHER_API, API] }));
      await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({
        audience: [OTHER_API, API],
      });
    });

    it('exp in the past → token_expired', async () => {
      fault.route('/token/introspection', faults.json({ ...good(), exp: nowSeconds() - 3600 }));
      await expectCode(faulty, randomOpaque(), 'token_expired');
    });

    it('HTTP 400 unsupported_token_type → invalid_token (a verdict on the token)', async () => {
      fault.route(
        '/token/introspection',
        faults.json({ error: 'unsupported_token_type' }, { status: 400 }),
      );
      await expectCode(faulty, randomOpaque(), 'invalid_token', 'unsupported_token_type');
    });

    it('application/json; charset=utf-8 and application/*+json are JSON', async () => {
      fault.route(
        '/token/introspection',
        faults.text(JSON.stringify(good()), 'application/json; charset=UTF-8'),
      );
      await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({
        sub: 's1',
        clientId: 'c1',
        scopes: ['api:read'],
        source: 'introspection',
      });
      fault.route(
        '/token/introspection',
        faults.text(JSON.stringify(good()), 'application/token-introspection+json'),
      );
      await expect(faulty.validate(randomOpaque())).resolves.toMatchObject({
        sub: 's1',
        clientId: 'c1',
        scopes: ['api:read'],
        source: 'introspection',
      });
    });

    it('{"active":false} → token_inactive', async () => {
      fault.route('/token/introspection', faults.json({ active: false }));
      await expectCode(faulty, randomOpaque(), 'token_inactive');
    });

    it('the request is a form POST with token_type_hint=access_token', async () => {
      let body = '';
      fault.route('/token/introspection', (req, res) => {
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => faults.json(good())(req, res));
      });
      const token = randomOpaque();
      await faulty.validate(token);
      const form = new URLSearchParams(body);
      expect(form.get('token')).toBe(token);
      expect(form.get('token_type_hint')).toBe('access_token');
      expect(fault.seen.find((r) => r.path === '/token/introspection')).toMatchObject({
        method: 'POST',
        auth: 'Basic',
        contentType: 'application/x-www-form-urlencoded',
      });
    });

    it('an unavailable answer is not cached: the next call succeeds once the AS recovers', async () => {
      const clock = movableClock();
      const withCache = await build(
        { issuer: fault.origin, introspection: { clientId: 'rs', clientSecret: 'secret' } },
        clock,
      );
      const token = randomOpaque();
      fault.route('/token/introspection', faults.status(503));
      await expectCode(withCache, token, 'issuer_unavailable');
      fault.route('/token/introspection', faults.json(good()));
      await expect(withCache.validate(token)).resolves.toMatchObject({ sub: 's1' });
    });
  });
});

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

describe('bad input never crashes or hangs', () => {
  let withIntrospection: TokenValidationService;
  let jwtOnly: TokenValidationService;
  let roomy: TokenValidationService;
  beforeAll(async () => {
    withIntrospection = await build({
      introspection: introspectionBasic,
      cache: { negativeTtl: 0 },
    });
    jwtOnly = await build({ tokenFormat: 'jwt' });
    roomy = await build({ maxTokenLength: 2_000_000 });
  });

  const garbage = [
    'garbage',
    '...',
    '.',
    '..',
    'a.b',
    'a..c',
    '.b.c',
    'eyJ.eyJ.eyJ',
    'eyJhbGciOiJSUzI1NiJ9.eyJ.',
    'Bearer abc',
    'a b',
    '%00%0d%0a',
    '\u0000\u0001',
    'Ω≈ç√∫',
    '{}',
    'null',
    '=',
    '-_-_-_.-_-_.-_-',
    'a.b.c.d.e.f',
  ];

  it.each(garbage)('%p → invalid_token (JWT only / no introspection)', async (token) => {
    await expectCode(jwtOnly, token, 'invalid_token', 'malformed');
    // With the default tokenFormat, what is not a JWS is an opaque token nobody can check.
    await expectCode(
      roomy,
      token,
      'invalid_token',
      token.startsWith('eyJhbGci') ? 'malformed' : 'introspection_not_configured',
    );
  });

  it.each(garbage)('%p → 401-class error with introspection', async (token) => {
    const error = await rejection(withIntrospection.validate(token));
    expect(['invalid_token', 'token_inactive']).toContain(error.code);
    expect(error.status).toBe(401);
  });

  it('an empty token → invalid_request', async () => {
    await expectCode(jwtOnly, '', 'invalid_request');
  });

  it('a valid header with a junk payload, signed by the AS → invalid_token', async () => {
    const header = { alg: 'RS256', typ: 'at+jwt', kid: asSigningKey(as).kid };
    for (const payload of ['not json', '[]', '"string"', '42', 'null', '{"iss":', '\u00ff\u00fe']) {
      await expectCode(
        withIntrospection,
        signByHand(header, payload, asSigningKey(as)),
        'invalid_token',
        'malformed',
      );
    }
    // And a payload segment that is not base64url at all (same signature).
    const valid = await as.clientCredentials();
    const [h, , s] = valid.split('.');
    await expectCode(
      withIntrospection,
      `${h}.${b64('junk')}.${s}`,
      'invalid_token',
      'signature_invalid',
    );
  });

  it('a junk header → typed error; a JSON-object header is a (broken) JWS, never introspected', async () => {
    const valid = await as.clientCredentials();
    const [, p, s] = valid.split('.');
    // Not a JSON object: not a JWS, so it is an opaque token the AS does not know.
    for (const header of [b64('not json'), b64([]), b64('"at+jwt"')]) {
      await expectCode(withIntrospection, `${header}.${p}.${s}`, 'token_inactive', 'inactive');
    }
    as.resetHits();
    const broken: Array<[string, OidcResourceErrorReason]> = [
      [b64({ typ: 'at+jwt' }), 'malformed'],
      [b64({ alg: 42 }), 'malformed'],
      [b64({ alg: 'RS256', kid: null }), 'typ_not_accepted'],
      [b64({ alg: 'RS256', typ: 'at+jwt', kid: null }), 'malformed'],
      [b64({}), 'malformed'],
    ];
    for (const [header, reason] of broken) {
      await expectCode(withIntrospection, `${header}.${p}.${s}`, 'invalid_token', reason);
    }
    expect(as.hits.get('/token/introspection')).toBe(0);
    const brokenJwtOnly: Array<[string, OidcResourceErrorReason]> = [
      [b64({ alg: 42 }), 'malformed'],
      [b64({ alg: 'RS256', kid: null }), 'typ_not_accepted'],
      [b64({ alg: 'RS256', typ: 'at+jwt', kid: null }), 'malformed'],
      [b64({ alg: 'RS256', b64: false, crit: ['b64'] }), 'crit_not_supported'],
    ];
    for (const [header, reason] of brokenJwtOnly) {
      await expectCode(jwtOnly, `${header}.${p}.${s}`, 'invalid_token', reason);
    }
  });

  it('5000 nested arrays within maxTokenLength → invalid_token', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const service = await build({ maxTokenLength: 65536 });
    const header = { alg: 'RS256', typ: 'at+jwt', kid: asSigningKey(as).kid };
    // As the whole payload, signed by the AS key.
    const asPayload = signByHand(header, deep, asSigningKey(as));
    expect(asPayload.length).toBeLessThan(65536);
    await expectCode(service, asPayload, 'invalid_token', 'malformed');
    // As a claim, signed by an attacker.
    const claims = {
      iss: as.issuer,
      aud: API,
      sub: 'x',
      client_id: 'x',
      iat: nowSeconds(),
      exp: nowSeconds() + 60,
      jti: 'j',
    };
    const asClaim = signByHand(
      header,
      `${JSON.stringify(claims).slice(0, -1)},"deep":${deep}}`,
      attackerKeys().rsa.privateKey,
    );
    await expectCode(service, asClaim, 'invalid_token', 'signature_invalid');
    // In the header.
    const inHeader = `${b64(`{"alg":"RS256","typ":"at+jwt","x":${deep}}`)}.${b64(claims)}.AAAA`;
    await expectCode(service, inHeader, 'invalid_token', 'signature_invalid');
  });

  it('200 000 nested arrays (limit raised) in the header or as the signed payload → invalid_token', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const claims = { iss: as.issuer, aud: API, exp: nowSeconds() + 60 };
    await expectCode(
      roomy,
      `${b64(`{"alg":"RS256","typ":"at+jwt","x":${deep}}`)}.${b64(claims)}.${b64('sig')}`,
      'invalid_token',
      'signature_invalid',
    );
    const header = { alg: 'RS256', typ: 'at+jwt', kid: asSigningKey(as).kid };
    await expectCode(
      roomy,
      signByHand(header, deep, asSigningKey(as)),
      'invalid_token',
      'malformed',
    );
  });

  it('huge claims → invalid_token (bad signature), and the default limit refuses them first', async () => {
    const huge = await forgeAccessToken(as, {
      key: attackerKeys().rsa.privateKey,
      header: { kid: asSigningKey(as).kid },
      claims: { pad: 'x'.repeat(700_000) },
    });
    await expectCode(roomy, huge, 'invalid_token', 'signature_invalid');
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`c${i}`, i]));
    await expectCode(
      roomy,
      await forgeAccessToken(as, {
        key: attackerKeys().rsa.privateKey,
        header: { kid: asSigningKey(as).kid },
        claims: many,
      }),
      'invalid_token',
      'signature_invalid',
    );
    as.resetHits();
    await expectCode(withIntrospection, huge, 'invalid_token', 'too_long');
    expect(as.hits.total).toBe(0);
  });

  describe('a broken JWKS → issuer_unavailable', () => {
    const target = (): ForgeTarget => ({ issuer: fault.origin, keys: as.keys });
    beforeEach(() => {
      fault.serveDiscovery();
    });

    it('control: the same JWKS served correctly → accepted', async () => {
      fault.route('/jwks', faults.json(as.jwks));
      const service = await build({ issuer: fault.origin });
      await expect(service.validate(await forgeAccessToken(target()))).resolves.toMatchObject({
        issuer: fault.origin,
      });
    });

    it.each([
      ['an HTML page', () => faults.html()],
      ['no keys', () => faults.json({ keys: [] })],
      ['keys not an array', () => faults.json({ keys: {} })],
      ['no "keys" member', () => faults.json({})],
      [
        'only unusable keys',
        () =>
          faults.json({
            keys: [{ kty: 'XYZ' }, { kty: 'RSA' }, { kty: 'RSA', n: 'x', e: 'AQAB', use: 'enc' }],
          }),
      ],
      ['only private keys', () => faults.json({ keys: [...as.keys] })],
      ['non-JSON', () => faults.text('{"keys":[', 'application/json')],
      ['HTTP 500', () => faults.status(500)],
      ['404', () => faults.status(404)],
      ['a hang', () => faults.hang()],
    ])('%s → issuer_unavailable', async (_name, handler) => {
      fault.route('/jwks', handler());
      const service = await build({ issuer: fault.origin, httpTimeout: 300 });
      await expectCode(service, await forgeAccessToken(target()), 'issuer_unavailable');
    });

    it('a JWKS without a jwks_uri in the metadata → issuer_unavailable', async () => {
      fault.serveDiscovery({ metadata: { jwks_uri: undefined } });
      const service = await build({ issuer: fault.origin });
      await expectCode(service, await forgeAccessToken(target()), 'issuer_unavailable');
    });

    it('an unknown-kty key next to a valid one is skipped; valid tokens still pass', async () => {
      fault.route(
        '/jwks',
        faults.json({ keys: [{ kty: 'XYZ', kid: 'k1-rs256' }, ...as.jwks.keys] }),
      );
      const service = await build({ issuer: fault.origin });
      await expect(service.validate(await forgeAccessToken(target()))).resolves.toMatchObject({
        sub: 'alice',
        clientId: 'web-app',
        scopes: ['api:read'],
        audience: [API],
        source: 'jwt',
      });
    });
  });
});

// ---------------------------------------------------------------------------
// Messages never contain the token
// ---------------------------------------------------------------------------

describe('error messages never contain the token', () => {
  it('for every kind of failure', async () => {
    const service = await build({ introspection: introspectionBasic, cache: { negativeTtl: 0 } });
    const opaque = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    const tokens: Array<[string, OidcResourceErrorCode, OidcResourceErrorReason]> = [
      [await expiredToken(as), 'token_expired', 'expired'],
      [await wrongAudienceToken(as), 'invalid_token', 'aud_mismatch'],
      [await wrongIssuerToken(as), 'invalid_token', 'iss_mismatch'],
      [algNoneToken(as), 'invalid_token', 'alg_not_allowed'],
      [hs256ConfusionToken(as), 'invalid_token', 'alg_not_allowed'],
      [await foreignKeyToken(as), 'invalid_token', 'signature_invalid'],
      [
        await forgeAccessToken(as, { claims: { sub: undefined } }),
        'invalid_token',
        'claim_missing',
      ],
      [randomOpaque(), 'token_inactive', 'inactive'],
      // oidc-provider introspects a refresh token without token_type or aud
      [await as.mintRefreshToken(), 'invalid_token', 'untyped_introspection'],
      [await oversizedToken(as, 9000), 'invalid_token', 'too_long'],
    ];
    for (const [token, code, reason] of tokens) {
      const error = await expectCode(service, token, code, reason);
      const texts = [
        error.message,
        String(error),
        JSON.stringify(error),
        String((error.cause as Error | undefined)?.message ?? ''),
      ];
      for (const text of texts) {
        expect(text).not.toContain(token);
        // Not even the signature or the opaque value alone.
        expect(text).not.toContain(token.slice(-20));
      }
    }
    await as.stop();
    try {
      const down = await build({ introspection: introspectionBasic });
      for (const token of [opaque, await forgeAccessToken(as)]) {
        const error = await expectCode(down, token, 'issuer_unavailable');
        expect(
          `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}`,
        ).not.toContain(token.slice(-20));
      }
    } finally {
      await as.start();
    }
  });
});
