/**
 * The text printed once the sample is up: ready-to-paste curl commands that use
 * the actual ports and demo credentials. The e2e test
 * (test/e2e/sample.e2e-spec.ts) parses and runs exactly these commands.
 */
import type { OidcResourceModuleOptions } from '../lib/index.js';
import { runtimeNote, type DevAuthorizationServer } from './dev-authorization-server.js';

/** The last line printed at startup; everything above it is ready to use. */
export const READY_LINE = 'Ready. Press Ctrl+C to stop.';

// Extracts access_token from a JSON token response with nothing but Node.js (no jq needed).
const ACCESS_TOKEN = `node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token'`;
const NOTE_ID = `node -pe 'JSON.parse(require("fs").readFileSync(0)).id'`;

export function devBanner(as: DevAuthorizationServer): string {
  const rule = '='.repeat(78);
  return [
    rule,
    '  DEVELOPMENT ONLY: embedded OAuth 2.0 / OpenID Connect authorization server',
    `  issuer ${as.issuer} (oidc-provider, in-memory, loopback only)`,
    '  It has fixed demo secrets and a password-less demo user. Never deploy it:',
    '  set OIDC_ISSUER to point the API at a real identity provider instead.',
    '  (oidc-provider\'s own "development-only" warnings, if shown, refer to this server.)',
    ...runtimeNote().map((line) => `  ${line}`),
    rule,
  ].join('\n');
}

export function devTryItCommands(api: string, as: DevAuthorizationServer): string {
  const cc = (client: { id: string; secret: string }, scope: string): string =>
    `curl -s -u ${client.id}:${client.secret} -d grant_type=client_credentials ` +
    `--data-urlencode 'scope=${scope}' --data-urlencode 'resource=${as.audience}' ${as.tokenEndpoint} | ${ACCESS_TOKEN}`;
  const bearer = (variable: string): string => `-H "Authorization: Bearer $${variable}"`;
  // -w '\n' ends the response body with a newline, so that the shell prompt starts on its own line.
  const curlApi = (flags: string): string => `curl ${flags} -w '\\n'`;
  const json = `-H 'Content-Type: application/json'`;
  const all = as.scopes.join(' ');

  return [
    `Notes API (sample) listening on ${api}`,
    `It accepts access tokens from ${as.issuer} for the audience ${as.audience}.`,
    '',
    'Try it: paste these into a shell (bash or zsh; on Windows use Git Bash or WSL).',
    'The dev authorization server logs every call it receives as "[dev-as] ...": watch',
    'which requests reach it, and which the API answers on its own.',
    '',
    '# 1. A public route: no token needed.',
    `${curlApi('-s')} ${api}/health`,
    '',
    '# 2. A protected route without a token: 401 and a Bearer challenge.',
    `${curlApi('-si')} ${api}/notes`,
    '',
    '# 3. A JWT access token (RFC 9068) from the client_credentials grant.',
    "#    The API verifies it locally against the issuer's keys (JWKS): no call to the",
    '#    authorization server per request, only discovery and JWKS the first time.',
    `TOKEN=$(${cc(as.jwtClient, all)})`,
    `${curlApi('-s')} ${bearer('TOKEN')} ${api}/notes`,
    `${curlApi('-s')} ${bearer('TOKEN')} ${json} -d '{"text":"Buy milk"}' ${api}/notes`,
    '',
    '# 4. A read-only token cannot write: 403, WWW-Authenticate names the missing scope.',
    `READ_TOKEN=$(${cc(as.jwtClient, 'notes:read')})`,
    `${curlApi('-si')} ${bearer('READ_TOKEN')} ${json} -d '{"text":"Not allowed"}' ${api}/notes`,
    '',
    '# 5. An opaque token: the API asks the authorization server about it (introspection,',
    '#    RFC 7662; see "[dev-as] POST /token/introspection"), then caches the answer.',
    `OPAQUE_TOKEN=$(${cc(as.opaqueClient, all)})`,
    `${curlApi('-s')} ${bearer('OPAQUE_TOKEN')} ${api}/notes`,
    `${curlApi('-s')} ${bearer('OPAQUE_TOKEN')} ${api}/notes`,
    '',
    `# 6. A user's token (${as.user.username}, scope openid profile email). A real app gets it from a`,
    '#    browser login (authorization code flow); this dev-only shortcut skips the browser.',
    '#    /me shows the principal the handler receives; /me/profile asks the UserInfo endpoint.',
    `USER_TOKEN=$(curl -s -d username=${as.user.username} ${as.userTokenEndpoint} | ${ACCESS_TOKEN})`,
    `${curlApi('-s')} ${bearer('USER_TOKEN')} ${api}/me`,
    `${curlApi('-s')} ${bearer('USER_TOKEN')} ${api}/me/profile`,
    '',
    '# 7. Roles: /notes/stats needs the role notes-admin. The dev server puts it in the "roles"',
    `#    claim of ${as.jwtClient.id}'s tokens only; the opaque client's token gets 403.`,
    `${curlApi('-s')} ${bearer('TOKEN')} ${api}/notes/stats`,
    `${curlApi('-si')} ${bearer('OPAQUE_TOKEN')} ${api}/notes/stats`,
    '',
    "# 8. Ownership: only a note's author may delete it (an @Authorize policy loads the note).",
    `NOTE_ID=$(curl -s ${bearer('TOKEN')} ${json} -d '{"text":"Mine"}' ${api}/notes | ${NOTE_ID})`,
    `${curlApi('-si')} -X DELETE ${bearer('OPAQUE_TOKEN')} ${api}/notes/$NOTE_ID`,
    `${curlApi('-si')} -X DELETE ${bearer('TOKEN')} ${api}/notes/$NOTE_ID`,
    '',
    '# 9. GraphQL (POST /graphql): the same tokens and scopes, on resolvers. A refused field is a',
    '#    GraphQL error with extensions.code and extensions.oauth, and the same challenge header.',
    `${curlApi('-s')} ${bearer('TOKEN')} ${json} -d '{"query":"{ notes { id text author } }"}' ${api}/graphql`,
    `${curlApi('-si')} ${bearer('READ_TOKEN')} ${json} -d '{"query":"mutation { addNote(text: \\"Not allowed\\") { id } }"}' ${api}/graphql`,
    '',
    '# 10. DPoP (RFC 9449): a token bound to a key the client holds, useless to whoever steals it.',
    '#     curl cannot sign the per-request proofs, so a small script plays the client: it gets',
    '#     a bound token, calls the API with a proof (200), then replays that proof (401).',
    `node dist-sample/sample/dpop-call.js ${api}/notes ${as.tokenEndpoint} ${as.jwtClient.id} ${as.jwtClient.secret} ${as.audience} notes:read`,
  ].join('\n');
}

