import * as constants from './oidc-resource.constants.js';
import { OIDC_RESOURCE_GLOBAL_GUARD } from './oidc-resource.module-definition.js';

/**
 * A process may load both the CommonJS and the ESM build (two module instances): every injection
 * token and metadata key must then still be the same value, so a string or a `Symbol.for` symbol.
 */
describe('injection tokens and metadata keys', () => {
  const keys = Object.entries({ ...constants, OIDC_RESOURCE_GLOBAL_GUARD }).filter(
    ([, value]) => typeof value === 'symbol' || typeof value === 'string',
  );

  it('are found (the check below is not vacuous)', () => {
    expect(keys.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'OIDC_RESOURCE_OPTIONS',
        'OIDC_RESOURCE_RESOLVED_OPTIONS',
        'OIDC_RESOURCE_CLOCK',
        'TOKEN_VALIDATOR',
        'PUBLIC_METADATA_KEY',
        'SCOPES_METADATA_KEY',
        'ANY_SCOPE_METADATA_KEY',
        'OIDC_BEARER_STRATEGY',
        'OIDC_RESOURCE_GLOBAL_GUARD',
      ]),
    );
  });

  it.each(keys)('%s is a string or a registered symbol', (_name, value) => {
    if (typeof value === 'symbol') expect(Symbol.keyFor(value)).toMatch(/^nestjs-oidc-resource:/);
    else expect(value).toMatch(/^(nestjs-)?oidc-resource[:-]/);
  });
});
