import { Logger } from '@nestjs/common';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { JsonWebKeyObject as JWK } from '../interfaces/oidc-resource-options.interface.js';
import { DEFAULTS } from '../oidc-resource.constants.js';
import { InvalidTokenError, IssuerUnavailableError } from '../errors/oidc-resource.error.js';
import { FailureCooldown } from '../utils/failure-cooldown.js';
import { LOG_CONTEXT } from '../utils/failure-log.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import type { Clock } from '../utils/clock.js';
import { importPublicJwk, jwkFitsAlgorithm } from '../utils/jws.js';
import { SingleFlight } from '../utils/single-flight.js';

/** A public key, checked to suit the algorithm it was selected for. */
export type VerificationKey = KeyObject;

/** The JWS header members used to pick a key. */
export interface KeyHint {
  alg?: string;
  kid?: string;
}

interface KeySet {
  uri: string;
  keys: JWK[];
  fetchedAt: number;
}

/** Which JWK a JWS algorithm needs (RFC 7518 §3, RFC 8037 §3.1). */
function keyFits(jwk: JWK, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return false;
  return jwkFitsAlgorithm(jwk, alg);
}

/** Keys that could verify something: known `kty`, public material, meant for signatures. */
function usable(value: unknown): value is JWK {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as JWK;
  if (typeof jwk.kty !== 'string' || 'd' in jwk) return false;
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  switch (jwk.kty) {
    case 'RSA':
      return typeof jwk.n === 'string' && typeof jwk.e === 'string';
    case 'EC':
      return typeof jwk.crv === 'string' && typeof jwk.x === 'string' && typeof jwk.y === 'string';
    case 'OKP':
      return typeof jwk.crv === 'string' && typeof jwk.x === 'string';
    default:
      return false; // RFC 7517 §5: ignore keys whose kty is not understood
  }
}

/**
 * One issuer's signing keys (JWKS), a plain value per issuer, fetched lazily and cached for up to 10 minutes.
 *
 * - An unknown `kid` makes the set be fetched again, at most once per 30 s per JWKS URI
 *   (concurrent refetches collapse into one), so a flood of bogus `kid`s cannot hammer the issuer.
 * - When a refresh fails the keys already known stay in use; a token whose key is unknown
 *   while the JWKS endpoint is down is answered "issuer unavailable", never "invalid".
 * - Only keys from `jwks_uri` are used: `jwk`, `jku`, `x5u` and `x5c` headers are ignored.
 *
 * @see OpenID Connect Core §10.1.1, RFC 8725 §3.10
 */
export class RemoteKeySet {
  private readonly logger = new Logger(LOG_CONTEXT);
  private readonly flight = new SingleFlight<KeySet>();
  private readonly cooldown: FailureCooldown;
  /** Imported keys by JWK object and algorithm; a new key set brings new JWK objects. */
  private readonly imported = new WeakMap<JWK, Map<string, VerificationKey>>();
  private keySet?: KeySet;
  private lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  /** The last fetch's failure, until a fetch succeeds. */
  private lastFailure?: IssuerUnavailableError;
  private nextRefreshAttempt = 0;

  /**
   * @param jwksUri where the keys are today (discovery may move them; a new URI starts afresh)
   * @param httpTimeout ms per fetch
   */
  constructor(
    private readonly jwksUri: () => Promise<string>,
    private readonly httpTimeout: number,
    private readonly clock: Clock,
  ) {
    this.cooldown = new FailureCooldown(
      clock,
      DEFAULTS.failureCooldown,
      DEFAULTS.failureCooldownJitter,
    );
  }