export function tryItCommands(api: string, issuer: string, audience: string): string {
  return [
    `Notes API (sample) listening on ${api}`,
    `It accepts access tokens from ${issuer} for the audience ${audience}.`,
    '',
    '# A public route: no token needed.',
    `curl -s -w '\\n' ${api}/health`,
    '',
    '# Get an access token for the audience above, with scope notes:read, from your',
    '# identity provider, then:',
    `curl -s -w '\\n' -H "Authorization: Bearer $TOKEN" ${api}/notes`,
    '# or, over GraphQL:',
    `curl -s -w '\\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"query":"{ notes { id text } }"}' ${api}/graphql`,
  ].join('\n');
}

/** What `npm run dev-as` prints: every client and secret, and how to point the API at it. */
export function devAsDetails(as: DevAuthorizationServer): string {
  const clients: [client: { id: string; secret: string }, use: string][] = [
    [as.jwtClient, 'client_credentials, JWT access tokens (at+jwt, RS256)'],
    [as.opaqueClient, 'client_credentials, opaque access tokens'],
    [as.introspectionClient, "the API's own client, for introspection only"],
    [as.webAppClient, 'authorization code; no login page (see below)'],
  ];
  const width = Math.max(...clients.map(([c]) => `${c.id} / ${c.secret}`.length));
  const api = [
    `OIDC_ISSUER=${as.issuer}`,
    `OIDC_AUDIENCE=${as.audience}`,
    `OIDC_INTROSPECTION_CLIENT_ID=${as.introspectionClient.id}`,
    `OIDC_INTROSPECTION_CLIENT_SECRET=${as.introspectionClient.secret}`,
  ];
  return [
    `Dev authorization server listening on ${as.issuer}`,
    `Discovery: ${as.issuer}/.well-known/openid-configuration`,
    `Audience (resource indicator): ${as.audience}; scopes: ${as.scopes.join(' ')}`,
    '',
    'Clients (client id / secret):',
    ...clients.map(([c, use]) => `  ${`${c.id} / ${c.secret}`.padEnd(width)}  ${use}`),
    '',
    `User: ${as.user.username} (${as.user.email}). POST ${as.userTokenEndpoint} (form field`,
    'username) returns an opaque access token for the user, scope openid profile email.',
    '',
    '# Point the sample API at this server (in another terminal):',
    `${api.join(' ')} npm start`,
    '',
    '# Get a JWT access token:',
    `curl -s -u ${as.jwtClient.id}:${as.jwtClient.secret} -d grant_type=client_credentials ` +
      `--data-urlencode 'scope=${as.scopes.join(' ')}' --data-urlencode 'resource=${as.audience}' ${as.tokenEndpoint}`,
  ].join('\n');
}

/** One line on the token checks in force, so that a variable's effect is visible at start. */
export function tokenChecks(options: OidcResourceModuleOptions): string {
  const shown = (value: unknown, variable: string): string =>
    value === undefined ? `default (${variable} unset)` : String(value);
  return [
    'Token checks:',
    `tokenFormat ${shown(options.tokenFormat, 'OIDC_TOKEN_FORMAT')},`,
    `algorithms ${shown(options.algorithms?.join(','), 'OIDC_ALGORITHMS')},`,
    'requireJwtAccessTokenType',
    `${shown(options.requireJwtAccessTokenType, 'OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE')},`,
    `introspection ${options.introspection ? `as ${options.introspection.clientId}` : 'off'}.`,
  ].join(' ');
}
