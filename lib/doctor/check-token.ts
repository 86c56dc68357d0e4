import { NestFactory } from '@nestjs/core';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { OidcResourceModule } from '../oidc-resource.module.js';
import { TokenValidationService } from '../services/token-validation.service.js';
import { configuredIssuers, type ConfiguredIssuer } from '../observability/configured-issuers.js';
import { resolveOptions } from '../utils/resolve-options.js';
import { duration, explainRefusal, peek } from './explain-token.js';
import type { DoctorFinding } from './types.js';

/**
 * Runs the token through the library itself: the module as `forRoot()` builds it and its
 * `TokenValidationService`, the code every request goes through. The shared cache stores are
 * left out, so the verdict is fresh.
 */
async function validateWithTheLibrary(
  options: OidcResourceModuleOptions,
  token: string,
  quiet: boolean,
): Promise<AuthenticatedPrincipal> {
  const app = await NestFactory.createApplicationContext(
    OidcResourceModule.forRoot({ ...options, global: false, cache: {} }),
    quiet ? { logger: false, abortOnError: false } : { abortOnError: false },
  );
  try {
    return await app.get(TokenValidationService).validate(token);
  } finally {
    await app.close();
  }
}

/** Claims that often hold scopes or permissions when `scope`/`scp` do not. */
const SCOPE_LIKE = ['permissions', 'scopes', 'scp', 'scope', 'authorities', 'groups'];

function scopeFindings(
  principal: AuthenticatedPrincipal,
  options: ConfiguredIssuer,
): DoctorFinding[] {
  const { issuer } = options;
  if (principal.scopes.length > 0) {
    return [
      {
        check: 'scopes',
        issuer,
        status: 'pass',
        summary: `The token grants the scopes: ${principal.scopes.join(' ')}`,
      },
    ];
  }
  const read = options.scopeClaims.map((segments) => segments.join('.'));
  const candidate = SCOPE_LIKE.find((name) => {
    const value = principal.claims[name];
    return (
      !read.includes(name) &&
      (Array.isArray(value)
        ? value.length > 0 && value.every((v) => typeof v === 'string')
        : typeof value === 'string' && value.length > 0)
    );
  });
  if (candidate) {
    return [
      {
        check: 'scopes',
        issuer,
        status: 'fail',
        summary: `The token grants no scope through scopeClaims [${read.join(', ')}], but it has a "${candidate}" claim`,
        detail: `@Scopes() routes answer 403 to this token. If "${candidate}" holds what the API should check (Auth0 RBAC puts permissions there), set scopeClaims: ['${candidate}'].`,
        option: 'scopeClaims',
        suggestion: [candidate],
      },
    ];
  }
  return [
    {
      check: 'scopes',
      issuer,
      status: 'warn',
      summary: `The token has no scope claim (scopeClaims reads [${read.join(', ')}])`,
      detail:
        '@Scopes() and @AnyScope() routes answer 403 to it. The client may need to ask for scopes (scope parameter), or the provider to put them in the token; if they sit in another claim, name it in scopeClaims.',
      option: 'scopeClaims',
    },
  ];
}

/** Writes `value` at a dotted option path of a copy of `options`. */
export function withOption<T extends object>(options: T, path: string, value: unknown): T {
  const copy = { ...options } as Record<string, unknown>;
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = node[key] = typeof next === 'object' && next !== null ? { ...(next as object) } : {};
  }
  node[keys[keys.length - 1]!] = value;
  return copy as T;
}

/** More than enough for every fixable refusal to show up once. */
const MAX_ROUNDS = 6;

/**
 * The token, checked by the library; a refusal is explained with the option to change. When
 * that option has a clear value, the check runs again with it, so that one run shows every
 * problem instead of the first one only.
 */
export async function checkToken(
  raw: OidcResourceModuleOptions,
  token: string,
  quiet: boolean,
): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const unverified = peek(token);
  let current = raw;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // The issuer the token names, else the first: its settings explain the verdict.
    const issuers = configuredIssuers(resolveOptions({ ...current, global: false }));
    const options = issuers.find((i) => i.issuer === unverified.claims?.iss) ?? issuers[0]!;
    const { issuer } = options;
    try {
      const principal = await validateWithTheLibrary(current, token, quiet);
      const expires = principal.expiresAt
        ? `, expires in ${duration((principal.expiresAt.getTime() - Date.now()) / 1000)}`
        : '';
      const fixed = round > 0 ? ' once the options above are changed' : '';
      findings.push(
        {
          check: 'token',
          issuer,
          status: round > 0 ? 'warn' : 'pass',
          summary: `The token is accepted${fixed} (${principal.source === 'jwt' ? 'a JWT, verified locally' : 'introspected'}${principal.clientId ? `, client ${JSON.stringify(principal.clientId)}` : ''}${expires})`,
        },
        ...scopeFindings(principal, options),
      );
      return findings;
    } catch (error) {
      const finding: DoctorFinding = {
        check: 'token',
        issuer,
        ...explainRefusal(error, unverified, options, Date.now()),
      };
      findings.push(finding);
      if (!finding.option || finding.suggestion === undefined) return findings;
      current = withOption(current, finding.option, finding.suggestion);
    }
  }
  return findings;
}
