/**
 * DEVELOPMENT ONLY: an embedded OAuth 2.0 / OpenID Connect authorization server.
 *
 * `npm start` runs this in the same process as the sample API when `OIDC_ISSUER`
 * is not set, so that the sample works on a fresh machine with nothing else
 * installed; `npm run dev-as` runs it alone (sample/dev-as.ts). It is `oidc-provider` (a certified OpenID Provider library) with an
 * in-memory store, fixed demo secrets, one demo user and no login page. It binds
 * to 127.0.0.1 only and refuses to start when `NODE_ENV=production`.
 *
 * To use a real identity provider instead, set `OIDC_ISSUER` (and
 * `OIDC_AUDIENCE`, `OIDC_INTROSPECTION_CLIENT_ID`, `OIDC_INTROSPECTION_CLIENT_SECRET`).
 */
import { once } from 'node:events';
import { createPrivateKey, generateKeyPair, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

/** A client registered at the dev authorization server, with its (demo) secret. */
export interface DevClient {
  readonly id: string;
  readonly secret: string;
}

/** The demo user. There is no password: see {@link DevAuthorizationServer.userTokenEndpoint}. */
export interface DevUser {
  readonly username: string;
  readonly name: string;
  readonly email: string;
}

export interface DevAuthorizationServer {
  /** Issuer identifier, `http://127.0.0.1:<port>`; discovery is at `{issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** `{issuer}/token` (client_credentials). */
  readonly tokenEndpoint: string;
  /** The resource indicator / audience of the notes API: tokens are issued for it. */
  readonly audience: string;
  /** Scopes that the notes API defines. */
  readonly scopes: readonly string[];
  /** client_credentials client that receives JWT access tokens (RFC 9068, `typ: at+jwt`). */
  readonly jwtClient: DevClient;
  /** client_credentials client that receives opaque access tokens (validated by introspection, RFC 7662). */
  readonly opaqueClient: DevClient;
  /** The API's own client: it may only call the introspection endpoint. */
  readonly introspectionClient: DevClient;
  /**
   * The browser app that would own user tokens (authorization code flow). Its secret is random
   * per start, and there is no login page: user tokens come from {@link userTokenEndpoint}.
   */
  readonly webAppClient: DevClient;
  readonly user: DevUser;
  /**
   * `POST {issuer}/dev/user-token` (form field `username`, default the demo user): a
   * development shortcut that stands in for a browser login. It returns a token
   * response with an opaque access token for the user, scope `openid profile email`
   * and no audience, the kind of token that the UserInfo endpoint accepts.
   */
  readonly userTokenEndpoint: string;
  close(): Promise<void>;
}

export interface DevAuthorizationServerOptions {
  /** TCP port on 127.0.0.1; `0` picks a free one. */
  port: number;
  /** Audience (RFC 8707 resource indicator) of the API. */
  audience: string;
  /** Print one line per request that reaches the server [true]. */
  logRequests?: boolean;
}

// oidc-provider ships no type declarations; these describe the part used here.
// The dynamic import with a non-literal specifier keeps TypeScript from looking
// for declarations that do not exist.
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): Provider;
}
interface Provider {
  callback(): Handler;
  on(event: 'server_error', listener: (ctx: unknown, error: Error) => void): void;
  Client: { find(clientId: string): Promise<object | undefined> };
  Grant: new (init: { accountId: string; clientId: string }) => {
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  };
  AccessToken: new (init: {
    accountId: string;
    client: object;
    grantId: string;
    scope: string;
    gty: string;
    expiresIn: number;
  }) => { save(): Promise<string> };
}
interface OidcProviderModule {
  default: ProviderClass;
  errors: { InvalidTarget: new (description?: string) => Error };
}
const OIDC_PROVIDER_MODULE: string = 'oidc-provider';

/** The notes API's audience (RFC 8707 resource indicator) at the dev authorization server. */
export const DEV_AUDIENCE = 'urn:notes-api';

/**
 * oidc-provider 9 warns "Unsupported runtime" once, when it loads, on any Node.js release line
 * older than 22 ("Jod"). The library itself supports Node.js 20.19+, and the dev server works
 * there; the banner says so instead (see runtimeNote), so the warning does not read as ours.
 */
