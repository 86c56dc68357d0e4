import type { IncomingMessage } from 'node:http';
import { normalizeHtu, requestHtu } from './htu.js';

function req(
  url: string,
  headers: Record<string, string> = { host: 'api.example.com' },
  encrypted = false,
  originalUrl?: string,
): IncomingMessage {
  return { url, headers, socket: { encrypted }, ...(originalUrl ? { originalUrl } : {}) } as never;
}

describe('normalizeHtu', () => {
  it.each([
    ['HTTPS://API.EXAMPLE.com/a', 'https://api.example.com/a'],
    ['https://api.example.com:443/a', 'https://api.example.com/a'],
    ['http://api.example.com:80/a', 'http://api.example.com/a'],
    ['http://api.example.com:8080/a', 'http://api.example.com:8080/a'],
    ['https://api.example.com', 'https://api.example.com/'],
    ['https://api.example.com/a?x=1#y', 'https://api.example.com/a'],
    ['https://api.example.com/%7euser/%2f', 'https://api.example.com/~user/%2F'],
    ['https://api.example.com/a/./b/../c', 'https://api.example.com/a/c'],
    ['https://[::1]:443/a', 'https://[::1]/a'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeHtu(input)).toBe(expected);
  });

  it.each([
    ['relative', '/a'],
    ['another scheme', 'ftp://api.example.com/a'],
    ['userinfo', 'https://user@api.example.com/a'],
    ['garbage', 'http://[/'],
    ['too long', `https://api.example.com/${'a'.repeat(9000)}`],
  ])('refuses %s', (_, input) => {
    expect(normalizeHtu(input)).toBeUndefined();
  });
});

describe('requestHtu', () => {
  it('builds the URI from the socket and Host, without query', () => {
    expect(requestHtu(req('/api/read?x=1'), {})).toBe('http://api.example.com/api/read');
    expect(requestHtu(req('/api/read', { host: 'API.example.com:443' }, true), {})).toBe(
      'https://api.example.com/api/read',
    );
  });

  it('with publicUrl, ignores Host and X-Forwarded-*', () => {
    const headers = {
      host: 'internal:3000',
      'x-forwarded-host': 'evil.example.com',
      'x-forwarded-proto': 'http',
    };
    expect(requestHtu(req('/api/read', headers), { publicUrl: 'https://api.example.com' })).toBe(
      'https://api.example.com/api/read',
    );
  });

  it('never reads X-Forwarded-* without publicUrl either', () => {
    const headers = { host: 'internal:3000', 'x-forwarded-host': 'api.example.com' };
    expect(requestHtu(req('/a', headers, false), {})).toBe('http://internal:3000/a');
  });

  it("prefers Express's originalUrl (url is rewritten in mounted routers)", () => {
    expect(requestHtu(req('/read', undefined, false, '/api/read'), {})).toBe(
      'http://api.example.com/api/read',
    );
  });

  it.each([
    ['no Host', req('/a', {})],
    ['a Host with a path', req('/a', { host: 'evil.example.com/x' })],
    ['a Host with userinfo', req('/a', { host: 'user@api.example.com' })],
    ['an absolute-form target', req('http://evil.example.com/a')],
    ['a target starting with //', req('//evil.example.com/a')],
    ['an asterisk-form target', req('*')],
  ])('undefined for %s', (_, request) => {
    expect(requestHtu(request, {})).toBeUndefined();
  });
});
