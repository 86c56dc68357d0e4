import {
  checkSenderConstraint,
  BEARER_PRESENTATION,
  type TokenPresentation,
} from './presentation.js';
import { OidcResourceError } from '../errors/oidc-resource.error.js';
import { resolveOptions } from '../utils/resolve-options.js';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import type { PrincipalSnapshot } from '../utils/principal.js';

const JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';
const X5T = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';
const BASE: OidcResourceModuleOptions = { issuer: 'https://idp.example.com', audience: 'api' };
const plain = resolveOptions(BASE);
const dpop = resolveOptions({ ...BASE, dpop: {} });
const required = resolveOptions({ ...BASE, dpop: { mode: 'required' } });
const mtls = resolveOptions({ ...BASE, mtls: {} });

function snapshot(cnf?: unknown): PrincipalSnapshot {
  return {
    scopes: [],
    roles: [],
    issuer: 'https://idp.example.com',
    audience: ['api'],
    claims: cnf === undefined ? {} : { cnf },
    source: 'jwt',
  };
}

const dpopWith = (proofJkt: string): TokenPresentation => ({ scheme: 'DPoP', proofJkt });
const withCert = (thumbprint?: string): TokenPresentation => ({
  scheme: 'Bearer',
  certificateThumbprint: () => thumbprint,
});

/** The error thrown, with its code, reason and challenge scheme. */
function refusal(run: () => void): Pick<OidcResourceError, 'code' | 'reason' | 'scheme'> {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OidcResourceError);
    // Every refusal names the claim it is about and says why in words.
    expect((error as OidcResourceError).claim).toBe('cnf');
    expect((error as OidcResourceError).message).toMatch(/^The |^This |^Invalid DPoP key binding$/);
    const { code, reason, scheme } = error as OidcResourceError;
    return { code, reason, scheme };
  }
  throw new Error('expected a refusal');
}

describe('checkSenderConstraint', () => {
  it('accepts an unbound bearer token, with or without DPoP allowed', () => {
    expect(() => checkSenderConstraint(snapshot(), BEARER_PRESENTATION, plain)).not.toThrow();
    expect(() => checkSenderConstraint(snapshot(), BEARER_PRESENTATION, dpop)).not.toThrow();
    expect(() => checkSenderConstraint(snapshot(null), BEARER_PRESENTATION, dpop)).not.toThrow();
  });

  it('refuses a bound token when the API does not accept that binding', () => {
    expect(
      refusal(() => checkSenderConstraint(snapshot({ jkt: JKT }), dpopWith(JKT), plain)),
    ).toEqual({ code: 'invalid_token', reason: 'sender_constrained', scheme: undefined });
    expect(
      refusal(() => checkSenderConstraint(snapshot({ 'x5t#S256': X5T }), withCert(X5T), plain)),
    ).toEqual({ code: 'invalid_token', reason: 'sender_constrained', scheme: undefined });
  });

  it('accepts a DPoP-bound token only with a proof of its key (RFC 9449 §7.1, §7.2)', () => {
    expect(() => checkSenderConstraint(snapshot({ jkt: JKT }), dpopWith(JKT), dpop)).not.toThrow();
    expect(
      refusal(() => checkSenderConstraint(snapshot({ jkt: JKT }), BEARER_PRESENTATION, dpop)),
    ).toEqual({ code: 'invalid_token', reason: 'sender_constrained', scheme: 'DPoP' });
    expect(
      refusal(() => checkSenderConstraint(snapshot({ jkt: JKT }), dpopWith(X5T), dpop)),
    ).toEqual({ code: 'invalid_token', reason: 'dpop_binding_mismatch', scheme: 'DPoP' });
    expect(
      refusal(() => checkSenderConstraint(snapshot({ jkt: JKT }), { scheme: 'DPoP' }, dpop)),
    ).toEqual({ code: 'invalid_token', reason: 'dpop_binding_mismatch', scheme: 'DPoP' });
  });

  it('refuses an unbound token sent with the DPoP scheme, and any unbound token when DPoP is required', () => {
    expect(refusal(() => checkSenderConstraint(snapshot(), dpopWith(JKT), dpop))).toEqual({
      code: 'invalid_token',
      reason: 'token_not_bound',
      scheme: 'DPoP',
    });
    expect(
      refusal(() =>
        checkSenderConstraint(snapshot({ 'x5t#S256': X5T }), dpopWith(JKT), { ...dpop, mtls: {} }),
      ),
    ).toEqual({ code: 'invalid_token', reason: 'token_not_bound', scheme: 'DPoP' });
    expect(refusal(() => checkSenderConstraint(snapshot(), BEARER_PRESENTATION, required))).toEqual(
      {
        code: 'invalid_token',
        reason: 'dpop_required',
        scheme: 'DPoP',
      },
    );
    expect(
      refusal(() =>
        checkSenderConstraint(snapshot({ 'x5t#S256': X5T }), withCert(X5T), {
          ...required,
          mtls: {},
        }),
      ),
    ).toEqual({ code: 'invalid_token', reason: 'dpop_required', scheme: 'DPoP' });
    expect(() =>
      checkSenderConstraint(snapshot({ jkt: JKT }), dpopWith(JKT), required),
    ).not.toThrow();
  });

  it('accepts a certificate-bound token only with that certificate (RFC 8705 §3)', () => {
    const bound = snapshot({ 'x5t#S256': X5T });
    expect(() => checkSenderConstraint(bound, withCert(X5T), mtls)).not.toThrow();
    for (const presentation of [withCert(JKT), withCert(undefined), BEARER_PRESENTATION]) {
      expect(refusal(() => checkSenderConstraint(bound, presentation, mtls))).toEqual({
        code: 'invalid_token',
        reason: 'certificate_binding_mismatch',
        scheme: undefined,
      });
    }
  });

  it('reads the certificate only for a certificate-bound token', () => {
    let reads = 0;
    const counting: TokenPresentation = {
      scheme: 'Bearer',
      certificateThumbprint: () => {
        reads++;
        return X5T;
      },
    };
    checkSenderConstraint(snapshot(), counting, mtls);
    expect(reads).toBe(0);
    checkSenderConstraint(snapshot({ 'x5t#S256': X5T }), counting, mtls);
    expect(reads).toBe(1);
  });

  it('requires both bindings when a token has both', () => {
    const both = snapshot({ jkt: JKT, 'x5t#S256': X5T });
    const options = { ...dpop, mtls: {} };
    const proof: TokenPresentation = {
      scheme: 'DPoP',
      proofJkt: JKT,
      certificateThumbprint: () => X5T,
    };
    expect(() => checkSenderConstraint(both, proof, options)).not.toThrow();
    expect(
      refusal(() =>
        checkSenderConstraint(both, { ...proof, certificateThumbprint: () => undefined }, options),
      ),
    ).toMatchObject({ reason: 'certificate_binding_mismatch' });
  });

  it('refuses a cnf that is not an object (an altered shared-store entry)', () => {
    expect(
      refusal(() => checkSenderConstraint(snapshot('x'), BEARER_PRESENTATION, dpop)),
    ).toMatchObject({
      code: 'invalid_token',
      reason: 'sender_constrained',
    });
  });
});
