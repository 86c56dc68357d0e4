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
 * at most `maxIssuers` trusted issuers (with their keys and metadata) and as many refusals, the
 * least recently used forgotten first. Refusals are kept apart so that tokens naming random
 * issuers, which anyone can send, only ever push out other refusals: they cannot evict a trusted
 * tenant and make its keys be fetched again. Concurrent questions about one issuer share one
 * call. An answer that throws, or that is not a valid issuer entry, is an outage (503) and is
 * asked again next time.
 */
export class DynamicIssuers {
  /** A Map iterates in insertion order: the least recently used comes first. */
  private readonly trusted = new Map<string, TrustedIssuer>();
  private readonly refused = new Map<string, true>();
  private readonly flight = new SingleFlight<TrustedIssuer | undefined>();

  constructor(
    private readonly resolver: IssuerResolver,
    private readonly options: ResolvedOidcResourceOptions,
    private readonly clock: Clock,
  ) {}

  /** A remembered trusted issuer, without asking (and without making it recent). */
  known(iss: string): TrustedIssuer | undefined {
    return this.trusted.get(iss);
  }

  /** The trusted issuer for a token's unverified `iss`, or `undefined` when it is refused. */
  async resolve(iss: string): Promise<TrustedIssuer | undefined> {
    const trusted = this.trusted.get(iss);
    if (trusted) return remember(this.trusted, iss, trusted, Infinity);
    if (this.refused.has(iss)) return void remember(this.refused, iss, true, Infinity);
    // Junk never reaches the application's resolver: it only ever sees issuer-shaped URLs.
    if (!couldBeIssuer(iss, this.options.unsafeAllowInsecureIssuer)) return undefined;
    return this.flight.run(iss, () => this.ask(iss));
  }

  private async ask(iss: string): Promise<TrustedIssuer | undefined> {
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
    if (answer === undefined || answer === null) {
      remember(this.refused, iss, true, this.options.maxIssuers);
      return undefined;
    }
    let settings;
    try {
      settings = resolveDynamicIssuer(this.options, iss, answer);
    } catch (error) {
      if (!(error instanceof InvalidConfigurationError)) throw error;
      throw new IssuerUnavailableError(`resolveIssuer gave an invalid answer: ${error.message}`, {
        cause: error,
      });
    }
    const trusted = new TrustedIssuer(settings, this.options, this.clock);
    return remember(this.trusted, iss, trusted, this.options.maxIssuers);
  }
}

/** Puts `key` last (most recent) in an LRU-ordered map of at most `max` entries. */
function remember<T>(map: Map<string, T>, key: string, value: T, max: number): T {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
  return value;
}
