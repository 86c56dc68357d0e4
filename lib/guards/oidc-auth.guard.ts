import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import { OidcResourceError, TokenMissingError } from '../errors/oidc-resource.error.js';
import { certificateReader } from '../binding/client-certificate.js';
import { DpopProofService, type VerifiedProof } from '../dpop/dpop-proof.service.js';
import { BEARER_PRESENTATION, type TokenPresentation } from '../token/presentation.js';
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
import { RouteAuthorization } from './route-authorization.js';
import { authorizeTransport, type TransportGuard } from '../transports/index.js';
import { systemClock } from '../utils/clock.js';

interface GuardRequest {
  raw?: IncomingMessage;
  body?: unknown;
  user?: AuthenticatedPrincipal;
}

const VERIFIED_PROOF = Symbol('nestjs-oidc-resource:verified-proof');

interface ViewCarrier {
  /** A DPoP request's checked proof, whose `jti` is recorded once the token is accepted. */
  [VERIFIED_PROOF]?: VerifiedProof;
}

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
 * `verifyDpopProof()` and `recordDpopProof()` for sender-constrained tokens. `handleRequest()` gets
 * passport's arguments on every request. While `getRequest()`, `getResponse()`,
 * `getAuthenticateOptions()` and the `oidc-resource-bearer` strategy are the library's own,
 * the guard reaches passport's verdict without running passport's per-request machinery;
 * otherwise it runs passport.
 */
@Injectable()
export class OidcAuthGuard extends RouteAuthorization implements CanActivate {
  // A property, not a constructor parameter, so that subclasses' constructors need no change.
  @Inject(DpopProofService) private readonly dpopProofs?: DpopProofService;
  private transport?: TransportGuard;
  private hooksAsShipped?: boolean;

  constructor(
    protected readonly reflector: Reflector,
    // Not named `options`: AuthGuard spreads its own `options` into every passport call.
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS)
    protected readonly moduleOptions: ResolvedOidcResourceOptions,
    protected readonly tokens: TokenValidationService,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.getRequirements(context);
    const type = context.getType<string>();
    if (type !== 'http') return authorizeTransport(this.transportGuard(), context, type, route);
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
      request.user = principal;
      if (extraction.fromQuery) setResponseHeader(response, 'Cache-Control', 'private'); // RFC 6750 §2.3
      return true;
    } catch (error) {
      throw this.toHttpException(error, response, extraction.scheme);
    }
  }

  /**
   * How a DPoP or mTLS request presents its token: the verified proof's key, and a way to read
   * the client certificate (only read when the token is bound to one).
   */
  protected async presentationOf(
    extraction: TokenExtraction,
    raw: IncomingMessage,
    context: ExecutionContext,
  ): Promise<TokenPresentation> {
    const certificateThumbprint = certificateReader(raw, this.moduleOptions.mtls);
    if (extraction.scheme !== 'DPoP') return { scheme: 'Bearer', certificateThumbprint };
    const proofJkt = await this.verifyDpopProof(extraction, raw, context);
    return { scheme: 'DPoP', proofJkt, certificateThumbprint };
  }

  /**
   * Checks the request's DPoP proof (RFC 9449 §4.3) and returns the RFC 7638 thumbprint of its
   * key, which the token's `cnf.jkt` must equal.
   */
  protected async verifyDpopProof(
    extraction: TokenExtraction,
    raw: IncomingMessage,
    context: ExecutionContext,
  ): Promise<string> {
    const proof = this.dpopProofs!.verify(raw, extraction.proof!, extraction.token!);
    (context as ViewCarrier)[VERIFIED_PROOF] = proof;
    return proof.jkt;
  }

  /**
   * Records the `jti` of the proof {@link verifyDpopProof} checked, once the token is accepted:
   * a proof seen before is refused (`invalid_dpop_proof`), a replay store that does not answer
   * gives 503.
   */
  protected recordDpopProof(context: ExecutionContext): Promise<void> {
    const proof = (context as ViewCarrier)[VERIFIED_PROOF];
    return proof ? this.dpopProofs!.record(proof) : Promise.resolve();
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

  /** This guard as the non-HTTP transports see it: its validation and its hooks. */
  private transportGuard(): TransportGuard {
    return (this.transport ??= {
      options: this.moduleOptions,
      clock: this.clock ?? systemClock,
      validate: (token, presentation) => this.tokens.validate(token, presentation),
      validateDpop: (token, proof, raw) => {
        const certificateThumbprint = certificateReader(raw, this.moduleOptions.mtls);
        return this.dpopProofs!.authenticate(raw, proof, token, (p) =>
          this.tokens.validate(token, certificateThumbprint ? { ...p, certificateThumbprint } : p),
        );
      },
      authorize: (principal, route, context) => this.authorize(principal, route, context),
    });
  }
}
