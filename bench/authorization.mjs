#!/usr/bin/env node
/**
 * What `@Roles`, `@AnyRole` and `@Authorize` add to the guard on a token-cache hit. Not a test:
 * it reports, it does not assert.
 *
 *   npm run build && node bench/authorization.mjs
 *
 * Runs the BUILT guard's `canActivate()` in process, on a fake HTTP execution context, for one
 * token whose validation result is already in the memory cache (no network, no signature check),
 * on routes with no authorization metadata, `@Roles('editor')`, `@AnyRole(...)`, a principal with
 * 100 000 roles, and `@Authorize(claimEquals(...))`. Prints ns per call and the difference to the
 * route without metadata (best of several rounds; the machine is shared).
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';

const lib = await import(new URL('../dist/esm/index.js', import.meta.url).href);
const { OidcResourceModule, OidcAuthGuard, TokenCacheService } = lib;
const { Roles, AnyRole, Authorize, claimEquals } = lib;

const decorate = (decorators, target, key) => {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
  for (const d of decorators) d(target.prototype, key, descriptor);
};
class Routes {
  plain() {}
  roles() {}
  anyRole() {}
  policy() {}
}
decorate([Get('plain')], Routes, 'plain');
decorate([Roles('editor'), Get('roles')], Routes, 'roles');
decorate([AnyRole('admin', 'editor'), Get('any-role')], Routes, 'anyRole');
decorate([Authorize(claimEquals('email_verified', true)), Get('policy')], Routes, 'policy');
Controller('bench')(Routes);

class BenchModule {}
Module({
  imports: [
    OidcResourceModule.forRoot({ issuer: 'http://127.0.0.1:1', audience: 'api', global: false }),
  ],
})(BenchModule);

const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
const guard = app.get(OidcAuthGuard);
const cache = app.get(TokenCacheService);

async function cached(token, roles) {
  const principal = {
    sub: 'alice',
    clientId: 'web',
    scopes: Object.freeze(['api:read']),
    roles: Object.freeze(roles),
    issuer: 'http://127.0.0.1:1',
    audience: Object.freeze(['api']),
    exp: Date.now() + 3_600_000,
    claims: Object.freeze({ sub: 'alice', email_verified: true }),
    source: 'jwt',
  };
  await cache.set(TokenCacheService.keyFor('token', token), { ok: true, principal }, 3_600_000);
}
const few = 'token-with-three-roles-0123456789';
const many = 'token-with-100000-roles-0123456789';
await cached(few, ['viewer', 'editor', 'offline_access']);
await cached(many, [...Array.from({ length: 100_000 }, (_, i) => `r${i}`), 'editor']);

function context(handler, token) {
  const request = {
    headers: { authorization: `Bearer ${token}` },
    rawHeaders: ['Authorization', `Bearer ${token}`],
    url: '/bench',
    method: 'GET',
  };
  const response = { setHeader() {} };
  return new ExecutionContextHost([request, response, undefined], Routes, handler);
}

async function measure(handler, token, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await guard.canActivate(context(handler, token));
  return Number(process.hrtime.bigint() - start) / n;
}

const cases = [
  ['no authorization metadata', Routes.prototype.plain, few],
  ["@Roles('editor'), 3 roles", Routes.prototype.roles, few],
  ['@AnyRole(admin, editor), 3 roles', Routes.prototype.anyRole, few],
  ["@Roles('editor'), 100 001 roles", Routes.prototype.roles, many],
  ["@Authorize(claimEquals('email_verified', true))", Routes.prototype.policy, few],
];
const N = 200_000;
const best = new Map();
for (let round = 0; round < 7; round++) {
  for (const [name, handler, token] of cases) {
    const ns = await measure(handler, token, round === 0 ? 20_000 : N);
    if (round > 0) best.set(name, Math.min(best.get(name) ?? Infinity, ns));
  }
}
const base = best.get(cases[0][0]);
console.log(
  `guard.canActivate() on a cache hit, best of 6 rounds of ${N} calls (Node ${process.version})`,
);
for (const [name] of cases) {
  const ns = best.get(name);
  console.log(
    `${name.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns  (${ns - base >= 0 ? '+' : ''}${(ns - base).toFixed(0)} ns)`,
  );
}
await app.close();
