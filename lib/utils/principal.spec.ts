import { deepFreeze } from './principal.js';

describe('deepFreeze', () => {
  it('freezes every object and array inside, in place, and returns the value', () => {
    const value = { a: { roles: ['user'], n: { m: [{ x: 1 }] } }, s: 'x' };
    expect(deepFreeze(value)).toBe(value);
    for (const part of [value, value.a, value.a.roles, value.a.n, value.a.n.m, value.a.n.m[0]])
      expect(Object.isFrozen(part)).toBe(true);
    expect(() => value.a.roles.push('admin')).toThrow(TypeError);
  });

  it('walks a very deep document without exhausting the stack', () => {
    let deep: unknown = {};
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    expect(() => deepFreeze(deep)).not.toThrow();
    expect(Object.isFrozen(deep)).toBe(true);
  });

  it('leaves primitives alone', () => {
    expect(deepFreeze('x')).toBe('x');
    expect(deepFreeze(null)).toBeNull();
    expect(deepFreeze(42)).toBe(42);
  });
});
