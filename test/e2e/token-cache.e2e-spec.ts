/**
 * Token cache behaviour (issue 4), against the real oidc-provider fixture and
 * no Redis: single-flight, positive/negative TTLs, expiry re-checks, the LRU
 * bound, eviction, shared stores (a Keyv instance and a bare adapter shared
 * by two app instances), corrupt and hanging shared stores, and key hygiene.
 * Every count comes from the fixture's request log (`as.hits`), never a spy.
 *
 * The Redis-backed variants live in token-cache.redis.e2e-spec.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import {
  OidcResourceError,
  OIDC_RESOURCE_CLOCK,
  OidcResourceModule,
  TokenCacheService,
  TokenValidationService,
  type AuthenticatedPrincipal,
  type CacheOptions,
  type OidcResourceModuleOptions,
} from '../../lib/index.js';
import {
  API,
  CLIENTS,
  OTHER_API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { ADAPTERS, startTestApp } from '../fixtures/test-app.js';

const INTROSPECTION = 'POST /token/introspection';

interface Instance {
  moduleRef: TestingModule;
  tokens: TokenValidationService;
  cache: TokenCacheService;
  close(): Promise<void>;
}

/** Collects what the library logs through Nest's Logger (installed after the modules compile). */
class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  private push(level: string, message: unknown): void {
    this.lines.push({ level, message: String(message) });
  }
  log(message: unknown): void {
    this.push('log', message);
  }
  error(message: unknown): void {
    this.push('error', message);
  }
  warn(message: unknown): void {
    this.push('warn', message);
  }
  debug(message: unknown): void {
    this.push('debug', message);
  }
  verbose(message: unknown): void {
    this.push('verbose', message);
  }
  fatal(message: unknown): void {
    this.push('fatal', message);
  }
}

/** The error code a validation ends with, or 'ok'. */
async function outcome(validation: Promise<AuthenticatedPrincipal>): Promise<string> {
  try {
    await validation;
    return 'ok';
  } catch (error) {
    if (error instanceof OidcResourceError) return error.code;
    throw error;
  }
}

/** SHA-256, base64url: the documented digest in cache keys. */
function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** JWS-shaped junk: parses as a JWS (so it is routed to local verification) and fails there on its HS256 alg. */
const JUNK_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' })).toString(
  'base64url',
);
function junkToken(i: number, salt: string): string {
  return `${JUNK_HEADER}.${Buffer.from(JSON.stringify({ i, salt })).toString('base64url')}.c2lnbmF0dXJl`;
}

/** A clock for OIDC_RESOURCE_CLOCK that moves only when told: real time plus an offset (ms). */
function movableClock(): (() => number) & { advance(ms: number): void } {
  let offset = 0;
  return Object.assign(() => Date.now() + offset, {
    advance(ms: number) {
      offset += ms;
    },
  });
}

