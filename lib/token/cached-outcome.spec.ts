/**
 * The shape checks on outcomes read back from a shared cache store, each on its own: every
 * entry below is well-formed except for the one property named, so a check that is removed
 * lets exactly that entry through. The e2e side (a planted Redis/Keyv entry is a miss, the
 * token is validated again) is in test/e2e/cache-checks.e2e-spec.ts.
 */
import {
  InvalidTokenError,
  IssuerUnavailableError,
  OidcResourceError,
  TokenExpiredError,
  TokenInactiveError,
} from '../errors/oidc-resource.error.js';
import { errorFor, isCachedOutcome, refusalFor, type CachedRefusal } from './cached-outcome.js';

const ISSUER = 'https://issuer.example.test';
const trusts = (issuer: string) => issuer === ISSUER;

const principal = (): Record<string, unknown> => ({
  sub: 'alice',
  clientId: 'web-app',
  scopes: ['api:read'],
  roles: ['admin'],
  issuer: ISSUER,
  audience: ['https://api.example.test'],
  exp: 1_900_000_000,
  claims: { sub: 'alice' },
  source: 'jwt',
});
const accepted = (changes: Record<string, unknown> = {}) => {
  const p = { ...principal(), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete p[key];
  return { ok: true, principal: p };
};
const refusal = (changes: Record<string, unknown> = {}) => {
  const r: Record<string, unknown> = {
    ok: false,
    code: 'invalid_token',
    message: 'The access token signature is invalid',
    reason: 'signature_invalid',
    claim: 'aud',
    ...changes,
  };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete r[key];
  return r;
};

describe('isCachedOutcome', () => {
  it.each([
    ['a full principal', accepted()],
    [
      'a principal without sub, clientId and exp',
      accepted({ sub: undefined, clientId: undefined, exp: undefined }),
    ],
    ['an introspected principal', accepted({ source: 'introspection' })],
    ['empty scopes, roles and audience', accepted({ scopes: [], roles: [], audience: [] })],
    ['a refusal with reason and claim', refusal()],
    ['a refusal without reason or claim', refusal({ reason: undefined, claim: undefined })],
    ['an expired refusal', refusal({ code: 'token_expired', reason: 'expired', claim: 'exp' })],
    ['an inactive refusal', refusal({ code: 'token_inactive', reason: 'inactive' })],
  ])('accepts %s', (_what, value) => {
    expect(isCachedOutcome(value, trusts)).toBe(true);
  });

  it.each([
    ['null', null],
    ['a string', 'ok'],
    ['a number', 1],
    ['ok missing', { principal: principal() }],
    ['ok "true" (a string)', { ok: 'true', principal: principal() }],
    ['principal null', { ok: true, principal: null }],
    ['principal a string', { ok: true, principal: 'alice' }],
    ['no issuer', accepted({ issuer: undefined })],
    ['a non-string issuer', accepted({ issuer: [ISSUER] })],
    ['an issuer this API does not trust', accepted({ issuer: 'https://evil.example.test' })],
    ['no source', accepted({ source: undefined })],
    ['another source', accepted({ source: 'cache' })],
    ['scopes missing', accepted({ scopes: undefined })],
    ['scopes a string', accepted({ scopes: 'api:read' })],
    ['a non-string scope', accepted({ scopes: ['api:read', 42] })],
    ['roles missing', accepted({ roles: undefined })],
    ['a non-string role', accepted({ roles: [{ admin: true }] })],
    ['audience missing', accepted({ audience: undefined })],
    ['a non-string audience', accepted({ audience: [null] })],
    ['claims missing', accepted({ claims: undefined })],
    ['claims null', accepted({ claims: null })],
    ['claims a string', accepted({ claims: 'sub=alice' })],
    ['a string exp', accepted({ exp: '1900000000' })],
    ['a non-string sub', accepted({ sub: 42 })],
    ['a non-string clientId', accepted({ clientId: ['web-app'] })],
    [
      'a refusal with a code that is no verdict on the token',
      refusal({ code: 'issuer_unavailable' }),
    ],
    ['a refusal without code', refusal({ code: undefined })],
    ['a refusal without message', refusal({ message: undefined })],
    ['a refusal with a non-string message', refusal({ message: { text: 'x' } })],
    ['a refusal with an unknown reason', refusal({ reason: 'planted' })],
    ['a refusal with a non-string reason', refusal({ reason: 7 })],
    ['a refusal with a non-string claim', refusal({ claim: 7 })],
  ])('refuses an entry with %s', (_what, value) => {
    expect(isCachedOutcome(value, trusts)).toBe(false);
  });
});

describe('isCachedOutcome on values only an in-process store can hold', () => {
  it('refuses a function dressed as a refusal', () => {
    const fn = Object.assign(() => undefined, refusal());
    expect(isCachedOutcome(fn, trusts)).toBe(false);
  });

  it('refuses a function dressed as a principal', () => {
    const fn = Object.assign(() => undefined, principal());
    expect(isCachedOutcome({ ok: true, principal: fn }, trusts)).toBe(false);
  });

  it('checks the issuer is a string itself, whatever `trusts` answers', () => {
    const trustsAll = () => true;
    expect(isCachedOutcome(accepted(), trustsAll)).toBe(true);
    expect(isCachedOutcome(accepted({ issuer: [ISSUER] }), trustsAll)).toBe(false);
    expect(isCachedOutcome(accepted({ issuer: undefined }), trustsAll)).toBe(false);
  });
});

describe('refusalFor', () => {
  it('keeps a verdict on the token: code, message, reason and claim, nothing else', () => {
    const error = new InvalidTokenError('The audience is wrong', {
      reason: 'aud_mismatch',
      claim: 'aud',
    });
    expect(refusalFor(error)).toStrictEqual({
      ok: false,
      code: 'invalid_token',
      message: 'The audience is wrong',
      reason: 'aud_mismatch',
      claim: 'aud',
    });
  });

  it('leaves out reason and claim when the error has none (no undefined members)', () => {
    const outcome = refusalFor(new OidcResourceError('invalid_token', 'x'));
    expect(outcome).toStrictEqual({ ok: false, code: 'invalid_token', message: 'x' });
    expect(Object.keys(outcome!)).toEqual(['ok', 'code', 'message']);
  });

  it.each([
    ['an expired token', new TokenExpiredError('expired'), 'token_expired'],
    ['an inactive token', new TokenInactiveError(), 'token_inactive'],
  ])('caches %s', (_what, error, code) => {
    expect(refusalFor(error)).toMatchObject({ ok: false, code });
  });

  it.each([
    ['an unreachable issuer', new IssuerUnavailableError('down')],
    ['another library error', new OidcResourceError('invalid_request', 'bad')],
    ['a plain Error', new Error('bug')],
    ['a look-alike object', { code: 'invalid_token', message: 'x' }],
  ])('never caches %s (retried, not remembered)', (_what, error) => {
    expect(refusalFor(error)).toBeUndefined();
  });
});

describe('errorFor', () => {
  it.each([
    ['token_expired', TokenExpiredError],
    ['token_inactive', TokenInactiveError],
    ['invalid_token', InvalidTokenError],
  ] as const)('rebuilds %s as its own class, with the same details', (code, type) => {
    const error = errorFor({ ok: false, code, message: 'm', reason: 'malformed', claim: 'c' });
    expect(error).toBeInstanceOf(type);
    expect(error.toJSON()).toEqual({
      name: type.name,
      code,
      status: 401,
      message: 'm',
      reason: 'malformed',
      claim: 'c',
    });
  });

  it("keeps each class's own defaults when the entry names no reason or claim", () => {
    const bare = (code: CachedRefusal['code']) => errorFor({ ok: false, code, message: 'm' });
    expect(bare('token_expired')).toMatchObject({ reason: 'expired', claim: 'exp' });
    expect(bare('token_inactive')).toMatchObject({ reason: 'inactive' });
    expect(bare('token_inactive').claim).toBeUndefined();
    expect(bare('invalid_token').reason).toBeUndefined();
    expect(bare('invalid_token').claim).toBeUndefined();
  });

  it('round-trips through refusalFor', () => {
    const original = new InvalidTokenError('kid', { reason: 'kid_unknown' });
    const rebuilt = errorFor(refusalFor(original)!);
    expect(rebuilt.toJSON()).toEqual(original.toJSON());
  });
});
