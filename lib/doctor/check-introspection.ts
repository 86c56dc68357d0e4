import { randomBytes } from 'node:crypto';
import { clientAuthentication } from '../introspection/client-authentication.js';
import { systemClock } from '../utils/clock.js';
import type { ConfiguredIssuer } from '../observability/configured-issuers.js';
import { probe } from './probe.js';
import type { DoctorFinding } from './types.js';

function oauthError(json: Record<string, unknown> | undefined): string {
  return typeof json?.error === 'string' ? ` (${JSON.stringify(json.error.slice(0, 60))})` : '';
}

/**
 * One introspection call with a made-up token and the configured client authentication (the
 * library's own): refused credentials, a missing endpoint and a working setup each answer
 * differently.
 */
export async function checkIntrospection(
  options: ConfiguredIssuer,
  metadata: Record<string, unknown> | undefined,
): Promise<DoctorFinding[]> {
  const settings = options.introspection;
  if (!settings) return [];
  const { issuer } = options;
  const finding = (f: Omit<DoctorFinding, 'check' | 'issuer'>): DoctorFinding[] => [
    { check: 'introspection', issuer, ...f },
  ];
  const endpoint =
    settings.endpoint ??
    (typeof metadata?.introspection_endpoint === 'string'
      ? metadata.introspection_endpoint
      : undefined);
  if (!endpoint) {
    return finding({
      status: 'fail',
      summary:
        'No introspection endpoint: the metadata names none and introspection.endpoint is not set',
      detail:
        "Opaque tokens cannot be checked. Set introspection.endpoint to the provider's RFC 7662 endpoint.",
      option: 'introspection.endpoint',
    });
  }
  const body = new URLSearchParams({
    token: `doctor-probe-${randomBytes(16).toString('hex')}`,
    token_type_hint: 'access_token',
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  try {
    await clientAuthentication(settings, issuer, systemClock).apply(headers, body);
  } catch (error) {
    return finding({
      status: 'fail',
      summary: `The ${settings.authMethod} client authentication cannot be built`,
      detail: error instanceof Error ? error.message : String(error),
      option: 'introspection.privateKey',
    });
  }
  const result = await probe(endpoint, options.httpTimeout, {
    method: 'POST',
    headers,
    body: body.toString(),
  });
  const status = result.response?.status;
  if (status === undefined) {
    return finding({
      status: 'fail',
      summary: `The introspection endpoint ${endpoint} cannot be reached`,
      detail: result.failure,
      option: 'introspection.endpoint',
    });
  }
  if (status === 200 && result.json && typeof result.json.active === 'boolean') {
    return finding({
      status: 'pass',
      summary: `Introspection at ${endpoint} accepts the client ${JSON.stringify(settings.clientId)} (${settings.authMethod})`,
    });
  }
  const error = typeof result.json?.error === 'string' ? result.json.error : undefined;
  if (
    status === 401 ||
    status === 403 ||
    error === 'invalid_client' ||
    error === 'unauthorized_client'
  ) {
    return finding({
      status: 'fail',
      summary: `The authorization server refuses the client credentials (HTTP ${status}${oauthError(result.json)})`,
      detail: `The endpoint ${endpoint} exists, but does not accept client ${JSON.stringify(settings.clientId)} with ${settings.authMethod}. Check introspection.clientId and the secret or key, and introspection.authMethod: the client must be registered for this method (and, on Keycloak, be confidential).`,
      option: 'introspection.clientSecret',
    });
  }
  if (status === 404 || status === 405) {
    return finding({
      status: 'fail',
      summary: `Nothing answers at the introspection endpoint ${endpoint} (HTTP ${status})`,
      detail:
        'The URL is wrong, or the provider has introspection switched off. Set introspection.endpoint to its RFC 7662 endpoint.',
      option: 'introspection.endpoint',
    });
  }
  return finding({
    status: 'fail',
    summary: `The introspection endpoint ${endpoint} answered HTTP ${status}${oauthError(result.json)} instead of an RFC 7662 answer`,
    ...(status >= 500 ? { detail: 'The authorization server is failing; try again later.' } : {}),
    option: 'introspection.endpoint',
  });
}
