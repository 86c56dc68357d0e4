import type { ConfiguredIssuer } from '../observability/configured-issuers.js';
import {
  discoveryUrls,
  looksLikeTlsMismatch,
  otherScheme,
  probe,
  type ProbeResult,
} from './probe.js';
import type { DoctorFinding } from './types.js';

/** What discovery taught the later checks, and the fixes it suggests. */
export interface DiscoveryOutcome {
  findings: DoctorFinding[];
  /** The metadata document found for the configured issuer (its `issuer` may not match). */
  metadata?: Record<string, unknown>;
  /** Option fixes (`issuer`, `jwksUri`, …). */
  fixes: Record<string, unknown>;
}

const quoted = (value: unknown): string => JSON.stringify(value) ?? 'nothing';

/** Fetches the metadata the way the library does: OIDC discovery first, then RFC 8414. */
async function fetchMetadata(issuer: string, timeout: number): Promise<ProbeResult[]> {
  const tried: ProbeResult[] = [];
  for (const url of discoveryUrls(issuer)) {
    const result = await probe(url, timeout);
    tried.push(result);
    if (result.response?.status === 200 && result.json) break;
    if (result.failure) break; // the host itself is unreachable: the second URL is on it too
  }
  return tried;
}

const found = (tried: ProbeResult[]): Record<string, unknown> | undefined => {
  const last = tried[tried.length - 1];
  return last?.response?.status === 200 ? last.json : undefined;
};

/** Why two issuer values differ, in the words of the usual slips. */
function mismatchHint(configured: string, actual: string): string {
  const slashless = (s: string) => s.replace(/\/+$/, '');
  if (slashless(configured) === slashless(actual)) return 'They differ only by a trailing slash.';
  if (slashless(otherScheme(configured)) === slashless(actual)) {
    return `They differ in the scheme (${new URL(actual).protocol.slice(0, -1)} vs ${new URL(configured).protocol.slice(0, -1)}): the authorization server names itself with the other one, often because a proxy in front of it does not pass X-Forwarded-Proto (Keycloak: KC_PROXY_HEADERS=xforwarded).`;
  }
  if (new URL(configured).origin === new URL(actual).origin) {
    return 'They differ in the path: on Keycloak the issuer is https://host/realms/<realm> (before Keycloak 17: https://host/auth/realms/<realm>).';
  }
  return 'They name different servers.';
}

/** Other places an issuer is often found: the origin root, and Keycloak's realm paths with or without /auth. */
function neighbours(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const out = new Set<string>();
  if (path.startsWith('/auth/realms/')) out.add(url.origin + path.slice('/auth'.length));
  else if (path.startsWith('/realms/')) out.add(`${url.origin}/auth${path}`);
  if (path !== '') out.add(url.origin);
  out.delete(issuer.replace(/\/+$/, ''));
  return [...out];
}

/**
 * Discovery: is there a metadata document for the configured issuer, and does it name that
 * issuer exactly? When not, what was probably meant.
 */
