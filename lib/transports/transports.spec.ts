import { jest } from '@jest/globals';
import {
  AccessDeniedError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  IssuerUnavailableError,
  TokenExpiredError,
  TokenMissingError,
  UserInfoFailedError,
} from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { bearerValue, readBearer } from './bearer.js';
import { closeAtExpiry } from './expiry-timer.js';
import { graphqlCode, refusalOf } from './oauth-error.js';
import { clockToleranceOf } from './transport-guard.js';
import { resolveOptions } from '../utils/resolve-options.js';

describe('readBearer (graphql-ws connectionParams)', () => {
  it.each([undefined, null, 'Bearer abc', 42])('%p carries no token', (params) => {
    expect(readBearer(params)).toEqual({});
  });

  it('reads Authorization, its name and scheme in any case', () => {
    expect(readBearer({ Authorization: 'Bearer abc' })).toEqual({ token: 'abc' });
    expect(readBearer({ AUTHORIZATION: 'bearer   abc.def' })).toEqual({ token: 'abc.def' });
    expect(readBearer({ other: 1 })).toEqual({});
  });

  it('another scheme is no bearer token', () => {
    expect(readBearer({ Authorization: 'Basic dXNlcjpwYXNz' })).toEqual({});
  });

  it.each([
    [{ Authorization: 'Bearer a', authorization: 'Bearer a' }, 'authorization_duplicated'],
    [{ Authorization: 42 }, 'request_malformed'],
    [{ Authorization: 'Bearer a"b' }, 'request_malformed'],
    [{ Authorization: 'Bearer a b' }, 'request_malformed'],
  ])('%p is invalid_request (%s)', (params, reason) => {
    const { error, token } = readBearer(params);
    expect(token).toBeUndefined();
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error?.reason).toBe(reason);
  });
});

describe('bearerValue (socket.io auth.token, rpc.token)', () => {
  it('takes a token with or without the Bearer scheme', () => {
    expect(bearerValue('abc', 'x')).toEqual({ token: 'abc' });
    expect(bearerValue('Bearer abc', 'x')).toEqual({ token: 'abc' });
    expect(bearerValue(undefined, 'x')).toEqual({});
    expect(bearerValue(null, 'x')).toEqual({});
  });

  it.each([42, {}, ['abc'], '', '   ', 'a"b'])('%p is invalid_request, named', (value) => {
    const { error } = bearerValue(value, 'auth.token');
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error?.message).toMatch(/^auth\.token /);
  });
});

describe('refusalOf: the HTTP answer, as data for other transports', () => {
  it.each([
    [new TokenMissingError(), 401, 'invalid_token', 'UNAUTHENTICATED'],
    [new InvalidRequestError('bad'), 400, 'invalid_request', 'UNAUTHENTICATED'],
    [new InvalidTokenError('forged'), 401, 'invalid_token', 'UNAUTHENTICATED'],
    [new TokenExpiredError(), 401, 'invalid_token', 'UNAUTHENTICATED'],
    [new InsufficientScopeError(['a', 'b']), 403, 'insufficient_scope', 'FORBIDDEN'],
    [new AccessDeniedError('no role'), 403, 'insufficient_scope', 'FORBIDDEN'],
    [new IssuerUnavailableError('down'), 503, 'temporarily_unavailable', 'SERVICE_UNAVAILABLE'],
    [new UserInfoFailedError('404'), 502, 'server_error', 'INTERNAL_SERVER_ERROR'],
  ])('%s → %i %s %s', (error, status, code, graphql) => {
    const { http, oauth } = refusalOf(error, 'api');
    expect(http.status).toBe(status);
    expect(oauth.error).toBe(code);
    expect(graphqlCode(http.status)).toBe(graphql);
  });

  it('scope lists the required scopes, as the challenge does; roles name none', () => {
    expect(refusalOf(new InsufficientScopeError(['a', 'b']), 'api').oauth).toEqual({
      error: 'insufficient_scope',
      error_description: 'The access token lacks a required scope',
      scope: 'a b',
    });
    expect(refusalOf(new AccessDeniedError('no role'), 'api').oauth).not.toHaveProperty('scope');
  });

  it('server-side failures are described generically', () => {
    const { oauth } = refusalOf(new IssuerUnavailableError('connect ECONNREFUSED 10.0.0.1'), 'api');
    expect(oauth.error_description).toBe('The service is temporarily unavailable; try again later');
  });
});

describe('closeAtExpiry', () => {
  const principal = (expiresAt?: number) =>
    ({
      expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
    }) as AuthenticatedPrincipal;
  const settings = (now: number, clockTolerance = 0) => ({ clock: () => now, clockTolerance });

  it('closes at once a socket whose token is already past exp plus the tolerance', () => {
    const close = jest.fn();
    closeAtExpiry({ close, once: () => undefined }, principal(1_000), settings(2_000), 4401);
    expect(close).toHaveBeenCalledWith(4401, 'Access token expired');
    const disconnect = jest.fn();
    closeAtExpiry({ disconnect, once: () => undefined }, principal(1_000), settings(2_000), 4401);
    expect(disconnect).toHaveBeenCalledWith(true);
  });

  it('closes a socket when its deadline comes, with one timer per socket', async () => {
    const now = Date.now();
    const closed = new Promise<unknown[]>((resolve) => {
      const socket = { close: (...args: unknown[]) => resolve(args), once: jest.fn() };
      // exp 20 ms ahead, plus a tolerance that is not waited for in full: the clock is ahead.
      const settings = { clock: () => Date.now() + 1_000, clockTolerance: 1 };
      closeAtExpiry(socket, principal(now + 20), settings, 4401);
      closeAtExpiry(socket, principal(now + 20), settings, 4401);
      expect(socket.once).toHaveBeenCalledTimes(1);
    });
    expect(await closed).toEqual([4401, 'Access token expired']);
  });

  it('clears the timer when the socket ends first', async () => {
    const close = jest.fn();
    let ended: (() => void) | undefined;
    const socket = { close, once: (_event: string, listener: () => void) => (ended = listener) };
    closeAtExpiry(socket, principal(Date.now() + 20), settings(Date.now()), 4401);
    ended!();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(close).not.toHaveBeenCalled();
  });

  it('does nothing for a token without exp', () => {
    const close = jest.fn();
    closeAtExpiry({ close }, principal(undefined), settings(2_000), 4401);
    expect(close).not.toHaveBeenCalled();
  });
});

describe('clockToleranceOf', () => {
  it("takes the vouching issuer's own leeway, else the top-level one, else the default", () => {
    const options = resolveOptions({
      audience: 'api',
      clockTolerance: 7,
      issuers: [
        { issuer: 'https://a.example', clockTolerance: 5 },
        { issuer: 'https://b.example' },
      ],
      resolveIssuer: () => undefined,
    });
    expect(clockToleranceOf(options, 'https://a.example')).toBe(5);
    expect(clockToleranceOf(options, 'https://b.example')).toBe(7);
    expect(clockToleranceOf(options, 'https://tenant.example')).toBe(7);
    const plain = resolveOptions({ issuer: 'https://a.example', audience: 'api' });
    expect(clockToleranceOf(plain, 'https://a.example')).toBe(30);
    expect(clockToleranceOf(plain, 'https://elsewhere.example')).toBe(30);
  });
});