describe('token cache (fixture, no Redis)', () => {
  let as: AuthorizationServer;
  const open: Instance[] = [];

  function moduleOptions(
    cache: CacheOptions = {},
    extra: Partial<OidcResourceModuleOptions> = {},
  ): OidcResourceModuleOptions {
    return {
      issuer: as.issuer,
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      clockTolerance: 0,
      cache,
      ...extra,
    };
  }

  /** A separate app instance (its own module, memory tier, JWKS and metadata caches). */
  async function instance(
    cache: CacheOptions = {},
    extra: Partial<OidcResourceModuleOptions> = {},
    logger?: LoggerService,
    clock?: () => number,
  ): Promise<Instance> {
    const builder = Test.createTestingModule({
      imports: [OidcResourceModule.forRoot(moduleOptions(cache, extra))],
    });
    if (logger) builder.setLogger(logger);
    if (clock) builder.overrideProvider(OIDC_RESOURCE_CLOCK).useValue(clock);
    const moduleRef = await builder.compile();
    await moduleRef.init();
    let closed = false;
    const created: Instance = {
      moduleRef,
      tokens: moduleRef.get(TokenValidationService),
      cache: moduleRef.get(TokenCacheService),
      async close() {
        if (closed) return;
        closed = true;
        await moduleRef.close();
      },
    };
    open.push(created);
    return created;
  }

  const opaqueToken = (scope = 'api:read'): Promise<string> =>
    as.clientCredentials({ clientId: CLIENTS.ccOpaque.id, scope });
  const jwtToken = (scope = 'api:read'): Promise<string> =>
    as.clientCredentials({ clientId: CLIENTS.ccJwt.id, scope });
  const introspections = (): number => as.hits.get(INTROSPECTION);

  beforeAll(async () => {
    as = await startAuthorizationServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((i) => i.close()));
  });
  afterAll(async () => {
    await as?.close();
  });

  describe.each(ADAPTERS)('single-flight over HTTP (%s)', (adapter) => {
    let app: INestApplication | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('50 concurrent requests with one new opaque token cause exactly one introspection', async () => {
      let url: string;
      ({ app, url } = await startTestApp(adapter, moduleOptions()));
      const token = await opaqueToken();
      as.resetHits();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${url}/api/any`, { headers: { authorization: `Bearer ${token}` } }),
        ),
      );
      const bodies = await Promise.all(
        responses.map((r) => r.json() as Promise<Record<string, unknown>>),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
      for (const body of bodies)
        expect(body).toMatchObject({ clientId: CLIENTS.ccOpaque.id, source: 'introspection' });
      expect(introspections()).toBe(1);
      // ...and a 51st request later is served from the cache too.
      const again = await fetch(`${url}/api/any`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(again.status).toBe(200);
      expect(introspections()).toBe(1);
    });
  });

  it('50 concurrent validate() calls of one new opaque token share one introspection', async () => {
    const { tokens } = await instance();
    const token = await opaqueToken();
    as.resetHits();
    const principals = await Promise.all(Array.from({ length: 50 }, () => tokens.validate(token)));
    expect(introspections()).toBe(1);
    for (const p of principals) expect(p.clientId).toBe(CLIENTS.ccOpaque.id);
  });

  it('a repeated JWT is served from the cache: it still validates after its signing key left the JWKS, until evicted', async () => {
    const { tokens, cache } = await instance();
    const oldJwt = await jwtToken();
    expect((await tokens.validate(oldJwt)).source).toBe('jwt');
    const oldKid = as.signingKey.kid;

    // Rotate the old key AWAY (not kept in the JWKS), then make the module learn the new set.
    await as.rotateKeys();
    expect(as.jwks.keys.map((k) => k.kid)).not.toContain(oldKid);
    as.resetHits();
    const newJwt = await jwtToken();
    expect((await tokens.validate(newJwt)).source).toBe('jwt');
    expect(as.hits.get('GET /jwks')).toBe(1); // the module now holds only the new keys

    // Verifying the old JWT again would fail (its kid is unknown, refetch on cooldown): it is served from the cache.
    as.resetHits();
    const cached = await tokens.validate(oldJwt);
    expect(cached.clientId).toBe(CLIENTS.ccJwt.id);
    expect(as.hits.total).toBe(0);

    // Proof that the success above was the cache: once evicted, the old JWT is verified again, and fails.
    await cache.evict(oldJwt);
    expect(await outcome(tokens.validate(oldJwt))).toBe('invalid_token');
  });

  it('a revoked opaque token is refused once its entry TTL (cache.ttl 1000 ms) has passed', async () => {
    const clock = movableClock();
    const { tokens } = await instance({ ttl: 1000 }, {}, undefined, clock);
    const token = await opaqueToken();
    as.resetHits();
    expect(await outcome(tokens.validate(token))).toBe('ok');
    await as.revoke(token);
    // Inside the configured revocation window the cached result is used.
    expect(await outcome(tokens.validate(token))).toBe('ok');
    expect(introspections()).toBe(1);
    clock.advance(1000);
    expect(await outcome(tokens.validate(token))).toBe('token_inactive');
    expect(introspections()).toBe(2);
  });

  it('tokens minted with expiresIn 2 are refused after exp although cache.ttl is 300000 (opaque and JWT)', async () => {
    const clock = movableClock();
    const { tokens } = await instance({ ttl: 300_000 }, {}, undefined, clock);
    const opaque = await as.mintAccessToken({ format: 'opaque', expiresIn: 2 });
    const jwt = await as.mintAccessToken({ format: 'jwt', expiresIn: 2 });
    as.resetHits();
    const [p1, p2] = await Promise.all([tokens.validate(opaque), tokens.validate(jwt)]);
    expect(p1.source).toBe('introspection');
    expect(p2.source).toBe('jwt');
    // Cached: a second round makes no introspection.
    await Promise.all([tokens.validate(opaque), tokens.validate(jwt)]);
    expect(introspections()).toBe(1);

    const expiresAt = Math.max(p1.expiresAt!.getTime(), p2.expiresAt!.getTime());
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);
    clock.advance(expiresAt - Date.now());
    expect(await outcome(tokens.validate(opaque))).toMatch(/^token_(expired|inactive)$/);
    expect(await outcome(tokens.validate(jwt))).toBe('token_expired');
  });

  it('with cache.max 1000, 100 000 distinct junk tokens leave at most 1000 entries, make no AS call, and a hot entry survives (LRU)', async () => {
    const { tokens, cache } = await instance({ max: 1000 });
    const hot = await opaqueToken();
    expect(await outcome(tokens.validate(hot))).toBe('ok');
    as.resetHits();
    const salt = randomBytes(6).toString('hex');
    const codes = new Map<string, number>();
    const BATCH = 500;
    for (let start = 0; start < 100_000; start += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: BATCH }, (_, j) =>
          outcome(tokens.validate(junkToken(start + j, salt))),
        ),
      );
      for (const code of batch) codes.set(code, (codes.get(code) ?? 0) + 1);
      // Touch the hot token every 500 junk tokens (< max): least-recently-used eviction must keep it.
      expect(await outcome(tokens.validate(hot))).toBe('ok');
      // A memory-only loop never leaves the microtask queue: let timers and sockets run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(cache.memorySize).toBeLessThanOrEqual(1000);
    }
    expect(Object.fromEntries(codes)).toEqual({ invalid_token: 100_000 });
    expect(cache.memorySize).toBeLessThanOrEqual(1000);
    expect(cache.memorySize).toBeGreaterThan(0);
    // No discovery, JWKS or introspection call for any junk token, and the hot token never left the cache.
    expect(as.hits.toJSON()).toEqual({});
  }, 120_000); // CPU-bound: about 10 s on an idle machine; more on a shared one.

  it('an invalid token is negative-cached for negativeTtl, then asked again', async () => {
    const clock = movableClock();
    const { tokens } = await instance({ negativeTtl: 600 }, {}, undefined, clock);
    const unknown = `unknown-opaque-${randomBytes(16).toString('base64url')}`;
    as.resetHits();
    expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');
    expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');
    expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');
    expect(introspections()).toBe(1);
    clock.advance(600);
    expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');
    expect(introspections()).toBe(2);
  });

  it('a revoked token stays refused from the negative cache, and negativeTtl 0 disables negative caching', async () => {
    const { tokens } = await instance({ negativeTtl: 0 });
    const token = await opaqueToken();
    await as.revoke(token);
    as.resetHits();
    expect(await outcome(tokens.validate(token))).toBe('token_inactive');
    expect(await outcome(tokens.validate(token))).toBe('token_inactive');
    expect(introspections()).toBe(2);
  });

  it('issuer_unavailable is never cached: AS down then up → the same token succeeds (opaque, and JWT on a cold instance)', async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    const warm = await instance();
    const cold = await instance({}, {}, undefined, clock);
    // Warm one instance's discovery so the failure below is the introspection call itself.
    expect(await outcome(warm.tokens.validate(await opaqueToken()))).toBe('ok');
    const opaque = await opaqueToken();
    const jwt = await jwtToken();
    await as.stop();
    try {
      for (let i = 0; i < 2; i++) {
        const error = await warm.tokens.validate(opaque).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OidcResourceError);
        expect((error as OidcResourceError).code).toBe('issuer_unavailable');
        expect((error as OidcResourceError).status).toBe(503);
        expect(await outcome(cold.tokens.validate(jwt))).toBe('issuer_unavailable');
      }
    } finally {
      await as.start();
    }
    offset += 2_000; // past the cold instance's failure cooldown (1–2 s) after its failed discovery
    as.resetHits();
    expect(await outcome(warm.tokens.validate(opaque))).toBe('ok');
    expect(await outcome(cold.tokens.validate(jwt))).toBe('ok');
    expect(introspections()).toBe(1);
  });

  it('evict(token) forces a new introspection', async () => {
    const { tokens, cache } = await instance();
    const token = await opaqueToken();
    as.resetHits();
    await tokens.validate(token);
    await tokens.validate(token);
    expect(introspections()).toBe(1);
    await cache.evict(token);
    await tokens.validate(token);
    expect(introspections()).toBe(2);
    await tokens.validate(token);
    expect(introspections()).toBe(2);
  });

  it('evict(token) also forgets a negative result, so a revocation event takes effect at once', async () => {
    const { tokens, cache } = await instance({ ttl: 300_000 });
    const token = await opaqueToken();
    expect(await outcome(tokens.validate(token))).toBe('ok');
    await as.revoke(token);
    expect(await outcome(tokens.validate(token))).toBe('ok'); // cached
    await cache.evict(token);
    expect(await outcome(tokens.validate(token))).toBe('token_inactive');
  });

  describe.each([
    ['a Keyv instance', () => new Keyv()],
    ['a bare store adapter (Map)', () => new Map<string, unknown>()],
  ] as const)('shared store given as %s', (_kind, makeStore) => {
    it('a second app instance serves what the first validated: 0 introspections, and a JWT with no AS call at all', async () => {
      const store = makeStore();
      const first = await instance({ stores: [store as never] });
      const opaque = await opaqueToken('api:read api:write');
      const jwt = await jwtToken();
      const p1 = await first.tokens.validate(opaque);
      const j1 = await first.tokens.validate(jwt);

      const second = await instance({ stores: [store as never] });
      as.resetHits();
      const p2 = await second.tokens.validate(opaque);
      const j2 = await second.tokens.validate(jwt);
      // The second instance never even fetched discovery or the JWKS.
      expect(as.hits.toJSON()).toEqual({});
      expect(p2).toEqual(p1);
      expect(j2).toEqual(j1);
      // JSON-safe round trip: dates come back as dates.
      expect(p2.expiresAt).toBeInstanceOf(Date);
      expect(p2.expiresAt!.getTime()).toBe(p1.expiresAt!.getTime());
      expect(p2.scopes).toEqual(['api:read', 'api:write']);
      // The shared store refilled the second instance's memory tier.
      expect(second.cache.memorySize).toBe(2);
    });

    it('a negative result is shared too, and evict() removes the shared entry', async () => {
      const store = makeStore();
      const first = await instance({ stores: [store as never] });
      const second = await instance({ stores: [store as never] });
      const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
      const good = await opaqueToken();
      as.resetHits();
      expect(await outcome(first.tokens.validate(unknown))).toBe('token_inactive');
      expect(await outcome(second.tokens.validate(unknown))).toBe('token_inactive');
      expect(await outcome(first.tokens.validate(good))).toBe('ok');
      expect(introspections()).toBe(2);
      await first.cache.evict(good);
      expect(await outcome(second.tokens.validate(good))).toBe('ok');
      expect(introspections()).toBe(3);
    });
  });

  it("APIs with different settings sharing one store never see each other's results", async () => {
    const store = new Map<string, unknown>();
    const forApi = await instance({ stores: [store as never] });
    const forOther = await instance({ stores: [store as never] }, { audience: OTHER_API });
    const jwt = await jwtToken();
    const opaque = await opaqueToken();
    expect(await outcome(forApi.tokens.validate(jwt))).toBe('ok');
    expect(await outcome(forApi.tokens.validate(opaque))).toBe('ok');
    // Both tokens are for API, not OTHER_API: the other service must refuse them despite the shared entries.
    expect(await outcome(forOther.tokens.validate(jwt))).toBe('invalid_token');
    expect(await outcome(forOther.tokens.validate(opaque))).toBe('invalid_token');
    // ...and its negative results do not poison the first service either.
    expect(await outcome(forApi.tokens.validate(jwt))).toBe('ok');
    const fresh = await instance({ stores: [store as never] });
    expect(await outcome(fresh.tokens.validate(opaque))).toBe('ok');
  });

  it('APIs that read scopes or roles from other claims never share cached principals', async () => {
    const store = new Map<string, unknown>();
    const byDefault = await instance({ stores: [store as never] });
    const byGroups = await instance({ stores: [store as never] }, { roleClaims: ['groups'] });
    const byPermissions = await instance(
      { stores: [store as never] },
      { scopeClaims: ['permissions'] },
    );
    const token = await as.mintAccessToken({
      format: 'opaque',
      testClaims: { roles: ['editor'], groups: ['ops'], permissions: ['notes:read'] },
    });
    await expect(byDefault.tokens.validate(token)).resolves.toMatchObject({
      roles: ['editor'],
      scopes: ['api:read'],
    });
    await expect(byGroups.tokens.validate(token)).resolves.toMatchObject({ roles: ['ops'] });
    await expect(byPermissions.tokens.validate(token)).resolves.toMatchObject({
      scopes: ['notes:read'],
    });
    // Three settings, three entries: none was served from another's.
    expect(store.size).toBe(3);
    // Roles are read once per token: every hit hands out the cached snapshot's frozen list.
    const first = await byDefault.tokens.validate(token);
    const second = await byDefault.tokens.validate(token);
    expect(second.roles).toBe(first.roles);
    expect(Object.isFrozen(first.roles)).toBe(true);
  });

  it('shared-store keys and values never contain the raw token; keys are the namespaced SHA-256', async () => {
    const store = new Map<string, unknown>();
    const { tokens } = await instance({ stores: [store as never] });
    const opaque = await opaqueToken();
    const jwt = await jwtToken();
    const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
    await tokens.validate(opaque);
    await tokens.validate(jwt);
    await outcome(tokens.validate(unknown));
    expect(store.size).toBe(3);
    const dump = [...store].map(
      ([k, v]) => `${k}\n${typeof v === 'string' ? v : JSON.stringify(v)}`,
    );
    for (const raw of [opaque, jwt, unknown]) {
      // `<store namespace>:oidc-resource:token:<sha256(token)>:<settings fingerprint>`
      const key = new RegExp(`^(?:[\\w-]+:)?oidc-resource:token:${digest(raw)}:[\\w-]{16}\\n`);
      expect(dump.filter((entry) => key.test(entry))).toHaveLength(1);
      for (const entry of dump) expect(entry).not.toContain(raw);
      // Not even a JWT's signature or header+payload part is stored.
      for (const part of raw.split('.').filter((p) => p.length > 16))
        for (const entry of dump) expect(entry).not.toContain(part);
    }
  });

  it('a corrupt value in the shared store is treated as a miss, and repaired', async () => {
    const store = new Map<string, unknown>();
    const writer = await instance({ stores: [store as never] });
    const token = await opaqueToken();
    await writer.tokens.validate(token);
    const key = [...store.keys()].find((k) => k.includes(digest(token)));
    expect(key).toBeDefined();
    const capture = new CapturingLogger();
    {
      const garbage: unknown[] = [
        '{not json',
        JSON.stringify({ value: 'a string, not an entry' }),
        JSON.stringify({ value: { until: 'soon', value: {} } }),
        JSON.stringify({ value: { until: Date.now() + 60_000 } }),
        // Well-formed envelopes around a value that is not a validation result.
        JSON.stringify({ value: { until: Date.now() + 60_000, value: null } }),
        JSON.stringify({ value: { until: Date.now() + 60_000, value: 'ok' } }),
        JSON.stringify({ value: { until: Date.now() + 60_000, value: { ok: true } } }),
        JSON.stringify({
          value: {
            until: Date.now() + 60_000,
            value: { ok: true, principal: { scopes: 'api:read' } },
          },
        }),
        JSON.stringify({
          value: {
            until: Date.now() + 60_000,
            value: { ok: false, code: 'issuer_unavailable', message: 'x' },
          },
        }),
        42,
      ];
      for (const value of garbage) {
        store.set(key!, value);
        const reader = await instance({ stores: [store as never] }, {}, capture);
        as.resetHits();
        const principal = await reader.tokens.validate(token);
        expect(principal.clientId).toBe(CLIENTS.ccOpaque.id);
        expect(introspections()).toBe(1);
        await reader.close();
      }
      // The last reader rewrote a good entry: a fresh instance now serves it without the AS.
      const fresh = await instance({ stores: [store as never] });
      as.resetHits();
      await fresh.tokens.validate(token);
      expect(introspections()).toBe(0);
      expect(capture.lines.filter((l) => l.level === 'warn').length).toBeGreaterThan(0);
      for (const line of capture.lines) expect(line.message).not.toContain(token);
    }
  });

  it('an entry whose own deadline passed is ignored even when the store still returns it', async () => {
    // A store that ignores TTLs (keeps entries forever) must not make a result outlive its deadline.
    const forever = new Map<string, unknown>();
    const store = {
      get: (k: string) => forever.get(k),
      set: (k: string, v: unknown) => void forever.set(k, v),
      delete: (k: string) => forever.delete(k),
      clear: () => forever.clear(),
    };
    const clock = movableClock();
    const writer = await instance(
      { stores: [store], ttl: 300_000, negativeTtl: 300 },
      {},
      undefined,
      clock,
    );
    const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
    as.resetHits();
    expect(await outcome(writer.tokens.validate(unknown))).toBe('token_inactive');
    clock.advance(300);
    const reader = await instance(
      { stores: [store], ttl: 300_000, negativeTtl: 300 },
      {},
      undefined,
      clock,
    );
    expect(await outcome(reader.tokens.validate(unknown))).toBe('token_inactive');
    expect(introspections()).toBe(2); // the stale shared entry was not used
  });

  describe('a shared store that fails never fails a request', () => {
    let hanging: net.Server;
    let hangingPort: number;
    let closedPort: number;
    const sockets = new Set<net.Socket>();
    const adapters: KeyvRedis<unknown>[] = [];

    beforeAll(async () => {
      // Accepts connections and never answers a byte: a hung Redis.
      hanging = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      });
      hanging.listen(0, '127.0.0.1');
      await once(hanging, 'listening');
      hangingPort = (hanging.address() as net.AddressInfo).port;
      // A port nobody listens on: bind, read the port, release it.
      const probe = net.createServer().listen(0, '127.0.0.1');
      await once(probe, 'listening');
      closedPort = (probe.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    });
    afterAll(async () => {
      await Promise.all(adapters.map((a) => a.disconnect(true).catch(() => undefined)));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });

    function redisAdapter(port: number): KeyvRedis<unknown> {
      const adapter = new KeyvRedis(`redis://127.0.0.1:${port}`);
      adapter.on('error', () => undefined);
      adapters.push(adapter);
      return adapter;
    }

    it.each([
      ['hangs (accepts, never answers)', () => hangingPort],
      ['refuses connections (closed port)', () => closedPort],
    ] as const)(
      'a Redis store that %s: validations go on through memory and the AS, logged rate-limited',
      async (_what, port) => {
        const capture = new CapturingLogger();
        const { tokens } = await instance(
          { stores: [redisAdapter(port())], storeTimeout: 100 },
          {},
          capture,
        );
        {
          const opaque = await opaqueToken();
          const jwt = await jwtToken();
          const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
          as.resetHits();
          const results = await Promise.all([
            outcome(tokens.validate(opaque)),
            outcome(tokens.validate(opaque)),
            outcome(tokens.validate(jwt)),
            outcome(tokens.validate(unknown)),
          ]);
          expect(results).toEqual(['ok', 'ok', 'ok', 'token_inactive']);
          expect(introspections()).toBe(2);
          // The memory tier still works in front of the broken store.
          expect(await outcome(tokens.validate(opaque))).toBe('ok');
          expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');
          expect(introspections()).toBe(2);
          // Logged through Nest's Logger, rate-limited (one line for many faults), never with a token.
          const warnings = capture.lines.filter(
            (l) => l.level === 'warn' && /cache/i.test(l.message),
          );
          expect(warnings).toHaveLength(1);
          for (const line of capture.lines)
            for (const t of [opaque, jwt, unknown]) expect(line.message).not.toContain(t);
        }
      },
    );

    it('50 concurrent HTTP requests through a hung store all succeed with one introspection', async () => {
      const { app, url } = await startTestApp(
        'express',
        moduleOptions({ stores: [redisAdapter(hangingPort)], storeTimeout: 100 }),
      );
      try {
        const token = await opaqueToken();
        as.resetHits();
        const responses = await Promise.all(
          Array.from({ length: 50 }, () =>
            fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${token}` } }),
          ),
        );
        expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
        expect(introspections()).toBe(1);
      } finally {
        await app.close();
      }
    });
  });
});
