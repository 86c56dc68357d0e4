import { hash, timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  InvalidDpopProofError,
  UseDpopNonceError,
  type OidcResourceErrorReason,
} from '../errors/oidc-resource.error.js';
import {
  decodeJsonSegment,
  importPublicJwk,
  jwkFitsAlgorithm,
  parseCompactJws,
  verifyJwsSignature,
} from '../utils/jws.js';
import { normalizeHtu } from './htu.js';
import type { DpopNonces } from './nonce.js';
import { jwkThumbprint } from './thumbprint.js';

/**
 * Longest proof read (characters). A proof holds a public key, a few short claims and a
 * signature: about 0.6 KB with an EC key, 2.5 KB with RSA-4096. Anything longer is refused before
 * it is decoded, so a large header costs a length comparison.
 */
export const MAX_PROOF_LENGTH = 8192;

/** Longest `jti` kept: the replay cache stores a hash, but a bound keeps hashing cheap. */
const MAX_JTI_LENGTH = 256;

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Most imported proof keys kept (public keys, about 1 KB each). */
const MAX_KEYS = 1000;

/**
 * Proof keys already imported, by algorithm and RFC 7638 thumbprint: a client signs every proof
 * with the same key, and importing a JWK costs about as much as verifying the signature. The
 * thumbprint hashes exactly the members the import reads, so one thumbprint is one key. Only
 * keys whose signature verified are kept.
 */
const KEYS = new Map<string, KeyObject>();

function rememberKey(cacheKey: string, key: KeyObject): void {
  if (KEYS.has(cacheKey)) return;
  if (KEYS.size >= MAX_KEYS) KEYS.delete(KEYS.keys().next().value!);
  KEYS.set(cacheKey, key);
}

/** What a proof is checked against. */
export interface ProofPolicy {
  /** Accepted `alg` values: asymmetric only. */
  algorithms: ReadonlySet<string>;
  /** How old a proof may be (s): its `iat` at most this long ago. */
  maxAge: number;
  /** Clock skew allowed on both sides of the window (s). */
  leeway: number;
  /** Server nonces, when required. */
  nonces?: DpopNonces;
}

/** The request a proof must be for. */
export interface ProofRequest {
  /** The HTTP method, as received. */
  method: string;
  /** The request's URI normalized by `requestHtu`, or `undefined` when it could not be built. */
  htu: string | undefined;
  /** The access token the proof comes with (its hash must be the proof's `ath`). */
  accessToken: string;
}

/** A proof that passed every stateless check; its `jti` still has to be recorded. */
export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof key, to compare with the token's `cnf.jkt`. */
  jkt: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  /** The normalized `htu`. */
  htu: string;
}

function refuse(reason: OidcResourceErrorReason, message: string, claim?: string): never {
  throw new InvalidDpopProofError(message, claim === undefined ? { reason } : { reason, claim });
}

/** RFC 7515 §4.1.9: media types are case-insensitive, and `application/` may be left out. */
function isDpopType(typ: unknown): boolean {
  if (typeof typ !== 'string' || typ.length > 20) return false;
  const type = typ.toLowerCase();
  return type === 'dpop+jwt' || type === 'application/dpop+jwt';
}

function stringClaim(payload: Record<string, unknown>, name: string, max: number): string {
  const value = payload[name];
  if (value === undefined) refuse('claim_missing', `The DPoP proof has no "${name}"`, name);
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    refuse('claim_malformed', `The DPoP proof's "${name}" is not a valid string`, name);
  return value;
}

/**
 * Checks a DPoP proof JWT per RFC 9449 §4.3 against the request it came with, synchronously:
 * size, compact JWS form, `typ`, `alg`, the embedded public `jwk` and the signature, then `jti`,
 * `htm`, `htu`, `iat`, `ath` and, when required, the server nonce. Nothing is stored: recording
 * the `jti` is the caller's step, once the token is known to be good.
 *
 * Any input, however hostile, ends in a result or one of the two errors below.
 * @throws InvalidDpopProofError with a `reason` per failed rule
 * @throws UseDpopNonceError carrying a fresh nonce, when a nonce is required and missing or stale
 * @see RFC 9449 §4.3, §9, §11.1
 */