const UNSUPPORTED_RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime.';

async function importOidcProvider(): Promise<OidcProviderModule> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes(UNSUPPORTED_RUNTIME_WARNING)) return;
    warn(...args);
  };
  try {
    return (await import(OIDC_PROVIDER_MODULE)) as OidcProviderModule;
  } finally {
    console.warn = warn;
  }
}

/** Banner lines on Node.js release lines that oidc-provider does not support; else none. */
export function runtimeNote(version: string = process.versions.node): string[] {
  if (Number(version.split('.')[0]) >= 22) return [];
  return [
    `Node.js ${version}: oidc-provider, which runs this dev server, supports Node.js 22+`,
    'and would warn "Unsupported runtime". It works here for development, and',
    'nestjs-oidc-resource itself supports Node.js ^20.19 || ^22.12 || >=24.',
  ];
}

const API_SCOPES = ['notes:read', 'notes:write'] as const;
const USER_TOKEN_SCOPE = 'openid profile email';
/** The role that the demo JWT client's tokens carry (`roles` claim). */
const ADMIN_ROLE = 'notes-admin';
const ACCESS_TOKEN_TTL = 900; // seconds

// Fixed, obviously-fake secrets: this server only ever listens on loopback.
const JWT_CLIENT: DevClient = { id: 'demo-jwt-client', secret: 'demo-jwt-client-secret' };
const OPAQUE_CLIENT: DevClient = { id: 'demo-opaque-client', secret: 'demo-opaque-client-secret' };
const INTROSPECTION_CLIENT: DevClient = {
  id: 'notes-api',
  secret: 'notes-api-introspection-secret',
};
// Owner of the user tokens minted by /dev/user-token (a browser app in real life).
const WEB_APP_CLIENT_ID = 'demo-web-app';

