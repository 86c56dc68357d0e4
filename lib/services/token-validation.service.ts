import { randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { OIDC_RESOURCE_CLOCK, OIDC_RESOURCE_RESOLVED_OPTIONS } from '../oidc-resource.constants.js';
import {
  InvalidRequestError,
  InvalidTokenError,
  IssuerUnavailableError,
  OidcResourceError,
  TokenExpiredError,
  TokenInactiveError,
  OIDC_ERROR_REASONS,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';
import type { AuthenticatedPrincipal } from '../interfaces/authenticated-principal.interface.js';
import type { JsonWebKeyObject as JWK } from '../interfaces/oidc-resource-options.interface.js';
import { httpCall, parseJsonObject } from '../utils/http.js';
import {
  deepFreeze,
  isExpired,
  materializePrincipal,
  type PrincipalSnapshot,
} from '../utils/principal.js';
import { extractRoles, extractScopes } from '../authorization/claim-path.js';
import type { ResolvedOidcResourceOptions } from '../utils/resolve-options.js';
import type { Clock } from '../utils/clock.js';
import {
  decodeJsonSegment,
  importPrivateKey,
  parseCompactJws,
  signJws,
  verifyJwsSignature,
} from '../utils/jws.js';
import {
  audienceList,
  checkAudience,
  checkIssuer,
  checkNotIdToken,
  checkTimes,
  claimMalformed,
  claimMissing,
  refuse,
} from '../utils/claim-rules.js';
import { SingleFlight } from '../utils/single-flight.js';
import { IssuerMetadataService } from './issuer-metadata.service.js';
import { JwksService } from './jwks.service.js';
import { TokenCacheService } from './token-cache.service.js';

/** A cached outcome: a principal snapshot, or the error a bad token earned (reason included). */
type CachedOutcome =
  | { ok: true; principal: PrincipalSnapshot }
  | {
      ok: false;
      code: 'invalid_token' | 'token_expired' | 'token_inactive';
      message: string;
      reason?: OidcResourceErrorReason;
      claim?: string;
    };

const NEGATIVE_CODES: ReadonlySet<unknown> = new Set([
  'invalid_token',
  'token_expired',
  'token_inactive',
]);

/** A shared store can hand back anything (another writer, corruption): only a well-formed outcome counts. */
function isCachedOutcome(value: unknown, issuer: string): value is CachedOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const outcome = value as Record<string, unknown>;
  if (outcome.ok === false)
    return (
      NEGATIVE_CODES.has(outcome.code) &&
      typeof outcome.message === 'string' &&
      (outcome.reason === undefined || OIDC_ERROR_REASONS.has(outcome.reason as string)) &&
      (outcome.claim === undefined || typeof outcome.claim === 'string')
    );
  if (outcome.ok !== true || typeof outcome.principal !== 'object' || outcome.principal === null)
    return false;
  const p = outcome.principal as Record<string, unknown>;
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((item) => typeof item === 'string');
  return (
    p.issuer === issuer &&
    (p.source === 'jwt' || p.source === 'introspection') &&
    strings(p.scopes) &&
    strings(p.roles) &&
    strings(p.audience) &&
    typeof p.claims === 'object' &&
    p.claims !== null &&
    (p.exp === undefined || typeof p.exp === 'number') &&
    (p.sub === undefined || typeof p.sub === 'string') &&
    (p.clientId === undefined || typeof p.clientId === 'string')
  );
}

const malformed = () => refuse('malformed', 'The access token is malformed');
const algNotAllowed = () =>
  refuse('alg_not_allowed', 'The access token is signed with an algorithm that is not allowed');

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWE_SHAPE =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const RFC9068_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'];

/** The `error` member of an OAuth error body, if the body is one. */
function introspectionError(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' &&
      body !== null &&
      typeof (body as { error?: unknown }).error === 'string'
      ? (body as { error: string }).error
      : undefined;
  } catch {
    return undefined;
  }
}

function isAccessTokenType(value: unknown): boolean {
  return typeof value === 'string' && /^(bearer|dpop)$/i.test(value);
}

function normalizeTyp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  // RFC 7515 §4.1.9: a typ without "/" means "application/" + typ.
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function clientAssertionAlg(key: JWK | KeyObject): string {
  const jwk = (
    'export' in key && typeof key.export === 'function' ? key.export({ format: 'jwk' }) : key
  ) as JWK;
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC')
    return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  throw new IssuerUnavailableError('Introspection: the private_key_jwt key type is not supported');
}

/**
 * Validates access tokens: JWTs (RFC 9068) locally against the issuer's JWKS, opaque tokens
 * through RFC 7662 introspection. Results are cached by token hash until, at the latest, the
 * token expires; concurrent validations of one uncached token share one verification or call.
 *
 * @example
 * const principal = await tokens.validate(rawToken); // throws OidcResourceError
 */
