import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import type { Clock } from '../utils/clock.js';

/** A WebSocket (`ws`) or a socket.io socket: what is needed to end it and to notice its end. */
export interface ClosableSocket {
  close?(code?: number, reason?: string): void;
  disconnect?(close?: boolean): unknown;
  once?(event: string, listener: () => void): unknown;
}

/** setTimeout's longest delay; a later expiry re-arms the timer when it fires. */
const MAX_DELAY = 2_147_483_647;
const timers = new WeakMap<object, ReturnType<typeof setTimeout>>();

function end(socket: ClosableSocket, code: number): void {
  if (typeof socket.disconnect === 'function') socket.disconnect(true);
  else socket.close?.(code, 'Access token expired');
}

/**
 * Ends a long-lived connection when its token expires (`exp` plus `clockTolerance`). One timer
 * per connection, armed once: a message costs nothing, and the timer goes with the socket.
 */
export function closeAtExpiry(
  socket: ClosableSocket,
  principal: AuthenticatedPrincipal,
  settings: { clock: Clock; clockTolerance: number },
  code: number,
): void {
  const expiresAt = principal.expiresAt?.getTime();
  if (expiresAt === undefined || timers.has(socket)) return;
  const deadline = expiresAt + settings.clockTolerance * 1000;
  const arm = (): void => {
    const delay = deadline - settings.clock();
    if (delay <= 0) {
      timers.delete(socket);
      end(socket, code);
      return;
    }
    const timer = setTimeout(arm, Math.min(delay, MAX_DELAY));
    timer.unref();
    timers.set(socket, timer);
  };
  arm();
  socket.once?.(typeof socket.disconnect === 'function' ? 'disconnect' : 'close', () => {
    clearTimeout(timers.get(socket));
    timers.delete(socket);
  });
}
