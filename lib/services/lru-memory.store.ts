/**
 * A bounded, least-recently-used in-memory store with the Map-like surface that Keyv accepts.
 * Keyv's own default (a plain `Map`) grows without limit, so a flood of distinct junk tokens
 * could exhaust memory; this one never holds more than `max` entries.
 */
export class LruMemoryStore {
  /** Set by Keyv; unused, keys arrive already prefixed. */
  namespace?: string;
  private readonly entries = new Map<string, { value: unknown; expiresAt: number; tick: number }>();
  /** Counts insertions; an entry's `tick` says how recently it was (re)inserted. */
  private tick = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): unknown {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order), but only once a
    // quarter of the capacity was inserted after it: a hot token then costs no Map churn per
    // hit, and an entry read at any time still survives at least 3/4·max further insertions.
    if (this.tick - entry.tick > this.max >>> 2) {
      this.entries.delete(key);
      entry.tick = ++this.tick;
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: string, value: unknown, ttl?: number): boolean {
    const expiresAt =
      typeof ttl === 'number' && ttl > 0 ? Date.now() + ttl : Number.POSITIVE_INFINITY;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt, tick: ++this.tick });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return true;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
