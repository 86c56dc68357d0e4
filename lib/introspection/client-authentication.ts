import { randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import type { JsonWebKeyObject as JWK } from '../interfaces/oidc-resource-options.interface.js';
import type { Clock } from '../utils/clock.js';
import { importPrivateKey, signJws } from '../utils/jws.js';
import type { ResolvedIssuerOptions } from '../options/issuer-options.js';

type IntrospectionSettings = NonNullable<ResolvedIssuerOptions['introspection']>;

/** How this API proves who it is to the introspection endpoint: adds to the headers or body. */
export interface ClientAuthentication {
  apply(headers: Record<string, string>, body: URLSearchParams): void | Promise<void>;
}

/** `client_secret_basic`: the header is built once, as it never changes. */
export class ClientSecretBasic implements ClientAuthentication {
  private readonly authorization: string;

  constructor(clientId: string, clientSecret: string) {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    const encode = (s: string) => new URLSearchParams({ s }).toString().slice(2);
    const pair = `${encode(clientId)}:${encode(clientSecret)}`;
    this.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }

  apply(headers: Record<string, string>): void {
    headers.authorization = this.authorization;
  }
}

/** `client_secret_post`: the credentials travel in the form body. */
export class ClientSecretPost implements ClientAuthentication {
  constructor(
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  apply(_headers: Record<string, string>, body: URLSearchParams): void {
    body.set('client_id', this.clientId);
    body.set('client_secret', this.clientSecret);
  }
}

function assertionAlg(key: JWK | KeyObject): string {
  const jwk = (
    typeof (key as { export?: unknown }).export === 'function'
      ? (key as KeyObject).export({ format: 'jwk' })
      : key
  ) as JWK;
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC')
    return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  throw new IssuerUnavailableError('Introspection: the private_key_jwt key type is not supported');
}

/**
 * `private_key_jwt` (RFC 7523): a fresh, short-lived signed assertion per call. The key is
 * imported on first use, and a key that cannot be used is an outage of this API's set-up,
 * retried on the next call rather than remembered.
 */
export class PrivateKeyJwt implements ClientAuthentication {
  private signingKey?: Promise<{ key: KeyObject; alg: string; kid: string | undefined }>;

  constructor(
    private readonly clientId: string,
    private readonly privateKey: JWK | KeyObject,
    private readonly audience: string,
    private readonly clock: Clock,
  ) {}

  async apply(_headers: Record<string, string>, body: URLSearchParams): Promise<void> {
    body.set('client_id', this.clientId);
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', await this.assertion());
  }

  private async assertion(): Promise<string> {
    this.signingKey ??= (async () => {
      const raw = this.privateKey;
      const alg = assertionAlg(raw);
      const key = importPrivateKey(raw as KeyObject | JsonWebKey, alg);
      // A KeyObject has no `kid`; the header leaves an absent or empty one out.
      return { key, alg, kid: (raw as JWK).kid };
    })().catch((cause: unknown) => {
      this.signingKey = undefined;
      throw new IssuerUnavailableError('Introspection: the private_key_jwt key cannot be used', {
        cause,
      });
    });
    const { key, alg, kid } = await this.signingKey;
    const nowSeconds = Math.floor(this.clock() / 1000);
    // RFC 7523 §3: iss = sub = client_id; aud is the issuer identifier (as RFC 7523bis requires).
    return signJws(
      key,
      { alg, ...(kid ? { kid } : {}) },
      {
        iss: this.clientId,
        sub: this.clientId,
        aud: this.audience,
        jti: randomUUID(),
        iat: nowSeconds,
        exp: nowSeconds + 60,
      },
    );
  }
}

/** The strategy the settings name; `issuer` is the audience of a client assertion. */
export function clientAuthentication(
  settings: IntrospectionSettings,
  issuer: string,
  clock: Clock,
): ClientAuthentication {
  switch (settings.authMethod) {
    case 'client_secret_basic':
      return new ClientSecretBasic(settings.clientId, settings.clientSecret ?? '');
    case 'client_secret_post':
      return new ClientSecretPost(settings.clientId, settings.clientSecret ?? '');
    default:
      return new PrivateKeyJwt(settings.clientId, settings.privateKey!, issuer, clock);
  }
}
