import { InvalidTokenError, TokenExpiredError } from '../errors/oidc-resource.error.js';
import {
  audienceList,
  checkAudience,
  checkIssuer,
  checkNotIdToken,
  checkTimes,
  claimMalformed,
  claimMissing,
  isAccessTokenType,
  refuse,
} from './claim-rules.js';

/** The error `run` throws, or `undefined`. */
function thrown(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('checkTimes (exp, nbf, iat against the clock, with tolerance)', () => {
  const now = 1_700_000_000_000;
  const seconds = now / 1000;

  it('accepts a past nbf and iat and a future exp', () => {
    expect(
      thrown(() => checkTimes({ nbf: seconds - 60, iat: seconds - 60, exp: seconds + 60 }, now, 0)),
    ).toBeUndefined();
  });

  it('refuses exp at or before now without tolerance, and accepts it inside the tolerance', () => {
    expect(thrown(() => checkTimes({ exp: seconds }, now, 0))).toBeInstanceOf(TokenExpiredError);
    expect(thrown(() => checkTimes({ exp: seconds - 5 }, now, 10))).toBeUndefined();
    expect(thrown(() => checkTimes({ exp: seconds - 10 }, now, 10))).toBeInstanceOf(
      TokenExpiredError,
    );
  });

  it('refuses a future nbf beyond the tolerance, and accepts it inside', () => {
    expect(thrown(() => checkTimes({ nbf: seconds + 1 }, now, 0))).toMatchObject({
      reason: 'not_yet_valid',
      claim: 'nbf',
    });
    expect(thrown(() => checkTimes({ nbf: seconds + 5 }, now, 10))).toBeUndefined();
    expect(thrown(() => checkTimes({ nbf: seconds + 11 }, now, 10))).toMatchObject({
      reason: 'not_yet_valid',
    });
  });

  it('refuses a future iat beyond the tolerance, and accepts it inside', () => {
    expect(thrown(() => checkTimes({ iat: seconds + 1 }, now, 0))).toMatchObject({
      reason: 'iat_in_future',
      claim: 'iat',
    });
    expect(thrown(() => checkTimes({ iat: seconds + 5 }, now, 10))).toBeUndefined();
  });

  it('accepts nbf and iat of exactly now; says which rule refused', () => {
    expect(thrown(() => checkTimes({ nbf: seconds, iat: seconds }, now, 0))).toBeUndefined();
    expect(thrown(() => checkTimes({ nbf: seconds + 1 }, now, 0))).toMatchObject({
      message: 'The access token is not valid yet (nbf)',
    });
    expect(thrown(() => checkTimes({ iat: seconds + 1 }, now, 0))).toMatchObject({
      message: 'The access token was issued in the future (iat)',
    });
  });

  it.each(['exp', 'nbf', 'iat'])('refuses a non-numeric or non-finite %s', (name) => {
    for (const value of ['1', null, Infinity, NaN])
      expect(thrown(() => checkTimes({ [name]: value }, now, 0))).toMatchObject({
        reason: 'claim_malformed',
        claim: name,
      });
  });
});

/** What a refusal says: class, code, reason, claim and message. */
function said(error: unknown) {
  expect(error).toBeInstanceOf(InvalidTokenError);
  const e = error as InvalidTokenError;
  return { code: e.code, reason: e.reason, claim: e.claim, message: e.message };
}

describe('refusals', () => {
  it('refuse carries the reason, the message, and the claim when named', () => {
    expect(said(refuse('malformed', 'bad'))).toEqual({
      code: 'invalid_token',
      reason: 'malformed',
      claim: undefined,
      message: 'bad',
    });
    expect(said(refuse('iss_mismatch', 'other', 'iss'))).toMatchObject({ claim: 'iss' });
  });

  it('claimMissing and claimMalformed name the claim', () => {
    expect(said(claimMissing('exp'))).toEqual({
      code: 'invalid_token',
      reason: 'claim_missing',
      claim: 'exp',
      message: 'The access token lacks the required "exp" claim',
    });
    expect(said(claimMalformed('aud'))).toEqual({
      code: 'invalid_token',
      reason: 'claim_malformed',
      claim: 'aud',
      message: 'The access token\'s "aud" claim is malformed',
    });
  });
});

describe('audienceList', () => {
  it('reads absent, a string and an array of strings; refuses anything else', () => {
    expect(audienceList(undefined)).toEqual([]);
    expect(audienceList('a')).toEqual(['a']);
    expect(audienceList(['a', 'b'])).toEqual(['a', 'b']);
    expect(audienceList([])).toEqual([]);
    for (const bad of [null, 7, ['a', 7], [null], { 0: 'a' }, ''.length])
      expect(audienceList(bad)).toBeUndefined();
  });
});

describe('checkIssuer', () => {
  it('passes an absent or exact iss, refuses any other', () => {
    expect(thrown(() => checkIssuer({}, 'https://as'))).toBeUndefined();
    expect(thrown(() => checkIssuer({ iss: 'https://as' }, 'https://as'))).toBeUndefined();
    for (const iss of ['https://as/', 'https://AS', 7, null])
      expect(said(thrown(() => checkIssuer({ iss }, 'https://as')))).toEqual({
        code: 'invalid_token',
        reason: 'iss_mismatch',
        claim: 'iss',
        message: 'The access token was issued by another issuer',
      });
  });
});

describe('checkAudience', () => {
  const API = 'https://api';
  const mismatch = {
    code: 'invalid_token',
    reason: 'aud_mismatch',
    claim: 'aud',
    message: 'The access token is meant for another audience',
  };

  it('returns the list when one configured audience is in it', () => {
    expect(checkAudience({ aud: ['x', API] }, [API], false)).toEqual(['x', API]);
    expect(checkAudience({ aud: API }, ['y', API], false)).toEqual([API]);
  });

  it('refuses a list without a configured audience', () => {
    expect(said(thrown(() => checkAudience({ aud: ['x'] }, [API], false)))).toEqual(mismatch);
    expect(said(thrown(() => checkAudience({ aud: ['x'] }, [API], true)))).toEqual(mismatch);
  });

  it('an empty aud passes only with allowEmpty', () => {
    expect(said(thrown(() => checkAudience({}, [API], false)))).toEqual(mismatch);
    expect(said(thrown(() => checkAudience({ aud: [] }, [API], false)))).toEqual(mismatch);
    expect(checkAudience({}, [API], true)).toEqual([]);
  });

  it('audience false accepts any well-formed aud, never a malformed one', () => {
    expect(checkAudience({ aud: 'x' }, false, false)).toEqual(['x']);
    expect(checkAudience({}, false, false)).toEqual([]);
    expect(said(thrown(() => checkAudience({ aud: 7 }, false, true)))).toMatchObject({
      reason: 'claim_malformed',
      claim: 'aud',
    });
  });
});

describe('checkNotIdToken', () => {
  const ok = (claims: Record<string, unknown>, requireClient = false) =>
    thrown(() => checkNotIdToken(claims, requireClient));
  const refused = (claims: Record<string, unknown>, requireClient = false) =>
    said(ok(claims, requireClient));

  it('a provider marker of an ID token is refused, naming the claim', () => {
    for (const typ of ['ID', 'id'])
      expect(refused({ typ })).toEqual({
        code: 'invalid_token',
        reason: 'id_token',
        claim: 'typ',
        message: 'The token is an ID token ("typ" claim), not an access token',
      });
    expect(refused({ token_use: 'id' })).toMatchObject({
      reason: 'id_token',
      claim: 'token_use',
      message: 'The token is an ID token ("token_use" claim), not an access token',
    });
  });

  it('a marker of another kind is not an access token', () => {
    for (const typ of ['Refresh', 'offline', 'LOGOUT'])
      expect(refused({ typ })).toEqual({
        code: 'invalid_token',
        reason: 'not_access_token',
        claim: 'typ',
        message: 'The token is not an access token ("typ" claim)',
      });
    expect(refused({ token_use: 'refresh' })).toMatchObject({
      reason: 'not_access_token',
      claim: 'token_use',
    });
  });

  it('access markers pass, and an unknown typ says nothing (token_use then decides)', () => {
    for (const claims of [
      { typ: 'Bearer' },
      { typ: 'DPoP' },
      { token_use: 'access' },
      { typ: 'at' },
    ])
      expect(ok(claims)).toBeUndefined();
    expect(refused({ typ: 'at', token_use: 'id' })).toMatchObject({ claim: 'token_use' });
    expect(refused({ typ: 7, token_use: 'id' })).toMatchObject({ claim: 'token_use' });
    expect(ok({ token_use: 7 }, false)).toBeUndefined();
  });

  it.each(['nonce', 'at_hash', 'c_hash', 's_hash'])('an ID-token claim (%s) is refused', (name) => {
    expect(refused({ [name]: 'x', client_id: 'c' })).toEqual({
      code: 'invalid_token',
      reason: 'id_token',
      claim: name,
      message: `The token is an ID token ("${name}" claim), not an access token`,
    });
  });

  it('a nonce is allowed beside an explicit access marker, the other ID-token claims are not', () => {
    expect(ok({ typ: 'Bearer', nonce: 'n' })).toBeUndefined();
    expect(ok({ typ: 'DPoP', nonce: 'n' })).toBeUndefined();
    expect(ok({ token_use: 'access', nonce: 'n' })).toBeUndefined();
    expect(refused({ typ: 'Bearer', at_hash: 'h' })).toMatchObject({ claim: 'at_hash' });
  });

  it('with requireClient, a token that names no client is refused unless marked as access', () => {
    expect(refused({ sub: 'a' }, true)).toEqual({
      code: 'invalid_token',
      reason: 'claim_missing',
      claim: 'client_id',
      message:
        'The access token names no client ("client_id", "azp", "appid" or "cid"), as an ID token would',
    });
    expect(refused({ client_id: 7 }, true)).toMatchObject({ reason: 'claim_missing' });
    for (const name of ['client_id', 'azp', 'appid', 'cid'])
      expect(ok({ [name]: 'c' }, true)).toBeUndefined();
    expect(ok({ typ: 'Bearer' }, true)).toBeUndefined();
    expect(ok({ typ: 'dpop' }, true)).toBeUndefined();
    expect(ok({ sub: 'a' }, false)).toBeUndefined();
  });
});

describe('isAccessTokenType', () => {
  it('is bearer or DPoP, in any case, nothing else', () => {
    for (const value of ['Bearer', 'bearer', 'DPOP', 'DPoP'])
      expect(isAccessTokenType(value)).toBe(true);
    for (const value of ['Bearerx', 'xbearer', 'N_A', '', undefined, 7, ['Bearer']])
      expect(isAccessTokenType(value)).toBe(false);
  });
});
