import { InvalidTokenError, IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { FailureCooldown } from './failure-cooldown.js';

describe('FailureCooldown', () => {
  let now = 1_000_000;
  const clock = () => now;
  const url = 'https://idp.example.test/jwks';
  const down = () => new IssuerUnavailableError('JWKS: the authorization server answered HTTP 503');

  it('repeats the failure (same message, the URL, the time left) until base + jitter has passed', () => {
    const cooldown = new FailureCooldown(clock, 1000, 1000, () => 0.5);
    const thrown = cooldown.failed(url, down()) as IssuerUnavailableError;
    expect(thrown).toMatchObject({ message: down().message, url, retryAfter: 1.5 });
    now += 1499;
    let repeated: unknown;
    try {
      cooldown.check(url);
    } catch (error) {
      repeated = error;
    }
    expect(repeated).toBeInstanceOf(IssuerUnavailableError);
    expect(repeated).toMatchObject({ message: down().message, url, retryAfter: 0.001 });
    now += 1;
    expect(() => cooldown.check(url)).not.toThrow();
    expect(() => cooldown.check('https://other.example.test/jwks')).not.toThrow();
  });

  it('keeps a Retry-After the server named, and forgets the failure after a success', () => {
    const cooldown = new FailureCooldown(clock, 1000, 1000, () => 0);
    const named = new IssuerUnavailableError('down', { retryAfter: 7 });
    expect(cooldown.failed(url, named)).toBe(named);
    expect(() => cooldown.check(url)).toThrow(IssuerUnavailableError);
    cooldown.succeeded(url);
    expect(() => cooldown.check(url)).not.toThrow();
  });

  it('jitters between base and base + jitter', () => {
    for (const [random, expected] of [
      [0, 1],
      [0.999, 1.999],
    ] as const) {
      const cooldown = new FailureCooldown(clock, 1000, 1000, () => random);
      expect((cooldown.failed(url, down()) as IssuerUnavailableError).retryAfter).toBe(expected);
    }
  });

  it('records only outages: any other error passes through untouched and starts no cooldown', () => {
    const cooldown = new FailureCooldown(clock, 1000, 1000);
    const bug = new InvalidTokenError('x');
    expect(cooldown.failed(url, bug)).toBe(bug);
    expect(() => cooldown.check(url)).not.toThrow();
  });
});
