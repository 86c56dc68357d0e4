import {
  createHmac,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { Clock } from '../utils/clock.js';

/** How long one nonce is handed out (ms); it is accepted for this window and the next one. */
export const NONCE_WINDOW = 60_000;

/** Length of a nonce's MAC before encoding: 128 bits are beyond guessing within a window. */
const NONCE_BYTES = 16;

/**
 * Server-provided DPoP nonces (RFC 9449 §9) that need no shared state: a nonce is the
 * HMAC-SHA-256 of the current time window under a secret, so every replica that holds the same
 * secret issues and accepts the same nonces, and no nonce has to be stored or looked up.
 *
 * A nonce is accepted during the window it was issued in and the next one, so a client that
 * fetched one just before a window ended still has at least one window to use it.
 */
export class DpopNonces {
  private readonly secret: KeyObject;
  /** The last window's nonce, so that issuing one costs an HMAC once a window, not per request. */
  private cached?: { window: number; nonce: string };

  constructor(
    secret: KeyObject | undefined,
    private readonly clock: Clock,
  ) {
    // A single process may invent its own secret; replicas sharing a replay store may not (the
    // options require one there), or a nonce issued by one would fail at every other.
    this.secret = secret ?? createSecretKey(randomBytes(32));
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    return this.forWindow(Math.floor(this.clock() / NONCE_WINDOW));
  }

  /** Whether `nonce` was issued in the current or the previous window. */
  accepts(nonce: unknown): boolean {
    if (typeof nonce !== 'string' || nonce.length !== 22) return false;
    const given = Buffer.from(nonce, 'base64url');
    if (given.length !== NONCE_BYTES || given.toString('base64url') !== nonce) return false;
    const window = Math.floor(this.clock() / NONCE_WINDOW);
    // Both compared, whatever the first gives, so the time taken says nothing about which matched.
    const now = timingSafeEqual(given, Buffer.from(this.forWindow(window), 'base64url'));
    const before = timingSafeEqual(given, Buffer.from(this.forWindow(window - 1), 'base64url'));
    return now || before;
  }

  private forWindow(window: number): string {
    const cached = this.cached;
    if (cached?.window === window) return cached.nonce;
    const counter = Buffer.alloc(8);
    counter.writeBigInt64BE(BigInt(window));
    const mac = createHmac('sha256', this.secret).update('dpop-nonce\0').update(counter).digest();
    const nonce = mac.subarray(0, NONCE_BYTES).toString('base64url');
    if (cached === undefined || window > cached.window) this.cached = { window, nonce };
    return nonce;
  }
}
