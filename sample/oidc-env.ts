/**
 * The sample's environment variables, read into the module's options. Each variable is checked
 * here for its shape (a boolean, one of a few words, a list), so that a typo stops the start
 * with a message naming the variable; the library then checks the values themselves (an
 * algorithm it does not support, an http issuer) and names the option.
 */
import type { OidcResourceModuleOptions } from '../lib/index.js';

/** One line per variable, printed by `npm run dev-as` and kept in step with docs/sample.md. */
export const OIDC_ENV_HELP: readonly (readonly [name: string, meaning: string])[] = [
  ['OIDC_ISSUER', "your identity provider's issuer (unset: the embedded dev server)"],
  ['OIDC_AUDIENCE', "this API's identifier, the aud its tokens carry (comma-separated: several)"],
  ['OIDC_INTROSPECTION_CLIENT_ID', "the API's client for opaque tokens (unset: JWTs only)"],
  ['OIDC_INTROSPECTION_CLIENT_SECRET', 'its secret (required once the client id is set)'],
  ['OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE', 'true (RFC 9068 at+jwt only) or false (plain JWT too)'],
  ['OIDC_TOKEN_FORMAT', 'auto, jwt or opaque'],
  ['OIDC_ALGORITHMS', 'allowed JWS algorithms, comma-separated (e.g. RS256,ES256)'],
  ['OIDC_DPOP', 'allowed or required: accept DPoP-bound tokens (unset: off)'],

  ['OIDC_RESOURCE', "this API's public URL: serves RFC 9728 metadata (unset: none)"],
];

/** A sample variable that is missing or malformed. */
export class SampleEnvironmentError extends Error {
  override readonly name = 'SampleEnvironmentError';
}

const TOKEN_FORMATS = ['auto', 'jwt', 'opaque'] as const;

/**
 * Module options from the variables that `get` returns (`ConfigService.get`, or `process.env`).
 * An unset or empty optional variable leaves the library's default in place.
 */
export function oidcOptionsFromEnv(
  get: (name: string) => string | undefined,
): OidcResourceModuleOptions {
  const value = (name: string): string | undefined => {
    const raw = get(name)?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const required = (name: string): string => {
    const raw = value(name);
    if (raw !== undefined) return raw;
    // Say what the value is, so that the fix does not need a look at the docs.
    const meaning = OIDC_ENV_HELP.find(([variable]) => variable === name)?.[1];
    throw new SampleEnvironmentError(`${name} is required${meaning ? `: ${meaning}` : ''}`);
  };
  const list = (name: string, raw: string): string[] => {
    const items = raw.split(/[\s,]+/).filter((item) => item !== '');
    if (items.length === 0) throw new SampleEnvironmentError(`${name} lists nothing: "${raw}"`);
    return items;
  };

  const audiences = list('OIDC_AUDIENCE', required('OIDC_AUDIENCE'));
  const options: OidcResourceModuleOptions = {
    issuer: required('OIDC_ISSUER'),
    audience: audiences.length === 1 ? audiences[0]! : audiences,
  };

  const clientId = value('OIDC_INTROSPECTION_CLIENT_ID');
  if (clientId !== undefined) {
    const clientSecret = value('OIDC_INTROSPECTION_CLIENT_SECRET');
    if (clientSecret === undefined) {
      throw new SampleEnvironmentError(
        'OIDC_INTROSPECTION_CLIENT_SECRET is required when OIDC_INTROSPECTION_CLIENT_ID is set ' +
          '(unset the client id to accept JWT access tokens only)',
      );
    }
    options.introspection = { clientId, clientSecret };
  }

  const typ = value('OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE');
  if (typ !== undefined) {
    const lower = typ.toLowerCase();
    if (lower !== 'true' && lower !== 'false') {
      throw new SampleEnvironmentError(
        `OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE must be true or false, not "${typ}"`,
      );
    }
    options.requireJwtAccessTokenType = lower === 'true';
  }

  const format = value('OIDC_TOKEN_FORMAT');
  if (format !== undefined) {
    const known = TOKEN_FORMATS.find((f) => f === format.toLowerCase());
    if (known === undefined) {
      throw new SampleEnvironmentError(
        `OIDC_TOKEN_FORMAT must be one of ${TOKEN_FORMATS.join(', ')}, not "${format}"`,
      );
    }
    options.tokenFormat = known;
  }

  const algorithms = value('OIDC_ALGORITHMS');
  if (algorithms !== undefined) options.algorithms = list('OIDC_ALGORITHMS', algorithms);

  const dpop = value('OIDC_DPOP')?.toLowerCase();
  if (dpop !== undefined) {
    if (dpop !== 'allowed' && dpop !== 'required')
      throw new SampleEnvironmentError(`OIDC_DPOP must be allowed or required, not "${dpop}"`);
    options.dpop = { mode: dpop };
  }

  // The library checks the URL (https, or http on loopback) and names the option.
  const resource = value('OIDC_RESOURCE');
  if (resource !== undefined) options.resourceMetadata = { resource };

  return options;
}
