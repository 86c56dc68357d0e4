import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  IssuerOptions,
  OidcResourceModuleOptions,
} from '../interfaces/oidc-resource-options.interface.js';
import { accessTokenClaims } from './access-token-claims.js';
import { handleRequest, type EndpointContext } from './issuer-endpoints.js';
import { signJws } from '../utils/jws.js';
import {
  generateSigningKey,
  isTestSigningAlgorithm,
  type SigningKey,
  type TestSigningAlgorithm,
} from './signing-keys.js';
import { TokenRegistry } from './token-registry.js';
import type {
  TestAccessTokenOptions,
  TestIssuer,
  TestIssuerOptions,
  TestIssuerRequests,
} from './test-issuer.types.js';

/** The `audience` of `moduleOptions()` and of tokens, unless given. */
export const DEFAULT_TEST_AUDIENCE = 'test-api';
/** The client id of the introspection credentials that `moduleOptions()` hands out. */
export const TEST_RESOURCE_SERVER_CLIENT_ID = 'test-resource-server';

const HOST = '127.0.0.1';

function usableAudience(value: unknown): value is string | readonly string[] {
  return (
    (typeof value === 'string' && value !== '') ||
    (Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === 'string'))
  );
}

class LoopbackTestIssuer implements TestIssuer {
  readonly issuer: string;
  private readonly clientSecret = randomBytes(24).toString('base64url');
  private readonly registry: TokenRegistry;
  private readonly profiles = new Map<string, Readonly<Record<string, unknown>>>();
  private readonly counts: TestIssuerRequests = {
    discovery: 0,
    jwks: 0,
    introspection: 0,
    revocation: 0,
    userinfo: 0,
  };
  private defaultAudience: string | readonly string[] = DEFAULT_TEST_AUDIENCE;
  /** The current key first, then the previous one while it is still published. */
  private keys: readonly SigningKey[];
  private stranger?: Promise<SigningKey>;
  private running = true;
  private closed = false;
  /** Serializes stop/start/close, so that a quick stop-start cannot interleave. */
  private transition: Promise<void> = Promise.resolve();

  constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly algorithm: TestSigningAlgorithm,
    private readonly clock: () => number,
    key: SigningKey,
  ) {
    this.issuer = `http://${HOST}:${port}`;
    this.keys = [key];
    this.registry = new TokenRegistry(clock);
    const context: EndpointContext = {
      issuer: this.issuer,
      clientId: TEST_RESOURCE_SERVER_CLIENT_ID,
      clientSecret: this.clientSecret,
      algorithm,
      publicJwks: () => this.keys.map((k) => k.publicJwk),
      active: (token) => this.registry.active(token),
      revoke: (token) => this.registry.revoke(token),
      userInfo: (sub) => this.profiles.get(sub) ?? {},
      count: (endpoint) => void this.counts[endpoint]++,
    };
    server.on('request', (req, res) => {
      handleRequest(req, res, context).catch(() => res.destroy());
    });
  }

  get requests(): Readonly<TestIssuerRequests> {
    return Object.freeze({ ...this.counts });
  }

  moduleOptions(overrides: Partial<OidcResourceModuleOptions> = {}): OidcResourceModuleOptions {
    const options = this.withCredentials({ audience: DEFAULT_TEST_AUDIENCE, ...overrides });
    if (usableAudience(options.audience)) this.defaultAudience = options.audience;
    return options;
  }

  issuerOptions(overrides: Partial<IssuerOptions> = {}): IssuerOptions {
    const options = this.withCredentials(overrides);
    if (usableAudience(options.audience)) this.defaultAudience = options.audience;
    return options;
  }

  /** `issuer` and the introspection credentials, `overrides` last (`introspection` merged). */
  private withCredentials<T extends Partial<IssuerOptions>>(overrides: T): T & IssuerOptions {
    const credentials = {
      clientId: TEST_RESOURCE_SERVER_CLIENT_ID,
      clientSecret: this.clientSecret,
    };
    const { introspection, ...rest } = overrides;
    const options = { issuer: this.issuer, introspection: credentials, ...rest } as T &
      IssuerOptions;
    if ('introspection' in overrides) {
      if (introspection === undefined) delete options.introspection;
      else options.introspection = { ...credentials, ...introspection };
    }
    return options;
  }

  async accessToken(options: TestAccessTokenOptions = {}): Promise<string> {
    if (this.closed) throw new Error('accessToken(): the test issuer is closed');
    const claims = accessTokenClaims(options, {
      issuer: this.issuer,
      now: this.clock(),
      defaultAudience: this.defaultAudience,
    });
    const format = options.format ?? 'jwt';
    if (format !== 'jwt' && format !== 'opaque')
      throw new TypeError('accessToken(): "format" must be "jwt" or "opaque"');
    if (options.unknownKey) {
      if (format !== 'jwt') throw new TypeError('accessToken(): "unknownKey" applies to JWTs only');
      const current = this.keys[0]!;
      this.stranger ??= generateSigningKey(this.algorithm, current.kid);
      const forger = await this.stranger;
      // Never recorded: the issuer did not issue it, so introspection answers `active: false`.
      return signJws(forger.privateKey, this.header(current), claims);
    }
    const token =
      format === 'opaque'
        ? randomBytes(32).toString('base64url')
        : signJws(this.keys[0]!.privateKey, this.header(this.keys[0]!), claims);
    this.registry.add(token, claims);
    return token;
  }

  private header(key: SigningKey): { alg: TestSigningAlgorithm; typ: string; kid: string } {
    // RFC 9068 §2.1: access tokens are explicitly typed.
    return { alg: key.alg, typ: 'at+jwt', kid: key.kid };
  }

  setUserInfo(sub: string, claims: Readonly<Record<string, unknown>>): void {
    if (typeof sub !== 'string' || sub === '')
      throw new TypeError('setUserInfo(): "sub" must be a non-empty string');
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
      throw new TypeError('setUserInfo(): "claims" must be an object');
    this.profiles.set(sub, Object.freeze({ ...claims }));
  }

  revoke(token: string): boolean {
    return typeof token === 'string' && this.registry.revoke(token);
  }

  async rotateKeys(): Promise<void> {
    const next = await generateSigningKey(this.algorithm);
    this.keys = [next, this.keys[0]!];
    this.stranger = undefined; // the next forgery claims the new kid
  }

  stop(): Promise<void> {
    return this.serialize(async () => {
      if (!this.running) return;
      this.running = false;
      const closing = once(this.server, 'close');
      this.server.close();
      // An outage drops every connection, idle keep-alive ones and any still in use alike.
      this.server.closeAllConnections();
      await closing;
    });
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) throw new Error('start(): the test issuer is closed');
      if (this.running) return;
      await listen(this.server, this.port);
      this.running = true;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.transition.then(step);
    this.transition = next.catch(() => undefined);
    return next;
  }
}

async function listen(server: Server, port: number): Promise<number> {
  const listening = once(server, 'listening');
  server.listen(port, HOST);
  await listening; // rejects with the 'error' event (e.g. EADDRINUSE)
  // A forgotten close() must not keep a test runner's process alive.
  server.unref();
  return (server.address() as AddressInfo).port;
}

/**
 * Starts a real OpenID provider for tests on `127.0.0.1` and a free port, with node:http and
 * node:crypto only (it loads in CommonJS and ESM test runners alike).
 *
 * @example
 * const issuer = await createTestIssuer();
 * const moduleRef = await Test.createTestingModule({
 *   imports: [OidcResourceModule.forRoot(issuer.moduleOptions({ audience: 'notes-api' }))],
 *   controllers: [NotesController],
 * }).compile();
 * const token = await issuer.accessToken({ sub: 'alice', scopes: ['notes:read'] });
 * // …
 * await issuer.close();
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const { algorithm = 'RS256', clock = Date.now } = options;
  if (!isTestSigningAlgorithm(algorithm))
    throw new TypeError(`createTestIssuer(): "${String(algorithm)}" is not a supported algorithm`);
  if (typeof clock !== 'function')
    throw new TypeError('createTestIssuer(): "clock" must be a function');
  const key = await generateSigningKey(algorithm);
  const server = createServer();
  const port = await listen(server, 0);
  return new LoopbackTestIssuer(server, port, algorithm, clock, key);
}
