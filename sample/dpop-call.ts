/**
 * A DPoP client in a page of Node.js (RFC 9449), since curl cannot sign proofs: it makes a key
 * pair, gets an access token bound to it (client_credentials with a `DPoP` proof for the token
 * endpoint), calls the API with `Authorization: DPoP <token>` and a proof for that request, then
 * sends the same proof again to show that a replay is refused.
 *
 *   node dist-sample/sample/dpop-call.js <api-url> <token-endpoint> <client-id> <client-secret> <resource> <scope>
 *
 * Exits 0 when the call got 200 and the replay 401.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
} from 'node:crypto';

const [apiUrl, tokenEndpoint, clientId, clientSecret, resource, scope] = process.argv.slice(2);
if (!apiUrl || !tokenEndpoint || !clientId || !clientSecret || !resource || !scope) {
  console.error(
    'usage: node dist-sample/sample/dpop-call.js <api-url> <token-endpoint> <client-id> <client-secret> <resource> <scope>',
  );
  process.exit(2);
}

// The client's key: the token will be bound to its thumbprint (cnf.jkt).
// Re-imported from PEM: Node.js 20 can deadlock when a key is exported as a JWK while the
// garbage collector finalizes the job that generated it.
const pair = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const publicKey = createPublicKey(pair.publicKey);
const privateKey = createPrivateKey(pair.privateKey);
const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
const jwk = { kty, crv, x, y };
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A DPoP proof (RFC 9449 §4.2) for one request: its method and URL, and the token's hash. */
function proof(htm: string, htu: string, accessToken?: string): string {
  const payload = {
    jti: randomUUID(),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(accessToken === undefined
      ? {}
      : { ath: createHash('sha256').update(accessToken).digest('base64url') }),
  };
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

const tokenResponse = await fetch(tokenEndpoint, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
    dpop: proof('POST', tokenEndpoint),
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
});
const token = (await tokenResponse.json()) as { access_token?: string; token_type?: string };
if (!token.access_token) {
  console.error(`token endpoint: ${tokenResponse.status} ${JSON.stringify(token)}`);
  process.exit(1);
}
console.log(`token_type ${token.token_type}: the access token is bound to this script's key`);

const headers = {
  authorization: `DPoP ${token.access_token}`,
  dpop: proof('GET', apiUrl, token.access_token),
};
const call = await fetch(apiUrl, { headers });
console.log(`GET ${apiUrl} with a DPoP proof: ${call.status} ${await call.text()}`);
const replay = await fetch(apiUrl, { headers });
console.log(
  `the same proof again: ${replay.status} ${replay.headers.get('www-authenticate') ?? ''}`,
);
process.exit(call.status === 200 && replay.status === 401 ? 0 : 1);
