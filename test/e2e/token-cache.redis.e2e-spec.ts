/**
 * Token cache shared through a real Redis (issue 4), against the real
 * oidc-provider fixture. Counts come from the fixture's request log.
 *
 * Which Redis: `REDIS_URL` when set; otherwise, when a `redis-server` binary
 * is on PATH, one of our own on a free loopback port (no persistence), killed
 * in afterAll. With neither, the suite prints a one-line notice and registers
 * a single test that states exactly that (jest fails a file with no tests).
 *
 * The "Redis stopped mid-run" test always gets a Redis it may stop: its own
 * `redis-server` when the binary exists, else a loopback TCP proxy in front of
 * `REDIS_URL` that it closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants as fsConstants } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import KeyvRedis, { createClient, createKeyv } from '@keyv/redis';
import {
  OIDC_RESOURCE_CLOCK,
  OidcResourceError,
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
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { freePort, waitForPong } from '../fixtures/redis-server.js';
import { startTestApp } from '../fixtures/test-app.js';
import { forgeAccessToken } from '../fixtures/tokens.js';

const INTROSPECTION = 'POST /token/introspection';

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const REDIS_URL = process.env.REDIS_URL || undefined;
const REDIS_SERVER = findOnPath('redis-server');
const redisAvailable = REDIS_URL !== undefined || REDIS_SERVER !== undefined;

/** A Redis this suite may stop: its own process, or a proxy in front of REDIS_URL. */
interface StoppableRedis {
  url: string;
  /** SIGKILL (or, for the proxy, drop every connection and stop listening). */
  stop(): Promise<void>;
  /** Starts again on the same port (our own process: empty). */
  restart(): Promise<void>;
}

async function spawnRedis(port?: number): Promise<StoppableRedis> {
  port ??= await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER!,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  try {
    await waitForPong(port);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  let stopped = false;
  let next: StoppableRedis | undefined;
  const handle: StoppableRedis = {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await next?.stop();
      if (stopped) return;
      stopped = true;
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await handle.stop();
      next = await spawnRedis(port);
    },
  };
  return handle;
}

