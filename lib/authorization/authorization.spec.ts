import 'reflect-metadata';
import { Controller, Get, Injectable } from '@nestjs/common';
import { AnyRole, Roles } from '../decorators/roles.decorator.js';
import { Authorize } from '../decorators/authorize.decorator.js';
import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';
import { toHttpError } from '../errors/www-authenticate.js';
import { AccessDeniedError } from '../errors/oidc-resource.error.js';
import { resolveOptions } from '../utils/resolve-options.js';
import {
  ANY_ROLE_METADATA_KEY,
  POLICIES_METADATA_KEY,
  ROLES_METADATA_KEY,
} from '../oidc-resource.constants.js';
import { extractRoles, extractScopes, readClaim, resolveClaimPaths } from './claim-path.js';
import { claimEquals, claimIncludes, jsonEqual, type OidcPolicy } from './policies.js';
import {
  checkPolicies,
  PolicyFailedError,
  PolicyNotRegisteredError,
  PolicyResolver,
} from './route-access.js';

const paths = (...list: Array<string | string[]>) => resolveClaimPaths('x', list, []);

describe('claim paths', () => {
  it('a dotted path, or an array of segments for names with dots', () => {
    const claims = {
      realm_access: { roles: ['a'] },
      'https://example.com/roles': ['b'],
      https: { '//example': { com: { roles: ['c'] } } },
    };
    expect(readClaim(claims, paths('realm_access.roles')[0]!)).toEqual(['a']);
    expect(readClaim(claims, paths(['https://example.com/roles'])[0]!)).toEqual(['b']);
    expect(readClaim(claims, paths('https://example.com/roles')[0]!)).toBeUndefined();
  });

  it('never follows the prototype chain or walks into arrays', () => {
    expect(readClaim({}, paths('constructor')[0]!)).toBeUndefined();
    expect(readClaim({}, paths('__proto__.toString')[0]!)).toBeUndefined();
    expect(readClaim({ a: [{ b: 1 }] }, paths('a.0.b')[0]!)).toBeUndefined();
    expect(readClaim({ a: 'text' }, paths('a.length')[0]!)).toBeUndefined();
  });

  it.each([
    ['not an array', 'roles'],
    ['an empty string', ['']],
    ['an empty segment', ['realm_access..roles']],
    ['an empty array entry', [[]]],
    ['a non-string segment', [['a', 1]]],
    ['a number', [7]],
  ])('an option that is %s fails at start, naming the key', (_name, roleClaims) => {
    const start = () =>
      resolveOptions({
        issuer: 'https://idp.example',
        audience: 'api',
        roleClaims: roleClaims as never,
      });
    expect(start).toThrow(InvalidConfigurationError);
    expect(start).toThrow(/"roleClaims/);
    expect(() =>
      resolveOptions({
        issuer: 'https://idp.example',
        audience: 'api',
        scopeClaims: roleClaims as never,
      }),
    ).toThrow(/"scopeClaims/);
  });

  it('defaults: scope then scp; roles and realm_access.roles', () => {
    const [options] = resolveOptions({ issuer: 'https://idp.example', audience: 'api' }).issuers;
    expect(options!.scopeClaims).toEqual([['scope'], ['scp']]);
    expect(options!.roleClaims).toEqual([['roles'], ['realm_access', 'roles']]);
  });
});

describe('extractScopes: the first present claim wins', () => {
  const defaults = paths('scope', 'scp');
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a string, split on spaces', { scope: 'a  b a' }, ['a', 'b']],
    ['scp as an array', { scp: ['a', 'b'] }, ['a', 'b']],
    ['an array in the RFC-defined scope claim grants nothing', { scope: ['a'], scp: ['b'] }, []],
    ['scope wins over scp (not merged)', { scope: 'a', scp: ['b'] }, ['a']],
    ['a malformed first claim grants nothing, even with a good second', { scope: 1, scp: 'b' }, []],
    ['a mixed array grants nothing', { scp: ['a', 1] }, []],
    ['an object grants nothing', { scope: { a: true } }, []],
    ['none', {}, []],
  ])('%s', (_name, claims, expected) => {
    expect(extractScopes(claims, defaults)).toEqual(expected);
  });
});

describe('extractRoles: every claim merged', () => {
  const all = paths('roles', 'realm_access.roles', ['urn:zitadel:iam:org:project:roles']);
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a string', { roles: 'a b  a' }, ['a', 'b']],
    ['an array, non-strings skipped', { roles: ['a', 1, ['b'], null, '', 'c'] }, ['a', 'c']],
    ['an object: its keys', { 'urn:zitadel:iam:org:project:roles': { a: {}, b: {} } }, ['a', 'b']],
    [
      'merged and deduplicated',
      {
        roles: ['a'],
        realm_access: { roles: ['a', 'b'] },
        'urn:zitadel:iam:org:project:roles': { c: 1 },
      },
      ['a', 'b', 'c'],
    ],
    ['a number, a boolean, null', { roles: 1, realm_access: { roles: true } }, []],
    ['an empty object key is skipped', { roles: JSON.parse('{"": 1, "a": 2}') }, ['a']],
  ])('%s', (_name, claims, expected) => {
    expect(extractRoles(claims, all)).toEqual(expected);
  });

  it('a 100 000-element array of numbers grants nothing; of strings, all of them', () => {
    expect(extractRoles({ roles: Array.from({ length: 100_000 }, (_, i) => i) }, all)).toEqual([]);
    const strings = Array.from({ length: 100_000 }, (_, i) => `r${i}`);
    expect(extractRoles({ roles: strings }, all)).toHaveLength(100_000);
  });
});

