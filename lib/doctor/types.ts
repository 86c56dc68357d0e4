import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';

/** Which part of the setup a finding is about. */
export type DoctorCheck = 'options' | 'discovery' | 'jwks' | 'introspection' | 'token' | 'scopes';

/** `fail` makes the diagnosis fail (exit 1); `warn` is worth reading but works as configured. */
export type DoctorStatus = 'pass' | 'warn' | 'fail';

/**
 * One thing the doctor found, in plain words. Never holds the token or a client secret.
 */
export interface DoctorFinding {
  check: DoctorCheck;
  status: DoctorStatus;
  /** The issuer the finding is about. */
  issuer?: string;
  /** One line: what was found. */
  summary: string;
  /** Why it matters and what to do, when there is something to do. */
  detail?: string;
  /** The option to change (`audience`, `introspection.endpoint`, …), when one fixes it. */
  option?: string;
  /** The value that option should most likely take. */
  suggestion?: unknown;
  /** The library's stable refusal code and reason, for a token that was refused. */
  code?: string;
  reason?: string;
}

/** What {@link diagnose} returns: the findings, and options with every suggested fix applied. */
export interface Diagnosis {
  /** `true` when no finding failed. */
  ok: boolean;
  findings: DoctorFinding[];
  /**
   * The options given, with the suggested fixes applied. Secrets are never copied: a client
   * secret or private key is replaced by a reference to an environment variable when printed.
   */
  suggestedOptions: Partial<OidcResourceModuleOptions>;
}

/** Options of {@link diagnose} beyond the module options. */
export interface DiagnoseSettings {
  /**
   * Silence Nest's own start-up log lines while the token is checked (the CLI does). Off by
   * default, since doing so replaces the process-wide Nest logger.
   * @default false
   */
  quiet?: boolean;
}
