import {
  InvalidConfigurationError,
  IssuerUnavailableError,
} from '../errors/oidc-resource.error.js';
import type {
  IssuerOptions,
  IssuerResolver,
} from '../interfaces/oidc-resource-options.interface.js';
import { checkIssuerUrl } from '../options/issuer-options.js';
import type { Clock } from '../utils/clock.js';
import {
  resolveDynamicIssuer,
  type ResolvedOidcResourceOptions,
} from '../utils/resolve-options.js';
import { SingleFlight } from '../utils/single-flight.js';
import { TrustedIssuer } from './trusted-issuer.js';

/** Whether a string could be an issuer this API may trust at all: an https (or loopback) URL. */
function couldBeIssuer(iss: string, unsafe: boolean): boolean {
  try {
    checkIssuerUrl('iss', iss, unsafe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Issuers trusted by `resolveIssuer`'s answers: each answer, a refusal included, is remembered,
 * at most `maxIssuers` of them, the least recently used forgotten first (with its keys and
 * metadata). Concurrent questions about one issuer share one call. An answer that throws, or
 * that is not a valid issuer entry, is an outage (503) and is asked again next time.
 */
export class DynamicIssuers {
  /** `null`: the resolver refused this issuer. A Map iterates in insertion order: oldest first. */
  private readonly answers = new Map<string, TrustedIssuer | null>();
  private readonly flight = new SingleFlight<TrustedIssuer | null>();

  constructor(
    private readonly resolver: IssuerResolver,
    private readonly options: ResolvedOidcResourceOptions,
    private readonly clock: Clock,
  ) {}

  /** A remembered answer, without asking (and without making it recent). */
  known(iss: string): TrustedIssuer | undefined {
    return this.answers.get(iss) ?? undefined;
  }

  /** The trusted issuer for a token's unverified `iss`, or `undefined` when it is refused. */
  async resolve(iss: string): Promise<TrustedIssuer | undefined> {
    const remembered = this.answers.get(iss);
    if (remembered !== undefined) {
      this.answers.delete(iss);
      this.answers.set(iss, remembered);
      return remembered ?? undefined;
    }
    // Junk never reaches the application's resolver: it only ever sees issuer-shaped URLs.
    if (!couldBeIssuer(iss, this.options.unsafeAllowInsecureIssuer)) return undefined;
    return (await this.flight.run(iss, () => this.ask(iss))) ?? undefined;
  }

  private async ask(iss: string): Promise<TrustedIssuer | null> {
    let answer: IssuerOptions | null | undefined;
    try {
      answer = await this.resolver(iss);
    } catch (cause) {
      // The application's own error, for its log (answers to clients never carry a 503's message).
      const why = cause instanceof Error ? `: ${cause.message.slice(0, 200)}` : '';
      throw new IssuerUnavailableError(
        `resolveIssuer threw for the issuer ${JSON.stringify(iss.slice(0, 200))}, so its tokens cannot be checked${why}`,
        { cause },
      );
    }
    let trusted: TrustedIssuer | null = null;
    if (answer !== undefined && answer !== null) {
      try {
        const settings = resolveDynamicIssuer(this.options, iss, answer);
        trusted = new TrustedIssuer(settings, this.options, this.clock);
      } catch (error) {
        if (!(error instanceof InvalidConfigurationError)) throw error;
        throw new IssuerUnavailableError(`resolveIssuer gave an invalid answer: ${error.message}`, {
          cause: error,
        });
      }
    }
    this.answers.set(iss, trusted);
    if (this.answers.size > this.options.maxIssuers) {
      this.answers.delete(this.answers.keys().next().value!);
    }
    return trusted;
  }
}
