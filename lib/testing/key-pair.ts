import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateEncodedKeyPair,
  generateKeyPairSync as generateEncodedKeyPairSync,
  type KeyObject,
} from 'node:crypto';

/** The key types the testing kit, the fixtures and the benchmarks generate. */
export type KeyPairType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448';

/** `modulusLength` for RSA, `namedCurve` for EC. */
export interface KeyPairOptions {
  modulusLength?: number;
  namedCurve?: string;
}

/** A key pair as `crypto.generateKeyPairSync` returns it without encodings. */
export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

// Node.js 20 can deadlock when a key that came out of a key-generation job is exported as a
// JWK while the garbage collector finalizes that job: the export holds the key's mutex and
// allocates, and the job's destructor takes the same mutex. Seen as a process stuck at 0 % CPU
// when the test authorization server starts. Keys re-imported from the job's DER output share
// nothing with the job, so they can be exported at any time.
const ENCODINGS: {
  publicKeyEncoding: { type: 'spki'; format: 'der' };
  privateKeyEncoding: { type: 'pkcs8'; format: 'der' };
} = {
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'der' },
};

function imported(publicDer: Buffer, privateDer: Buffer): KeyPair {
  return {
    publicKey: createPublicKey({ key: publicDer, format: 'der', type: 'spki' }),
    privateKey: createPrivateKey({ key: privateDer, format: 'der', type: 'pkcs8' }),
  };
}

/**
 * `crypto.generateKeyPairSync(type, options)`, with keys that are safe to export as JWKs at any
 * time (see above).
 */
export function generateKeyPairSync(type: KeyPairType, options: KeyPairOptions = {}): KeyPair {
  // The overloads cannot see that a runtime `type` with DER encodings gives buffers.
  const { publicKey, privateKey } = generateEncodedKeyPairSync(type as 'ec', {
    ...(options as { namedCurve: string }),
    ...ENCODINGS,
  }) as unknown as { publicKey: Buffer; privateKey: Buffer };
  return imported(publicKey, privateKey);
}

/** The asynchronous `crypto.generateKeyPair(type, options)`, with the same safe keys. */
export function generateKeyPair(type: KeyPairType, options: KeyPairOptions = {}): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    generateEncodedKeyPair(
      type as 'ec',
      { ...(options as { namedCurve: string }), ...ENCODINGS },
      (error, publicKey: unknown, privateKey: unknown) =>
        error ? reject(error) : resolve(imported(publicKey as Buffer, privateKey as Buffer)),
    );
  });
}
