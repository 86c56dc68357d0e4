import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { OidcResourceError, TokenMissingError } from '../errors/oidc-resource.error.js';
import { BEARER_PRESENTATION } from '../token/presentation.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { TokenValidationService } from '../services/token-validation.service.js';
import { answerLogFor } from '../utils/failure-log.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { extractToken, type TokenExtraction } from './extract-token.js';
import {
  attachPassportView,
  hooksAsShipped,
  passportViewOf,
  strategyAsShipped,
  type PassportHooks,
  type PassportView,
} from './passport-path.js';
import { setResponseHeader } from './response-header.js';
import { SenderConstraintHooks } from './sender-constraint.hooks.js';
import type { RouteRequirements } from '../authorization/route-access.js';

interface GuardRequest {
  raw?: IncomingMessage;
  body?: unknown;
  user?: AuthenticatedPrincipal;
}

/** A memory hit's answer where the request is not Fastify's: one promise, already settled. */
export const ADMITTED: Promise<boolean> = Promise.resolve(true);

/**
 * The resource-server guard: global by default (`APP_GUARD`), or `@UseGuards(OidcAuthGuard)`
 * with `global: false`. Built on `@nestjs/passport` with the passport-http-bearer strategy.
 *
 * Per request: read the route's requirements (memoised per handler), extract the token
 * (RFC 6750 §2), validate it (cache → JWT or introspection), check scopes, roles, policies,
 * and answer failures with RFC 6750 status codes and `WWW-Authenticate` challenges.
 *
 * GraphQL, WebSocket gateways and (with `rpc.token`; otherwise they pass through) microservice
 * messages share these steps; an adapter per transport reads the token and answers refusals.
 *
 * Subclass it to change behaviour; `getRequirements()`, `authorize()`, `checkStepUp()`,
 * `checkScopes()`, `checkRoles()`, `checkPolicies()` and `toHttpException()` are the hooks
 * (shared with the other transports, in route-authorization.ts), with `presentationOf()`,
 * `verifyDpopProof()` and `recordDpopProof()` for sender-constrained tokens
 * (sender-constraint.hooks.ts). `handleRequest()` gets passport's arguments on every request.
 * While `getRequest()`, `getResponse()`, `getAuthenticateOptions()` and the
 * `oidc-resource-bearer` strategy are the library's own, the guard reaches passport's verdict
 * without running passport's per-request machinery; otherwise it runs passport.
 *
 * `canActivate()` answers at once when a bearer token's accepted verdict is in the memory cache
 * and nothing needs awaiting: `true` itself on Fastify (as Nest's `CanActivate` allows), one
 * already settled promise on Express, where that measured cheaper; any other answer, every
 * refusal included, is a promise of its own.
 */
@Injectable()
export class OidcAuthGuard extends SenderConstraintHooks implements CanActivate {
  private hooksAsShipped?: boolean;
  private syncHits?: boolean;

