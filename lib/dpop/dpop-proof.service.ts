import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { InvalidDpopProofError, IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import {
  DEFAULTS,
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_RESOLVED_OPTIONS,
} from '../oidc-resource.constants.js';
import { BREAKER_COOLDOWN } from '../services/store-breaker.js';
import type { Clock } from '../utils/clock.js';
import { LOG_CONTEXT } from '../utils/failure-log.js';
import type { TokenPresentation } from '../token/presentation.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { requestHtu } from './htu.js';
import { DpopNonces } from './nonce.js';
import { verifyDpopProof, type ProofPolicy, type VerifiedProof } from './proof.js';
import { DpopReplayCache, replayKey } from './replay-cache.js';

export type { VerifiedProof } from './proof.js';

const LOG_INTERVAL = 30_000;

/**
 * DPoP proofs for the guard (RFC 9449 §4.3, §7.1, §11.1): one instance per module, so that the
 * replay cache and the nonces are shared by every guard of the application.
 *
 * A request runs {@link verify} (every stateless check, synchronous), then the token's own
 * validation with the proof's key thumbprint, then {@link record}: the `jti` is stored last,
 * so that requests with invalid tokens cannot fill the replay cache.
 */
@Injectable()
export class DpopProofService {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly policy?: ProofPolicy;
  private readonly replay?: DpopReplayCache;
  private readonly publicUrl?: string;
  private lastFaultLog = 0;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
  ) {
    const dpop = options.dpop;
    if (!dpop) return;
    this.policy = {
      algorithms: new Set(dpop.algorithms),
      maxAge: dpop.proofMaxAge,
      // The proof comes before the token, so before its issuer is known: the top-level skew.
      leeway: options.issuerDefaults.clockTolerance ?? DEFAULTS.clockTolerance,
      ...(dpop.nonce ? { nonces: new DpopNonces(dpop.nonceSecret, clock) } : {}),
    };
    if (dpop.publicUrl !== undefined) this.publicUrl = dpop.publicUrl;
    this.replay = new DpopReplayCache(dpop.stores, clock, options.cache.storeTimeout, (m, e) =>
      this.fault(m, e),
    );
  }

  /**
   * Every stateless check of `proof` against the request and its access token.
   * @throws InvalidDpopProofError, UseDpopNonceError (see verifyDpopProof)
   */
  verify(raw: IncomingMessage, proof: string, token: string): VerifiedProof {
    const policy = this.policy;
    if (!policy)
      throw new InvalidDpopProofError('DPoP is not enabled', { reason: 'dpop_proof_invalid' });
    const request = {
      method: raw.method ?? '',
      htu: requestHtu(raw, this.publicUrl === undefined ? {} : { publicUrl: this.publicUrl }),
      accessToken: token,
    };
    return verifyDpopProof(proof, request, policy, this.clock());
  }

  /**
   * Records the proof's `jti` until the proof could no longer be accepted.
   * @throws InvalidDpopProofError (reason `dpop_jti_replayed`) for a proof seen before
   * @throws IssuerUnavailableError (503) when the shared replay store cannot answer: accepting
   *   the request would let replays through, and refusing it as an invalid proof would blame the
   *   client for the server's outage
   */
  async record(proof: VerifiedProof): Promise<void> {
    const { maxAge, leeway } = this.policy!;
    const ttl = (proof.iat + maxAge + leeway) * 1000 - this.clock();
    const verdict = await this.replay!.record(replayKey(proof.jkt, proof.htu, proof.jti), ttl);
    if (verdict === 'fresh') return;
    if (verdict === 'replayed')
      throw new InvalidDpopProofError('The DPoP proof was already used', {
        reason: 'dpop_jti_replayed',
        claim: 'jti',
      });
    throw new IssuerUnavailableError('The DPoP replay cache is unavailable', {
      retryAfter: Math.ceil(BREAKER_COOLDOWN / 1000),
    });
  }

  /**
   * The whole DPoP step for a request: {@link verify}, then `validate` with the proof's key as
   * the token's presentation, then {@link record}. For transports other than the guard's own
   * HTTP path (GraphQL over HTTP).
   */
  async authenticate<T>(
    raw: IncomingMessage,
    proof: string,
    token: string,
    validate: (presentation: TokenPresentation) => Promise<T>,
  ): Promise<T> {
    const verified = this.verify(raw, proof, token);
    const principal = await validate({ scheme: 'DPoP', proofJkt: verified.jkt });
    await this.record(verified);
    return principal;
  }

  private fault(message: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastFaultLog < LOG_INTERVAL) return;
    this.lastFaultLog = now;
    const detail = error instanceof Error ? `: ${error.message}` : '';
    this.logger.warn(`DPoP replay cache: ${message}${detail} (DPoP requests are refused with 503)`);
  }
}
