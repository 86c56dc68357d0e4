/**
 * Which tokens are access tokens, and why a refusal is what it is:
 * - ID tokens are never access tokens (RFC 8725 §3.11–3.12), in either typing mode, shown with
 *   the real ID-token and access-token shapes of each provider in the recipes, crafted with
 *   their claims and signed by the test issuer's key (so only the kind rules can refuse them);
 * - every refusal names a stable `reason` (and `claim`), the same on the JWT and the
 *   introspection path, and a cached refusal keeps it;
 * - `introspection.allowUntypedResponses` (answers with neither `aud` nor `token_type`);
 * - one JWT has one cache entry, whatever form of its ECDSA signature is sent.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import { Logger, type INestApplication } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  OidcResourceError,
  OidcResourceModule,
  TokenCacheService,
  TokenValidationService,
  type OidcResourceErrorCode,
  type OidcResourceErrorReason,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  CLIENTS,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import { startTestApp } from '../fixtures/test-app.js';
import {
  asSigningKey,
  decodeJws,
  forgeAccessToken,
  forgeByHand,
  hs256ConfusionToken,
  signByHand,
} from '../fixtures/tokens.js';

let as: AuthorizationServer;
let fault: FaultServer;
const modules: TestingModule[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  [as, fault] = await Promise.all([startAuthorizationServer(), startFaultServer()]);
});

afterAll(async () => {
  await Promise.all(modules.map((m) => m.close()));
  await Promise.all([as?.close(), fault?.close()]);
});

beforeEach(() => {
  fault.clearRoutes();
});

type Options = Partial<OidcResourceModuleOptions>;

async function buildModule(options: Options = {}): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      OidcResourceModule.forRoot({
        issuer: as.issuer,
        audience: API,
        ...options,
      } as OidcResourceModuleOptions),
    ],
  }).compile();
  modules.push(moduleRef);
  return moduleRef;
}

async function build(options: Options = {}): Promise<TokenValidationService> {
  return (await buildModule(options)).get(TokenValidationService);
}

const introspectionBasic = { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret };

interface Refusal {
  code: OidcResourceErrorCode;
  reason?: OidcResourceErrorReason;
  claim?: string;
  message: string;
}

/** What `validate(token)` refused with; fails when it resolves. */
async function refusal(service: TokenValidationService, token: string): Promise<Refusal> {
  try {
    await service.validate(token);
  } catch (error) {
    expect(error).toBeInstanceOf(OidcResourceError);
    const e = error as OidcResourceError;
    expect(e.message).not.toContain(token);
    return {
      code: e.code,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e.claim !== undefined ? { claim: e.claim } : {}),
      message: e.message,
    };
  }
  throw new Error('expected a refusal, the token was accepted');
}

const now = (): number => Math.floor(Date.now() / 1000);

