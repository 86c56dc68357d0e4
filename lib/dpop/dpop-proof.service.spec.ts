import { createHash, randomUUID, sign } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  InvalidDpopProofError,
  IssuerUnavailableError,
  UseDpopNonceError,
} from '../errors/oidc-resource.error.js';
import { resolveOptions } from '../utils/resolve-options.js';
import { DpopProofService } from './dpop-proof.service.js';
import { generateKeyPairSync } from '../testing/key-pair.js';

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = key.publicKey.export({ format: 'jwk' });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const TOKEN = 'token';
let now = 1_800_000_000_000;
const clock = () => now;

function proof(claims: Record<string, unknown> = {}): string {
  const payload = {
    jti: randomUUID(),
    htm: 'GET',
    htu: 'https://api.example.com/notes',
    iat: Math.floor(now / 1000),
    ath: createHash('sha256').update(TOKEN).digest('base64url'),
    ...claims,
  };
  const input = `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk })}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

const raw = {
  method: 'GET',
  url: '/notes?page=2',
  headers: { host: 'internal:8080', 'x-forwarded-host': 'evil.example.com' },
  socket: {},
} as unknown as IncomingMessage;

function service(dpop: Record<string, unknown> = {}): DpopProofService {
  const options = resolveOptions({
    issuer: 'https://idp.example.com',
    audience: 'https://api.example.com',
    clockTolerance: 5,
    dpop: { publicUrl: 'https://api.example.com', proofMaxAge: 60, ...dpop },
  });
  return new DpopProofService(options, clock);
}

it('records a proof until iat + proofMaxAge + clockTolerance, then forgets it', async () => {
  const proofs = service();
  const verified = proofs.verify(raw, proof(), TOKEN);
  await proofs.record(verified);
  now += 64_999;
  const error = await proofs.record(verified).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidDpopProofError);
  expect((error as InvalidDpopProofError).reason).toBe('dpop_jti_replayed');
  now += 1;
  await expect(proofs.record(verified)).resolves.toBeUndefined();
});

it('builds htu from publicUrl and the path, never from Host or X-Forwarded-Host', () => {
  const proofs = service();
  expect(proofs.verify(raw, proof(), TOKEN).htu).toBe('https://api.example.com/notes');
  const forwarded = proof({ htu: 'https://evil.example.com/notes' });
  expect(() => proofs.verify(raw, forwarded, TOKEN)).toThrow(InvalidDpopProofError);
});

it('with nonces, asks for one; the same service accepts it', () => {
  const proofs = service({ nonce: true });
  let nonce = '';
  try {
    proofs.verify(raw, proof(), TOKEN);
  } catch (error) {
    expect(error).toBeInstanceOf(UseDpopNonceError);
    nonce = (error as UseDpopNonceError).nonce;
  }
  expect(proofs.verify(raw, proof({ nonce }), TOKEN).jkt).toBeDefined();
});

it('a replay store that fails gives 503 (issuer_unavailable with Retry-After), never a pass', async () => {
  const broken = {
    client: { isOpen: true, isReady: true },
    getClient: () => Promise.reject(new Error('ECONNREFUSED')),
    get: async () => undefined,
    set: async () => undefined,
    delete: async () => true,
  };
  const proofs = service({ stores: [broken] });
  const error = await proofs.record(proofs.verify(raw, proof(), TOKEN)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(IssuerUnavailableError);
  expect((error as IssuerUnavailableError).status).toBe(503);
  expect((error as IssuerUnavailableError).retryAfter).toBe(1);
});
