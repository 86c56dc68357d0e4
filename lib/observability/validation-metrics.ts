import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { telemetry } from './telemetry.js';

/** Where a verdict came from: the memory tier, a shared store, or a fresh verification. */
export type CacheTier = 'memory' | 'shared' | 'miss';
type Source = 'jwt' | 'introspection';

/** Per outcome, source and tier, one frozen attribute set, built once: counting allocates nothing. */
const table: Record<string, Record<string, Record<string, Readonly<Record<string, string>>>>> = {};

/**
 * Counts one validation. `outcome` is `ok` or the error's code, never anything from the token.
 * Returns at once when no meter provider is registered.
 */
export function countValidation(outcome: unknown, source: Source, cache: CacheTier): void {
  const counter = telemetry.validations;
  if (counter === undefined) return;
  const code =
    outcome === 'ok' ? 'ok' : outcome instanceof OidcResourceError ? outcome.code : 'error';
  const bySource = (table[code] ??= {});
  const byTier = (bySource[source] ??= {});
  counter.add(1, (byTier[cache] ??= Object.freeze({ outcome: code, source, cache })));
}

/** Sets `enduser.id` on the active span (the request's): only for applications that opt in. */
export function recordSubject(sub: string | undefined): void {
  if (sub === undefined) return;
  telemetry.api?.trace.getActiveSpan()?.setAttribute('enduser.id', sub);
}

/** How a refused token was (or would have been) checked: by its shape, as in `auto` format. */
export function sourceOf(token: string): Source {
  return token.split('.').length === 3 ? 'jwt' : 'introspection';
}
