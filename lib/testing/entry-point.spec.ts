/**
 * The kit is a separate entry point: the main entry never reaches it (its bundle must not grow),
 * and the kit loads nothing but `node:` built-ins at runtime (no jose, which is ESM-only and
 * breaks CommonJS test runners; no oidc-provider, a dev dependency; not the main entry).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = fileURLToPath(new URL('..', import.meta.url));

/** Runtime imports of one source file: `import type` / `export type` are erased, so skipped. */
function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+'([^']+)'/gm;
  for (const match of source.matchAll(statement)) if (!match[2]) specifiers.push(match[3]!);
  for (const match of source.matchAll(/^\s*import\s+'([^']+)'/gm)) specifiers.push(match[1]!);
  for (const match of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) specifiers.push(match[1]!);
  return specifiers;
}

/** Every file reachable at runtime from `entry`, and every bare specifier met on the way. */
function graph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(join(LIB, entry));
  return { files, packages };
}

const rel = (files: Set<string>) => [...files].map((file) => relative(LIB, file)).sort();

it('the main entry never reaches lib/testing', () => {
  const { files } = graph('index.ts');
  expect(files.size).toBeGreaterThan(10); // the walk follows the real graph
  expect(rel(files).filter((file) => file.startsWith('testing/'))).toEqual([]);
});

it('the kit loads only node: built-ins at runtime, and never the main entry', () => {
  const { files, packages } = graph('testing/index.ts');
  expect(rel(files)).toContain('testing/test-issuer.ts');
  expect(rel(files)).not.toContain('index.ts');
  expect([...packages].filter((name) => !name.startsWith('node:'))).toEqual([]);
});