async function proxyRedis(target: string): Promise<StoppableRedis> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer();
  server.on('connection', (client) => {
    const upstream = net.connect(Number(port || 6379), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const local = new URL(target);
  local.hostname = '127.0.0.1';
  local.port = String((server.address() as net.AddressInfo).port);
  let stopped = false;
  const handle: StoppableRedis = {
    url: local.toString(),
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restart() {
      await handle.stop();
      server.listen(Number(local.port), '127.0.0.1');
      await once(server, 'listening');
      stopped = false;
    },
  };
  return handle;
}

async function stoppableRedis(): Promise<StoppableRedis> {
  return REDIS_SERVER ? spawnRedis() : proxyRedis(REDIS_URL!);
}

class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  debug(message: unknown): void {
    this.lines.push({ level: 'debug', message: String(message) });
  }
  verbose(message: unknown): void {
    this.lines.push({ level: 'verbose', message: String(message) });
  }
}

async function outcome(validation: Promise<AuthenticatedPrincipal>): Promise<string> {
  try {
    await validation;
    return 'ok';
  } catch (error) {
    if (error instanceof OidcResourceError) return error.code;
    throw error;
  }
}

const digest = (token: string): string => createHash('sha256').update(token).digest('base64url');

if (!redisAvailable) {
  process.stdout.write(
    'token-cache.redis.e2e-spec: Redis suite skipped (no REDIS_URL and no redis-server on PATH)\n',
  );
  describe('token cache (Redis)', () => {
    it('redis suite skipped: no REDIS_URL and no redis-server', () => {
      expect(redisAvailable).toBe(false);
    });
  });
} else {
  describe('token cache (Redis)', () => {
    let as: AuthorizationServer;
    let redisUrl: string;
    let ownRedis: StoppableRedis | undefined;
    type RawClient = ReturnType<typeof createClient>;
    let raw: RawClient;
    const adapters: { disconnect(force?: boolean): Promise<void> }[] = [];
    const modules: TestingModule[] = [];

    /** A bare `@keyv/redis` adapter, as users pass it in `cache.stores`. */
    function bareAdapter(url = redisUrl): KeyvRedis<unknown> {
      const adapter = new KeyvRedis(url);
      adapters.push(adapter);
      return adapter;
    }

    /** A `Keyv` instance over Redis (the other accepted form). */
    function keyvInstance(url = redisUrl) {
      const keyv = createKeyv(url);
      adapters.push(keyv.store as KeyvRedis<unknown>);
      return keyv;
    }

    function moduleOptions(
      cache: CacheOptions,
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

    /** One app instance (its own memory tier, discovery and JWKS caches). */
    async function instance(cache: CacheOptions, logger?: LoggerService, clock?: () => number) {
      const builder = Test.createTestingModule({
        imports: [OidcResourceModule.forRoot(moduleOptions(cache))],
      });
      if (logger) builder.setLogger(logger);
      if (clock) builder.overrideProvider(OIDC_RESOURCE_CLOCK).useValue(clock);
      const moduleRef = await builder.compile();
      await moduleRef.init();
      modules.push(moduleRef);
      return {
        tokens: moduleRef.get(TokenValidationService),
        cache: moduleRef.get(TokenCacheService),
      };
    }

    const opaqueToken = (scope = 'api:read'): Promise<string> =>
      as.clientCredentials({ clientId: CLIENTS.ccOpaque.id, scope });
    const jwtToken = (scope = 'api:read'): Promise<string> =>
      as.clientCredentials({ clientId: CLIENTS.ccJwt.id, scope });
    const introspections = (): number => as.hits.get(INTROSPECTION);

    /** Redis keys holding a token's validation result (whatever the store's own prefix). */
    const keysFor = (token: string): Promise<string[]> =>
      raw.keys(`*oidc-resource:token:${digest(token)}:*`);

    beforeAll(async () => {
      if (REDIS_URL) {
        redisUrl = REDIS_URL;
      } else {
        ownRedis = await spawnRedis();
        redisUrl = ownRedis.url;
      }
      raw = createClient({ url: redisUrl });
      raw.on('error', () => undefined);
      await raw.connect();
      as = await startAuthorizationServer();
    });
    afterEach(async () => {
      await Promise.all(modules.splice(0).map((m) => m.close()));
    });
    afterAll(async () => {
      await Promise.all(adapters.map((a) => a.disconnect(true).catch(() => undefined)));
      await raw?.destroy();
      await as?.close();
      await ownRedis?.stop();
    });

    describe.each([
      ['a bare KeyvRedis adapter', () => bareAdapter()],
      ['a Keyv instance (createKeyv)', () => keyvInstance()],
    ] as const)('two app instances sharing Redis through %s', (_form, store) => {
      it('the second serves what the first validated: no introspection, and for a JWT no AS call at all', async () => {
        const first = await instance({ stores: [store()] });
        const opaque = await opaqueToken('api:read api:write');
        const jwt = await jwtToken();
        const o1 = await first.tokens.validate(opaque);
        const j1 = await first.tokens.validate(jwt);
        expect(await keysFor(opaque)).toHaveLength(1);
        expect(await keysFor(jwt)).toHaveLength(1);

        const second = await instance({ stores: [store()] });
        as.resetHits();
        const o2 = await second.tokens.validate(opaque);
        const j2 = await second.tokens.validate(jwt);
        expect(as.hits.toJSON()).toEqual({}); // no discovery, no JWKS, no introspection
        expect(o2).toEqual(o1);
        expect(j2).toEqual(j1);
        expect(o2.expiresAt).toBeInstanceOf(Date);
        expect(o2.scopes).toEqual(['api:read', 'api:write']);
      });

      it('50 concurrent validations of a new opaque token on each of two instances: one introspection in all', async () => {
        const a = await instance({ stores: [store()] });
        const b = await instance({ stores: [store()] });
        const token = await opaqueToken();
        as.resetHits();
        const first = await Promise.all(
          Array.from({ length: 50 }, () => outcome(a.tokens.validate(token))),
        );
        const second = await Promise.all(
          Array.from({ length: 50 }, () => outcome(b.tokens.validate(token))),
        );
        expect([...first, ...second]).toEqual(Array(100).fill('ok'));
        expect(introspections()).toBe(1);
      });
    });

    describe('cache.coalesce: one introspection per token across replicas', () => {
      /** Two replicas receive each of `count` new opaque tokens at the same moment. */
      async function burst(coalesce: boolean, count = 20) {
        // A generous storeTimeout: on a busy machine a late Redis call is skipped, and a skipped
        // lock means introspecting (that path is tested below, not here).
        const a = await instance({ stores: [bareAdapter()], coalesce, storeTimeout: 5000 });
        const b = await instance({ stores: [bareAdapter()], coalesce, storeTimeout: 5000 });
        // Connected first: the burst should not race the clients' connection handshakes.
        for (const replica of [a, b]) await replica.tokens.validate(await opaqueToken());
        const tokens = await Promise.all(Array.from({ length: count }, () => opaqueToken()));
        as.resetHits();
        const results = await Promise.all(
          tokens.flatMap((t) => [outcome(a.tokens.validate(t)), outcome(b.tokens.validate(t))]),
        );
        expect(results).toEqual(Array(2 * count).fill('ok'));
        return introspections();
      }

      it('without it, both replicas introspect each token (the race the option closes)', async () => {
        expect(await burst(false)).toBeGreaterThan(20);
      });

      it('with it, exactly one introspection per token, and both replicas get the principal', async () => {
        expect(await burst(true)).toBe(20);
      });

      it('a refusal is shared too, and JWTs are never coalesced (no lock is taken for them)', async () => {
        const adapters = [bareAdapter(), bareAdapter()];
        const locks: string[] = [];
        for (const adapter of adapters) {
          const client = adapter.client as unknown as Record<string, unknown>;
          const set = (client.set as (...args: unknown[]) => unknown).bind(client);
          client.set = (key: string, ...rest: unknown[]) => {
            if ((rest[1] as { NX?: boolean } | undefined)?.NX) locks.push(key);
            return set(key, ...rest);
          };
        }
        const a = await instance({ stores: [adapters[0]!], coalesce: true });
        const b = await instance({ stores: [adapters[1]!], coalesce: true });
        const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
        const jwt = await jwtToken();
        as.resetHits();
        const results = await Promise.all([
          outcome(a.tokens.validate(unknown)),
          outcome(b.tokens.validate(unknown)),
          outcome(a.tokens.validate(jwt)),
          outcome(b.tokens.validate(jwt)),
        ]);
        expect(results).toEqual(['token_inactive', 'token_inactive', 'ok', 'ok']);
        expect(introspections()).toBe(1);
        // Each replica asked for the unknown (opaque) token's lock (one got it); none for the JWT.
        expect(locks).toHaveLength(2);
        for (const key of locks) expect(key).toContain(`oidc-resource:token:${digest(unknown)}:`);
      });

      it('a lock that Redis refuses (out of memory: reads work, writes fail) is logged, and the token is introspected anyway', async () => {
        // A Redis of its own (with redis-server on this machine): other suites may share REDIS_URL.
        const own = await stoppableRedis();
        const admin: RawClient = createClient({ url: own.url });
        admin.on('error', () => undefined);
        await admin.connect();
        try {
          const capture = new CapturingLogger();
          const a = await instance({ stores: [bareAdapter(own.url)], coalesce: true }, capture);
          const token = await opaqueToken();
          await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
          await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '1']);
          try {
            as.resetHits();
            expect(await outcome(a.tokens.validate(token))).toBe('ok');
            expect(introspections()).toBe(1);
          } finally {
            await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
          }
          // The read found nothing; the lock was the first call to fail, so its line is logged.
          const warnings = capture.lines.filter((line) => line.level === 'warn');
          expect(warnings[0]?.message).toMatch(
            /^Token cache: a shared cache store failed to lock; skipped: OOM/,
          );
        } finally {
          await admin.destroy();
          await own.stop();
        }
      });

      it('when the lock holder cannot introspect (503), the waiting replica tries itself, and no lock is left', async () => {
        const a = await instance({ stores: [bareAdapter()], coalesce: true });
        const b = await instance({ stores: [bareAdapter()], coalesce: true });
        const token = await opaqueToken();
        // Discovery first, so that the 503 below meets the introspection calls only.
        for (const replica of [a, b]) await replica.tokens.validate(await opaqueToken());
        as.resetHits();
        as.setHandler((_req, res) => {
          res.statusCode = 503;
          res.end();
        });
        try {
          const results = await Promise.all([
            outcome(a.tokens.validate(token)),
            outcome(b.tokens.validate(token)),
          ]);
          expect(results).toEqual(['issuer_unavailable', 'issuer_unavailable']);
          expect(introspections()).toBe(2);
        } finally {
          as.restoreHandler();
        }
        expect(await raw.keys(`*oidc-resource:token:${digest(token)}:*:lock`)).toEqual([]);
        expect(await outcome(b.tokens.validate(token))).toBe('ok');
      });
    });

    it('Redis entry TTLs: min(cache.ttl, exp − now) for valid tokens, negativeTtl for invalid ones', async () => {
      const longCache = await instance({
        stores: [bareAdapter()],
        ttl: 300_000,
        negativeTtl: 4000,
      });
      const shortCache = await instance({ stores: [bareAdapter()], ttl: 10_000 });
      const shortLived = await as.mintAccessToken({ format: 'opaque', expiresIn: 60 });
      const longLived = await as.mintAccessToken({ format: 'opaque', expiresIn: 3600 });
      // A JWT whose exp is fractional (NumericDate allows it): its entry must still reach Redis.
      const fractional = await forgeAccessToken(as, {
        claims: { exp: Math.floor(Date.now() / 1000) + 60.123456 },
      });
      const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
      await longCache.tokens.validate(shortLived);
      await longCache.tokens.validate(fractional);
      await shortCache.tokens.validate(longLived);
      expect(await outcome(longCache.tokens.validate(unknown))).toBe('token_inactive');

      const pttl = async (token: string): Promise<number> => {
        const [key] = await keysFor(token);
        expect(key).toBeDefined();
        return raw.pTTL(key!);
      };
      const a = await pttl(shortLived);
      expect(a).toBeGreaterThan(0);
      expect(a).toBeLessThanOrEqual(60_000); // bounded by exp, not by cache.ttl (300 s)
      const b = await pttl(fractional);
      expect(b).toBeGreaterThan(0);
      expect(b).toBeLessThanOrEqual(60_124);
      const c = await pttl(longLived);
      expect(c).toBeGreaterThan(0);
      expect(c).toBeLessThanOrEqual(10_000); // bounded by cache.ttl, not by exp (1 h)
      const d = await pttl(unknown);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(4000); // negativeTtl
    });

    it('neither keys nor values in Redis contain a raw token (valid, invalid, JWT, opaque)', async () => {
      const { tokens } = await instance({ stores: [bareAdapter(), keyvInstance()] });
      const opaque = await opaqueToken();
      const jwt = await jwtToken();
      const unknown = `unknown-${randomBytes(24).toString('base64url')}`;
      await tokens.validate(opaque);
      await tokens.validate(jwt);
      expect(await outcome(tokens.validate(unknown))).toBe('token_inactive');

      const keys = await raw.keys(ownRedis ? '*' : '*oidc-resource:*');
      const dump: string[] = [];
      for (const key of keys) {
        const type = await raw.type(key);
        dump.push(key, type === 'string' ? ((await raw.get(key)) ?? '') : '');
      }
      const text = dump.join('\n');
      for (const token of [opaque, jwt, unknown]) {
        // Written to both stores: `<namespace>::…oidc-resource:token:<sha256>:<fingerprint>` and `oidc-resource:token:…`.
        expect(await keysFor(token)).toHaveLength(2);
        expect(text).not.toContain(token);
        for (const part of token.split('.')) if (part.length > 16) expect(text).not.toContain(part);
      }
    });

    it('a corrupt value in Redis is treated as a miss, then repaired', async () => {
      const writer = await instance({ stores: [bareAdapter()] });
      const token = await opaqueToken();
      await writer.tokens.validate(token);
      const [key] = await keysFor(token);
      expect(key).toBeDefined();
      const good = (await raw.get(key!))!;
      const parsed = JSON.parse(good) as { value: { until: number; value: unknown } };
      expect(typeof parsed.value.until).toBe('number');

      for (const garbage of [
        '\u0000\u00ff not json',
        '{"value":',
        JSON.stringify({ value: 'not an entry' }),
        JSON.stringify({ value: { until: Date.now() + 60_000, value: null } }),
        JSON.stringify({
          value: {
            until: Date.now() + 60_000,
            value: { ok: true, principal: { issuer: 'https://evil.example' } },
          },
        }),
      ]) {
        await raw.set(key!, garbage, { PX: 60_000 });
        const capture = new CapturingLogger();
        const reader = await instance({ stores: [bareAdapter()] }, capture);
        as.resetHits();
        expect((await reader.tokens.validate(token)).clientId).toBe(CLIENTS.ccOpaque.id);
        expect(introspections()).toBe(1);
        for (const line of capture.lines) expect(line.message).not.toContain(token);
      }
      // Repaired: the last reader wrote a good entry again.
      const repaired = JSON.parse((await raw.get(key!))!) as { value: { until: number } };
      expect(repaired.value.until).toBeGreaterThan(Date.now());
      const next = await instance({ stores: [bareAdapter()] });
      as.resetHits();
      await next.tokens.validate(token);
      expect(introspections()).toBe(0);
    });

    it('an entry past its own deadline is a miss even while Redis still holds it', async () => {
      const writer = await instance({ stores: [bareAdapter()] });
      const token = await opaqueToken();
      await writer.tokens.validate(token);
      const [key] = await keysFor(token);
      const stored = JSON.parse((await raw.get(key!))!) as { value: { until: number } };
      stored.value.until = Date.now() - 1000;
      await raw.set(key!, JSON.stringify(stored), { PX: 60_000 });
      const reader = await instance({ stores: [bareAdapter()] });
      as.resetHits();
      await reader.tokens.validate(token);
      expect(introspections()).toBe(1);
    });

    it('evict(token) on one instance removes the shared entry: another instance introspects again', async () => {
      const a = await instance({ stores: [bareAdapter()] });
      const token = await opaqueToken();
      await a.tokens.validate(token);
      expect(await keysFor(token)).toHaveLength(1);
      const b = await instance({ stores: [bareAdapter()] });
      await b.cache.evict(token);
      expect(await keysFor(token)).toHaveLength(0);
      const c = await instance({ stores: [bareAdapter()] });
      as.resetHits();
      await c.tokens.validate(token);
      expect(introspections()).toBe(1);
    });

    it('a revoked opaque token is refused by every instance once the shared entry TTL (1000 ms) has passed', async () => {
      // One injected clock for both instances: the entry's own deadline decides, not Redis's TTL.
      let offset = 0;
      const clock = () => Date.now() + offset;
      const a = await instance({ stores: [bareAdapter()], ttl: 1000 }, undefined, clock);
      const token = await opaqueToken();
      await a.tokens.validate(token);
      await as.revoke(token);
      const b = await instance({ stores: [bareAdapter()], ttl: 1000 }, undefined, clock);
      expect(await outcome(b.tokens.validate(token))).toBe('ok'); // from Redis, inside the window
      offset += 1000;
      expect(await outcome(a.tokens.validate(token))).toBe('token_inactive');
      expect(await outcome(b.tokens.validate(token))).toBe('token_inactive');
    });

    describe('cache.signingKey: entries are MACed and checked on read', () => {
      const KEY = randomBytes(32);
      const signed = (logger?: LoggerService, signingKey: Buffer | string = KEY) =>
        instance({ stores: [bareAdapter()], signingKey }, logger);
      type Stored = { value: { until: number; value: unknown; mac?: unknown } };
      const read = async (key: string): Promise<Stored> =>
        JSON.parse((await raw.get(key))!) as Stored;
      const integrityWarnings = (capture: CapturingLogger) =>
        capture.lines.filter((l) => l.level === 'warn' && /MAC/.test(l.message));

      it('a MACed entry written by one instance is served by another with the same key', async () => {
        const writer = await signed();
        const token = await opaqueToken();
        await writer.tokens.validate(token);
        const [key] = await keysFor(token);
        expect((await read(key!)).value.mac).toEqual(expect.stringMatching(/^[\w-]{43}$/));
        const reader = await signed();
        as.resetHits();
        expect((await reader.tokens.validate(token)).clientId).toBe(CLIENTS.ccOpaque.id);
        expect(introspections()).toBe(0);
      });

      it.each([
        ['without a MAC', (entry: Stored) => void delete entry.value.mac],
        ['with a wrong MAC', (entry: Stored) => void (entry.value.mac = 'A'.repeat(43))],
        ['with a MAC that is not a string', (entry: Stored) => void (entry.value.mac = 42)],
        [
          'whose deadline was moved (the MAC covers it)',
          (entry: Stored) => void (entry.value.until += 3_600_000),
        ],
        [
          'whose principal was changed (the MAC covers it)',
          (entry: Stored) => {
            const outcome = entry.value.value as { principal: { scopes: string[] } };
            outcome.principal.scopes = ['api:read', 'admin'];
          },
        ],
      ])('a planted entry %s is not served: a miss, logged at warn', async (_what, plant) => {
        const writer = await signed();
        const token = await opaqueToken();
        await writer.tokens.validate(token);
        const [key] = await keysFor(token);
        const entry = await read(key!);
        plant(entry);
        await raw.set(key!, JSON.stringify(entry), { PX: 60_000 });
        const capture = new CapturingLogger();
        const reader = await signed(capture);
        as.resetHits();
        const principal = await reader.tokens.validate(token);
        expect(principal.scopes).toEqual(['api:read']);
        expect(introspections()).toBe(1);
        expect(integrityWarnings(capture)).toHaveLength(1);
        for (const line of capture.lines) expect(line.message).not.toContain(token);
      });

      it("another token's valid entry, copied under this token's key, is not served (the MAC binds the key)", async () => {
        const writer = await signed();
        const admin = await opaqueToken('admin api:write');
        const reader = await opaqueToken('api:read');
        await writer.tokens.validate(admin);
        await writer.tokens.validate(reader);
        const [adminKey] = await keysFor(admin);
        const [readerKey] = await keysFor(reader);
        await raw.set(readerKey!, (await raw.get(adminKey!))!, { PX: 60_000 });
        const capture = new CapturingLogger();
        const other = await signed(capture);
        as.resetHits();
        expect((await other.tokens.validate(reader)).scopes).toEqual(['api:read']);
        expect(introspections()).toBe(1);
        expect(integrityWarnings(capture)).toHaveLength(1);
      });

      it('entries from a writer without the key, or with another key, are ignored', async () => {
        for (const writer of [
          await instance({ stores: [bareAdapter()] }),
          await signed(undefined, 'another key that is at least 32 bytes long'),
        ]) {
          const token = await opaqueToken();
          await writer.tokens.validate(token);
          const capture = new CapturingLogger();
          const reader = await signed(capture);
          as.resetHits();
          await reader.tokens.validate(token);
          expect(introspections()).toBe(1);
          expect(integrityWarnings(capture)).toHaveLength(1);
        }
      });

      it('a planted positive outcome for a made-up token is not served (the attack the key stops)', async () => {
        const writer = await signed();
        const real = await opaqueToken('admin');
        await writer.tokens.validate(real);
        const [realKey] = await keysFor(real);
        const forged = `made-up-${randomBytes(8).toString('hex')}`;
        const forgedKey = realKey!.replace(digest(real), digest(forged));
        const entry = await read(realKey!);
        delete entry.value.mac;
        await raw.set(forgedKey, JSON.stringify(entry), { PX: 60_000 });
        const unsigned = await instance({ stores: [bareAdapter()] });
        // Without the key, a store writer can mint a principal for any string (documented risk)…
        expect((await unsigned.tokens.validate(forged)).scopes).toEqual(['admin']);
        // …with it, the planted entry is ignored and the made-up token is refused.
        const reader = await signed(new CapturingLogger());
        await expect(reader.tokens.validate(forged)).rejects.toMatchObject({
          code: 'token_inactive',
        });
      });
    });

    describe('Redis stopped mid-run', () => {
      let doomed: StoppableRedis;
      let app: INestApplication | undefined;
      beforeAll(async () => {
        doomed = await stoppableRedis();
      });
      afterAll(async () => {
        await app?.close();
        await doomed?.stop();
      });

      it('requests keep being validated (memory tier, then the AS), none fails, and the fault is logged once', async () => {
        const store = bareAdapter(doomed.url);
        let url: string;
        ({ app, url } = await startTestApp(
          'express',
          moduleOptions({ stores: [store], storeTimeout: 200 }),
        ));
        const capture = new CapturingLogger();
        Logger.overrideLogger(capture);
        const get = (token: string) =>
          fetch(`${url}/api/read`, { headers: { authorization: `Bearer ${token}` } });
        try {
          const before = await opaqueToken();
          expect((await get(before)).status).toBe(200);
          // It reached this Redis (a fresh instance on the same Redis serves it without the AS).
          const peer = await instance({ stores: [bareAdapter(doomed.url)] }, capture);
          as.resetHits();
          expect(await outcome(peer.tokens.validate(before))).toBe('ok');
          expect(introspections()).toBe(0);

          await doomed.stop();

          const afterOpaque = await opaqueToken();
          const afterJwt = await jwtToken();
          const unknown = `unknown-${randomBytes(12).toString('base64url')}`;
          as.resetHits();
          const statuses = await Promise.all([
            ...Array.from({ length: 20 }, () => get(before).then((r) => r.status)),
            ...Array.from({ length: 10 }, () => get(afterOpaque).then((r) => r.status)),
            ...Array.from({ length: 10 }, () => get(afterJwt).then((r) => r.status)),
            get(unknown).then((r) => r.status),
          ]);
          expect(statuses).toEqual([...Array(40).fill(200), 401]);
          // `before` came from memory; the new opaque token and the unknown one were introspected once each.
          expect(introspections()).toBe(2);
          // A fresh instance on the dead Redis still works, through the AS.
          const late = await instance(
            { stores: [bareAdapter(doomed.url)], storeTimeout: 200 },
            capture,
          );
          expect(await outcome(late.tokens.validate(before))).toBe('ok');
          expect(introspections()).toBe(3);

          const warnings = capture.lines.filter(
            (l) => l.level === 'warn' && /cache/i.test(l.message),
          );
          expect(warnings.length).toBeGreaterThanOrEqual(1);
          // Dozens of failed store calls, but rate-limited: at most one line per instance (app, peer, late).
          expect(warnings.length).toBeLessThanOrEqual(3);
          for (const line of capture.lines)
            for (const t of [before, afterOpaque, afterJwt, unknown])
              expect(line.message).not.toContain(t);
        } finally {
          Logger.overrideLogger(false);
        }
      });
    });
    describe('Redis killed and restarted on the same port', () => {
      let redis: StoppableRedis;
      let direct: RawClient;
      beforeAll(async () => {
        redis = await stoppableRedis();
        direct = createClient({ url: redis.url });
        direct.on('error', () => undefined);
        await direct.connect();
      });
      afterAll(async () => {
        await direct?.destroy();
        await redis?.stop();
      });

      it('while it is dead the store is not asked (no wait for storeTimeout), and once it is back the shared tier is used again', async () => {
        // The default adapter: node-redis queues commands while it reconnects, the slow case.
        const store = bareAdapter(redis.url);
        let storeCalls = 0;
        for (const method of ['get', 'set', 'delete'] as const) {
          const original = store[method].bind(store) as (...args: unknown[]) => unknown;
          (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
            storeCalls += 1;
            return original(...args);
          };
        }
        const capture = new CapturingLogger();
        // A storeTimeout this long would show as a hung validation if the dead store were asked.
        const app = await instance({ stores: [store], storeTimeout: 20_000 }, capture);
        const before = await opaqueToken();
        expect(await outcome(app.tokens.validate(before))).toBe('ok');
        expect(storeCalls).toBeGreaterThan(0);
        expect(await direct.keys(`*oidc-resource:token:${digest(before)}:*`)).toHaveLength(1);

        await redis.stop();
        // node-redis notices the closed socket on its own; wait for that, as a request would not.
        while ((store.client as { isReady?: boolean }).isReady)
          await new Promise((resolve) => setTimeout(resolve, 10));
        storeCalls = 0;
        const fresh = await Promise.all(Array.from({ length: 12 }, () => opaqueToken()));
        as.resetHits();
        const results = await Promise.all(fresh.map((t) => outcome(app.tokens.validate(t))));
        expect(results).toEqual(Array(12).fill('ok'));
        expect(introspections()).toBe(12);
        expect(storeCalls).toBe(0); // a disconnected client is known, not asked

        await redis.restart();
        // The client reconnects with its own backoff; the breaker's probe then finds the store.
        let shared: string | undefined;
        for (let attempt = 0; attempt < 200 && shared === undefined; attempt++) {
          const token = await opaqueToken();
          await app.tokens.validate(token);
          const keys = await direct.keys(`*oidc-resource:token:${digest(token)}:*`).catch(() => []);
          if (keys.length > 0) shared = token;
          else await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(shared).toBeDefined();
        // Another replica on the same Redis is served from it.
        const peer = await instance({ stores: [bareAdapter(redis.url)] });
        as.resetHits();
        expect(await outcome(peer.tokens.validate(shared!))).toBe('ok');
        expect(introspections()).toBe(0);
        for (const line of capture.lines) expect(line.message).not.toContain(before);
      });
    });
  });
}
