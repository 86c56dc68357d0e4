import type { ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import {
  OIDC_BEARER_STRATEGY,
  TOKEN_PRESENTATION,
  TOKEN_VALIDATOR,
} from '../oidc-resource.constants.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import type { TokenValidationService } from '../services/token-validation.service.js';
import { OidcBearerStrategy } from '../strategies/oidc-bearer.strategy.js';
import type { TokenPresentation } from '../token/presentation.js';

/**
 * What passport sees of a request: the strictly extracted token as a normalised
 * `Authorization` header (read by passport-http-bearer as is), the guard's validator and the
 * request's presentation.
 */
export interface PassportView {
  headers: { authorization: string };
  [TOKEN_VALIDATOR]: TokenValidationService;
  [TOKEN_PRESENTATION]: TokenPresentation;
  user: AuthenticatedPrincipal | undefined;
}

const PASSPORT_VIEW = Symbol('nestjs-oidc-resource:passport-view');

interface ViewCarrier {
  [PASSPORT_VIEW]?: PassportView;
}

/**
 * Builds the view passport works on and hangs it on the context, whence the guard's
 * `getRequest()` hands it to passport. passport runs on this small object rather than on the
 * framework's request: it adds about ten members (logIn, logOut, authInfo, …) to whatever it is
 * given, and doing that to Express's request object costs more than the whole token check on a
 * cache hit. The view carries the guard's validation service because passport's strategy
 * registry is process-wide (several Nest apps in one process must stay apart). The context is
 * this request's own (a WeakMap would cost the garbage collector an ephemeron per request).
 */
export function attachPassportView(
  context: ExecutionContext,
  token: string,
  tokens: TokenValidationService,
  presentation: TokenPresentation,
): PassportView {
  const view: PassportView = {
    headers: { authorization: `Bearer ${token}` },
    [TOKEN_VALIDATOR]: tokens,
    [TOKEN_PRESENTATION]: presentation,
    user: undefined,
  };
  (context as ViewCarrier)[PASSPORT_VIEW] = view;
  return view;
}

/** The view {@link attachPassportView} hung on this context, if any. */
export function passportViewOf(context: ExecutionContext): PassportView | undefined {
  return (context as ViewCarrier)[PASSPORT_VIEW];
}

interface StrategyRegistry {
  _strategy?(name: string): unknown;
}

/**
 * The passport instance that `@nestjs/passport` registers strategies with and authenticates on.
 * Were it out of reach, the strategy could not be checked, and the guard would run passport.
 */
const registry: StrategyRegistry =
  (
    OidcBearerStrategy.prototype as unknown as { getPassportInstance?(): StrategyRegistry }
  ).getPassportInstance?.() ?? {};

/** `@nestjs/passport`'s guard for the library's strategy: its hooks are the defaults. */
const PassportGuard = AuthGuard(OIDC_BEARER_STRATEGY);

/** The members of a guard that decide what passport does with a request. */
export interface PassportHooks {
  getRequest: unknown;
  getResponse: unknown;
  getAuthenticateOptions: unknown;
  options?: object;
}

/**
 * Whether the hooks through which an application can change what passport does (the request
 * passport works on, the response, per-request authenticate options, `PassportModule`'s
 * options) are those the library ships. `handleRequest` is not among them: with or without
 * passport, the guard calls it with the same arguments.
 */
export function hooksAsShipped(guard: PassportHooks, shipped: PassportHooks): boolean {
  return (
    guard.getRequest === shipped.getRequest &&
    guard.getResponse === shipped.getResponse &&
    guard.getAuthenticateOptions === PassportGuard.prototype.getAuthenticateOptions &&
    (guard.options === undefined || Object.keys(guard.options).length === 0)
  );
}

/**
 * Whether passport, asked for the library's strategy by name, would run the library's own
 * strategy class, unchanged. Checked per request (one map lookup): an application may register
 * another strategy under that name at any time. Any instance of the class will do: its verdict
 * comes from the validation service the guard hands it, not from the instance.
 */
export function strategyAsShipped(): boolean {
  const strategy = registry._strategy?.(OIDC_BEARER_STRATEGY) as object | undefined;
  return strategy?.constructor === OidcBearerStrategy;
}
