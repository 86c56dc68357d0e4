import { SetMetadata } from '@nestjs/common';
import { STEP_UP_METADATA_KEY } from '../oidc-resource.constants.js';

/** What `@StepUp()` asks of the user's authentication. */
export interface StepUpRequirement {
  /**
   * Accepted authentication context classes (the token's `acr`), in order of preference: the
   * challenge's `acr_values` lists them as written.
   * @example ['urn:example:loa:2', 'urn:example:loa:3']
   */
  acrValues?: readonly string[];
  /**
   * Most seconds since the user last authenticated (the token's `auth_time`); `0` asks for an
   * authentication at this very moment, within the issuer's `clockTolerance`.
   */
  maxAge?: number;
}

// acr values travel in a quoted, space-separated challenge parameter (RFC 9470 §3): a value with
// a space, a quote or a backslash could never be asked for.
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function fail(problem: string): never {
  throw new TypeError(`@StepUp(): ${problem}`);
}

function checked(requirement: unknown): Readonly<StepUpRequirement> {
  if (typeof requirement !== 'object' || requirement === null || Array.isArray(requirement))
    fail('needs an object { acrValues?, maxAge? }');
  const { acrValues, maxAge, ...rest } = requirement as Record<string, unknown>;
  for (const key of Object.keys(rest)) fail(`"${key}" is not a known key (acrValues, maxAge)`);
  if (acrValues === undefined && maxAge === undefined) fail('needs acrValues, maxAge or both');
  const result: StepUpRequirement = {};
  if (acrValues !== undefined) {
    if (!Array.isArray(acrValues) || acrValues.length === 0)
      fail('acrValues must be a non-empty array of strings');
    for (const value of acrValues as unknown[]) {
      if (typeof value !== 'string' || !ACR_VALUE.test(value))
        fail(
          `acrValues: ${JSON.stringify(value)} is not an acr value (printable ASCII, no spaces, quotes or backslashes)`,
        );
    }
    result.acrValues = Object.freeze([...new Set(acrValues as string[])]);
  }
  if (maxAge !== undefined) {
    if (typeof maxAge !== 'number' || !Number.isSafeInteger(maxAge) || maxAge < 0)
      fail(`maxAge must be a non-negative integer number of seconds, not ${String(maxAge)}`);
    result.maxAge = maxAge;
  }
  return Object.freeze(result);
}

/**
 * Requires a stronger or more recent user authentication than a valid token alone (RFC 9470):
 * the token's `acr` must be one of `acrValues`, and its `auth_time` no older than `maxAge`
 * seconds. Otherwise: 401, code `insufficient_user_authentication`, challenge
 * `Bearer …, error="insufficient_user_authentication", acr_values="…", max_age="…"` naming only
 * what failed (and `scope` when the route's scopes are lacking too), so the client can send the
 * user back to the authorization server with those parameters. Checked after the token is
 * validated, before scopes, roles and policies, on every transport. On a handler it overrides
 * the controller's `@StepUp()`.
 *
 * @see RFC 9470 §3, §6
 * @example
 * @StepUp({ acrValues: ['urn:example:loa:2'], maxAge: 300 }) @Delete(':id') remove() { … }
 */
export const StepUp = (requirement: StepUpRequirement): MethodDecorator & ClassDecorator =>
  SetMetadata(STEP_UP_METADATA_KEY, checked(requirement));
