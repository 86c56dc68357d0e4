import { Logger } from '@nestjs/common';
import type { OidcResourceError } from '../errors/oidc-resource.error.js';
import type { Clock } from './clock.js';

/** The Nest logger context of every line this library writes. */
export const LOG_CONTEXT = 'OidcResource';

/** One line per distinct message per minute: an outage must not flood the log. */
const DEFAULT_INTERVAL = 60_000;
/** Distinct messages remembered; beyond this the oldest is forgotten (and may be logged again). */
const MAX_MESSAGES = 256;
const MAX_LINE = 1000;

/** Log lines hold no line breaks or controls (log injection), and are bounded. */
export function logSafe(value: string, max = MAX_LINE): string {
  const clean = value.replace(/[\p{Cc}\u2028\u2029]/gu, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * `warn` through Nest's `Logger`, at most once per `interval` ms for one message; the next line
 * of that message says how many repeats were left out meanwhile.
 */
export class RateLimitedWarn {
  private readonly seen = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger = new Logger(LOG_CONTEXT),
    private readonly clock: Clock = Date.now,
    private readonly interval = DEFAULT_INTERVAL,
  ) {}

  /** Logs `message` unless it was logged less than `interval` ms ago. Returns whether it was. */
  warn(message: string): boolean {
    const line = logSafe(message);
    const now = this.clock();
    const entry = this.seen.get(line);
    if (entry && now - entry.last < this.interval) {
      entry.suppressed++;
      return false;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.delete(line);
    if (this.seen.size >= MAX_MESSAGES) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(line, { last: now, suppressed: 0 });
    this.logger.warn(
      suppressed > 0
        ? `${line} (repeated ${suppressed} more time${suppressed === 1 ? '' : 's'} since it was last logged)`
        : line,
    );
    return true;
  }
}

/**
 * What the guard and the exception filter log about the errors they answer: authorization
 * server failures (5xx) once at `warn`, rate-limited, naming the URL; refusals (4xx) at `debug`.
 * Messages never hold a token, so neither do these lines.
 */
export class AnswerLog {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly failures = new RateLimitedWarn(this.logger);

  /** Logs an error as it is answered with `status`. */
  answered(error: OidcResourceError, status: number, publicRoute = false): void {
    if (status >= 500) {
      const url = (error as { url?: unknown }).url;
      this.failures.warn(
        `${publicRoute ? 'A token on a public route could not be checked' : `Answered ${status}`}` +
          ` (${error.code}): ${error.message}${typeof url === 'string' ? ` [${url}]` : ''}`,
      );
    } else if (error.code !== 'token_missing') {
      const why = error.reason === undefined ? error.code : `${error.code}, ${error.reason}`;
      this.logger.debug(
        logSafe(
          `${publicRoute ? 'Ignored the token of a request to a public route' : `Refused with ${status}`} (${why}): ${error.message}`,
        ),
      );
    }
  }
}

const logs = new WeakMap<object, AnswerLog>();

/**
 * The answer log of one module instance (keyed by its resolved options, which the guard and
 * the filter share), so that two apps in one process keep their own rate limits.
 */
export function answerLogFor(options: object): AnswerLog {
  let log = logs.get(options);
  if (!log) logs.set(options, (log = new AnswerLog()));
  return log;
}
