#!/usr/bin/env node
/**
 * What `OidcAuthGuard` adds, on a memory-cache hit, to a request through Nest on Express and on
 * Fastify, in CPU time. Not a test: it reports, it does not assert.
 *
 *   npm run bench:guard   (builds, then runs this file; about five minutes under load)
 *
 * Each app serves the same handler at `/baseline` (no guard), `/noop-guard` (a guard that
 * returns true: Nest's own cost of running any guard), `/noop-user` (a guard that only sets
 * `request.user`), `/async-user` (one that awaits once, then sets it: the floor for any
 * asynchronous guard), `/protected` (`OidcAuthGuard`) and `/passport` (a subclass of
 * `OidcAuthGuard` that overrides `getAuthenticateOptions` without changing what it returns,
 * which makes the guard run every request through passport, as it did before it learned to
 * skip passport). Requests are injected in process with light-my-request (Fastify's `inject()`,
 * and the same library on Express's handler), one at a time, so that no socket and no load
 * generator share the measurement. The token is a JWT-shaped, RS256-sized string whose verdict
 * is put in the memory tier first (no network, no signature check).
 *
 * CPU is `process.cpuUsage()` (user + system, all threads) around a batch of requests to one
 * route; the routes' batches alternate, round after round, in a rotating order. A route's
 * figure over the no-op guard is the median, over the rounds, of its batch minus the no-op
 * guard's batch of the same round, so that a burst of background load on a shared machine
 * weighs on both sides of one difference and moves one round of many. BENCH_ROUNDS (default
 * 121), BENCH_BATCH (default 500), BENCH_ADAPTERS (`fastify,express`) and BENCH_ROUTES change
 * what runs. BENCH_COMPARE=<another build's dist/esm/index.js> serves the same routes from a
 * second app built on that build, in the same process, its batches alternating with this build's
 * round after round: the fairest comparison of two builds on a machine whose load moves.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import inject from 'light-my-request';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

const LIBS = [['', await import(new URL('../dist/esm/index.js', import.meta.url).href)]];
if (process.env.BENCH_COMPARE) {
  LIBS[0][0] = 'this ';
  LIBS.push(['other ', await import(pathToFileURL(process.env.BENCH_COMPARE).href)]);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 121);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const ISSUER = 'http://127.0.0.1:1';

class NoopGuard {
  canActivate() {
    return true;
  }
}
const USER = Object.freeze({ sub: 'alice' });
class NoopUserGuard {
  canActivate(context) {
    context.getArgByIndex(0).user = USER;
    return true;
  }
}
class AsyncUserGuard {
  async canActivate(context) {
    await Promise.resolve();
    context.getArgByIndex(0).user = USER;
    return true;
  }
}
function passportPathGuard(OidcAuthGuard) {
  class PassportPathGuard extends OidcAuthGuard {
    getAuthenticateOptions() {
      return undefined;
    }
  }
  Injectable()(PassportPathGuard);
  return PassportPathGuard;
}

function route(path, guard) {
  class Routes {
    get() {
      return { ok: true };
    }
  }
  const d = Object.getOwnPropertyDescriptor(Routes.prototype, 'get');
  Get()(Routes.prototype, 'get', d);
  if (guard) UseGuards(guard)(Routes);
  Controller(path)(Routes);
  return Routes;
}

const b64 = (n, c) => c.repeat(n);
// header.payload.signature with an RS256-sized signature (342 characters) and a typical payload.
const TOKEN = `eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsxIn0.${b64(560, 'e')}.${b64(342, 's')}`;

async function start(adapter, lib) {
  const { OidcResourceModule, OidcAuthGuard, TokenCacheService } = lib;
  class BenchModule {}
  Module({
    imports: [OidcResourceModule.forRoot({ issuer: ISSUER, audience: 'api', global: false })],
    controllers: [
      route('baseline'),
      route('noop-guard', NoopGuard),
      route('noop-user', NoopUserGuard),
      route('async-user', AsyncUserGuard),
      route('protected', OidcAuthGuard),
      route('passport', passportPathGuard(OidcAuthGuard)),
    ],
  })(BenchModule);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(BenchModule, { logger: false });
  await app.init();
  const instance = app.getHttpAdapter().getInstance();
  if (adapter === 'fastify') await instance.ready();
  const cache = app.get(TokenCacheService);
  await cache.set(
    TokenCacheService.keyFor('token', TOKEN),
    {
      ok: true,
      principal: {
        sub: 'alice',
        clientId: 'web',
        scopes: Object.freeze(['api:read']),
        roles: Object.freeze([]),
        issuer: ISSUER,
        audience: Object.freeze(['api']),
        exp: Date.now() + 3_600_000,
        claims: Object.freeze({ sub: 'alice' }),
        source: 'jwt',
      },
    },
    3_600_000,
  );
  const dispatch =
    adapter === 'fastify'
      ? (options) => instance.inject(options)
      : (options) => inject((req, res) => instance(req, res), options);
  return { app, dispatch };
}

const headers = { authorization: `Bearer ${TOKEN}` };
async function batch(dispatch, url, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const res = await dispatch({ method: 'GET', url, headers });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const ROUTES = (
  process.env.BENCH_ROUTES ?? '/baseline,/noop-guard,/noop-user,/async-user,/protected,/passport'
).split(',');
const only = process.env.BENCH_ADAPTERS?.split(',') ?? ['fastify', 'express'];
const results = {};
console.log(
  `guard on a memory hit, CPU µs per request (median of ${ROUNDS} rounds of ${BATCH}), Node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
for (const adapter of only) {
  const apps = [];
  // One target per build and route; a route's figure is taken against its own build's no-op guard.
  const targets = [];
  for (const [label, lib] of LIBS) {
    const { app, dispatch } = await start(adapter, lib);
    apps.push(app);
    for (const url of ROUTES) targets.push({ name: `${label}${url}`, label, url, dispatch });
  }
  for (const t of targets) await batch(t.dispatch, t.url, 5000); // warm-up (JIT tiers)
  const samples = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so that no route always follows the same one.
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(round + k) % targets.length];
      samples[t.name].push(await batch(t.dispatch, t.url, BATCH));
    }
  }
  results[adapter] = {};
  for (const t of targets) {
    const noops = samples[`${t.label}/noop-guard`];
    const noop = median(noops ?? []);
    const m = median(samples[t.name]);
    // Per-round differences to the no-op guard of the same round, then their median.
    const diffs = samples[t.name].map((v, i) => v - (noops?.[i] ?? NaN));
    results[adapter][t.name] = { median: m, overNoop: median(diffs) };
    console.log(
      `${adapter.padEnd(8)} ${t.name.padEnd(18)} ${m.toFixed(1).padStart(7)} µs   over no-op guard ${median(diffs).toFixed(1).padStart(6)} µs  (vs medians ${(m - noop).toFixed(1)})`,
    );
  }
  for (const app of apps) await app.close();
}
console.log(
  `load at end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
