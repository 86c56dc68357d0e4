import { LruMemoryStore } from './lru-memory.store.js';

describe('LruMemoryStore', () => {
  it('never holds more than max entries and evicts the oldest first', () => {
    const store = new LruMemoryStore(100);
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, i);
    expect(store.size).toBe(100);
    expect(store.get('k899')).toBeUndefined();
    expect(store.get('k900')).toBe(900);
    expect(store.get('k999')).toBe(999);
  });

  it('keeps an entry that is read at least every 3/4 of the capacity', () => {
    const store = new LruMemoryStore(100);
    store.set('hot', 'value');
    for (let i = 0; i < 10_000; i++) {
      store.set(`junk${i}`, i);
      if (i % 75 === 74) expect(store.get('hot')).toBe('value');
    }
    expect(store.size).toBe(100);
  });

  it('drops an entry that is never read once max newer entries arrived', () => {
    const store = new LruMemoryStore(100);
    store.set('cold', 'value');
    for (let i = 0; i < 100; i++) store.set(`junk${i}`, i);
    expect(store.get('cold')).toBeUndefined();
  });

  it('honours the ttl it is given', () => {
    const store = new LruMemoryStore(10);
    store.set('short', 1, 1);
    store.set('forever', 2);
    const until = Date.now() + 5;
    while (Date.now() < until) {
      /* wait past the 1 ms ttl */
    }
    expect(store.get('short')).toBeUndefined();
    expect(store.has('forever')).toBe(true);
    expect(store.delete('forever')).toBe(true);
    expect(store.size).toBe(0);
  });
});
