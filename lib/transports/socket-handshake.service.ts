import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import {
  OIDC_RESOURCE_CLOCK,
  OIDC_RESOURCE_RESOLVED_OPTIONS,
  PUBLIC_METADATA_KEY,
} from '../oidc-resource.constants.js';
import {
  InvalidRequestError,
  OidcResourceError,
  TokenMissingError,
} from '../errors/oidc-resource.error.js';
import { extractToken } from '../guards/extract-token.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { TokenValidationService } from '../services/token-validation.service.js';
import type { Clock } from '../utils/clock.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import { bearerValue } from './bearer.js';
import { closeAtExpiry, type ClosableSocket } from './expiry-timer.js';
import { refusalOf, type TransportRefusal } from './oauth-error.js';
import { PRINCIPAL, type PrincipalCarrier } from './principal-store.js';
import { expirySettings, logRefusal, optionalPrincipal } from './transport-guard.js';

/** Injection token of {@link SocketHandshake}; `Symbol.for` so that both builds agree on it. */
export const SOCKET_HANDSHAKE = Symbol.for('nestjs-oidc-resource:socket-handshake');

/** `@WebSocketGateway()` metadata, as `@nestjs/websockets` stores it. */
const GATEWAY_METADATA = 'websockets:is_gateway';
const GATEWAY_OPTIONS = 'websockets:gateway_options';
const PORT_METADATA = 'port';

/** The options of a `@WebSocketGateway()` that decide which server it is served by. */
export interface GatewayPlacement {
  path?: string;
  namespace?: unknown;
}

/**
 * Authenticates WebSocket handshakes for the package's adapters: the token is read once, at
 * connection, from the `Authorization` header, socket.io `auth.token`, or `access_token` in the
 * handshake URL (browsers cannot set WebSocket headers, so it is accepted whatever
 * `allowQueryToken` says); the principal is kept on the socket, and the socket is ended when
 * the token expires.
 */
@Injectable()
export class SocketHandshake {
  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) readonly clock: Clock,
    private readonly tokens: TokenValidationService,
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  /** Validates a token (the guard's own validation). */
  validate(token: string): Promise<AuthenticatedPrincipal> {
    return this.tokens.validate(token);
  }

  /**
   * Whether a server's handshakes need a token: yes unless every gateway it serves is
   * `@Public()`. A server that serves no known gateway needs one (fail closed).
   */
  requiresToken(serves: (port: number, placement: GatewayPlacement) => boolean): boolean {
    let served = false;
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype as object | null | undefined;
      if (typeof type !== 'function' || Reflect.getMetadata(GATEWAY_METADATA, type) !== true)
        continue;
      const port = (Reflect.getMetadata(PORT_METADATA, type) as number | undefined) ?? 0;
      const placement = (Reflect.getMetadata(GATEWAY_OPTIONS, type) ?? {}) as GatewayPlacement;
      if (!serves(port, placement)) continue;
      served = true;
      if (this.reflector.get<boolean | undefined>(PUBLIC_METADATA_KEY, type) !== true) return true;
    }
    return !served;
  }

  /**
   * The principal of a handshake; `undefined` when a token is not required and none valid was
   * sent. Throws an {@link OidcResourceError} to refuse the connection.
   * @param authToken socket.io `handshake.auth.token`, `undefined` elsewhere.
   */
  async authenticate(
    request: IncomingMessage,
    authToken: unknown,
    requireToken: boolean,
  ): Promise<AuthenticatedPrincipal | undefined> {
    let extraction = extractToken(request, undefined, true);
    if (!extraction.error && authToken !== undefined) {
      const fromAuth = bearerValue(authToken, 'auth.token');
      if (fromAuth.error || extraction.token === undefined) extraction = fromAuth;
      else if (fromAuth.token !== undefined)
        extraction = {
          error: new InvalidRequestError('The access token was sent in more than one way', {
            reason: 'token_sent_twice',
          }),
        };
    }
    if (!requireToken)
      return extraction.error ? undefined : optionalPrincipal(this, extraction.token);
    if (extraction.error) throw extraction.error;
    if (extraction.token === undefined) throw new TokenMissingError();
    return this.tokens.validate(extraction.token);
  }

  /** Keeps the principal on the socket and ends the socket when the token expires. */
  attach(
    socket: ClosableSocket & PrincipalCarrier,
    principal: AuthenticatedPrincipal | undefined,
  ): void {
    if (!principal) return;
    socket[PRINCIPAL] = principal;
    closeAtExpiry(socket, principal, expirySettings(this, principal), 4401);
  }

  /** How a refused handshake is answered (logged once, as on HTTP). */
  refusal(error: OidcResourceError): TransportRefusal {
    const refusal = refusalOf(error, this.options.challenge);
    logRefusal(this, error, refusal.http.status);
    return refusal;
  }
}
