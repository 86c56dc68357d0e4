/** Consecutive failed (or timed-out) shared-store calls after which the store is left alone. */
export const BREAKER_FAILURES = 3;

/** How long the store is left alone before one call probes it again (ms). */
export const BREAKER_COOLDOWN = 1000;

/** The connection state node-redis clients expose (`isOpen`: connecting or connected). */
interface ConnectionState {
  isOpen: boolean;
  isReady: boolean;
}

function connectionState(value: unknown): ConnectionState | undefined {
  const client = value as Partial<ConnectionState> | null | undefined;
  return client && typeof client.isOpen === 'boolean' && typeof client.isReady === 'boolean'
    ? (client as ConnectionState)
    : undefined;
}

/**
 * The Redis clients behind shared stores, where the store exposes one: a `@keyv/redis` adapter
 * (`store.client`), or a Keyv instance over one (`keyv.store.client`). Other stores have none.
 */
export function redisClients(stores: readonly unknown[]): ConnectionState[] {
  const found: ConnectionState[] = [];
  for (const store of stores) {
    const s = store as { client?: unknown; store?: { client?: unknown } } | null;
    const client = connectionState(s?.client) ?? connectionState(s?.store?.client);
    if (client) found.push(client);
  }
  return found;
}

/**
 * A circuit breaker for the shared cache tier. A dead or stalled store would otherwise make every
 * request wait out `cache.storeTimeout`: after {@link BREAKER_FAILURES} failures in a row the
 * tier is skipped for {@link BREAKER_COOLDOWN} ms, then one call probes it (half-open) while the
 * others still skip it; the probe's success closes the breaker, its failure opens it again.
 *
 * A client that is known to be disconnected (ready once, now open but not ready: node-redis
 * reconnecting) is not asked at all: its commands would only queue until the timeout. A client
 * that is connecting for the first time, or closed, is asked (the adapter connects on use).
 */
export class StoreBreaker {
  private failures = 0;
  /** 0 while closed; otherwise when the next probe may go. */
  private retryAt = 0;
  private probing = false;
  /**
   * Errors the stores reported as events (Keyv adapters often report a failed command so and
   * answer a miss): a call during which this moved counts as failed.
   */
  errors = 0;

  /** Clients seen ready once: before that, "open but not ready" is the first connection. */
  private readonly connected = new WeakSet<ConnectionState>();

  constructor(
    private readonly clients: readonly ConnectionState[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the store may be called now. When it may, report the call with {@link record}. */
  allow(): boolean {
    for (const client of this.clients) {
      if (client.isReady) this.connected.add(client);
      else if (client.isOpen && this.connected.has(client)) {
        // Counts as a failure while closed (so the breaker opens); never delays an open one's probe.
        if (this.retryAt === 0) this.record(false);
        return false;
      }
    }
    if (this.retryAt === 0) return true;
    if (this.probing || this.now() < this.retryAt) return false;
    this.probing = true;
    return true;
  }

  /**
   * The outcome of an allowed call. Returns true when this failure opened the breaker (for the
   * log line).
   */
  record(ok: boolean): boolean {
    this.probing = false;
    if (ok) {
      this.failures = 0;
      this.retryAt = 0;
      return false;
    }
    this.failures += 1;
    if (this.failures < BREAKER_FAILURES) return false;
    const opened = this.retryAt === 0;
    this.retryAt = this.now() + BREAKER_COOLDOWN;
    return opened;
  }

  /** Whether the store is being skipped. */
  get isOpen(): boolean {
    return this.retryAt !== 0;
  }
}

/**
 * One shared-store call through `breaker`, bounded by `timeout` ms: a skipped, failed or late
 * call resolves to `undefined` (a miss) and is reported to `fault`, never thrown.
 */
export async function boundedCall<T>(
  breaker: StoreBreaker,
  timeout: number,
  what: string,
  start: () => Promise<T>,
  fault: (message: string, error: unknown) => void,
): Promise<T | undefined> {
  if (!breaker.allow()) return undefined;
  const failed = (why: string, error: unknown) =>
    fault(
      breaker.record(false)
        ? `a shared cache store failed ${BREAKER_FAILURES} times in a row (last: ${why}); skipped for ${BREAKER_COOLDOWN} ms, then probed`
        : `a shared cache store ${why}; skipped`,
      error,
    );
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      failed(`did not ${what} within ${timeout} ms`, undefined);
      resolve(undefined);
    }, timeout);
    timer.unref();
  });
  let call: Promise<T> | undefined;
  const errors = breaker.errors;
  try {
    call = start();
    const result = await Promise.race([call, late]);
    if (timedOut) return undefined;
    if (breaker.errors === errors) breaker.record(true);
    else failed(`reported an error during a ${what}`, undefined);
    return result;
  } catch (error) {
    failed(`failed to ${what}`, error);
    return undefined;
  } finally {
    clearTimeout(timer);
    call?.catch(() => undefined);
  }
}