/** Signs exactly these claims (no defaults) with the issuer's RS256 key; `typ: undefined` drops it. */
function sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h: Record<string, unknown> = { alg: 'RS256', typ: 'JWT', kid: asSigningKey(as).kid };
  for (const [k, v] of Object.entries(header)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return signByHand(h, claims, asSigningKey(as));
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Changes the signature's last byte: same length, canonical encoding, wrong signature. */
function flipLastSignatureByte(token: string): string {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0x01;
  return `${token.slice(0, dot + 1)}${signature.toString('base64url')}`;
}

function without(claims: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  const copy = { ...claims };
  for (const name of names) delete copy[name];
  return copy;
}

// ---------------------------------------------------------------------------
// Provider shapes
// ---------------------------------------------------------------------------

interface Shape {
  name: string;
  claims: () => Record<string, unknown>;
  header?: Record<string, unknown>;
}
interface RefusedShape extends Shape {
  reason: OidcResourceErrorReason;
  claim: string;
}
interface Provider {
  /** The README recipe's options, with the ID token's client added to `audience` where the recipe
   * could list it, so only the kind rules stand between an ID token and the API. */
  options: Options;
  access: Shape[];
  id: RefusedShape[];
}

const iat = () => now() - 5;
const exp = () => now() + 300;

const keycloak = (): Provider => {
  const common = () => ({
    exp: exp(),
    iat: iat(),
    auth_time: iat() - 30,
    jti: crypto.randomUUID(),
    iss: as.issuer,
    sub: '4d2e6a1c-5b1f-4c51-9d8c-0a7e1c3f2b11',
    sid: '0f0d1a6e-1b54-4a73-8a0c-5b0fbe1f1c2d',
    acr: '1',
    email_verified: true,
    preferred_username: 'alice',
  });
  const access = () => ({
    ...common(),
    aud: ['notes-api', 'account'],
    typ: 'Bearer',
    azp: 'notes-web',
    'allowed-origins': ['https://notes.example'],
    realm_access: { roles: ['default-roles-acme', 'offline_access'] },
    resource_access: { account: { roles: ['manage-account'] } },
    scope: 'openid profile email notes:read',
  });
  const id = () => ({
    ...common(),
    aud: 'notes-api',
    typ: 'ID',
    azp: 'notes-api',
    nonce: 'Dgm3-itbf_5ZSwkb-uvSYw',
    at_hash: 'JyMVmkVDihFu5cignwASQQ',
  });
  return {
    options: { audience: 'notes-api', requireJwtAccessTokenType: false },
    access: [
      { name: 'user access token', claims: access },
      {
        name: 'user access token of Keycloak < 24 (the request nonce copied in)',
        claims: () => ({ ...access(), nonce: 'Dgm3-itbf_5ZSwkb-uvSYw' }),
      },
      {
        name: 'service-account (client_credentials) token',
        claims: () => ({
          ...without(common(), 'auth_time', 'sid', 'email_verified'),
          aud: 'notes-api',
          typ: 'Bearer',
          azp: 'notes-batch',
          client_id: 'notes-batch',
          preferred_username: 'service-account-notes-batch',
          scope: 'notes:read',
        }),
      },
    ],
    id: [
      { name: 'ID token (code flow)', claims: id, reason: 'id_token', claim: 'typ' },
      {
        name: 'refreshed ID token (no nonce, no at_hash)',
        claims: () => without(id(), 'nonce', 'at_hash'),
        reason: 'id_token',
        claim: 'typ',
      },
      {
        name: 'refresh token signed like an access token (typ Refresh)',
        claims: () => ({ ...without(access(), 'auth_time', 'acr'), typ: 'Refresh' }),
        reason: 'not_access_token',
        claim: 'typ',
      },
    ],
  };
};

const entra = (): Provider => {
  const api = '6b0b7d3e-2a39-4bbb-9a6b-6f3c3b5a1e20';
  const common = () => ({
    iss: as.issuer,
    iat: iat(),
    nbf: iat(),
    exp: exp(),
    aio: 'AWQAm/8XAAAAx',
    oid: '1a2b3c4d-0000-4000-8000-00000000a11c',
    rh: '0.AR8AqOuJ.',
    sub: 'Jd6S0lAl3h7gS3oQ8hTb0dDqDk0KqFv3m0y5u8wUXYo',
    tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    uti: 'aBcDeFgHiJkLmNoP',
  });
  const idV2 = () => ({
    ...common(),
    aud: api,
    name: 'Alice',
    preferred_username: 'alice@contoso.example',
    sid: '00dd1c11-2d40-8b2a-5c7a-6f2f6b3a2f11',
    nonce: '638600000000000000.YmFzZTY0',
    ver: '2.0',
  });
  return {
    options: { audience: [api, `api://${api}`], requireJwtAccessTokenType: false },
    access: [
      {
        name: 'v2 delegated token (scp)',
        claims: () => ({
          ...common(),
          aud: api,
          azp: '0c1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b',
          azpacr: '0',
          name: 'Alice',
          preferred_username: 'alice@contoso.example',
          scp: 'Notes.Read',
          ver: '2.0',
        }),
      },
      {
        name: 'v2 app-only token (roles, no scp)',
        claims: () => ({
          ...common(),
          aud: api,
          azp: '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a',
          azpacr: '1',
          idtyp: 'app',
          roles: ['Notes.Read.All'],
          ver: '2.0',
        }),
      },
      {
        name: 'v1 delegated token (appid)',
        claims: () => ({
          ...common(),
          aud: `api://${api}`,
          acr: '1',
          amr: ['pwd'],
          appid: '0c1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b',
          appidacr: '0',
          name: 'Alice',
          scp: 'Notes.Read',
          unique_name: 'alice@contoso.example',
          upn: 'alice@contoso.example',
          ver: '1.0',
        }),
      },
    ],
    id: [
      {
        name: 'v2 ID token of an app that shares the API registration (nonce, no at_hash)',
        claims: idV2,
        reason: 'id_token',
        claim: 'nonce',
      },
      {
        name: 'v2 ID token from a refresh (no nonce, no at_hash)',
        claims: () => without(idV2(), 'nonce'),
        reason: 'claim_missing',
        claim: 'client_id',
      },
      {
        name: 'v1 ID token (no nonce, no at_hash)',
        claims: () => ({
          ...without(idV2(), 'nonce', 'preferred_username', 'sid'),
          amr: ['pwd'],
          unique_name: 'alice@contoso.example',
          upn: 'alice@contoso.example',
          ver: '1.0',
        }),
        reason: 'claim_missing',
        claim: 'client_id',
      },
    ],
  };
};

const okta = (): Provider => {
  const web = '0oa1notesweb5kD2g4x7';
  const id = () => ({
    sub: '00u1alice4kD2g4x7',
    name: 'Alice',
    email: 'alice@example.com',
    ver: 1,
    iss: as.issuer,
    aud: web,
    iat: iat(),
    exp: exp(),
    jti: 'ID.4eAWJOCMB3SX8XewDfVR',
    amr: ['pwd'],
    idp: '00o1okta4kD2g4x7',
    nonce: 'UBGW',
    preferred_username: 'alice@example.com',
    auth_time: iat() - 60,
    at_hash: 'preview_at_hash',
  });
  return {
    // Okta's access tokens carry no typ header.
    options: { audience: ['api://default', web], requireJwtAccessTokenType: false },
    access: [
      {
        name: 'user access token (cid, uid, scp array)',
        header: { typ: undefined },
        claims: () => ({
          ver: 1,
          jti: 'AT.6ftA0VwGzrJeEMZ0gPHtRyZ0A6lR0yH7t0qC7hO3E1c',
          iss: as.issuer,
          aud: 'api://default',
          iat: iat(),
          exp: exp(),
          cid: web,
          uid: '00u1alice4kD2g4x7',
          scp: ['openid', 'notes:read'],
          auth_time: iat() - 60,
          sub: 'alice@example.com',
        }),
      },
      {
        name: 'client_credentials access token',
        header: { typ: undefined },
        claims: () => ({
          ver: 1,
          jti: 'AT.x9yB',
          iss: as.issuer,
          aud: 'api://default',
          iat: iat(),
          exp: exp(),
          cid: '0oa1batch5kD2g4x7',
          scp: ['notes:read'],
          sub: '0oa1batch5kD2g4x7',
        }),
      },
    ],
    id: [
      {
        name: 'ID token',
        header: { typ: undefined },
        claims: id,
        reason: 'id_token',
        claim: 'nonce',
      },
      {
        name: 'ID token from a refresh (no nonce, no at_hash)',
        header: { typ: undefined },
        claims: () => without(id(), 'nonce', 'at_hash'),
        reason: 'claim_missing',
        claim: 'client_id',
      },
    ],
  };
};

const auth0 = (): Provider => {
  const api = 'https://api.example.com';
  const spa = 'rT4kQx8ZbN2mV6yJ1cP9sL3wD7fH5gK0';
  const id = () => ({
    nickname: 'alice',
    name: 'alice@example.com',
    picture: 'https://s.gravatar.com/avatar/x.png',
    updated_at: '2026-01-01T00:00:00.000Z',
    email: 'alice@example.com',
    email_verified: true,
    iss: as.issuer,
    aud: spa,
    sub: 'auth0|64b0c0ffee',
    iat: iat(),
    exp: exp(),
    sid: 'dKz-2q0sQ1w',
    nonce: 'bXlfbm9uY2U',
  });
  return {
    options: { audience: [api, spa], requireJwtAccessTokenType: false },
    access: [
      {
        name: 'user access token, "Auth0" profile (azp)',
        claims: () => ({
          iss: as.issuer,
          sub: 'auth0|64b0c0ffee',
          aud: [api, `${as.issuer}/userinfo`],
          iat: iat(),
          exp: exp(),
          scope: 'openid profile notes:read',
          azp: spa,
          permissions: ['notes:read'],
        }),
      },
      {
        name: 'client_credentials token, "Auth0" profile',
        claims: () => ({
          iss: as.issuer,
          sub: 'batch1234@clients',
          aud: api,
          iat: iat(),
          exp: exp(),
          scope: 'notes:read',
          gty: 'client-credentials',
          azp: 'batch1234',
        }),
      },
      {
        name: 'user access token, "RFC 9068" profile',
        header: { typ: 'at+jwt' },
        claims: () => ({
          iss: as.issuer,
          sub: 'auth0|64b0c0ffee',
          aud: api,
          iat: iat(),
          exp: exp(),
          scope: 'notes:read',
          jti: crypto.randomUUID(),
          client_id: spa,
        }),
      },
    ],
    id: [
      { name: 'ID token', claims: id, reason: 'id_token', claim: 'nonce' },
      {
        name: 'ID token from a refresh (no nonce)',
        claims: () => without(id(), 'nonce'),
        reason: 'claim_missing',
        claim: 'client_id',
      },
    ],
  };
};

const zitadel = (): Provider => {
  const project = '170079991923474646';
  const client = '170086824411201793@notes';
  return {
    options: { audience: project, requireJwtAccessTokenType: false },
    access: [
      {
        name: 'JWT access token',
        claims: () => ({
          iss: as.issuer,
          sub: '170086363054473473',
          aud: [client, project],
          exp: exp(),
          iat: iat(),
          nbf: iat(),
          jti: '170087129420726529',
          client_id: client,
          'urn:zitadel:iam:org:project:roles': { reader: { '170079991923474001': 'acme' } },
        }),
      },
    ],
    id: [
      {
        name: 'ID token (client_id and azp, at_hash, no nonce)',
        claims: () => ({
          amr: ['pwd'],
          at_hash: 'ZrwXW2f0TrP8Vf6Jc1Hr1A',
          aud: [client, project],
          auth_time: iat() - 60,
          azp: client,
          client_id: client,
          exp: exp(),
          iat: iat(),
          iss: as.issuer,
          sid: '291693710356251044',
          sub: '170086363054473473',
          preferred_username: 'alice@acme.example',
          'urn:zitadel:iam:user:resourceowner:id': '170079991923474001',
        }),
        reason: 'id_token',
        claim: 'at_hash',
      },
    ],
  };
};

const lemonldap = (): Provider => ({
  // aud = [client_id, …additional audiences]; the API is an additional audience.
  options: { audience: 'notes-api', requireJwtAccessTokenType: false },
  access: [
    {
      name: 'JWT access token (typ JWT)',
      claims: () => ({
        iss: as.issuer,
        exp: exp(),
        aud: ['notes-web', 'notes-api'],
        client_id: 'notes-web',
        iat: iat(),
        jti: crypto.randomBytes(32).toString('hex'),
        scope: 'openid profile notes:read',
        sid: crypto.randomBytes(16).toString('hex'),
        sub: 'dwho',
      }),
    },
  ],
  id: [
    {
      name: 'password-grant ID token (same aud, at_hash, azp, auth_time, acr, no nonce)',
      claims: () => ({
        iss: as.issuer,
        sub: 'dwho',
        aud: ['notes-web', 'notes-api'],
        exp: exp(),
        iat: iat(),
        auth_time: iat() - 1,
        acr: 'loa-2',
        azp: 'notes-web',
        at_hash: 'x3kR7J1l2cQ9b8N6m5V4ZA',
      }),
      reason: 'id_token',
      claim: 'at_hash',
    },
  ],
});

const PROVIDERS: Array<[string, () => Provider]> = [
  ['Keycloak', keycloak],
  ['Microsoft Entra ID', entra],
  ['Okta', okta],
  ['Auth0', auth0],
  ['Zitadel', zitadel],
  ['LemonLDAP::NG', lemonldap],
];

describe.each(PROVIDERS)('%s: ID tokens are refused, access tokens accepted', (_name, make) => {
  const provider = make();
  let service: TokenValidationService;
  beforeAll(async () => {
    service = await build(provider.options);
  });

  it.each(provider.access.map((s) => [s.name, s] as const))('%s → accepted', async (_n, shape) => {
    const claims = shape.claims();
    const principal = await service.validate(sign(claims, shape.header));
    expect(principal.source).toBe('jwt');
    expect(principal.claims).toEqual(claims);
  });

  it.each(provider.id.map((s) => [s.name, s] as const))('%s → refused', async (_n, shape) => {
    expect(await refusal(service, sign(shape.claims(), shape.header))).toMatchObject({
      code: 'invalid_token',
      reason: shape.reason,
      claim: shape.claim,
    });
  });
});

describe('ID tokens, beyond the recipes', () => {
  it("the issue's example: aud = a client listed in audience, azp, auth_time, at_hash, sid, typ JWT, no nonce", async () => {
    const service = await build({ audience: [API, 'web-app'], requireJwtAccessTokenType: false });
    const token = sign({
      iss: as.issuer,
      sub: 'alice',
      aud: 'web-app',
      azp: 'web-app',
      auth_time: iat() - 10,
      at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
      sid: 'f2b5b3b0',
      iat: iat(),
      exp: exp(),
    });
    expect(await refusal(service, token)).toEqual({
      code: 'invalid_token',
      reason: 'id_token',
      claim: 'at_hash',
      message: 'The token is an ID token ("at_hash" claim), not an access token',
    });
  });

  it.each(['nonce', 'at_hash', 'c_hash', 's_hash'])(
    'an RFC 9068 typed token (typ at+jwt) carrying %s is refused too: the kinds exclude each other',
    async (claim) => {
      const strict = await build();
      const token = await forgeAccessToken(as, { claims: { [claim]: 'eyJhbGciOi' } });
      expect(decodeJws(token).header.typ).toBe('at+jwt');
      expect(await refusal(strict, token)).toMatchObject({ reason: 'id_token', claim });
    },
  );

  it('Amazon Cognito: token_use id is refused, token_use access is accepted', async () => {
    const service = await build({ audience: false, requireJwtAccessTokenType: false });
    const common = { iss: as.issuer, sub: 'f1e2d3c4', auth_time: iat(), iat: iat(), exp: exp() };
    await expect(
      service.validate(
        sign(
          { ...common, client_id: '5r7a9b', token_use: 'access', scope: 'notes/read' },
          { typ: undefined },
        ),
      ),
    ).resolves.toMatchObject({ clientId: '5r7a9b', scopes: ['notes/read'] });
    expect(
      await refusal(
        service,
        sign({ ...common, aud: '5r7a9b', token_use: 'id', email: 'a@x' }, { typ: undefined }),
      ),
    ).toMatchObject({ reason: 'id_token', claim: 'token_use' });
  });

  it('relaxed typing: an access token that names no client is refused, with the claims it may use', async () => {
    const relaxed = await build({ requireJwtAccessTokenType: false });
    const bare = await forgeAccessToken(as, {
      header: { typ: 'JWT' },
      claims: { client_id: undefined },
    });
    expect(await refusal(relaxed, bare)).toEqual({
      code: 'invalid_token',
      reason: 'claim_missing',
      claim: 'client_id',
      message:
        'The access token names no client ("client_id", "azp", "appid" or "cid"), as an ID token would',
    });
    for (const name of ['azp', 'appid', 'cid']) {
      const token = await forgeAccessToken(as, {
        header: { typ: 'JWT' },
        claims: { client_id: undefined, [name]: 'the-client' },
      });
      await expect(relaxed.validate(token)).resolves.toMatchObject({ sub: 'alice' });
    }
  });

  it('LemonLDAP::NG password-grant ID token on a route without scopes → 401 invalid_token', async () => {
    const { app, url } = await startTestApp('express', {
      issuer: as.issuer,
      ...lemonldap().options,
    } as OidcResourceModuleOptions);
    try {
      const [access] = lemonldap().access;
      const [id] = lemonldap().id;
      const ok = await fetch(`${url}/api/any`, {
        headers: { authorization: `Bearer ${sign(access!.claims())}` },
      });
      expect(ok.status).toBe(200);
      const res = await fetch(`${url}/api/any`, {
        headers: { authorization: `Bearer ${sign(id!.claims())}` },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await (app as INestApplication).close();
    }
  });

  it('introspection answers are held to the same kind rules', async () => {
    fault.serveDiscovery();
    const faulty = await build({
      issuer: fault.origin,
      introspection: { clientId: 'rs', clientSecret: 'secret' },
      cache: { ttl: 0, negativeTtl: 0 },
    });
    const answer = {
      active: true,
      iss: fault.origin,
      aud: API,
      token_type: 'Bearer',
      client_id: 'c1',
      sub: 's1',
      exp: exp(),
    };
    const cases: Array<[Record<string, unknown>, OidcResourceErrorReason, string]> = [
      [{ at_hash: 'x' }, 'id_token', 'at_hash'],
      [{ typ: 'ID' }, 'id_token', 'typ'],
      [{ typ: 'Refresh' }, 'not_access_token', 'typ'],
    ];
    for (const [extra, reason, claim] of cases) {
      fault.route('/token/introspection', faults.json({ ...answer, ...extra }));
      expect(await refusal(faulty, crypto.randomBytes(24).toString('base64url'))).toMatchObject({
        code: 'invalid_token',
        reason,
        claim,
      });
    }
    // Keycloak's own marker of an access token keeps an old release's copied nonce harmless.
    fault.route(
      '/token/introspection',
      faults.json({ ...answer, typ: 'Bearer', nonce: 'n-0S6_WzA2Mj' }),
    );
    await expect(
      faulty.validate(crypto.randomBytes(24).toString('base64url')),
    ).resolves.toMatchObject({ sub: 's1' });
  });
});

// ---------------------------------------------------------------------------
// Reasons: one per rule, the same on both paths, kept by the negative cache
// ---------------------------------------------------------------------------

describe('every refusal names its reason', () => {
  let strict: TokenValidationService;
  let relaxed: TokenValidationService;
  beforeAll(async () => {
    [strict, relaxed] = await Promise.all([
      build(),
      build({ requireJwtAccessTokenType: false, maxTokenLength: 4096 }),
    ]);
  });

  type Case = [
    string,
    () => string | Promise<string>,
    OidcResourceErrorReason,
    string?,
    'relaxed'?,
  ];
  const cases: Case[] = [
    ['longer than maxTokenLength', () => 'a'.repeat(4097), 'too_long', undefined, 'relaxed'],
    [
      'a JWS with a JSON array for a payload',
      () => sign([] as never, { typ: 'at+jwt' }),
      'malformed',
    ],
    ['an opaque token, introspection off', () => 'a.b.c.d', 'introspection_not_configured'],
    [
      'alg none',
      () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ sub: 'x' })}.`,
      'alg_not_allowed',
    ],
    ['alg HS256', () => hs256ConfusionToken(as), 'alg_not_allowed'],
    [
      'crit',
      () => forgeByHand(as, { header: { crit: ['urn:x'], 'urn:x': 1 } }),
      'crit_not_supported',
    ],
    [
      'typ JWT (strict)',
      () => forgeAccessToken(as, { header: { typ: 'JWT' } }),
      'typ_not_accepted',
    ],
    [
      'typ logout+jwt (relaxed)',
      () => forgeAccessToken(as, { header: { typ: 'logout+jwt' } }),
      'typ_not_accepted',
      undefined,
      'relaxed',
    ],
    [
      'a signature spelled with non-zero spare bits (the same bytes)',
      async () => {
        const token = await forgeAccessToken(as);
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return `${token.slice(0, -1)}${alphabet[alphabet.indexOf(token.at(-1)!) + 1]}`;
      },
      'malformed',
    ],
    ['an unknown kid', () => forgeAccessToken(as, { header: { kid: 'nope' } }), 'kid_unknown'],
    [
      'a changed signature',
      async () => flipLastSignatureByte(await forgeAccessToken(as)),
      'signature_invalid',
    ],
    [
      'no sub (strict)',
      () => forgeAccessToken(as, { claims: { sub: undefined } }),
      'claim_missing',
      'sub',
    ],
    [
      'exp a string',
      () => forgeAccessToken(as, { claims: { exp: String(exp()) } }),
      'claim_malformed',
      'exp',
    ],
    [
      'another issuer',
      () => forgeAccessToken(as, { claims: { iss: 'https://evil.example' } }),
      'iss_mismatch',
      'iss',
    ],
    [
      'another audience',
      () => forgeAccessToken(as, { claims: { aud: 'https://other.example' } }),
      'aud_mismatch',
      'aud',
    ],
    [
      'expired',
      () => forgeAccessToken(as, { claims: { exp: now() - 600, iat: now() - 900 } }),
      'expired',
      'exp',
    ],
    [
      'nbf ahead',
      () => forgeAccessToken(as, { claims: { nbf: now() + 600 } }),
      'not_yet_valid',
      'nbf',
    ],
    [
      'iat ahead',
      () => forgeAccessToken(as, { claims: { iat: now() + 600 } }),
      'iat_in_future',
      'iat',
    ],
    [
      'cnf',
      () =>
        forgeAccessToken(as, {
          claims: { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } },
        }),
      'sender_constrained',
      'cnf',
    ],
    [
      'an ID token',
      () => forgeAccessToken(as, { claims: { at_hash: 'x' } }),
      'id_token',
      'at_hash',
    ],
  ];

  // A rest parameter keeps jest from taking the missing optional columns for `done`.
  it.each(cases)('%s', async (...[, make, reason, claim, mode]: Case) => {
    const result = await refusal(mode === 'relaxed' ? relaxed : strict, await make());
    expect(result.reason).toBe(reason);
    expect(result.claim).toBe(claim);
  });

  it('the typ refusal names the setting that accepts plain JWT access tokens', async () => {
    const token = await forgeAccessToken(as, { header: { typ: 'JWT' } });
    expect((await refusal(strict, token)).message).toBe(
      'The access token\'s "typ" header is not "at+jwt" (RFC 9068); requireJwtAccessTokenType: false accepts plain "JWT" access tokens',
    );
  });

  it('a cached refusal keeps its reason, claim and message', async () => {
    fault.serveDiscovery();
    const cached = await build({
      issuer: fault.origin,
      introspection: { clientId: 'rs', clientSecret: 'secret' },
    });
    fault.route(
      '/token/introspection',
      faults.json({
        active: true,
        iss: fault.origin,
        aud: 'https://other.example',
        token_type: 'Bearer',
      }),
    );
    const token = crypto.randomBytes(24).toString('base64url');
    const first = await refusal(cached, token);
    const hits = fault.hits.get('/token/introspection');
    expect(await refusal(cached, token)).toEqual(first);
    expect(first).toMatchObject({ reason: 'aud_mismatch', claim: 'aud' });
    expect(fault.hits.get('/token/introspection')).toBe(hits);
  });
});

describe('the same failure reads the same on the JWT and the introspection path', () => {
  let jwt: TokenValidationService;
  let introspected: TokenValidationService;
  beforeAll(async () => {
    jwt = await build({ requireJwtAccessTokenType: false });
    introspected = await build({
      issuer: fault.origin,
      introspection: { clientId: 'rs', clientSecret: 'secret' },
      cache: { ttl: 0, negativeTtl: 0 },
    });
  });
  beforeEach(() => fault.serveDiscovery());

  const defects: Array<[string, Record<string, unknown>]> = [
    ['another issuer', { iss: 'https://evil.example' }],
    ['another audience', { aud: 'https://other.example' }],
    ['a numeric aud', { aud: 7 }],
    ['expired', { exp: now() - 600, iat: now() - 900 }],
    ['nbf ahead', { nbf: now() + 600 }],
    ['iat ahead', { iat: now() + 600 }],
    ['exp a string', { exp: 'soon' }],
    ['a non-string sub', { sub: { id: 1 } }],
    ['cnf', { cnf: { jkt: 'x' } }],
    ['nonce', { nonce: 'n-0S6_WzA2Mj' }],
    ['Keycloak typ ID', { typ: 'ID' }],
    ['Keycloak typ Refresh', { typ: 'Refresh' }],
  ];

  it.each(defects)('%s', async (_name, defect) => {
    const jwtRefusal = await refusal(
      jwt,
      await forgeAccessToken(as, { header: { typ: 'JWT' }, claims: defect }),
    );
    const answer: Record<string, unknown> = {
      active: true,
      iss: fault.origin,
      aud: API,
      token_type: 'Bearer',
      client_id: 'web-app',
      sub: 'alice',
      scope: 'api:read',
      iat: now(),
      exp: exp(),
      ...defect,
    };
    if (defect.iss !== undefined) answer.iss = defect.iss; // the JWT's issuer is the real AS
    fault.route('/token/introspection', faults.json(answer));
    const introspectionRefusal = await refusal(
      introspected,
      crypto.randomBytes(24).toString('base64url'),
    );
    expect(introspectionRefusal).toEqual(jwtRefusal);
    expect(jwtRefusal.reason).toBeDefined();
  });
});

// ---------------------------------------------------------------------------
// Introspection answers with neither aud nor token_type
// ---------------------------------------------------------------------------

describe('introspection.allowUntypedResponses', () => {
  it('off (the default): a real refresh token (active, no aud, no token_type) is refused, with audience false too', async () => {
    const refresh = await as.mintRefreshToken();
    const answer = (await as.introspect(refresh)) as Record<string, unknown>;
    expect(answer).toMatchObject({ active: true });
    expect(answer.aud).toBeUndefined();
    expect(answer.token_type).toBeUndefined();
    for (const audience of [API, false] as const) {
      const service = await build({ audience, introspection: introspectionBasic });
      expect(await refusal(service, refresh)).toEqual({
        code: 'invalid_token',
        reason: 'untyped_introspection',
        message: 'The token has no audience and is not typed as an access token',
      });
    }
  });

  it('on: the same answer is accepted — which is why it is only for providers that report refresh tokens inactive', async () => {
    const service = await build({
      introspection: { ...introspectionBasic, allowUntypedResponses: true },
    });
    const refresh = await as.mintRefreshToken();
    await expect(service.validate(refresh)).resolves.toMatchObject({
      source: 'introspection',
      audience: [],
      clientId: 'web-app',
    });
    // Access tokens are unaffected, and an audience that is present is still checked.
    const opaque = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id });
    await expect(service.validate(opaque)).resolves.toMatchObject({ audience: [API] });
    const elsewhere = await as.clientCredentials({
      clientId: CLIENTS.ccOpaque.id,
      resource: 'https://other-api.example.test/',
    });
    expect(await refusal(service, elsewhere)).toMatchObject({ reason: 'aud_mismatch' });
  });

  describe('a LemonLDAP::NG-shaped answer (fault server: oidc-provider always types its access tokens)', () => {
    const lemon = () => ({
      active: true,
      iss: fault.origin,
      scope: 'openid profile notes:read',
      client_id: 'notes-web',
      sub: 'dwho',
      exp: exp(),
    });
    const options = (allowUntypedResponses?: boolean): Options => ({
      issuer: fault.origin,
      audience: 'notes-api',
      introspection: {
        clientId: 'notes-api',
        clientSecret: 'secret',
        authMethod: 'client_secret_post',
        ...(allowUntypedResponses === undefined ? {} : { allowUntypedResponses }),
      },
      cache: { ttl: 0, negativeTtl: 0 },
    });
    beforeEach(() => fault.serveDiscovery());

    it('is refused by default and with false', async () => {
      fault.route('/token/introspection', faults.json(lemon()));
      for (const setting of [undefined, false]) {
        const service = await build(options(setting));
        expect(await refusal(service, crypto.randomBytes(24).toString('base64url'))).toMatchObject({
          reason: 'untyped_introspection',
        });
      }
    });

    it('is accepted with the option', async () => {
      fault.route('/token/introspection', faults.json(lemon()));
      const service = await build(options(true));
      await expect(
        service.validate(crypto.randomBytes(24).toString('base64url')),
      ).resolves.toMatchObject({
        sub: 'dwho',
        clientId: 'notes-web',
        scopes: ['openid', 'profile', 'notes:read'],
        audience: [],
        source: 'introspection',
      });
    });

    it.each([
      [
        'a token_type that is not an access token',
        { token_type: 'refresh_token' },
        'not_access_token',
      ],
      ['an aud without the API', { aud: 'another-api' }, 'aud_mismatch'],
      ['another issuer', { iss: 'https://evil.example' }, 'iss_mismatch'],
      ['an ID-token claim', { at_hash: 'x' }, 'id_token'],
    ] as const)('with the option, %s is still refused', async (_name, extra, reason) => {
      fault.route('/token/introspection', faults.json({ ...lemon(), ...extra }));
      const service = await build(options(true));
      expect(await refusal(service, crypto.randomBytes(24).toString('base64url'))).toMatchObject({
        reason,
      });
    });
  });
});

// ---------------------------------------------------------------------------
// One token, one cache entry, whatever the spelling of its ECDSA signature
// ---------------------------------------------------------------------------

describe('ECDSA: a high-S twin is the same token to the cache', () => {
  const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

  /** The other valid spelling of an ES256 token: S replaced by n − S. */
  function twinOf(token: string): string {
    const dot = token.lastIndexOf('.');
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const twinS = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
    return `${token.slice(0, dot + 1)}${Buffer.concat([sig.subarray(0, 32), twinS]).toString('base64url')}`;
  }

  const es256 = (claims: Record<string, unknown> = {}) =>
    forgeAccessToken(as, {
      key: asSigningKey(as, 'ES256'),
      header: { kid: asSigningKey(as, 'ES256').kid },
      claims,
    });

  it('both spellings are accepted (signers do not normalise S), and share one entry', async () => {
    const moduleRef = await buildModule();
    const service = moduleRef.get(TokenValidationService);
    const cache = moduleRef.get(TokenCacheService);
    const token = await es256();
    const twin = twinOf(token);
    expect(twin).not.toBe(token);
    await expect(service.validate(token)).resolves.toMatchObject({ sub: 'alice' });
    expect(cache.memorySize).toBe(1);
    await expect(service.validate(twin)).resolves.toMatchObject({ sub: 'alice' });
    expect(cache.memorySize).toBe(1);
    // Evicting either spelling forgets the token.
    await cache.evict(twin);
    expect(cache.memorySize).toBe(0);
  });

  it('a refusal is one negative-cache slot for both spellings', async () => {
    const moduleRef = await buildModule();
    const service = moduleRef.get(TokenValidationService);
    const cache = moduleRef.get(TokenCacheService);
    const expired = await es256({ exp: now() - 600, iat: now() - 900 });
    expect(await refusal(service, expired)).toMatchObject({ reason: 'expired' });
    expect(await refusal(service, twinOf(expired))).toMatchObject({ reason: 'expired' });
    expect(cache.memorySize).toBe(1);
  });
});
