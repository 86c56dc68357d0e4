#!/usr/bin/env node
/**
 * Replicas sharing Redis. Not a test: it reports, it does not assert.
 *
 *   npm run bench:redis        (npm run build, then this file; needs redis-server on PATH)
 *
 * Uses the BUILT library (dist/esm; override with OIDC_RESOURCE_DIST=/path/to/index.js), a
 * loopback authorization server started here (JWKS, RFC 7662 introspection) and its own
 * redis-server on a free port. Two "replicas" are two Nest application contexts in this process,
 * each with its own memory tier and its own Redis client. Three measurements:
 *
 * 1. A memory miss served by Redis (cache.max 200, 2000 tokens already in Redis), one call in
 *    flight: µs per validate() and p99, next to a memory hit and to a new JWT without Redis.
 * 2. A burst: both replicas receive the same new opaque tokens at the same moment; the
 *    introspections per token the pair makes, without and with `cache.coalesce`, and the CPU of
 *    this process (both replicas and the issuer) per token.
 * 3. Redis SIGKILLed under load and restarted on the same port: two replicas, cache.max 200, 2000
 *    JWTs, 10 validations in flight per replica; p50/p99 per 500 ms window, against the same load
 *    with no shared store, and the Redis hits counted in each window (INFO keyspace_hits).
 *
 * Results go to bench/results/redis.json; tables are printed.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { pathToFileURL } from 'node:url';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import KeyvRedis, { createClient } from '@keyv/redis';
import { keyPairSync } from './key-pair.mjs';

const LIB = process.env.OIDC_RESOURCE_DIST
  ? pathToFileURL(process.env.OIDC_RESOURCE_DIST).href
  : new URL('../dist/esm/index.js', import.meta.url).href;
const RESULTS = new URL('./results/redis.json', import.meta.url);
const AUDIENCE = 'https://api.bench.test/';
const lib = await import(LIB);

// ------------------------------------------------------------------ loopback issuer

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function startIssuer() {
  const rsa = keyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rs', alg: 'RS256', use: 'sig' };
  const hits = { introspection: 0 };
  const server = http.createServer((req, res) => {
    const json = (body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration')
      return json({ issuer, jwks_uri: `${issuer}/jwks`, introspection_endpoint: `${issuer}/in` });
    if (req.url === '/jwks') return json({ keys: [jwk] });
    hits.introspection++;
    req.resume();
    req.on('end', () => {
      const now = Math.floor(Date.now() / 1000);
      json({
        active: true,
        iss: issuer,
        aud: AUDIENCE,
        sub: 'u',
        client_id: 'c',
        scope: 'api:read',
        token_type: 'Bearer',
        exp: now + 3600,
      });
    });
    return undefined;
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const jwt = (i) => {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid: 'rs' })}.${b64({ iss: issuer, aud: AUDIENCE, sub: `u${i}`, client_id: 'c', iat: now, exp: now + 3600, jti: crypto.randomUUID(), scope: 'api:read' })}`;
    return `${input}.${crypto.sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`;
  };
  return {
    issuer,
    hits,
    jwt,
    opaque: () => `opaque-${crypto.randomBytes(16).toString('base64url')}`,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

// ------------------------------------------------------------------ redis-server

async function freePort() {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

async function startRedis(port) {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { kill: async () => (child.kill('SIGKILL'), await exited) };
}

// ------------------------------------------------------------------ helpers

async function replica(issuer, stores, max = 200, coalesce = false) {
  const app = await NestFactory.createApplicationContext(
    lib.OidcResourceModule.forRoot({
      issuer,
      audience: AUDIENCE,
      introspection: { clientId: 'rs', clientSecret: 'secret' },
      cache: { max, stores, coalesce },
    }),
    { logger: false, abortOnError: false },
  );
  return { app, tokens: app.get(lib.TokenValidationService) };
}

const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0;
const ms = (n) => +n.toFixed(3);

async function sequential(tokens, list) {
  const lat = [];
  const start = performance.now();
  for (const t of list) {
    const t0 = performance.now();
    await tokens.validate(t);
    lat.push(performance.now() - t0);
  }
  const total = performance.now() - start;
  lat.sort((a, b) => a - b);
  return {
    usPerOp: +((total * 1000) / list.length).toFixed(1),
    p50ms: ms(pct(lat, 50)),
    p99ms: ms(pct(lat, 99)),
  };
}

// ------------------------------------------------------------------ 1. memory miss, Redis hit

async function sharedHit(issuer, url) {
  const writer = await replica(issuer.issuer, [new KeyvRedis(url)], 10_000);
  const reader = await replica(issuer.issuer, [new KeyvRedis(url)], 200);
  const alone = await replica(issuer.issuer, [], 200);
  const tokens = Array.from({ length: 2000 }, (_, i) => issuer.jwt(i));
  for (const t of tokens) await writer.tokens.validate(t);
  await reader.tokens.validate(tokens[0]);
  // Warm-up: one pass each, then the measured pass (the 200-entry memory tier keeps missing).
  await sequential(reader.tokens, tokens);
  const rows = [];
  rows.push({ case: 'memory miss, Redis hit (JWT)', ...(await sequential(reader.tokens, tokens)) });
  const hot = tokens[0];
  await alone.tokens.validate(hot);
  rows.push({ case: 'memory hit', ...(await sequential(alone.tokens, Array(20_000).fill(hot))) });
  const fresh = Array.from({ length: 2000 }, (_, i) => issuer.jwt(10_000 + i));
  rows.push({ case: 'new JWT, no shared store', ...(await sequential(alone.tokens, fresh)) });
  for (const r of [writer, reader, alone]) await r.app.close();
  return rows;
}

// ------------------------------------------------------------------ 2. burst on two replicas

async function burst(issuer, url, coalesce) {
  const a = await replica(issuer.issuer, [new KeyvRedis(url)], 10_000, coalesce);
  const b = await replica(issuer.issuer, [new KeyvRedis(url)], 10_000, coalesce);
  await a.tokens.validate(issuer.opaque());
  await b.tokens.validate(issuer.opaque());
  const tokens = Array.from({ length: 500 }, () => issuer.opaque());
  issuer.hits.introspection = 0;
  const lat = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < tokens.length; i += 10) {
    const chunk = tokens.slice(i, i + 10);
    await Promise.all(
      chunk.flatMap((t) =>
        [a, b].map(async (r) => {
          const t0 = performance.now();
          await r.tokens.validate(t);
          lat.push(performance.now() - t0);
        }),
      ),
    );
  }
  const cpu = process.cpuUsage(cpu0);
  lat.sort((x, y) => x - y);
  const out = {
    case: `same 500 new opaque tokens on 2 replicas at once, coalesce ${coalesce ? 'on' : 'off'}`,
    tokens: tokens.length,
    cpuUsPerToken: Math.round((cpu.user + cpu.system) / tokens.length),
    p50ms: ms(pct(lat, 50)),
    p99ms: ms(pct(lat, 99)),
    introspections: issuer.hits.introspection,
    perToken: +(issuer.hits.introspection / tokens.length).toFixed(2),
  };
  await a.app.close();
  await b.app.close();
  return out;
}

// ------------------------------------------------------------------ 3. outage

async function outage(issuer, port, withRedis) {
  const url = `redis://127.0.0.1:${port}`;
  let redis = withRedis ? await startRedis(port) : undefined;
  const stores = () => (withRedis ? [new KeyvRedis(url)] : []);
  const replicas = [await replica(issuer.issuer, stores()), await replica(issuer.issuer, stores())];
  const tokens = Array.from({ length: 2000 }, (_, i) => issuer.jwt(i));
  for (const t of tokens) await replicas[0].tokens.validate(t);
  const stats = withRedis ? createClient({ url }) : undefined;
  if (stats) {
    stats.on('error', () => undefined);
    await stats.connect();
  }
  const WINDOW = 500;
  const DURATION = 10_000;
  const windows = Array.from({ length: DURATION / WINDOW }, () => ({
    lat: [],
    failed: 0,
    redisHits: 0,
  }));
  const start = performance.now();
  let stop = false;
  const worker = async (r) => {
    while (!stop) {
      const t = tokens[(Math.random() * tokens.length) | 0];
      const t0 = performance.now();
      let ok = true;
      try {
        await r.tokens.validate(t);
      } catch {
        ok = false;
      }
      const w = windows[Math.floor((t0 - start) / WINDOW)];
      // A memory hit or a local JWT check never leaves the microtask queue: yield to timers.
      await new Promise((r) => setImmediate(r));
      if (!w) continue;
      if (ok) w.lat.push(performance.now() - t0);
      else w.failed++;
    }
  };
  const keyspaceHits = async () => {
    try {
      const info = await Promise.race([
        stats.info('stats'),
        new Promise((r) => setTimeout(() => r(''), 100)),
      ]);
      const m = /keyspace_hits:(\d+)/.exec(info);
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  };
  const events = [];
  const control = (async () => {
    let last = stats ? await keyspaceHits() : undefined;
    for (let k = 0; k < windows.length; k++) {
      await new Promise((r) => setTimeout(r, start + (k + 1) * WINDOW - performance.now()));
      if (stats) {
        const now = await keyspaceHits();
        windows[k].redisHits =
          now !== undefined && last !== undefined ? Math.max(0, now - last) : 0;
        if (now !== undefined) last = now;
      }
      const t = (k + 1) * WINDOW;
      if (redis && t === 2000) {
        await redis.kill();
        redis = undefined;
        last = 0;
        events.push('SIGKILL at 2.0 s');
      }
      if (withRedis && t === 5000) {
        redis = await startRedis(port);
        last = 0;
        events.push(
          `restarted at 5.0 s (ready at ${((performance.now() - start) / 1000).toFixed(2)} s)`,
        );
      }
    }
    stop = true;
  })();
  await Promise.all([
    control,
    ...replicas.flatMap((r) => Array.from({ length: 10 }, () => worker(r))),
  ]);
  for (const r of replicas) await r.app.close();
  try {
    stats?.destroy();
  } catch {
    // already gone
  }
  await redis?.kill();
  return {
    events,
    windows: windows.map((w, k) => {
      const lat = w.lat.sort((a, b) => a - b);
      return {
        from: `${((k * WINDOW) / 1000).toFixed(1)} s`,
        ok: lat.length,
        failed: w.failed,
        p50ms: ms(pct(lat, 50)),
        p99ms: ms(pct(lat, 99)),
        ...(withRedis ? { redisHits: w.redisHits } : {}),
      };
    }),
  };
}

// ------------------------------------------------------------------ main

const issuer = await startIssuer();
const port = await freePort();
const only = (process.env.BENCH_REDIS ?? 'shared,burst,outage').split(',');
const result = {
  benchmark: 'replicas sharing Redis',
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? '?'}`,
  loadAverageAtStart: os.loadavg().map((l) => +l.toFixed(2)),
};
if (only.includes('shared') || only.includes('burst')) {
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  if (only.includes('shared')) result.sharedHit = await sharedHit(issuer, url);
  if (only.includes('burst'))
    result.burst = [await burst(issuer, url, false), await burst(issuer, url, true)];
  await redis.kill();
}
if (only.includes('outage')) {
  result.outageNoRedis = (await outage(issuer, port, false)).windows;
  const killed = await outage(issuer, port, true);
  result.outageEvents = killed.events;
  result.outage = killed.windows;
}
await issuer.close();
console.log(JSON.stringify(result, null, 1));
if (!process.env.OIDC_RESOURCE_DIST && only.length === 3)
  await writeFile(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
