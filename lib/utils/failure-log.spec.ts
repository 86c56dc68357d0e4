import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  InvalidRequestError,
  IssuerUnavailableError,
  InvalidTokenError,
  TokenMissingError,
} from '../errors/oidc-resource.error.js';
import { AnswerLog, RateLimitedWarn, answerLogFor, logSafe } from './failure-log.js';

function recorder() {
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(m) } as unknown as Logger;
  return { lines, logger };
}

describe('RateLimitedWarn', () => {
  it('logs a message once per interval, then says how many repeats were left out', () => {
    let now = 1_000_000;
    const { lines, logger } = recorder();
    const log = new RateLimitedWarn(logger, () => now, 60_000);
    expect(log.warn('JWKS down')).toBe(true);
    expect(log.warn('JWKS down')).toBe(false);
    now += 59_999;
    expect(log.warn('JWKS down')).toBe(false);
    expect(log.warn('Discovery down')).toBe(true); // another message has its own allowance
    now += 1;
    expect(log.warn('JWKS down')).toBe(true);
    now += 60_000;
    log.warn('JWKS down');
    expect(lines).toEqual([
      'JWKS down',
      'Discovery down',
      'JWKS down (repeated 2 more times since it was last logged)',
      'JWKS down',
    ]);
  });

  it('keeps line breaks and controls out of a line (log injection) and bounds it', () => {
    const { lines, logger } = recorder();
    new RateLimitedWarn(logger).warn(`a\r\nFAKE: line\u0000${'x'.repeat(5000)}`);
    expect(lines[0]).toMatch(/^a\?\?FAKE: line\?x+…$/);
    expect(lines[0]!.length).toBeLessThanOrEqual(1001);
    expect(logSafe('issuer "§"')).toBe('issuer "§"');
  });

  it('forgets the oldest of too many distinct messages instead of growing without bound', () => {
    const { lines, logger } = recorder();
    const log = new RateLimitedWarn(logger, () => 0);
    for (let i = 0; i < 1000; i++) log.warn(`failure ${i}`);
    expect(lines).toHaveLength(1000);
    expect(log.warn('failure 999')).toBe(false); // recent ones are still remembered
    expect(log.warn('failure 0')).toBe(true); // the oldest was forgotten
  });
});

describe('AnswerLog', () => {
  it('warns about a 503 with its code, message and URL; debugs a refusal; ignores a missing token', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    try {
      const log = new AnswerLog();
      log.answered(
        new IssuerUnavailableError('JWKS: the authorization server answered HTTP 500', {
          url: 'https://idp.example.test/jwks',
        }),
        503,
      );
      log.answered(
        new InvalidTokenError('The access token is for another API', { reason: 'aud_mismatch' }),
        401,
      );
      log.answered(new InvalidRequestError('bad'), 400);
      log.answered(new TokenMissingError(), 401);
      log.answered(new IssuerUnavailableError('Discovery: down'), 503, true);
      expect(warn.mock.calls.map(([m]) => m)).toEqual([
        'Answered 503 (issuer_unavailable): JWKS: the authorization server answered HTTP 500 [https://idp.example.test/jwks]',
        'A token on a public route could not be checked (issuer_unavailable): Discovery: down',
      ]);
      expect(debug.mock.calls.map(([m]) => m)).toEqual([
        'Refused with 401 (invalid_token, aud_mismatch): The access token is for another API',
        'Refused with 400 (invalid_request): bad',
      ]);
    } finally {
      warn.mockRestore();
      debug.mockRestore();
    }
  });

  it('is one per module instance (keyed by its options object)', () => {
    const a = {};
    expect(answerLogFor(a)).toBe(answerLogFor(a));
    expect(answerLogFor(a)).not.toBe(answerLogFor({}));
  });
});
