import type { KeyObject } from 'node:crypto';
import type {
  IssuerOptions,
  IssuerResolver,
  OidcResourceModuleOptions,
  RpcOptions,
  SharedCacheStore,
} from '../interfaces/oidc-resource-options.interface.js';
import { DEFAULTS } from '../oidc-resource.constants.js';
import { resolveCache } from '../options/cache-options.js';
import {
  ISSUER_KEYS,
  resolveIssuerOptions,
  type ResolvedIssuerOptions,
} from '../options/issuer-options.js';
import { checkBoolean, checkNumber, checkObject, fail } from '../options/option-checks.js';
import {
  resolveDpop,
  resolveMtls,
  type ResolvedDpopOptions,
  type ResolvedMtlsOptions,
} from '../options/sender-constraint-options.js';
import type { ChallengeContext } from '../errors/www-authenticate.js';
import {
  resolveResourceMetadata,
  type ResolvedResourceMetadata,
} from '../options/resource-metadata-options.js';

export { checkUrl } from '../options/option-checks.js';
export type { ResolvedIssuerOptions } from '../options/issuer-options.js';
export type {
  ResolvedDpopOptions,
  ResolvedMtlsOptions,
} from '../options/sender-constraint-options.js';

/** Options after validation, with every default applied. Internal. */
export interface ResolvedOidcResourceOptions {
  /** The listed issuers (`issuer` alone is a list of one), each with its own settings. */
  issuers: readonly ResolvedIssuerOptions[];
  /** Decides about unlisted issuers; its answers are resolved against `issuerDefaults`. */
  resolveIssuer?: IssuerResolver;
  /** The top-level per-issuer settings, as written: the defaults of every issuer. */
  issuerDefaults: Readonly<Partial<IssuerOptions>>;
  maxIssuers: number;
  cache: {
    ttl: number;
    negativeTtl: number;
    max: number;
    stores: readonly SharedCacheStore[];
    storeTimeout: number;
    coalesce: boolean;
    /** The MAC key of shared-store entries. */
    signingKey?: KeyObject;
  };
  userInfo: { ttl: number };
  global: boolean;
  realm: string;
  allowQueryToken: boolean;
  maxTokenLength: number;
  httpTimeout: number;
  /** Absent: `rpc` contexts pass through. */
  rpc?: RpcOptions;
  unsafeAllowInsecureIssuer: boolean;
  telemetry: { recordSubject: boolean };
  /** Absent: DPoP-bound tokens are refused. */
  dpop?: ResolvedDpopOptions;
  /** Absent: certificate-bound tokens are refused. */
  mtls?: ResolvedMtlsOptions;
  /** What every `WWW-Authenticate` challenge carries besides the error. */
  challenge: ChallengeContext;
  /** Absent: no RFC 9728 document, no `resource_metadata` in challenges. */
  resourceMetadata?: ResolvedResourceMetadata;
}

/** Options that are never per issuer. */
const GLOBAL_KEYS = [
  'issuers',
  'resolveIssuer',
  'maxIssuers',
  'cache',
  'global',
  'realm',
  'allowQueryToken',
  'maxTokenLength',
  'httpTimeout',
  'rpc',
  'unsafeAllowInsecureIssuer',
  'telemetry',
  'dpop',
  'mtls',
  'resourceMetadata',
];
const KNOWN_KEYS = new Set<string>([...ISSUER_KEYS, ...GLOBAL_KEYS]);

/** `issuer` alone, or the `issuers` list; every entry resolved against the top-level defaults. */
function resolveIssuers(
  options: OidcResourceModuleOptions,
  unsafe: boolean,
): readonly ResolvedIssuerOptions[] {
  const { issuer, issuers } = options;
  if (issuers === undefined) {
    if (issuer === undefined && options.resolveIssuer !== undefined) {
      // Every issuer is dynamic; the top-level settings still have to be valid for them.
      resolveIssuerOptions({ ...options, issuer: 'https://issuer.invalid' }, {}, '', unsafe);
      return Object.freeze([]);
    }
    return Object.freeze([resolveIssuerOptions(options as IssuerOptions, {}, '', unsafe)]);
  }
  if (issuer !== undefined)
    fail('issuers', 'cannot be combined with "issuer": list that issuer in "issuers" instead');
  if (!Array.isArray(issuers) || issuers.length === 0)
    fail('issuers', 'must be a non-empty array of { issuer, … } objects');
  const seen = new Set<string>();
  return Object.freeze(
    issuers.map((entry, i) => {
      const path = `issuers[${i}]`;
      checkObject(path, entry, ISSUER_KEYS as string[]);
      if (entry === undefined) fail(path, 'must be an object');
      const resolved = resolveIssuerOptions(entry, options as IssuerOptions, path, unsafe);
      if (seen.has(resolved.issuer)) fail(`${path}.issuer`, 'is listed twice');
      seen.add(resolved.issuer);
      return resolved;
    }),
  );
}

/**
 * Validates the options once, at application start, with messages that name the key.
 * @throws InvalidConfigurationError
 */
