import { InvalidConfigurationError } from '../errors/oidc-resource.error.js';

/** Refuses an option at start, naming the key as the user wrote it. */
export function fail(key: string, problem: string): never {
  throw new InvalidConfigurationError(`nestjs-oidc-resource: option "${key}" ${problem}`);
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Parses a URL option; plain http is accepted for loopback hosts only, unless `unsafe`. */
export function checkUrl(key: string, value: unknown, unsafe: boolean): string {
  if (typeof value !== 'string' || value.length === 0) fail(key, 'must be a non-empty URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // A URL from configuration is no secret; echoing a bounded prefix shows the typo at once.
    const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
      ? ''
      : ' (the scheme is missing: https://…)';
    return fail(key, `is not a valid URL: ${shown}${hint}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(key, 'must be an https URL');
  if (url.protocol === 'http:' && !unsafe && !isLoopbackHost(url.hostname)) {
    fail(
      key,
      'must use https (plain http is accepted only for loopback hosts; see unsafeAllowInsecureIssuer)',
    );
  }
  if (url.hash) fail(key, 'must not contain a fragment');
  return value;
}

export function checkNumber(
  key: string,
  value: unknown,
  fallback: number,
  min: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    fail(key, `must be a${integer ? 'n integer' : ' number'} >= ${min}`);
  }
  return value;
}

export function checkBoolean(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(key, 'must be true or false');
  return value;
}

/** An object option whose keys are all known; `prefix` names them (`cache.` …). */
export function checkObject(
  key: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(key, 'must be an object');
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) fail(`${key}.${name}`, 'is not a known option');
  }
  return value as Record<string, unknown>;
}