  constructor(
    protected readonly reflector: Reflector,
    // Not named `options`: AuthGuard spreads its own `options` into every passport call.
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS)
    protected readonly moduleOptions: ResolvedOidcResourceOptions,
    protected readonly tokens: TokenValidationService,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    try {
      const route = this.getRequirements(context);
      const type = context.getType<string>();
      if (type !== 'http') return this.activateTransport(context, type, route);
      // getArgByIndex rather than switchToHttp(), which assigns three new closures to the context
      // on every call.
      const request = context.getArgByIndex<GuardRequest>(0);
      const response = context.getArgByIndex<unknown>(1);
      const raw = (request.raw ?? request) as IncomingMessage;
      const options = this.moduleOptions;
      const extraction = extractToken(
        raw,
        request.body,
        options.allowQueryToken,
        options.dpop !== undefined,
      );
      // A bearer token whose accepted verdict is in memory is answered at once (Nest
      // awaits only a guard's promise); everything else, refusals included, takes the path below.
      // DPoP and mTLS requests always do: their proof and certificate checks are hooks that may
      // await.
      const token = extraction.token;
      if (token !== undefined && extraction.scheme === undefined && !options.mtls) {
        const user =
          (route.isPublic || this.passportIsSkippable()) && this.memoryHitsReadable()
            ? this.tokens.cachedPrincipal(token)
            : undefined;
        if (user !== undefined) {
          const verdict = route.isPublic
            ? this.admit(request, response, user, false)
            : this.authorizeHit(context, route, request, response, user, extraction);
          // On Express (no `raw` request) a synchronous `true` measured 15-20 µs dearer per
          // request than one settled promise, shared by every hit (npm run bench:guard).
          return verdict === true && request.raw === undefined ? ADMITTED : verdict;
        }
      }
      return this.activate(context, route, request, response, raw, extraction);
    } catch (error) {
      // Whatever goes wrong before the verdict rejects, as it always has: never a synchronous throw.
      return Promise.reject(error);
    }
  }

  /** The rest of {@link canActivate} on a memory hit: the same steps as {@link activate}. */
  private authorizeHit(
    context: ExecutionContext,
    route: RouteRequirements,
    request: GuardRequest,
    response: unknown,
    user: AuthenticatedPrincipal,
    extraction: TokenExtraction,
  ): boolean | Promise<boolean> {
    try {
      const principal = this.handleRequest(null, user, undefined, context, undefined);
      const pending = this.authorize(principal, route, context);
      if (!pending) return this.admit(request, response, principal, extraction.fromQuery);
      return pending.then(
        () => this.admit(request, response, principal, extraction.fromQuery),
        (error: unknown) => {
          throw this.toHttpException(error, response, extraction.scheme);
        },
      );
    } catch (error) {
      // A refusal is a rejected promise, as from the asynchronous path.
      return Promise.reject(this.toHttpException(error, response, extraction.scheme));
    }
  }

  private admit(
    request: GuardRequest,
    response: unknown,
    principal: AuthenticatedPrincipal,
    fromQuery: boolean | undefined,
  ): true {
    request.user = principal;
    if (fromQuery) setResponseHeader(response, 'Cache-Control', 'private'); // RFC 6750 §2.3
    return true;
  }

  private async activate(
    context: ExecutionContext,
    route: RouteRequirements,
    request: GuardRequest,
    response: unknown,
    raw: IncomingMessage,
    extraction: TokenExtraction,
  ): Promise<boolean> {
    const options = this.moduleOptions;
    if (route.isPublic) {
      request.user = undefined;
      if (extraction.token !== undefined && !extraction.error) {
        try {
          const presentation =
            extraction.scheme === 'DPoP' || options.mtls
              ? await this.presentationOf(extraction, raw, context)
              : BEARER_PRESENTATION;
          const user = await this.tokens.validate(extraction.token, presentation);
          // A replayed proof must not lend its token's identity to a public route either.
          if (extraction.scheme === 'DPoP') await this.recordDpopProof(context);
          request.user = user;
        } catch (error) {
          // A public route never fails because of its token, but an outage is still worth a line.
          if (error instanceof OidcResourceError)
            answerLogFor(this.moduleOptions).answered(error, error.status, true);
        }
      }
      return true;
    }

    try {
      if (extraction.error) throw extraction.error;
      if (extraction.token === undefined) throw new TokenMissingError();
      // Only DPoP and mTLS requests pay for a presentation; a bearer request shares one object.
      const presentation =
        extraction.scheme === 'DPoP' || options.mtls
          ? await this.presentationOf(extraction, raw, context)
          : BEARER_PRESENTATION;
      let principal: AuthenticatedPrincipal;
      if (this.passportIsSkippable()) {
        // The verdict passport would reach, without passport: the strategy's validation and this
        // guard's handleRequest, called with the arguments passport-http-bearer and
        // @nestjs/passport pass. On a cache hit passport's per-request machinery (about fifteen
        // closures and objects, a strategy instance, four more awaits) costs more than the token
        // check itself. The strategy stays registered, for AuthGuard(...) compositions.
        let user: AuthenticatedPrincipal | undefined;
        let failure: unknown = null;
        try {
          user = await this.tokens.validate(extraction.token, presentation);
        } catch (error) {
          failure = error;
        }
        principal = this.handleRequest(failure, user, undefined, context, undefined);
      } else {
        const view = attachPassportView(context, extraction.token, this.tokens, presentation);
        await super.canActivate(context);
        principal = view.user!;
      }
      // Recorded only now, so that proofs sent with refused tokens never fill the replay cache.
      if (extraction.scheme === 'DPoP') await this.recordDpopProof(context);
      const pending = this.authorize(principal, route, context);
      if (pending) await pending;
      return this.admit(request, response, principal, extraction.fromQuery);
    } catch (error) {
      throw this.toHttpException(error, response, extraction.scheme);
    }
  }

  /**
   * Whether this guard may reach passport's verdict without running passport: only while the
   * hooks that change what passport does are the library's own and passport would run the
   * library's strategy. Otherwise every request goes through passport.
   */
  private passportIsSkippable(): boolean {
    this.hooksAsShipped ??= hooksAsShipped(this as PassportHooks, OidcAuthGuard.prototype);
    return this.hooksAsShipped && strategyAsShipped();
  }

  /**
   * Whether {@link TokenValidationService.cachedPrincipal} answers for this guard's validation:
   * not when an application replaced the service or its `validate()` (a test double, a
   * subclass), whose verdict the memory tier does not know.
   */
  private memoryHitsReadable(): boolean {
    const tokens = this.tokens;
    const shipped = TokenValidationService.prototype;
    return (this.syncHits ??=
      tokens instanceof TokenValidationService &&
      tokens.validate === shipped.validate &&
      tokens.cachedPrincipal === shipped.cachedPrincipal);
  }

  /** @nestjs/passport hook: passport works on the per-request view (see canActivate). */
  override getRequest(context: ExecutionContext): PassportView {
    const view = passportViewOf(context);
    if (!view) throw new TokenMissingError();
    return view;
  }

  /** @nestjs/passport hook: the HTTP response (see canActivate on switchToHttp). */
  getResponse(context: ExecutionContext): unknown {
    return context.getArgByIndex<unknown>(1);
  }

  /** passport's verdict: the strategy's error is rethrown as is (it is an OidcResourceError). */
  override handleRequest<TUser = AuthenticatedPrincipal>(
    error: unknown,
    user: unknown,
    _info?: unknown,
    _context?: ExecutionContext,
    _status?: unknown,
  ): TUser {
    if (error) throw error;
    if (!user) throw new TokenMissingError();
    return user as TUser;
  }
}
