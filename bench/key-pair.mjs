/**
 * Key pairs for the benchmarks, re-imported from DER: Node.js 20 can deadlock when a key is
 * exported as a JWK while the garbage collector finalizes the job that generated it (see
 * lib/testing/key-pair.ts, which the built library does not export).
 */
import * as crypto from 'node:crypto';

export function keyPairSync(type, options = {}) {
  const pair = crypto.generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  return {
    publicKey: crypto.createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' }),
    privateKey: crypto.createPrivateKey({ key: pair.privateKey, format: 'der', type: 'pkcs8' }),
  };
}
