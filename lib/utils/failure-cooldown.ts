import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import type { Clock } from './clock.js';

/**
 * Remembers, per URL, a fetch that failed while nothing was known yet (the first discovery,
 * the first JWKS), and answers calls made in the next second or two with that same failure
 * at once, instead of asking again: during an outage, sequential requests with new tokens
 * would otherwise each call a recovering identity provider. The delay is jittered so that
 * replicas do not retry in step. Concurrent calls are coalesced elsewhere (single flight).
 */
export class FailureCooldown {
  private readonly failures = new Map<string, { until: number; error: IssuerUnavailableError }>();

  constructor(
    private readonly clock: Clock,
    private readonly base: number,
    private readonly jitter: number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Throws the failure recorded for `url` while its cooldown lasts: an
   * {@link IssuerUnavailableError} with the same message and URL (the log line stays one) and
   * `retryAfter` set to the time left.
   */
  check(url: string): void {
    const failure = this.failures.get(url);
    if (!failure) return;
    const left = failure.until - this.clock();
    if (left <= 0) {
      this.failures.delete(url);
      return;
    }
    throw new IssuerUnavailableError(failure.error.message, {
      cause: failure.error,
      url,
      retryAfter: left / 1000,
    });
  }

  /**
   * Records a failed fetch of `url` (only an outage counts, not a bug) and returns the error to
   * throw: the same, with `retryAfter` set to the cooldown when the server named none.
   */
  failed(url: string, error: unknown): unknown {
    if (!(error instanceof IssuerUnavailableError)) return error;
    const now = this.clock();
    const until = now + this.base + Math.floor(this.random() * this.jitter);
    this.failures.set(url, { until, error });
    if (error.retryAfter !== undefined) return error;
    return new IssuerUnavailableError(error.message, {
      cause: error.cause,
      url: error.url ?? url,
      retryAfter: (until - now) / 1000,
    });
  }

  /** Forgets `url`'s failure after a successful fetch. */
  succeeded(url: string): void {
    this.failures.delete(url);
  }
}
