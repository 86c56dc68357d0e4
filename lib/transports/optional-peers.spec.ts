import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The main entry point (and the testing kit) must load in an app that has none of the optional
 * peers installed (GraphQL, WebSockets, microservices): no module they load may import one at
 * its top level. `import type` is erased, and a dynamic `import()` runs only when a transport
 * that needs the package is in use. The package smoke test proves the same on a packed
 * tarball; this check is the fast one.
 */
const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUIRED = new Set([
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/passport',
  'cache-manager',
  'keyv',
  'passport-http-bearer',
]);
const STATIC_IMPORT = /^(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'([^']+)';/gms;

function staticImports(file: string): { specifier: string; typeOnly: boolean }[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(STATIC_IMPORT)].map((match) => {
    const clause = match[3] ?? '';
    const names = /^\{([^}]*)\}$/.exec(clause.trim())?.[1];
    const everyNameIsType =
      names !== undefined &&
      names
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .every((name) => name.startsWith('type '));
    return { specifier: match[4]!, typeOnly: match[2] !== undefined || everyNameIsType };
  });
}

function packagesLoadedBy(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { specifier, typeOnly } of staticImports(file)) {
      if (typeOnly) continue;
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!specifier.startsWith('node:')) packages.set(specifier, file.slice(LIB.length + 1));
    }
  };
  visit(join(LIB, entry));
  return packages;
}

describe('optional peers stay optional', () => {
  it.each(['index.ts', 'testing/index.ts'])(
    '%s loads no package beyond the required peers and dependencies',
    (entry) => {
      const loaded = packagesLoadedBy(entry);
      const unexpected = [...loaded].filter(([name]) => !REQUIRED.has(name));
      expect(unexpected).toEqual([]);
      // The walk itself works: it reaches the guard's own imports.
      expect(loaded.has('@nestjs/passport')).toBe(entry === 'index.ts');
    },
  );

  it('the WebSocket adapters are entry points of their own, loading their platform', () => {
    expect(
      packagesLoadedBy('transports/socket-io.adapter.ts').has('@nestjs/platform-socket.io'),
    ).toBe(true);
    expect(packagesLoadedBy('transports/ws.adapter.ts').has('@nestjs/platform-ws')).toBe(true);
  });
});
