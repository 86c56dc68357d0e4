import {
  BREAKER_COOLDOWN,
  BREAKER_FAILURES,
  StoreBreaker,
  boundedCall,
  redisClients,
} from './store-breaker.js';

describe('StoreBreaker', () => {
  let now = 1_000_000;
  const clock = () => now;

  it(`opens after ${BREAKER_FAILURES} failures in a row, lets one probe through after the cooldown, and closes on its success`, () => {
    const breaker = new StoreBreaker([], clock);
    for (let i = 1; i < BREAKER_FAILURES; i++) {
      expect(breaker.allow()).toBe(true);
      expect(breaker.record(false)).toBe(false);
    }
    expect(breaker.allow()).toBe(true);
    expect(breaker.record(false)).toBe(true); // this one opened it
    expect(breaker.isOpen).toBe(true);
    expect(breaker.allow()).toBe(false);
    now += BREAKER_COOLDOWN - 1;
    expect(breaker.allow()).toBe(false);
    now += 1;
    expect(breaker.allow()).toBe(true); // the probe
    expect(breaker.allow()).toBe(false); // only one at a time
    breaker.record(true);
    expect(breaker.isOpen).toBe(false);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(true);
  });

  it('a failed probe opens it for another cooldown', () => {
    const breaker = new StoreBreaker([], clock);
    for (let i = 0; i < BREAKER_FAILURES; i++) breaker.record(false);
    now += BREAKER_COOLDOWN;
    expect(breaker.allow()).toBe(true);
    expect(breaker.record(false)).toBe(false); // already open: not "opened" again
    expect(breaker.allow()).toBe(false);
    now += BREAKER_COOLDOWN;
    expect(breaker.allow()).toBe(true);
  });

  it('a success between failures resets the count', () => {
    const breaker = new StoreBreaker([], clock);
    for (let round = 0; round < 5; round++) {
      for (let i = 1; i < BREAKER_FAILURES; i++) breaker.record(false);
      breaker.record(true);
    }
    expect(breaker.isOpen).toBe(false);
  });

  it('a client known to be disconnected (ready once, now open and not ready) is not asked, and opens the breaker', () => {
    const client = { isOpen: true, isReady: true };
    const breaker = new StoreBreaker([client], clock);
    expect(breaker.allow()).toBe(true);
    breaker.record(true);
    client.isReady = false;
    for (let i = 0; i < BREAKER_FAILURES; i++) expect(breaker.allow()).toBe(false);
    expect(breaker.isOpen).toBe(true);
    now += BREAKER_COOLDOWN;
    expect(breaker.allow()).toBe(false); // still disconnected: no probe
    client.isReady = true;
    expect(breaker.allow()).toBe(true); // reconnected: the probe goes
    breaker.record(true);
    expect(breaker.isOpen).toBe(false);
  });

  it('a client that was never opened, or is connecting for the first time, is asked', () => {
    const client = { isOpen: false, isReady: false };
    const breaker = new StoreBreaker([client], clock);
    expect(breaker.allow()).toBe(true);
    client.isOpen = true;
    for (let i = 0; i < 2 * BREAKER_FAILURES; i++) expect(breaker.allow()).toBe(true);
    expect(breaker.isOpen).toBe(false);
  });

  it('redisClients finds node-redis clients on adapters and Keyv instances only', () => {
    const a = { isOpen: true, isReady: true };
    const b = { isOpen: false, isReady: false };
    expect(
      redisClients([{ client: a }, { store: { client: b } }, {}, null, { client: { isOpen: 1 } }]),
    ).toEqual([a, b]);
  });
});

describe('boundedCall', () => {
  const faults: string[] = [];
  const fault = (message: string) => void faults.push(message);
  beforeEach(() => (faults.length = 0));

  it('answers what the store answers, and records a success', async () => {
    const breaker = new StoreBreaker([]);
    breaker.record(false);
    await expect(boundedCall(breaker, 1000, 'read', async () => 42, fault)).resolves.toBe(42);
    // The failure count was reset: BREAKER_FAILURES - 1 more failures do not open it.
    for (let i = 1; i < BREAKER_FAILURES; i++) breaker.record(false);
    expect(breaker.isOpen).toBe(false);
    expect(faults).toEqual([]);
  });

  it('a rejection, a synchronous throw, a hang and an error event are misses and failures; then the store is not called', async () => {
    const breaker = new StoreBreaker([]);
    const hang = () => new Promise<never>(() => undefined);
    await expect(
      boundedCall(breaker, 1000, 'read', () => Promise.reject(new Error('down')), fault),
    ).resolves.toBeUndefined();
    await expect(
      boundedCall(
        breaker,
        1000,
        'write',
        () => {
          throw new Error('sync');
        },
        fault,
      ),
    ).resolves.toBeUndefined();
    expect(breaker.isOpen).toBe(false);
    await expect(boundedCall(breaker, 10, 'read', hang, fault)).resolves.toBeUndefined();
    expect(breaker.isOpen).toBe(true);
    let called = false;
    await expect(
      boundedCall(breaker, 1000, 'read', async () => (called = true), fault),
    ).resolves.toBeUndefined();
    expect(called).toBe(false);
    expect(faults).toHaveLength(3);
    expect(faults[2]).toMatch(/failed 3 times in a row .*skipped for 1000 ms/);

    const reporting = new StoreBreaker([]);
    for (let i = 0; i < BREAKER_FAILURES; i++) {
      await boundedCall(
        reporting,
        1000,
        'read',
        async () => {
          reporting.errors += 1; // what the Keyv 'error' listener does
          return undefined;
        },
        fault,
      );
    }
    expect(reporting.isOpen).toBe(true);
  });
});