export function resolveOptions(options: OidcResourceModuleOptions): ResolvedOidcResourceOptions {
  if (!options || typeof options !== 'object') fail('options', 'must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) fail(key, 'is not a known option');
  }
  const unsafe = checkBoolean(
    'unsafeAllowInsecureIssuer',
    options.unsafeAllowInsecureIssuer,
    false,
  );
  if (options.resolveIssuer !== undefined && typeof options.resolveIssuer !== 'function')
    fail('resolveIssuer', 'must be a function (iss) => IssuerOptions | undefined');
  const issuers = resolveIssuers(options, unsafe);
  const userInfo = checkObject('userInfo', options.userInfo, ['ttl', 'endpoint']);
  if (
    options.realm !== undefined &&
    (typeof options.realm !== 'string' || options.realm.length === 0)
  ) {
    fail('realm', 'must be a non-empty string');
  }
  const first = issuers[0];
  const topAudience = Array.isArray(options.audience) ? options.audience[0] : options.audience;
  const realm =
    options.realm ??
    (first ? (first.audiences ? first.audiences[0]! : first.issuer) : topAudience || undefined);
  if (realm === undefined)
    fail('realm', 'is required when no issuer is listed and audience is false');
  const defaults: Partial<IssuerOptions> = {};
  for (const key of ISSUER_KEYS) {
    if (key !== 'issuer' && options[key] !== undefined)
      (defaults as Record<string, unknown>)[key] = options[key];
  }

  const dpop = resolveDpop(options.dpop, unsafe);
  const resourceMetadata = resolveResourceMetadata(
    options.resourceMetadata,
    issuers,
    options.resolveIssuer !== undefined,
    unsafe,
  );
  const challenge: ChallengeContext = Object.freeze({
    realm,
    // RFC 9728 §5.1: every 401 names the metadata document.
    ...(resourceMetadata ? { resourceMetadata: resourceMetadata.url } : {}),
    ...(dpop
      ? { dpop: { algs: dpop.algorithms.join(' '), required: dpop.mode === 'required' } }
      : {}),
  });
  const mtls = resolveMtls(options.mtls);

  return Object.freeze({
    issuers,
    ...(options.resolveIssuer ? { resolveIssuer: options.resolveIssuer } : {}),
    issuerDefaults: Object.freeze(defaults),
    maxIssuers: checkNumber('maxIssuers', options.maxIssuers, DEFAULTS.maxIssuers, 1, true),
    cache: resolveCache(options.cache),
    userInfo: { ttl: checkNumber('userInfo.ttl', userInfo.ttl, DEFAULTS.userInfoTtl, 0) },
    global: checkBoolean('global', options.global, DEFAULTS.global),
    realm,
    allowQueryToken: checkBoolean(
      'allowQueryToken',
      options.allowQueryToken,
      DEFAULTS.allowQueryToken,
    ),
    maxTokenLength: checkNumber(
      'maxTokenLength',
      options.maxTokenLength,
      DEFAULTS.maxTokenLength,
      16,
      true,
    ),
    httpTimeout: checkNumber('httpTimeout', options.httpTimeout, DEFAULTS.httpTimeout, 1),
    ...(options.rpc !== undefined ? { rpc: checkRpc(options.rpc) } : {}),
    unsafeAllowInsecureIssuer: unsafe,
    telemetry: resolveTelemetry(options.telemetry),
    ...(dpop ? { dpop } : {}),
    ...(mtls ? { mtls } : {}),
    challenge,
    ...(resourceMetadata ? { resourceMetadata } : {}),
  });
}

function resolveTelemetry(value: unknown): ResolvedOidcResourceOptions['telemetry'] {
  const telemetry = value ?? {};
  if (typeof telemetry !== 'object' || telemetry === null) fail('telemetry', 'must be an object');
  for (const key of Object.keys(telemetry)) {
    if (key !== 'recordSubject') fail(`telemetry.${key}`, 'is not a known option');
  }
  const { recordSubject } = telemetry as { recordSubject?: unknown };
  return { recordSubject: checkBoolean('telemetry.recordSubject', recordSubject, false) };
}

function checkRpc(value: unknown): RpcOptions {
  const token = checkObject('rpc', value, ['token']).token;
  if (typeof token !== 'function')
    fail('rpc.token', 'must be a function (data, context) => string | undefined');
  return { token: token as RpcOptions['token'] };
}

/** A `resolveIssuer` answer for `iss`, resolved like an `issuers` entry. */
export function resolveDynamicIssuer(
  options: ResolvedOidcResourceOptions,
  iss: string,
  answer: IssuerOptions,
): ResolvedIssuerOptions {
  const path = `resolveIssuer(${JSON.stringify(iss.slice(0, 200))})`;
  checkObject(path, answer, ISSUER_KEYS as string[]);
  const resolved = resolveIssuerOptions(
    { ...answer, issuer: answer.issuer ?? iss },
    options.issuerDefaults,
    path,
    options.unsafeAllowInsecureIssuer,
  );
  // The token named `iss`; trusting it under another name would verify it with other keys.
  if (resolved.issuer !== iss) fail(`${path}.issuer`, 'must be the iss it was asked about');
  return resolved;
}
