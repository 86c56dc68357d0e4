import { OidcResourceError } from '../errors/oidc-resource.error.js';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { configuredIssuers } from '../observability/configured-issuers.js';
import { resolveOptions, type ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { checkDiscovery } from './check-discovery.js';
import { checkIntrospection } from './check-introspection.js';
import { checkJwks } from './check-jwks.js';
import { checkToken, withOption } from './check-token.js';
import { peek } from './explain-token.js';
import type { DiagnoseSettings, Diagnosis, DoctorFinding } from './types.js';

export type {
  DiagnoseSettings,
  Diagnosis,
  DoctorCheck,
  DoctorFinding,
  DoctorStatus,
} from './types.js';

/** The options worth showing again: secrets left out (the printed block reads them from the environment). */
function withoutSecrets(options: OidcResourceModuleOptions): Partial<OidcResourceModuleOptions> {
  const { introspection, cache: _cache, ...rest } = options;
  const copy: Partial<OidcResourceModuleOptions> = { ...rest };
  if (introspection) {
    const { clientSecret: _secret, privateKey: _key, ...visible } = introspection;
    copy.introspection = visible as OidcResourceModuleOptions['introspection'];
  }
  return copy;
}

function setOption(target: Record<string, unknown>, path: string, value: unknown): void {
  Object.assign(target, withOption(target, path, value));
}

/**
 * Checks a configuration against the real authorization server and, given a token, runs the
 * library's own validation on it. Each problem is explained in plain words with the option to
 * change; `suggestedOptions` has the fixes applied. The findings never contain the token.
 *
 * @param options the options that `OidcResourceModule.forRoot()` would get (`audience` may be
 *   left out: the check then runs without an audience and says so)
 * @param token an access token to check, as a client sent it
 * @example
 * const { ok, findings } = await diagnose({ issuer: 'https://idp.example.com', audience: 'api' }, token);
 */
export async function diagnose(
  options: OidcResourceModuleOptions,
  token?: string,
  settings: DiagnoseSettings = {},
): Promise<Diagnosis> {
  const findings: DoctorFinding[] = [];
  const given: OidcResourceModuleOptions = { ...options };
  if (given.audience === undefined) {
    given.audience = false;
    findings.push({
      check: 'options',
      status: 'warn',
      summary: 'No audience given: checked without an audience check',
      detail:
        'The module requires audience: the value this API expects in the tokens\' "aud" claim.',
      option: 'audience',
    });
  }
  const suggested = withoutSecrets(given) as Record<string, unknown>;
  if (options.audience === undefined) delete suggested.audience;
  let resolved: ResolvedOidcResourceOptions;
  try {
    resolved = resolveOptions({ ...given, global: false });
  } catch (error) {
    findings.push({
      check: 'options',
      status: 'fail',
      summary: 'The options are refused at start',
      detail: error instanceof OidcResourceError ? error.message : String(error),
    });
    return { ok: false, findings, suggestedOptions: suggested };
  }
  // The token is judged with the configuration's fixes applied, so that one run reports every
  // problem: a misspelt issuer would otherwise hide the token's own (its audience, its type…).
  let forToken: Record<string, unknown> = { ...given };
  const fix = (fixes: Record<string, unknown>) => {
    for (const [path, value] of Object.entries(fixes)) {
      setOption(suggested, path, value);
      forToken = withOption(forToken, path, value);
    }
  };
  for (const issuerOptions of configuredIssuers(resolved)) {
    const discovery = await checkDiscovery(issuerOptions);
    findings.push(...discovery.findings);
    fix(discovery.fixes);
    if (issuerOptions.tokenFormat !== 'opaque') {
      const jwks = await checkJwks(issuerOptions, discovery.metadata);
      findings.push(...jwks.findings);
      fix(jwks.fixes);
    }
    findings.push(...(await checkIntrospection(issuerOptions, discovery.metadata)));
  }
  if (token !== undefined) {
    const tokenFindings = await checkToken(
      forToken as OidcResourceModuleOptions,
      token,
      settings.quiet === true,
    );
    findings.push(...tokenFindings);
    for (const f of tokenFindings) {
      if (f.status !== 'pass' && f.option && f.suggestion !== undefined)
        setOption(suggested, f.option, f.suggestion);
    }
    const aud = peek(token).claims?.aud;
    if (
      options.audience === undefined &&
      tokenFindings.some((f) => f.check === 'token' && f.status !== 'fail') &&
      (typeof aud === 'string' || Array.isArray(aud))
    ) {
      suggested.audience = typeof aud === 'string' ? aud : aud[0];
    }
  }
  return {
    ok: findings.every((f) => f.status !== 'fail'),
    findings,
    suggestedOptions: suggested as Partial<OidcResourceModuleOptions>,
  };
}
