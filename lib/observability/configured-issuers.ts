import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';

/**
 * The issuers this API trusts, each with its own settings. Health checks and the doctor go
 * through this one function, so that every configured issuer is covered however the options
 * name them (today one `issuer`).
 */
export function configuredIssuers(
  options: ResolvedOidcResourceOptions,
): readonly ResolvedOidcResourceOptions[] {
  return [options];
}
