import { TokenExpiredError } from '../errors/oidc-resource.error.js';
import { checkTimes } from './claim-rules.js';

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

  it.each(['exp', 'nbf', 'iat'])('refuses a non-numeric or non-finite %s', (name) => {
    for (const value of ['1', null, Infinity, NaN])
      expect(thrown(() => checkTimes({ [name]: value }, now, 0))).toMatchObject({
        reason: 'claim_malformed',
        claim: name,
      });
  });
});