describe('decorator arguments are checked when applied', () => {
  it.each<[string, () => unknown]>([
    ['@Roles() without roles', () => Roles()],
    ['@Roles("")', () => Roles('')],
    ['@Roles(" admin")', () => Roles(' admin')],
    ['@Roles("   ")', () => Roles('   ')],
    ['@Roles(42)', () => Roles(42 as never)],
    ['@AnyRole() without roles', () => AnyRole()],
    ['@AnyRole(null)', () => AnyRole(null as never)],
    ['@Authorize() without policies', () => Authorize()],
    ['@Authorize("admin")', () => Authorize('admin' as never)],
    ['@Authorize(null)', () => Authorize(null as never)],
    ['@Authorize({ allows })', () => Authorize({ allows: () => true } as never)],
    ['@Authorize(a class without allows)', () => Authorize(class NotAPolicy {} as never)],
    ['claimEquals("", 1)', () => claimEquals('', 1)],
    ['claimEquals("a", undefined)', () => claimEquals('a', undefined)],
    ['claimEquals([], 1)', () => claimEquals([], 1)],
    ['claimIncludes("groups") without values', () => claimIncludes('groups')],
    ['claimIncludes("groups", "")', () => claimIncludes('groups', '')],
  ])('%s throws a TypeError', (_name, apply) => {
    expect(apply).toThrow(TypeError);
  });

  it('valid arguments become frozen, namespaced metadata; the last decorator on a target wins', () => {
    @Injectable()
    class OwnerPolicy implements OidcPolicy {
      allows() {
        return true;
      }
    }
    const policy = () => true;
    @Roles('admin')
    @Controller()
    class Sample {
      @Roles('editor', 'editor')
      @AnyRole('a', 'b')
      @Authorize(policy, OwnerPolicy)
      @Get()
      handler() {}
    }
    const handler = Object.getOwnPropertyDescriptor(Sample.prototype, 'handler')!.value as object;
    expect(ROLES_METADATA_KEY).toBe('oidc-resource:roles');
    expect(Reflect.getMetadata(ROLES_METADATA_KEY, Sample)).toEqual(['admin']);
    expect(Reflect.getMetadata(ROLES_METADATA_KEY, handler)).toEqual(['editor']);
    expect(Reflect.getMetadata(ANY_ROLE_METADATA_KEY, handler)).toEqual(['a', 'b']);
    const policies = Reflect.getMetadata(POLICIES_METADATA_KEY, handler) as unknown[];
    expect(policies).toEqual([policy, OwnerPolicy]);
    expect(Object.isFrozen(policies)).toBe(true);
  });
});

describe('claim policies', () => {
  const principal = (claims: Record<string, unknown>) => ({ claims }) as never;
  const context = {} as never;

  it('jsonEqual is deep and exact', () => {
    expect(jsonEqual({ a: [1, { b: 'c' }] }, { a: [1, { b: 'c' }] })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
    expect(jsonEqual(1, '1')).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });

  it('claimEquals and claimIncludes read paths like roleClaims', () => {
    expect(claimEquals('org.id', 'acme')(principal({ org: { id: 'acme' } }), context)).toBe(true);
    expect(claimEquals(['org.id'], 'acme')(principal({ 'org.id': 'acme' }), context)).toBe(true);
    expect(claimEquals('org.id', 'acme')(principal({ 'org.id': 'acme' }), context)).toBe(false);
    expect(claimIncludes('amr', 'mfa')(principal({ amr: ['pwd', 'mfa'] }), context)).toBe(true);
    expect(claimIncludes('amr', 'mfa')(principal({ amr: 'pwd mfa' }), context)).toBe(true);
    expect(claimIncludes('amr', 'mfa')(principal({ amr: { mfa: true } }), context)).toBe(false);
  });

  it('a policy refusal is 403 access_denied with insufficient_scope and no scope parameter', () => {
    const http = toHttpError(
      new AccessDeniedError('The access token lacks a required role: x'),
      'api',
    );
    expect(http.status).toBe(403);
    expect(http.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required role: x"',
    );
  });
});

describe('checkPolicies', () => {
  class Missing implements OidcPolicy {
    allows() {
      return true;
    }
  }
  const principal = { claims: {} } as never;
  const context = {} as never;
  const refusing = new PolicyResolver({
    get: () => {
      throw new Error('Nest could not find Missing element');
    },
  } as never);

  it('a policy class the container does not know fails with PolicyNotRegisteredError, never allows', async () => {
    await expect(checkPolicies(principal, [Missing], context, refusing)).rejects.toThrow(
      PolicyNotRegisteredError,
    );
    await expect(
      checkPolicies(principal, [Missing], context, new PolicyResolver(undefined)),
    ).rejects.toThrow(/Missing is not a provider/);
  });

  it('resolves a class once, then reuses the instance', async () => {
    let lookups = 0;
    const resolver = new PolicyResolver({
      get: () => {
        lookups++;
        return new Missing();
      },
    } as never);
    await checkPolicies(principal, [Missing], context, resolver);
    await checkPolicies(principal, [Missing], context, resolver);
    expect(lookups).toBe(1);
  });

  it('a plain error becomes PolicyFailedError with the original as cause', async () => {
    const boom = new Error('boom');
    const failing = () => {
      throw boom;
    };
    const error = await checkPolicies(principal, [failing], context, refusing).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PolicyFailedError);
    expect((error as Error).cause).toBe(boom);
  });

  it('runs in order and stops at the first refusal', async () => {
    const ran: string[] = [];
    const policy = (name: string, answer: boolean) => () => (ran.push(name), answer);
    await expect(
      checkPolicies(
        principal,
        [policy('a', true), policy('b', false), policy('c', true)],
        context,
        refusing,
      ),
    ).rejects.toBeInstanceOf(AccessDeniedError);
    expect(ran).toEqual(['a', 'b']);
  });
});
