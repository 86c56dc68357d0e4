import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * JSON with object members in code-point order, so that a value and its copy read back from a
 * store (whatever order the store's serializer kept) give the same bytes. Values are JSON data:
 * claims, introspection answers and principal snapshots.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) => {
    if (typeof member !== 'object' || member === null || Array.isArray(member)) return member;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(member).sort())
      sorted[name] = (member as Record<string, unknown>)[name];
    return sorted;
  });
}

/**
 * The MAC of a shared-store entry: HMAC-SHA-256 over the stored key, the deadline and the value.
 * Binding the key means a valid entry cannot be copied under another token's key; binding the
 * deadline means it cannot be made to live longer.
 *
 * @see RFC 2104
 */
export function entryMac(key: KeyObject, storedKey: string, until: number, value: unknown): string {
  return createHmac('sha256', key)
    .update(canonicalJson([storedKey, until, value]))
    .digest('base64url');
}

/** Whether `mac` is the entry's MAC, compared in constant time. */
export function macMatches(
  key: KeyObject,
  storedKey: string,
  until: number,
  value: unknown,
  mac: unknown,
): boolean {
  if (typeof mac !== 'string') return false;
  const expected = Buffer.from(entryMac(key, storedKey, until, value));
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
