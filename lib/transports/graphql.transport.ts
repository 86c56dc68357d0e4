import type { ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import {
  InvalidDpopProofError,
  OidcResourceError,
  TokenMissingError,
} from '../errors/oidc-resource.error.js';
import { extractToken, type TokenExtraction } from '../guards/extract-token.js';
import { certificateReader } from '../binding/client-certificate.js';
import { setResponseHeader } from '../guards/response-header.js';
import type { RouteRequirements } from '../authorization/route-access.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import { graphqlCode, refusalOf, type OAuthErrorDetails } from './oauth-error.js';
import { PRINCIPAL, type PrincipalCarrier } from './principal-store.js';
import { closeAtExpiry, type ClosableSocket } from './expiry-timer.js';
import { readBearer } from './bearer.js';
import {
  authorizePrincipal,
  expirySettings,
  logRefusal,
  optionalPrincipal,
  type TransportGuard,
} from './transport-guard.js';

/** The `extensions` of a refusal, as GraphQL clients read them. */
export interface OidcGraphQLErrorExtensions {
  /** `UNAUTHENTICATED` (400/401 cases), `FORBIDDEN` (403), `SERVICE_UNAVAILABLE` (503). */
  code: string;
  oauth: OAuthErrorDetails;
}

/**
 * A refusal in a GraphQL operation. graphql-js copies a thrown error's `extensions` into the
 * GraphQL error it reports, so this works with any driver without importing `graphql`. `cause`
 * is the {@link OidcResourceError}, for an app's exception filters.
 */
export class OidcGraphQLError extends Error {
  readonly extensions: OidcGraphQLErrorExtensions;
  declare readonly cause: OidcResourceError;

  constructor(message: string, extensions: OidcGraphQLErrorExtensions, cause: OidcResourceError) {
    super(message, { cause });
    this.extensions = extensions;
  }

  override get name(): string {
    return 'OidcGraphQLError';
  }
}

const VERDICT = Symbol('nestjs-oidc-resource:graphql-verdict');

/** Nest's GraphQL context (Apollo: `{ req }`; Mercurius: `{ req, reply }`; graphql-ws: `{ req: ctx }`). */
interface GraphQLContext extends PrincipalCarrier {
  req?: unknown;
  res?: unknown;
  reply?: unknown;
  connectionParams?: unknown;
  extra?: unknown;
  /** Mercurius subscriptions: the `connection_init` payload, and the socket if the app adds it. */
  _connectionInit?: unknown;
  socket?: ClosableSocket;
  [VERDICT]?: Promise<AuthenticatedPrincipal>;
}

interface HttpRequestLike {
  raw?: IncomingMessage;
  rawHeaders?: string[];
  body?: unknown;
  res?: unknown;
  user?: AuthenticatedPrincipal;
}

interface WsContextLike {
  connectionParams?: unknown;
  extra?: { socket?: ClosableSocket };
}

/** Where an operation's token is, and where a challenge goes. */
interface Source {
  extraction: TokenExtraction;
  raw?: IncomingMessage;
  request?: HttpRequestLike;
  response?: unknown;
  socket?: ClosableSocket;
}

function sourceOf(gql: GraphQLContext, options: TransportGuard['options']): Source {
  // graphql-ws: Nest passes its context as `req`; a custom context may spread it instead.
  const ws = ('connectionParams' in gql ? gql : gql.req) as WsContextLike | null | undefined;
  if (typeof ws === 'object' && ws !== null && 'connectionParams' in ws) {
    return { extraction: readBearer(ws.connectionParams), socket: ws.extra?.socket };
  }
  if ('_connectionInit' in gql)
    return { extraction: readBearer(gql._connectionInit), socket: gql.socket };
  const request = gql.req as HttpRequestLike | undefined;
  const raw = (request?.raw ?? request) as IncomingMessage | undefined;
  if (!raw || !Array.isArray(raw.rawHeaders)) return { extraction: {} };
  return {
    extraction: extractToken(
      raw,
      request!.body,
      options.allowQueryToken,
      options.dpop !== undefined,
    ),
    raw,
    request,
    response: gql.reply ?? gql.res ?? request!.res,
  };
}

/**
 * A resolver call: the token comes from the HTTP request behind the operation (queries and
 * mutations) or from the graphql-ws `connectionParams` (subscriptions). It is validated once
 * per operation, however many protected fields the operation selects.
 */
export async function authorizeGraphQL(
  guard: TransportGuard,
  context: ExecutionContext,
  route: RouteRequirements,
): Promise<boolean> {
  const gql = context.getArgByIndex<GraphQLContext | undefined>(2);
  if (typeof gql !== 'object' || gql === null) {
    if (route.isPublic) return true;
    throw refusal(guard, new TokenMissingError('The GraphQL context has no request'), undefined);
  }
  const source = sourceOf(gql, guard.options);
  const { extraction } = source;
  const validate = (token: string) => validateOperation(guard, source, token);
  if (route.isPublic) {
    if (!(PRINCIPAL in gql)) {
      const principal = extraction.error
        ? undefined
        : await optionalPrincipal({ options: guard.options, validate }, extraction.token);
      gql[PRINCIPAL] = principal;
      if (source.request) source.request.user = principal;
    }
    return true;
  }
  try {
    if (extraction.error) throw extraction.error;
    if (extraction.token === undefined) throw new TokenMissingError();
    const principal = await (gql[VERDICT] ??= validate(extraction.token));
    await authorizePrincipal(guard, principal, route, context);
    gql[PRINCIPAL] = principal;
    if (source.request) source.request.user = principal;
    if (extraction.fromQuery && source.response)
      setResponseHeader(source.response, 'Cache-Control', 'private');
    if (source.socket)
      closeAtExpiry(source.socket, principal, expirySettings(guard, principal), 4401);
    return true;
  } catch (error) {
    throw refusal(guard, error, source.response, extraction.scheme);
  }
}

/** The operation's token, with its DPoP proof when it came with the DPoP scheme. */
function validateOperation(
  guard: TransportGuard,
  source: Source,
  token: string,
): Promise<AuthenticatedPrincipal> {
  const { proof, scheme } = source.extraction;
  if (scheme !== 'DPoP') {
    // A certificate-bound token is checked against the request's client certificate (mtls).
    const certificateThumbprint = source.raw && certificateReader(source.raw, guard.options.mtls);
    return certificateThumbprint
      ? guard.validate(token, { scheme: 'Bearer', certificateThumbprint })
      : guard.validate(token);
  }
  if (!guard.validateDpop || proof === undefined || !source.raw)
    return Promise.reject(new InvalidDpopProofError('The DPoP proof cannot be checked here'));
  return guard.validateDpop(token, proof, source.raw);
}

function refusal(
  guard: TransportGuard,
  error: unknown,
  response: unknown,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
): unknown {
  if (!(error instanceof OidcResourceError)) return error;
  const { http, oauth } = refusalOf(error, guard.options.challenge, scheme);
  logRefusal(guard, error, http.status);
  if (response)
    for (const name in http.headers) setResponseHeader(response, name, http.headers[name]!);
  return new OidcGraphQLError(http.body.message, { code: graphqlCode(http.status), oauth }, error);
}
