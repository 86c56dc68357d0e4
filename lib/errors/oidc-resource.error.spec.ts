import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  InvalidTokenError,
  OIDC_ERROR_REASONS,
  OidcResourceError,
  TokenExpiredError,
  TokenInactiveError,
} from './oidc-resource.error.js';
import { toHttpError } from './www-authenticate.js';

describe('OidcResourceError reason and claim', () => {
  it('carries the reason and claim given, and JSON keeps them (never the cause)', () => {
    const error = new InvalidTokenError('The access token is meant for another audience', {
      reason: 'aud_mismatch',
      claim: 'aud',
      cause: new Error('upstream detail'),
    });
    expect({ reason: error.reason, claim: error.claim }).toEqual({
      reason: 'aud_mismatch',
      claim: 'aud',
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'InvalidTokenError',
      code: 'invalid_token',
      status: 401,
      message: 'The access token is meant for another audience',
      reason: 'aud_mismatch',
      claim: 'aud',
    });
    expect(JSON.stringify(error)).not.toContain('upstream detail');
  });

  it('leaves both out when not given (an app may throw the base class)', () => {
    const error = new OidcResourceError('invalid_token', 'nope');
    expect(error.reason).toBeUndefined();
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'OidcResourceError',
      code: 'invalid_token',
      status: 401,
      message: 'nope',
    });
  });

  it('TokenExpiredError and TokenInactiveError have their reasons by default', () => {
    expect(new TokenExpiredError()).toMatchObject({ reason: 'expired', claim: 'exp' });
    expect(new TokenInactiveError()).toMatchObject({ reason: 'inactive' });
    expect(new TokenInactiveError('x', { reason: 'untyped_introspection' }).reason).toBe(
      'untyped_introspection',
    );
  });

  it('every reason is snake_case', () => {
    for (const reason of OIDC_ERROR_REASONS) expect(reason).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it('the reason is not part of the challenge', () => {
    const http = toHttpError(
      new InvalidTokenError('The token is an ID token ("at_hash" claim), not an access token', {
        reason: 'id_token',
        claim: 'at_hash',
      }),
      'api',
    );
    expect(http.headers['WWW-Authenticate']).not.toMatch(/reason|[^a-z]id_token/);
    expect(http.headers['WWW-Authenticate']).toMatch(/error="invalid_token"/);
  });
});

describe('every refusal in the library names its reason', () => {
  /** The argument list of each `new InvalidTokenError(…)` in lib/, found by counting parentheses. */
  function constructions(): Array<{ file: string; args: string }> {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'),
    );
    const found: Array<{ file: string; args: string }> = [];
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      const marker = 'new InvalidTokenError(';
      for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 1)) {
        let depth = 1;
        let end = at + marker.length;
        while (depth > 0 && end < text.length) {
          if (text[end] === '(') depth++;
          else if (text[end] === ')') depth--;
          end++;
        }
        found.push({ file, args: text.slice(at + marker.length, end - 1) });
      }
    }
    return found;
  }

  it('each new InvalidTokenError passes a reason', () => {
    const all = constructions();
    expect(all.length).toBeGreaterThan(3);
    expect(all.filter(({ args }) => !/\breason\b|\bdetails\b/.test(args))).toEqual([]);
  });
});
