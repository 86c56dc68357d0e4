import { SUPPORTED_ALGORITHMS } from '../oidc-resource.constants.js';
import { jwkFitsAlgorithm, MIN_RSA_MODULUS_BITS } from '../utils/jws.js';
import type { ConfiguredIssuer } from '../observability/configured-issuers.js';
import { probe } from './probe.js';
import type { DoctorFinding } from './types.js';

/** The algorithms a JWK can verify: its own `alg`, else every supported one its type and curve fit. */
function algorithmsFor(jwk: Record<string, unknown>): string[] {
  if (typeof jwk.alg === 'string') return [jwk.alg];
  return SUPPORTED_ALGORITHMS.filter((alg) => jwkFitsAlgorithm(jwk, alg));
}

/** An RSA modulus length in bits, from the base64url `n`. */
function rsaBits(jwk: Record<string, unknown>): number | undefined {
  if (typeof jwk.n !== 'string') return undefined;
  const bytes = Buffer.from(jwk.n, 'base64url');
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  if (start === bytes.length) return 0;
  return (bytes.length - start - 1) * 8 + (32 - Math.clz32(bytes[start]!));
}

function describe(jwk: Record<string, unknown>): string {
  const parts = [`kid ${JSON.stringify(jwk.kid ?? null)}`, String(jwk.kty)];
  if (jwk.kty === 'RSA') parts.push(`${rsaBits(jwk) ?? '?'} bits`);
  if (typeof jwk.crv === 'string') parts.push(jwk.crv);
  if (typeof jwk.alg === 'string') parts.push(jwk.alg);
  if (typeof jwk.use === 'string') parts.push(`use ${jwk.use}`);
  return parts.join(', ');
}

/**
 * The key set: reachable, with signing keys, of acceptable sizes, for algorithms that the
 * `algorithms` option allows.
 */
export async function checkJwks(
  options: ConfiguredIssuer,
  metadata: Record<string, unknown> | undefined,
): Promise<{ findings: DoctorFinding[]; fixes: Record<string, unknown> }> {
  const { issuer } = options;
  const findings: DoctorFinding[] = [];
  const fixes: Record<string, unknown> = {};
  const finding = (f: Omit<DoctorFinding, 'check' | 'issuer'>) =>
    findings.push({ check: 'jwks', issuer, ...f });
  const uri =
    options.jwksUri ?? (typeof metadata?.jwks_uri === 'string' ? metadata.jwks_uri : undefined);
  if (!uri) {
    if (metadata && options.tokenFormat !== 'opaque') {
      finding({
        status: 'fail',
        summary: 'The metadata has no jwks_uri, so JWT access tokens cannot be verified',
        detail: "Set jwksUri, or tokenFormat: 'opaque' if this provider only issues opaque tokens.",
        option: 'jwksUri',
      });
    }
    return { findings, fixes };
  }
  const result = await probe(uri, options.httpTimeout);
  if (!result.response || result.response.status !== 200 || !Array.isArray(result.json?.keys)) {
    finding({
      status: 'fail',
      summary: `No key set at ${uri}`,
      detail: result.response
        ? `It answered HTTP ${result.response.status}${result.json ? ' without a "keys" array' : ''}.`
        : result.failure,
      option: 'jwksUri',
    });
    return { findings, fixes };
  }
  const keys = (result.json.keys as unknown[]).filter(
    (k): k is Record<string, unknown> => typeof k === 'object' && k !== null,
  );
  const signing = keys.filter((k) => k.use === undefined || k.use === 'sig');
  const allowed = new Set(options.algorithms);
  const usable: string[] = [];
  const unlisted = new Set<string>();
  for (const jwk of signing) {
    if ('d' in jwk) {
      finding({
        status: 'fail',
        summary: `The key set publishes a PRIVATE key (${describe(jwk)})`,
        detail:
          "Tell the authorization server's operators at once: anyone can sign tokens with it. The library ignores it.",
      });
      continue;
    }
    const bits = jwk.kty === 'RSA' ? rsaBits(jwk) : undefined;
    if (bits !== undefined && bits < MIN_RSA_MODULUS_BITS) {
      finding({
        status: 'fail',
        summary: `Key ${describe(jwk)} is too short: RSA keys need at least ${MIN_RSA_MODULUS_BITS} bits`,
        detail:
          'Tokens signed with it are refused ("key_unusable"). The authorization server must sign with a longer key; no option here changes that.',
      });
      continue;
    }
    const algs = algorithmsFor(jwk);
    if (algs.some((a) => allowed.has(a))) usable.push(describe(jwk));
    else for (const a of algs) unlisted.add(a);
  }
  if (usable.length > 0) {
    finding({
      status: 'pass',
      summary: `${signing.length} signing key(s) at ${uri}; usable with algorithms [${options.algorithms.join(', ')}]: ${usable.join('; ')}`,
    });
    if (unlisted.size > 0 && signing.length > usable.length) {
      finding({
        status: 'warn',
        summary: `Some keys are for algorithms the algorithms option leaves out: ${[...unlisted].join(', ')}`,
        detail:
          'Tokens signed with those keys are refused ("alg_not_allowed"). Add the algorithm if the server signs access tokens with it.',
        option: 'algorithms',
      });
    }
  } else if (unlisted.size > 0) {
    const wanted = [
      ...new Set([
        ...options.algorithms,
        ...[...unlisted].filter((a) => /^(RS|PS|ES)\d{3}$|^EdDSA$/.test(a)),
      ]),
    ];
    fixes.algorithms = wanted;
    finding({
      status: 'fail',
      summary: `No key at ${uri} fits the allowed algorithms [${options.algorithms.join(', ')}]; the keys are for ${[...unlisted].join(', ')}`,
      detail: 'Every JWT would be refused. Allow the algorithm the server signs with.',
      option: 'algorithms',
      suggestion: wanted,
    });
  } else {
    finding({
      status: 'fail',
      summary: `The key set at ${uri} holds no usable signing key`,
      detail: `Keys found: ${keys.map(describe).join('; ') || 'none'}.`,
    });
  }
  return { findings, fixes };
}
