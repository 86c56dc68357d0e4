import { createSecretKey } from 'node:crypto';
import { DpopNonces, NONCE_WINDOW } from './nonce.js';

const secret = createSecretKey(Buffer.alloc(32, 7));

it('replicas with the same secret issue and accept the same nonces; others do not', () => {
  let now = 1_800_000_000_000;
  const a = new DpopNonces(secret, () => now);
  const b = new DpopNonces(secret, () => now);
  const other = new DpopNonces(createSecretKey(Buffer.alloc(32, 8)), () => now);
  const nonce = a.current();
  expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(b.current()).toBe(nonce);
  expect(b.accepts(nonce)).toBe(true);
  expect(other.accepts(nonce)).toBe(false);
  now += NONCE_WINDOW;
  expect(a.current()).not.toBe(nonce);
  expect(b.accepts(nonce)).toBe(true); // the previous window
  now += NONCE_WINDOW;
  expect(b.accepts(nonce)).toBe(false);
});

it('a process without a secret invents one', () => {
  const now = () => 1_800_000_000_000;
  expect(new DpopNonces(undefined, now).current()).not.toBe(
    new DpopNonces(undefined, now).current(),
  );
});

it.each([undefined, 42, '', 'short', 'A'.repeat(22), 'A'.repeat(23), ['x'], '!'.repeat(22)])(
  'refuses %p',
  (value) => {
    expect(new DpopNonces(secret, () => 0).accepts(value)).toBe(false);
  },
);

it('a nonce from a later window is not accepted', () => {
  let now = 1_800_000_000_000;
  const nonces = new DpopNonces(secret, () => now);
  now += NONCE_WINDOW;
  const later = nonces.current();
  now -= NONCE_WINDOW;
  expect(nonces.accepts(later)).toBe(false);
});
