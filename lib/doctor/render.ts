import type { Diagnosis, DoctorFinding } from './types.js';

const MARK: Record<DoctorFinding['status'], string> = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' };
const SECRET_ENV = '__OIDC_DOCTOR_SECRET__';

/** An object literal in TypeScript syntax: identifier keys unquoted. */
function literal(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2)
    .replace(/^( *)"([A-Za-z_$][\w$]*)":/gm, '$1$2:')
    .replace(`"${SECRET_ENV}"`, 'process.env.OIDC_CLIENT_SECRET')
    .split('\n')
    .join(`\n${indent}`);
}

/**
 * The suggested options as a `forRoot({...})` call to paste into the app module. A client
 * secret is read from `OIDC_CLIENT_SECRET`, never printed.
 */
export function renderForRoot(diagnosis: Diagnosis): string {
  const options = { ...diagnosis.suggestedOptions } as Record<string, unknown>;
  const introspection = options.introspection as Record<string, unknown> | undefined;
  if (introspection && introspection.authMethod !== 'private_key_jwt') {
    options.introspection = { ...introspection, clientSecret: SECRET_ENV };
  }
  return `OidcResourceModule.forRoot(${literal(options, '')})`;
}

/** The diagnosis as text for a terminal: one line per finding, details indented, then the block. */
export function renderText(diagnosis: Diagnosis): string {
  const lines: string[] = [];
  for (const f of diagnosis.findings) {
    lines.push(`[${MARK[f.status]}] ${f.check}: ${f.summary}`);
    if (f.detail) lines.push(`       ${f.detail}`);
    if (f.option && f.status !== 'pass') {
      lines.push(
        `       option: ${f.option}${f.suggestion !== undefined ? ` → ${JSON.stringify(f.suggestion)}` : ''}`,
      );
    }
  }
  lines.push('');
  lines.push(
    diagnosis.ok
      ? 'All checks passed. The configuration:'
      : 'Some checks failed. The configuration with the suggested fixes:',
  );
  lines.push('');
  lines.push(renderForRoot(diagnosis));
  return `${lines.join('\n')}\n`;
}