export function verifyDpopProof(
  proof: string,
  request: ProofRequest,
  policy: ProofPolicy,
  now: number,
): VerifiedProof {
  if (proof.length > MAX_PROOF_LENGTH)
    refuse('too_long', `The DPoP proof is longer than ${MAX_PROOF_LENGTH} characters`);
  const jws = parseCompactJws(proof);
  if (!jws) refuse('malformed', 'The DPoP proof is not a compact JWS');
  const payload = decodeJsonSegment(jws.payloadSegment);
  if (!payload) refuse('malformed', 'The DPoP proof payload is not a JSON object');
  const { header } = jws;

  if (!isDpopType(header.typ)) refuse('typ_not_accepted', 'The DPoP proof "typ" is not dpop+jwt');
  const alg = header.alg;
  if (typeof alg !== 'string' || !policy.algorithms.has(alg))
    refuse('alg_not_allowed', 'The DPoP proof "alg" is not accepted');
  // No extension is understood, so any `crit` makes the JWS invalid (RFC 7515 §4.1.11).
  if (header.crit !== undefined) refuse('crit_not_supported', 'The DPoP proof has a "crit" header');
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    refuse('dpop_jwk_invalid', 'The DPoP proof has no "jwk" header');
  const members = jwk as Record<string, unknown>;
  if (members.kty === 'oct' || PRIVATE_MEMBERS.some((name) => members[name] !== undefined))
    refuse('dpop_jwk_invalid', 'The DPoP proof "jwk" is not a public key');
  if (!jwkFitsAlgorithm(members, alg))
    refuse('dpop_jwk_invalid', 'The DPoP proof "jwk" does not fit its "alg"');
  const jkt = jwkThumbprint(members);
  if (jkt === undefined) refuse('dpop_jwk_invalid', 'The DPoP proof "jwk" is incomplete');

  const jti = stringClaim(payload, 'jti', MAX_JTI_LENGTH);
  const htm = stringClaim(payload, 'htm', 32);
  const htuClaim = stringClaim(payload, 'htu', 8192);
  const iat = payload.iat;
  if (iat === undefined) refuse('claim_missing', 'The DPoP proof has no "iat"', 'iat');
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    refuse('claim_malformed', 'The DPoP proof "iat" is not a number', 'iat');

  if (htm !== request.method)
    refuse('dpop_htm_mismatch', 'The DPoP proof is for another HTTP method', 'htm');
  const htu = normalizeHtu(htuClaim);
  if (htu === undefined || htu !== request.htu)
    refuse('dpop_htu_mismatch', 'The DPoP proof is for another URL', 'htu');
  const seconds = now / 1000;
  if (iat > seconds + policy.leeway || iat < seconds - policy.maxAge - policy.leeway)
    refuse('dpop_iat_outside_window', 'The DPoP proof is too old or from the future', 'iat');
  checkAth(payload.ath, request.accessToken);

  const cacheKey = `${alg} ${jkt}`;
  let key = KEYS.get(cacheKey);
  if (key === undefined) {
    try {
      key = importPublicJwk(members, alg);
    } catch {
      refuse('key_unusable', 'The DPoP proof "jwk" is not a usable key for its "alg"');
    }
  }
  if (!verifyJwsSignature(alg, key, jws.signingInput, jws.signature))
    refuse('signature_invalid', 'The DPoP proof signature is invalid');
  rememberKey(cacheKey, key);

  // Last: a nonce is handed only to a client that proved everything else.
  const nonces = policy.nonces;
  if (nonces && !nonces.accepts(payload.nonce)) {
    throw new UseDpopNonceError(
      nonces.current(),
      payload.nonce === undefined ? 'A DPoP nonce is required' : 'The DPoP nonce is stale',
    );
  }
  return { jkt, jti, iat, htu };
}

/** RFC 9449 §4.2: `ath` is the base64url SHA-256 of the access token's ASCII octets. */
function checkAth(ath: unknown, token: string): void {
  if (ath === undefined) refuse('claim_missing', 'The DPoP proof has no "ath"', 'ath');
  if (typeof ath !== 'string' || ath.length !== 43)
    refuse('dpop_ath_mismatch', 'The DPoP proof is for another access token', 'ath');
  const expected = hash('sha256', token, 'buffer');
  const given = Buffer.from(ath, 'base64url');
  // Compared in constant time: how long a mismatch takes says nothing about the hash.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    refuse('dpop_ath_mismatch', 'The DPoP proof is for another access token', 'ath');
}