export async function checkDiscovery(options: ConfiguredIssuer): Promise<DiscoveryOutcome> {
  const { issuer, httpTimeout } = options;
  const findings: DoctorFinding[] = [];
  const fixes: Record<string, unknown> = {};
  const finding = (f: Omit<DoctorFinding, 'check' | 'issuer'>) =>
    findings.push({ check: 'discovery', issuer, ...f });
  const tried = await fetchMetadata(issuer, httpTimeout);
  const metadata = found(tried);
  const first = tried[0]!;

  if (first.failure) {
    // Unreachable: the scheme may be the wrong one (a TLS handshake against plain http).
    const other = otherScheme(issuer);
    const otherTried = looksLikeTlsMismatch(first) ? await fetchMetadata(other, httpTimeout) : [];
    const otherMetadata = found(otherTried);
    if (otherMetadata) {
      finding({
        status: 'fail',
        summary: `${issuer} cannot be reached over ${new URL(issuer).protocol.slice(0, -1)} (${first.failure}), but ${other} answers`,
        detail: `The server speaks ${new URL(other).protocol.slice(0, -1)}, not ${new URL(issuer).protocol.slice(0, -1)}. Use the issuer exactly as its metadata names it: ${quoted(otherMetadata.issuer)}. (Plain http is accepted only on loopback hosts, or with unsafeAllowInsecureIssuer on a closed test network.)`,
        option: 'issuer',
        suggestion: otherMetadata.issuer,
      });
      fixes.issuer = otherMetadata.issuer;
      return { findings, fixes };
    }
    finding({
      status: 'fail',
      summary: `The authorization server cannot be reached at ${first.url}`,
      detail: `${first.failure}. Check the host and port of the issuer option, and that this machine can reach it (proxy, firewall, VPN).`,
      option: 'issuer',
    });
    return { findings, fixes };
  }

  if (!metadata) {
    const answered = tried.map(
      (t) => `${t.url} (${t.response ? `HTTP ${t.response.status}` : t.failure})`,
    );
    for (const candidate of neighbours(issuer)) {
      const near = found(await fetchMetadata(candidate, httpTimeout));
      if (near && typeof near.issuer === 'string') {
        finding({
          status: 'fail',
          summary: `No metadata document for ${issuer}, but this host has an issuer at ${near.issuer}`,
          detail: `Tried ${answered.join(' and ')}. The issuer's path is probably wrong: the tokens of this server say "iss": ${quoted(near.issuer)}.`,
          option: 'issuer',
          suggestion: near.issuer,
        });
        fixes.issuer = near.issuer;
        return { findings, fixes };
      }
    }
    const jwksCovered = options.jwksUri !== undefined || options.tokenFormat === 'opaque';
    const introspectionCovered =
      !options.introspection || options.introspection.endpoint !== undefined;
    const missing = [
      ...(jwksCovered ? [] : ['jwksUri']),
      ...(introspectionCovered ? [] : ['introspection.endpoint']),
    ];
    const detail =
      `Tried ${answered.join(' and ')}. Some providers (Glewlwyd, some gateways) publish no metadata at the issuer's root. ` +
      'The library then needs the endpoints themselves: jwksUri for JWTs, introspection.endpoint for opaque tokens, userInfo.endpoint for UserInfoService.';
    if (missing.length === 0) {
      finding({
        status: 'warn',
        summary: `No metadata document for ${issuer}; the configured endpoints are used instead`,
        detail: options.userInfoEndpoint
          ? detail
          : `${detail} userInfo.endpoint is not set: UserInfoService will answer 503.`,
        ...(options.userInfoEndpoint ? {} : { option: 'userInfo.endpoint' }),
      });
    } else {
      const guess = await guessJwksUri(issuer, httpTimeout);
      if (guess && !jwksCovered) fixes.jwksUri = guess;
      finding({
        status: 'fail',
        summary: `No metadata document for ${issuer}: set ${missing.join(' and ')}`,
        detail: guess ? `${detail} A key set answers at ${guess}.` : detail,
        option: missing[0],
        ...(guess && !jwksCovered ? { suggestion: guess } : {}),
      });
    }
    return { findings, fixes };
  }

  if (metadata.issuer !== issuer) {
    const actual = metadata.issuer;
    finding({
      status: 'fail',
      summary: `The metadata names the issuer ${quoted(actual)}, not the configured ${quoted(issuer)}`,
      detail: `The two must be identical (RFC 8414 §3.3), and so must the tokens' "iss". ${typeof actual === 'string' ? mismatchHint(issuer, actual) : 'The document has no usable "issuer".'}`,
      option: 'issuer',
      ...(typeof actual === 'string' ? { suggestion: actual } : {}),
    });
    if (typeof actual === 'string') fixes.issuer = actual;
  } else {
    finding({
      status: 'pass',
      summary: `Metadata found at ${tried[tried.length - 1]!.url}; its issuer matches exactly`,
    });
  }
  return { findings, fixes, ...(metadata ? { metadata } : {}) };
}

/** Where providers without discovery usually serve their keys. */
async function guessJwksUri(issuer: string, timeout: number): Promise<string | undefined> {
  const base = issuer.replace(/\/+$/, '');
  for (const url of [`${base}/jwks`, `${base}/.well-known/jwks.json`, `${base}/jwks.json`]) {
    const result = await probe(url, timeout);
    if (result.response?.status === 200 && Array.isArray(result.json?.keys)) return url;
  }
  return undefined;
}