  /** Resolves the verification key for a JWS header. */
  async getKey(header: KeyHint): Promise<VerificationKey> {
    const alg = header.alg;
    if (typeof alg !== 'string')
      throw new InvalidTokenError('The access token header has no alg', { reason: 'malformed' });
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid.length > 256)) {
      throw new InvalidTokenError('The access token header has an invalid kid', {
        reason: 'malformed',
      });
    }
    let set = await this.current();
    let jwk = this.select(set, alg, kid);
    if (!jwk) {
      const now = this.clock();
      if (now - this.lastUnknownKidFetch >= DEFAULTS.jwksCooldown) {
        this.lastUnknownKidFetch = now;
        set = await this.flight.run(set.uri, () => this.fetch(set.uri));
        jwk = this.select(set, alg, kid);
      } else if (this.lastFailure) {
        // A key this API has not seen may be a new one: while the JWKS cannot be fetched that
        // is not known, so the answer is the fetch's failure (same message: one log line).
        const left = this.lastUnknownKidFetch + DEFAULTS.jwksCooldown - now;
        throw new IssuerUnavailableError(this.lastFailure.message, {
          cause: this.lastFailure,
          url: set.uri,
          retryAfter: left / 1000,
        });
      }
    }
    if (!jwk)
      throw new InvalidTokenError('No key of the issuer matches the access token (kid/alg)', {
        reason: 'kid_unknown',
      });
    return this.importKey(jwk, alg);
  }

  private async current(): Promise<KeySet> {
    const uri = await this.jwksUri();
    const set = this.keySet;
    if (!set || set.uri !== uri) {
      // No keys yet: after a failure, answer it again for a second or two instead of refetching.
      this.cooldown.check(uri);
      return this.flight.run(uri, () => this.fetch(uri));
    }
    const now = this.clock();
    if (now - set.fetchedAt < DEFAULTS.jwksMaxAge || now < this.nextRefreshAttempt) return set;
    try {
      return await this.flight.run(uri, () => this.fetch(uri));
    } catch (error) {
      if (!(error instanceof IssuerUnavailableError)) throw error;
      this.nextRefreshAttempt = now + DEFAULTS.jwksCooldown;
      this.logger.warn(
        `Refreshing the JWKS failed; keeping the keys already known: ${error.message} [${uri}]`,
      );
      return set;
    }
  }

  private select(set: KeySet, alg: string, kid: string | undefined): JWK | undefined {
    let found: JWK | undefined;
    for (const jwk of set.keys) {
      if (kid !== undefined && jwk.kid !== kid) continue;
      if (!keyFits(jwk, alg)) continue;
      if (found) {
        // Without a kid, two candidate keys are ambiguous; refuse rather than guess.
        throw new InvalidTokenError(
          'The access token has no kid and several issuer keys could match',
          { reason: 'kid_ambiguous' },
        );
      }
      found = jwk;
    }
    return found;
  }

  private importKey(jwk: JWK, alg: string): VerificationKey {
    let byAlg = this.imported.get(jwk);
    if (!byAlg) this.imported.set(jwk, (byAlg = new Map()));
    let key = byAlg.get(alg);
    if (!key) {
      try {
        key = importPublicJwk(jwk as JsonWebKey, alg);
      } catch (cause) {
        throw new InvalidTokenError('The issuer key that matches the access token cannot be used', {
          cause,
          reason: 'key_unusable',
        });
      }
      byAlg.set(alg, key);
    }
    return key;
  }

  private async fetch(uri: string): Promise<KeySet> {
    try {
      const response = await httpCall(
        'JWKS',
        uri,
        { headers: { accept: 'application/jwk-set+json, application/json' } },
        this.httpTimeout,
      );
      if (response.status !== 200) {
        throw new IssuerUnavailableError(
          `JWKS: the authorization server answered HTTP ${response.status}`,
          {
            url: uri,
            ...(response.retryAfter !== undefined ? { retryAfter: response.retryAfter } : {}),
          },
        );
      }
      const body = parseJsonObject('JWKS', response.text, uri);
      if (!Array.isArray(body.keys))
        throw new IssuerUnavailableError('JWKS: the document has no "keys" array', { url: uri });
      const keys = body.keys.filter(usable);
      if (keys.length === 0)
        throw new IssuerUnavailableError('JWKS: the document holds no usable signing key', {
          url: uri,
        });
      const set: KeySet = { uri, keys, fetchedAt: this.clock() };
      this.keySet = set;
      this.lastFailure = undefined;
      this.cooldown.succeeded(uri);
      this.nextRefreshAttempt = 0;
      return set;
    } catch (error) {
      if (error instanceof IssuerUnavailableError) this.lastFailure = error;
      throw this.cooldown.failed(uri, error);
    }
  }
}
