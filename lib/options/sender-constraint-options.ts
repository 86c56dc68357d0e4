import type { KeyObject } from 'node:crypto';
import { dpopStoreProblem } from '../dpop/replay-cache.js';
import type {
  DpopOptions,
  MtlsOptions,
} from '../interfaces/sender-constraint-options.interface.js';
import type { SharedCacheStore } from '../interfaces/oidc-resource-options.interface.js';
import { checkSecretKey, checkStores } from './cache-options.js';
import { checkAlgorithms } from './issuer-options.js';
import { checkBoolean, checkNumber, checkObject, checkUrl, fail } from './option-checks.js';

/** The `dpop` option, checked, every default applied. */
export interface ResolvedDpopOptions {
  mode: 'allowed' | 'required';
  algorithms: readonly string[];
  /** Seconds. */
  proofMaxAge: number;
  nonce: boolean;
  stores: readonly SharedCacheStore[];
  /** Origin only (scheme, host, port), without a trailing slash. */
  publicUrl?: string;
  /** The HMAC key of server nonces; absent: each process draws its own. */
  nonceSecret?: KeyObject;
}

/** The `mtls` option, checked. */
export interface ResolvedMtlsOptions {
  /** Lower-cased header name. */
  certificateHeader?: string;
}

const DPOP_KEYS = [
  'mode',
  'algorithms',
  'proofMaxAge',
  'nonce',
  'stores',
  'publicUrl',
  'nonceSecret',
];
/** RFC 9449 §5: the algorithms a DPoP client is most likely to use. */
export const DEFAULT_DPOP_ALGORITHMS = Object.freeze(['ES256', 'EdDSA', 'PS256', 'RS256']);
/** RFC 9110 §5.1 field-name token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveDpop(
  value: DpopOptions | undefined,
  unsafe: boolean,
): ResolvedDpopOptions | undefined {
  if (value === undefined) return undefined;
  const dpop = checkObject('dpop', value, DPOP_KEYS) as DpopOptions;
  const mode = dpop.mode ?? 'allowed';
  if (mode !== 'allowed' && mode !== 'required')
    fail('dpop.mode', "must be 'allowed' or 'required'");
  let publicUrl: string | undefined;
  if (dpop.publicUrl !== undefined) {
    const url = new URL(checkUrl('dpop.publicUrl', dpop.publicUrl, unsafe));
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.username || url.password)
      fail(
        'dpop.publicUrl',
        'must be a scheme and authority only, such as https://api.example.com',
      );
    publicUrl = url.origin;
  }
  const stores = checkStores('dpop.stores', dpop.stores);
  stores.forEach((store, i) => {
    const problem = dpopStoreProblem(store);
    if (problem) fail(`dpop.stores[${i}]`, problem);
  });
  const nonce = checkBoolean('dpop.nonce', dpop.nonce, false);
  const nonceSecret = checkSecretKey('dpop.nonceSecret', dpop.nonceSecret);
  // Replicas (a shared replay store) must issue and accept the same nonces.
  if (nonce && stores.length > 0 && nonceSecret === undefined)
    fail(
      'dpop.nonceSecret',
      'is required with dpop.nonce and dpop.stores (one secret for every replica)',
    );
  return Object.freeze({
    mode,
    algorithms: checkAlgorithms('dpop.algorithms', dpop.algorithms, DEFAULT_DPOP_ALGORITHMS),
    proofMaxAge: checkNumber('dpop.proofMaxAge', dpop.proofMaxAge, 300, 1, true),
    nonce,
    stores,
    ...(publicUrl !== undefined ? { publicUrl } : {}),
    ...(nonceSecret !== undefined ? { nonceSecret } : {}),
  });
}

export function resolveMtls(value: MtlsOptions | undefined): ResolvedMtlsOptions | undefined {
  if (value === undefined) return undefined;
  const mtls = checkObject('mtls', value, ['certificateHeader']) as MtlsOptions;
  const header = mtls.certificateHeader;
  if (header === undefined) return Object.freeze({});
  if (typeof header !== 'string' || !HEADER_NAME.test(header))
    fail('mtls.certificateHeader', 'must be an HTTP header name, such as x-client-cert');
  return Object.freeze({ certificateHeader: header.toLowerCase() });
}