const USERS: ReadonlyMap<string, DevUser> = new Map([
  ['alice', { username: 'alice', name: 'Alice Example', email: 'alice@example.com' }],
]);

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export async function startDevAuthorizationServer(
  options: DevAuthorizationServerOptions,
): Promise<DevAuthorizationServer> {
  if (process.env['NODE_ENV'] === 'production') {
    throw new Error(
      'The embedded dev authorization server does not run with NODE_ENV=production. ' +
        'Set OIDC_ISSUER (and OIDC_AUDIENCE) to point the API at your identity provider.',
    );
  }
  const { default: Provider, errors } = await importOidcProvider();
  const { audience, logRequests = true } = options;

  // The issuer contains the port, so listen first and mount the provider afterwards.
  let handle: Handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => {
    if (logRequests) {
      res.once('finish', () => {
        const path = (req.url ?? '').split('?')[0];
        console.log(`[dev-as] ${req.method} ${path} -> ${res.statusCode}`);
      });
    }
    handle(req, res);
  });
  server.listen(options.port, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const webAppClient: DevClient = {
    id: WEB_APP_CLIENT_ID,
    secret: randomBytes(24).toString('base64url'),
  };
  // Exported from a re-imported copy: Node.js 20 can deadlock when a key is exported as a JWK
  // while the garbage collector finalizes the job that generated it.
  const { privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const signingKey = {
    ...createPrivateKey(privateKey).export({ format: 'jwk' }),
    kid: `dev-${Date.now()}`,
    use: 'sig',
    alg: 'RS256',
  };

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [
      clientCredentialsClient(JWT_CLIENT),
      clientCredentialsClient(OPAQUE_CLIENT),
      // A resource-server-only client: no grants, it only authenticates to /token/introspection.
      {
        client_id: INTROSPECTION_CLIENT.id,
        client_secret: INTROSPECTION_CLIENT.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: webAppClient.id,
        client_secret: webAppClient.secret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    async findAccount(_ctx: unknown, sub: string) {
      const user = USERS.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            name: user.name,
            preferred_username: user.username,
            email: user.email,
            email_verified: true,
          };
        },
      };
    },
    // A role for the demo JWT client's tokens (JWT claim, or member of the introspection
    // answer), read by the API's default roleClaims: it may call GET /notes/stats.
    async extraTokenClaims(_ctx: unknown, token: { clientId?: string }) {
      return token.clientId === JWT_CLIENT.id ? { roles: [ADMIN_ROLE] } : undefined;
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      ClientCredentials: ACCESS_TOKEN_TTL,
      Grant: 3600,
      IdToken: 3600,
      RefreshToken: 3600,
      Session: 3600,
      Interaction: 600,
    },
    features: {
      devInteractions: { enabled: false }, // no login page: see /dev/user-token
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the API's own client may introspect other clients' tokens.
        async allowedPolicy(
          _ctx: unknown,
          client: { clientId: string },
          token: { clientId?: string },
        ) {
          return client.clientId === INTROSPECTION_CLIENT.id || token.clientId === client.clientId;
        },
      },
      revocation: {
        enabled: true,
        async allowedPolicy(
          _ctx: unknown,
          client: { clientId: string },
          token: { clientId?: string },
        ) {
          return token.clientId === client.clientId;
        },
      },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // A client_credentials request without `resource` is for the notes API.
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        async getResourceServerInfo(
          _ctx: unknown,
          resourceIndicator: string,
          client: { clientId: string },
        ) {
          if (resourceIndicator !== audience)
            throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          const opaque = client.clientId === OPAQUE_CLIENT.id;
          return {
            scope: API_SCOPES.join(' '),
            audience,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            ...(opaque
              ? { accessTokenFormat: 'opaque' }
              : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }), // RFC 9068, typ at+jwt
          };
        },
      },
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('[dev-as] server error:', error));

  const providerCallback = provider.callback();
  handle = (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/dev/user-token') {
      mintUserToken(provider, req, res).catch((error: unknown) => {
        console.error('[dev-as] /dev/user-token failed:', error);
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      });
      return;
    }
    providerCallback(req, res);
  };

  const demoUser = USERS.get('alice')!;
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    audience,
    scopes: API_SCOPES,
    jwtClient: JWT_CLIENT,
    opaqueClient: OPAQUE_CLIENT,
    introspectionClient: INTROSPECTION_CLIENT,
    webAppClient,
    user: demoUser,
    userTokenEndpoint: `${issuer}/dev/user-token`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function clientCredentialsClient({ id, secret }: DevClient): Record<string, unknown> {
  return {
    client_id: id,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

/**
 * `POST /dev/user-token`: what a browser login plus the authorization code flow
 * would give a web app, minus the browser. It mints the token through
 * oidc-provider's own models (the way its test suite does), so the token is a
 * real one: introspection and UserInfo treat it like any other.
 */
async function mintUserToken(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!LOOPBACK_ADDRESSES.has(req.socket.remoteAddress ?? '')) {
    sendJson(res, 403, {
      error: 'access_denied',
      error_description: 'development endpoint: loopback only',
    });
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    sendJson(res, 405, { error: 'invalid_request', error_description: 'use POST' });
    return;
  }
  const body = await readBody(req, 4096);
  if (body === undefined) {
    sendJson(res, 413, { error: 'invalid_request', error_description: 'request body too large' });
    return;
  }
  const form = new URLSearchParams(body);
  const username = form.get('username') ?? 'alice';
  if (!USERS.has(username)) {
    sendJson(res, 400, {
      error: 'invalid_request',
      error_description: `unknown user; try username=alice`,
    });
    return;
  }
  const client = await provider.Client.find(WEB_APP_CLIENT_ID);
  if (!client) throw new Error(`client ${WEB_APP_CLIENT_ID} is not registered`);
  const grant = new provider.Grant({ accountId: username, clientId: WEB_APP_CLIENT_ID });
  grant.addOIDCScope(USER_TOKEN_SCOPE);
  const grantId = await grant.save();
  // No resource server: oidc-provider's UserInfo accepts only audience-less tokens.
  const accessToken = await new provider.AccessToken({
    accountId: username,
    client,
    grantId,
    scope: USER_TOKEN_SCOPE,
    gty: 'authorization_code',
    expiresIn: ACCESS_TOKEN_TTL,
  }).save();
  sendJson(res, 200, {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_TTL,
    scope: USER_TOKEN_SCOPE,
  });
}

/** The request body, or `undefined` when it is longer than `limit` characters. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > limit) return undefined;
  }
  return body;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}
