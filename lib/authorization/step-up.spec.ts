import 'reflect-metadata';
import { STEP_UP_METADATA_KEY } from '../oidc-resource.constants.js';
import { StepUp } from '../decorators/step-up.decorator.js';
import { InsufficientUserAuthenticationError } from '../errors/oidc-resource.error.js';
import { toHttpError } from '../errors/www-authenticate.js';
import { stepUpShortfall } from './step-up.js';

const NOW = 1_800_000_000_000;
const SECONDS = NOW / 1000;

describe('@StepUp() arguments, checked at decoration time', () => {
  it.each<[string, unknown, RegExp]>([
    ['nothing', undefined, /needs an object/],
    ['an array', [], /needs an object/],
    ['an empty object', {}, /needs acrValues, maxAge or both/],
    ['an unknown key', { acr: ['x'] }, /"acr" is not a known key/],
    ['empty acrValues', { acrValues: [] }, /acrValues must be a non-empty array/],
    ['a string for acrValues', { acrValues: 'urn:x' }, /acrValues must be a non-empty array/],
    ['an empty acr value', { acrValues: [''] }, /"" is not an acr value/],
    ['an acr value with a space', { acrValues: ['a b'] }, /"a b" is not an acr value/],
    ['an acr value with a quote', { acrValues: ['a"b'] }, /is not an acr value/],
    ['a non-string acr value', { acrValues: [2] }, /2 is not an acr value/],
    ['a negative maxAge', { maxAge: -1 }, /maxAge must be a non-negative integer/],
    ['a fractional maxAge', { maxAge: 1.5 }, /maxAge must be a non-negative integer/],
    ['a string maxAge', { maxAge: '300' }, /maxAge must be a non-negative integer/],
    ['an infinite maxAge', { maxAge: Infinity }, /maxAge must be a non-negative integer/],
  ])('refuses %s', (_case, argument, message) => {
    expect(() => StepUp(argument as never)).toThrow(TypeError);
    expect(() => StepUp(argument as never)).toThrow(message);
  });

  it('stores a frozen copy, duplicates dropped, order kept', () => {
    const values = ['urn:b', 'urn:a', 'urn:b'];
    class Target {
      @StepUp({ acrValues: values, maxAge: 0 })
      handler() {}
    }
    values.push('urn:c');
    const stored = Reflect.getMetadata(STEP_UP_METADATA_KEY, Target.prototype.handler) as object;
    expect(stored).toEqual({ acrValues: ['urn:b', 'urn:a'], maxAge: 0 });
    expect(Object.isFrozen(stored)).toBe(true);
  });
});

describe('stepUpShortfall', () => {
  const acr = { acrValues: ['urn:loa:2', 'urn:loa:3'] };

  it('is met by an accepted acr', () => {
    expect(stepUpShortfall({ acr: 'urn:loa:3' }, acr, NOW, 0)).toBeUndefined();
  });

  it.each([['urn:loa:1'], [undefined], [['urn:loa:2']], [2]])(
    'names acr_values for acr %j',
    (value) => {
      expect(stepUpShortfall({ acr: value }, acr, NOW, 0)).toEqual({
        acrValues: ['urn:loa:2', 'urn:loa:3'],
        message: expect.stringMatching(/acr/),
      });
    },
  );

  it.each<[string, unknown, number, boolean]>([
    ['just authenticated', SECONDS, 0, true],
    ['at the limit', SECONDS - 300, 0, true],
    ['one second past the limit', SECONDS - 301, 0, false],
    ['past the limit, within the tolerance', SECONDS - 310, 30, true],
    ['past the limit and the tolerance', SECONDS - 331, 30, false],
    ['in the future, within the tolerance', SECONDS + 20, 30, true],
    ['in the future, beyond the tolerance', SECONDS + 31, 30, false],
    ['a string', String(SECONDS), 30, false],
    ['missing', undefined, 30, false],
    ['NaN', NaN, 30, false],
  ])('maxAge 300, auth_time %s', (_case, authTime, tolerance, met) => {
    const shortfall = stepUpShortfall({ auth_time: authTime }, { maxAge: 300 }, NOW, tolerance);
    if (met) expect(shortfall).toBeUndefined();
    else expect(shortfall).toEqual({ maxAge: 300, message: expect.any(String) });
  });

  it('names both when both fail, and never echoes the token values', () => {
    const shortfall = stepUpShortfall(
      { acr: 'urn:secret-looking', auth_time: SECONDS - 3600 },
      { ...acr, maxAge: 60 },
      NOW,
      0,
    );
    expect(shortfall).toMatchObject({ acrValues: acr.acrValues, maxAge: 60 });
    expect(shortfall!.message).not.toContain('secret-looking');
    expect(shortfall!.message).not.toContain(String(SECONDS - 3600));
  });

  it('names only the failed one', () => {
    expect(
      stepUpShortfall({ acr: 'urn:loa:2' }, { ...acr, maxAge: 60 }, NOW, 0),
    ).not.toHaveProperty('acrValues');
    expect(
      stepUpShortfall({ acr: 'urn:loa:1', auth_time: SECONDS }, { ...acr, maxAge: 60 }, NOW, 0),
    ).not.toHaveProperty('maxAge');
  });
});

describe('the step-up challenge on a DPoP request (RFC 9470 §3 names DPoP)', () => {
  it('is a DPoP challenge with acr_values, max_age, algs and resource_metadata', () => {
    const error = new InsufficientUserAuthenticationError('stronger login needed', {
      acrValues: ['urn:loa:2'],
      maxAge: 60,
    });
    const context = {
      realm: 'api',
      resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
      dpop: { algs: 'ES256', required: false },
    };
    expect(toHttpError(error, context, 'DPoP').headers['WWW-Authenticate']).toBe(
      'DPoP realm="api", error="insufficient_user_authentication", ' +
        'error_description="stronger login needed", acr_values="urn:loa:2", max_age="60", ' +
        'algs="ES256", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"',
    );
  });
});