@Injectable()
export class TokenValidationService {
  private readonly flight = new SingleFlight<CachedOutcome>();
  /** Vets outcomes read back from shared stores. */
  private readonly acceptCached = (value: unknown): value is CachedOutcome =>
    isCachedOutcome(value, this.options.issuer);
  private readonly basicAuthorization?: string;
  private assertionKey?: Promise<{ key: KeyObject; alg: string; kid?: string }>;

  constructor(
    @Inject(OIDC_RESOURCE_RESOLVED_OPTIONS) private readonly options: ResolvedOidcResourceOptions,
    @Inject(OIDC_RESOURCE_CLOCK) private readonly clock: Clock,
    private readonly metadata: IssuerMetadataService,
    private readonly jwks: JwksService,
    private readonly cache: TokenCacheService,
  ) {
    const introspection = options.introspection;
    if (introspection?.authMethod === 'client_secret_basic') {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
      const encode = (s: string) => new URLSearchParams({ s }).toString().slice(2);
      const pair = `${encode(introspection.clientId)}:${encode(introspection.clientSecret ?? '')}`;
      this.basicAuthorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
  }

  /**
   * Validates an access token and returns its principal.
   * @throws OidcResourceError — `invalid_token`, `token_expired`, `token_inactive`,
   *   `invalid_request`, or `issuer_unavailable` (never reported as an invalid token).
   */
  async validate(token: string): Promise<AuthenticatedPrincipal> {
    if (typeof token !== 'string' || token.length === 0) {
      throw new InvalidRequestError('The access token is empty', { reason: 'empty_token' });
    }
    if (token.length > this.options.maxTokenLength) {
      throw refuse('too_long', 'The access token is too long');
    }
    const key = TokenCacheService.keyFor('token', token);
    // A memory hit is read synchronously: no await before the answer on the hot path.
    const outcome =
      this.cache.peek<CachedOutcome>(key) ??
      (await this.cache.getShared(key, this.acceptCached)) ??
      (await this.flight.run(key, () => this.validateAndCache(token, key)));
    if (!outcome.ok) throw this.errorFor(outcome);
    if (isExpired(outcome.principal, this.clock(), this.options.clockTolerance)) {
      void this.cache.delete(key);
      throw new TokenExpiredError();
    }
    return materializePrincipal(outcome.principal, token);
  }

  private async validateAndCache(token: string, key: string): Promise<CachedOutcome> {
    let outcome: CachedOutcome;
    try {
      const principal = await this.validateUncached(token);
      outcome = { ok: true, principal };
      const lifetime = principal.exp === undefined ? Infinity : principal.exp - this.clock();
      await this.cache.set(key, outcome, Math.min(this.options.cache.ttl, lifetime));
    } catch (error) {
      if (error instanceof OidcResourceError && NEGATIVE_CODES.has(error.code)) {
        outcome = {
          ok: false,
          code: error.code as Extract<CachedOutcome, { ok: false }>['code'],
          message: error.message,
          ...(error.reason !== undefined ? { reason: error.reason } : {}),
          ...(error.claim !== undefined ? { claim: error.claim } : {}),
        };
        await this.cache.set(key, outcome, this.options.cache.negativeTtl);
      } else {
        throw error; // issuer_unavailable and the like are never cached
      }
    }
    return outcome;
  }

  /** Rebuilds a cached refusal: same code, message, reason and claim as the first time. */
  private errorFor(outcome: Extract<CachedOutcome, { ok: false }>): OidcResourceError {
    const { code, message, reason, claim } = outcome;
    const details = {
      ...(reason !== undefined ? { reason } : {}),
      ...(claim !== undefined ? { claim } : {}),
    };
    if (code === 'token_expired') return new TokenExpiredError(message, details);
    if (code === 'token_inactive') return new TokenInactiveError(message, details);
    return new InvalidTokenError(message, details);
  }

  private async validateUncached(token: string): Promise<PrincipalSnapshot> {
    const format = this.options.tokenFormat;
    if (format === 'jwt') return this.verifyJwt(token);
    if (format === 'opaque') return this.introspect(token);
    if (JWS_SHAPE.test(token)) {
      const header = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      // A JSON-object header makes it a JWS (a broken one, without "alg", is refused locally):
      // an AS will not introspect it anyway (oidc-provider: 400 unsupported_token_type).
      if (header) return this.verifyJwt(token, header);
    } else if (JWE_SHAPE.test(token)) {
      const header = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      if (header && typeof header.enc === 'string') {
        throw refuse('encrypted', 'Encrypted (JWE) access tokens are not supported');
      }
    }
    if (!this.options.introspection) {
      throw refuse(
        'introspection_not_configured',
        'The access token is not a JWT, and introspection is not configured',
      );
    }
    return this.introspect(token);
  }

  // ---------------------------------------------------------------- JWT (RFC 9068)

  /**
   * RFC 9068 §4 / RFC 8725: the header (allowed `alg`, no `crit`, `typ`), the signature with the
   * issuer's key, then the claims. The signature is checked with synchronous `node:crypto`
   * (see utils/jws.ts for why not jose's WebCrypto path).
   */
  private async verifyJwt(
    token: string,
    decodedHeader?: Record<string, unknown>,
  ): Promise<PrincipalSnapshot> {
    const { options } = this;
    const jws = parseCompactJws(token, decodedHeader);
    if (!jws) {
      // An unsecured JWT (alg "none", empty signature) is named as such: the usual forgery.
      const alg = (
        decodedHeader ?? decodeJsonSegment(token.slice(0, Math.max(0, token.indexOf('.'))))
      )?.alg;
      throw typeof alg === 'string' && !options.algorithms.includes(alg)
        ? algNotAllowed()
        : malformed();
    }
    const { header } = jws;
    const alg = header.alg;
    if (typeof alg !== 'string') throw malformed();
    if (!options.algorithms.includes(alg)) throw algNotAllowed();
    if (header.crit !== undefined) {
      // RFC 7515 §4.1.11: extensions this library does not understand must be refused.
      throw refuse('crit_not_supported', 'The access token uses an unsupported JOSE feature');
    }
    const kind = normalizeTyp(header.typ);
    if (header.typ !== undefined && kind === undefined) throw malformed();
    const strict = options.requireJwtAccessTokenType;
    if (strict && kind !== 'at+jwt') {
      // RFC 9068 §4. The message names the setting, since plain "JWT" access tokens are common.
      throw refuse(
        'typ_not_accepted',
        'The access token\'s "typ" header is not "at+jwt" (RFC 9068); requireJwtAccessTokenType: false accepts plain "JWT" access tokens',
      );
    }
    if (!strict && kind !== undefined && kind !== 'at+jwt' && kind !== 'jwt') {
      // RFC 8725 §3.11: a JWT typed as another kind (dpop+jwt, logout+jwt…) is not an access token.
      throw refuse(
        'typ_not_accepted',
        'The JWT\'s "typ" header names another kind of token than an access token',
      );
    }
    const key = await this.jwks.getKey({
      alg,
      ...(header.kid !== undefined ? { kid: header.kid as string } : {}),
    });
    if (!verifyJwsSignature(alg, key, jws.signingInput, jws.signature)) {
      throw refuse('signature_invalid', 'The access token signature is invalid');
    }
    const claims = decodeJsonSegment(jws.payloadSegment);
    if (!claims) throw malformed();
    this.checkJwtClaims(claims, strict);
    return this.snapshot(claims, 'jwt');
  }

  /**
   * RFC 7519 §4.1 and RFC 9068 §2.2: presence, issuer, audience, times, and the token's kind
   * (never an ID token).
   */
  private checkJwtClaims(claims: Record<string, unknown>, strict: boolean): void {
    const { options } = this;
    const required = strict
      ? RFC9068_CLAIMS
      : ['iss', 'exp', ...(options.audiences ? ['aud'] : [])];
    for (const name of required) {
      if (claims[name] === undefined) throw claimMissing(name);
    }
    // The kind first: "this is an ID token" explains a refusal better than its audience does.
    checkNotIdToken(claims, !strict);
    checkTimes(claims, this.clock(), options.clockTolerance);
    checkIssuer(claims, options.issuer);
    checkAudience(claims, options.audiences, false);
  }

  // ---------------------------------------------------------------- Introspection (RFC 7662)

  private async introspect(token: string): Promise<PrincipalSnapshot> {
    const introspection = this.options.introspection;
    if (!introspection)
      throw refuse('introspection_not_configured', 'Introspection is not configured');
    const endpoint = await this.metadata.getIntrospectionEndpoint();
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (introspection.authMethod === 'client_secret_basic') {
      headers.authorization = this.basicAuthorization!;
    } else if (introspection.authMethod === 'client_secret_post') {
      body.set('client_id', introspection.clientId);
      body.set('client_secret', introspection.clientSecret ?? '');
    } else {
      body.set('client_id', introspection.clientId);
      body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      body.set('client_assertion', await this.clientAssertion());
    }
    const response = await httpCall(
      'Introspection',
      endpoint,
      { method: 'POST', headers, body: body.toString() },
      this.options.httpTimeout,
    );
    if (response.status === 400 && introspectionError(response.text) === 'unsupported_token_type') {
      // The AS refuses to introspect this kind of token (e.g. a JWT): a verdict on the token, not an outage.
      throw refuse(
        'unsupported_token_type',
        'The authorization server does not introspect this kind of token',
      );
    }
    if (response.status !== 200) {
      const why =
        response.status === 401 || response.status === 403
          ? "the authorization server refused this API's client credentials"
          : 'the authorization server failed';
      throw new IssuerUnavailableError(`Introspection: ${why} (HTTP ${response.status})`, {
        url: endpoint,
        ...(response.retryAfter !== undefined ? { retryAfter: response.retryAfter } : {}),
      });
    }
    if (!/^application\/([\w.-]+\+)?json\s*(;|$)/.test(response.contentType)) {
      // RFC 7662 §2.2: the answer is application/json; an HTML page (proxy, captive portal) is not one.
      throw new IssuerUnavailableError(
        `Introspection: the authorization server answered with content type "${response.contentType.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}", not JSON`,
        { url: endpoint },
      );
    }
    const claims = parseJsonObject('Introspection', response.text, endpoint);
    if (claims.active !== true) {
      if (claims.active === false) throw new TokenInactiveError();
      throw new IssuerUnavailableError(
        'Introspection: the response has no boolean "active" member',
        { url: endpoint },
      );
    }
    if (claims.token_type !== undefined && !isAccessTokenType(claims.token_type)) {
      throw refuse(
        'not_access_token',
        'The token is not an access token ("token_type" claim)',
        'token_type',
      );
    }
    checkNotIdToken(claims, false);
    checkTimes(claims, this.clock(), this.options.clockTolerance);
    checkIssuer(claims, this.options.issuer);
    const aud = checkAudience(claims, this.options.audiences, true);
    if (
      aud.length === 0 &&
      !isAccessTokenType(claims.token_type) &&
      !introspection.allowUntypedResponses
    ) {
      // An active answer without an audience or a type may describe a refresh token: RFC 7662
      // makes both optional, and a refresh token is active too. Opt-in for providers that send
      // neither for their access tokens (LemonLDAP::NG) and report refresh tokens inactive.
      throw refuse(
        'untyped_introspection',
        'The token has no audience and is not typed as an access token',
      );
    }
    return this.snapshot(claims, 'introspection');
  }

  private async clientAssertion(): Promise<string> {
    const introspection = this.options.introspection!;
    this.assertionKey ??= (async () => {
      const raw = introspection.privateKey!;
      const alg = clientAssertionAlg(raw as JWK | KeyObject);
      const kid = 'export' in raw ? undefined : (raw as JWK).kid;
      const key = importPrivateKey(raw as KeyObject | JsonWebKey, alg);
      return { key, alg, ...(kid ? { kid } : {}) };
    })().catch((cause: unknown) => {
      this.assertionKey = undefined;
      throw new IssuerUnavailableError('Introspection: the private_key_jwt key cannot be used', {
        cause,
      });
    });
    const { key, alg, kid } = await this.assertionKey;
    const nowSeconds = Math.floor(this.clock() / 1000);
    // RFC 7523 §3: iss = sub = client_id; aud is the issuer identifier (as RFC 7523bis requires).
    return signJws(
      key,
      { alg, ...(kid ? { kid } : {}) },
      {
        iss: introspection.clientId,
        sub: introspection.clientId,
        aud: this.options.issuer,
        jti: randomUUID(),
        iat: nowSeconds,
        exp: nowSeconds + 60,
      },
    );
  }

  // ---------------------------------------------------------------- common

  private snapshot(
    claims: Record<string, unknown>,
    source: 'jwt' | 'introspection',
  ): PrincipalSnapshot {
    // Read once per token and cached with the snapshot; a malformed claim grants nothing.
    const scopes = extractScopes(claims, this.options.scopeClaims);
    const roles = extractRoles(claims, this.options.roleClaims);
    const cnf = claims.cnf;
    if (
      (cnf !== undefined && cnf !== null) ||
      (typeof claims.token_type === 'string' && /^dpop$/i.test(claims.token_type))
    ) {
      // RFC 9449 §7.2 / RFC 8705 §3: a sender-constrained token must not be accepted as a bearer token.
      throw refuse(
        'sender_constrained',
        'The access token is sender-constrained (DPoP or mTLS), which this API does not accept',
        cnf !== undefined && cnf !== null ? 'cnf' : 'token_type',
      );
    }
    const audience = audienceList(claims.aud);
    if (audience === undefined) throw claimMalformed('aud');
    if (claims.sub !== undefined && typeof claims.sub !== 'string') throw claimMalformed('sub');
    const clientId =
      typeof claims.client_id === 'string'
        ? claims.client_id
        : typeof claims.azp === 'string'
          ? claims.azp
          : undefined;
    return Object.freeze({
      ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
      scopes: Object.freeze(scopes),
      roles: Object.freeze(roles),
      issuer: this.options.issuer,
      audience: Object.freeze(audience),
      ...(typeof claims.exp === 'number' ? { exp: claims.exp * 1000 } : {}),
      claims: deepFreeze({ ...claims }),
      source,
    });
  }
}
