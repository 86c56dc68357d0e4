import { Inject, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { RouteRequirements } from '../authorization/route-access.js';
import { certificateReader } from '../binding/client-certificate.js';
import { DpopProofService, type VerifiedProof } from '../dpop/dpop-proof.service.js';
import type { TokenValidationService } from '../services/token-validation.service.js';
import type { TokenPresentation } from '../token/presentation.js';
import { authorizeTransport, type TransportGuard } from '../transports/index.js';
import { systemClock } from '../utils/clock.js';
import type { TokenExtraction } from './extract-token.js';
import { RouteAuthorization } from './route-authorization.js';

const VERIFIED_PROOF = Symbol('nestjs-oidc-resource:verified-proof');

interface ViewCarrier {
  /** A DPoP request's checked proof, whose `jti` is recorded once the token is accepted. */
  [VERIFIED_PROOF]?: VerifiedProof;
}

/**
 * The part of {@link OidcAuthGuard} that deals with sender-constrained tokens (DPoP proofs and
 * client certificates), on HTTP and on the other transports. Every protected method is a hook
 * that a subclass of `OidcAuthGuard` may override; the class is not exported on its own.
 */
export abstract class SenderConstraintHooks extends RouteAuthorization {
  // A property, not a constructor parameter, so that subclasses' constructors need no change.
  @Inject(DpopProofService) private readonly dpopProofs?: DpopProofService;
  private transport?: TransportGuard;

  protected abstract readonly tokens: TokenValidationService;

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

  /** GraphQL, WebSocket and microservice contexts: answered with a promise, as ever. */
  protected async activateTransport(
    context: ExecutionContext,
    type: string,
    route: RouteRequirements,
  ): Promise<boolean> {
    return authorizeTransport(this.transportGuard(), context, type, route);
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
