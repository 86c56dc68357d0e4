import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { createSecretKey } from 'node:crypto';
import { resolveDpop } from './sender-constraint-options.js';

const SECRET = 'n'.repeat(32);

describe('dpop.stores and dpop.nonceSecret', () => {
  it('accepts @keyv/redis stores, bare or in Keyv, without connecting', () => {
    const redis = new KeyvRedis('redis://127.0.0.1:1');
    const resolved = resolveDpop({ stores: [redis, new Keyv(redis)] }, false)!;
    expect(resolved.stores).toHaveLength(2);
    expect(redis.client.isOpen).toBe(false);
  });

  it('refuses a store without an atomic set-if-absent, saying why', () => {
    expect(() => resolveDpop({ stores: [new Keyv()] }, false)).toThrow(
      /option "dpop\.stores\[0\]" needs an atomic set-if-absent so that two replicas cannot both accept one proof/,
    );
  });

  it('requires nonceSecret with nonce and stores (replicas must share it)', () => {
    const stores = [new KeyvRedis('redis://127.0.0.1:1')];
    expect(() => resolveDpop({ nonce: true, stores }, false)).toThrow(
      /"dpop\.nonceSecret" is required/,
    );
    expect(
      resolveDpop({ nonce: true, stores, nonceSecret: SECRET }, false)!.nonceSecret?.type,
    ).toBe('secret');
    // One replica: a per-process secret is drawn later.
    expect(resolveDpop({ nonce: true }, false)!.nonceSecret).toBeUndefined();
  });

  it.each([['short'], [Buffer.alloc(31)], [42], [createSecretKey(Buffer.alloc(16))]])(
    'refuses nonceSecret %p',
    (nonceSecret) => {
      expect(() => resolveDpop({ nonceSecret } as never, false)).toThrow(
        /option "dpop\.nonceSecret" must be a string or Buffer of at least 32 bytes/,
      );
    },
  );

  it('accepts a 32-byte Buffer or secret KeyObject', () => {
    for (const nonceSecret of [Buffer.alloc(32, 1), createSecretKey(Buffer.alloc(32, 1))])
      expect(resolveDpop({ nonceSecret }, false)!.nonceSecret!.symmetricKeySize).toBe(32);
  });
});
