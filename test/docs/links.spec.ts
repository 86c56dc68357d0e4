/**
 * The documentation holds together: every relative link and `#anchor` in README.md and docs/*.md
 * leads somewhere, every reference-style link is defined in the file that uses it, no table row
 * is wider than the page, and README.md stays a front page.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Characters (not bytes) in a table row, pipes included: about one screen of rendered page. */
const PAGE_WIDTH = 120;
const README_MAX_LINES = 300;

const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

interface Line {
  number: number;
  text: string;
}

/** The file's lines outside fenced code blocks, with inline code spans blanked out. */
function proseLines(markdown: string): Line[] {
  const out: Line[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, index) => {
    const opener = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) {
        fence = undefined;
      }
      return;
    }
    if (opener !== undefined) {
      fence = opener;
      return;
    }
    out.push({ number: index + 1, text: text.replace(/(`+)(?:(?!\1).)+?\1/g, '``') });
  });
  return out;
}

/** GitHub's heading ids (github-slugger): lower case, punctuation dropped, spaces to hyphens,
 * a repeated id suffixed `-1`, `-2`… */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const opener = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) {
        fence = undefined;
      }
      continue;
    }
    if (opener !== undefined) {
      fence = opener;
      continue;
    }
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
      .replace(/[`*]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  }
  return ids;
}

const text = new Map(FILES.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]));
const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let ids = anchorCache.get(file);
  if (!ids) {
    ids = anchors(readFileSync(join(ROOT, file), 'utf8'));
    anchorCache.set(file, ids);
  }
  return ids;
}

/** Every link target in a file: inline links and images, and reference definitions. */
function targets(markdown: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const { number, text } of proseLines(markdown)) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line: number, target: m[1]! });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(text);
    if (definition) out.push({ line: number, target: definition[1]! });
  }
  return out;
}

/** Labels of the reference definitions (`[label]: url`) in a file, lower case. */
function definitions(markdown: string): Set<string> {
  const labels = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const m = /^\s{0,3}\[([^\]]+)\]:/.exec(text);
    if (m) labels.add(m[1]!.toLowerCase());
  }
  return labels;
}

/** Why `target`, linked from `file`, leads nowhere; undefined when it resolves. */
function brokenBecause(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:…: not checked
  const hash = target.indexOf('#');
  const path = hash >= 0 ? target.slice(0, hash) : target;
  const anchor = hash >= 0 ? decodeURIComponent(target.slice(hash + 1)) : undefined;
  const destination = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), path);
  const fromRoot = relative(ROOT, destination);
  if (fromRoot.startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(destination)) return `${fromRoot} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!fromRoot.endsWith('.md')) return `#${anchor} points into ${fromRoot}, which is not Markdown`;
  return anchorsOf(fromRoot).has(anchor)
    ? undefined
    : `${fromRoot} has no heading with the id "${anchor}"`;
}

describe('documentation', () => {
  it('finds README.md and the docs/ pages it links to', () => {
    expect(FILES).toEqual(
      expect.arrayContaining([
        'README.md',
        'docs/benchmarks.md',
        'docs/providers.md',
        'docs/security-model.md',
        'docs/testing.md',
        'docs/troubleshooting.md',
      ]),
    );
  });

  it.each(FILES)('%s: every relative link and #anchor resolves', (file) => {
    const broken = targets(text.get(file)!)
      .map(({ line, target }) => ({ line, why: brokenBecause(file, target) }))
      .filter(({ why }) => why !== undefined)
      .map(({ line, why }) => `${file}:${line}: ${why}`);
    expect(broken).toEqual([]);
  });

  it.each(FILES)('%s: every reference-style link is defined in the same file', (file) => {
    const markdown = text.get(file)!;
    const defined = definitions(markdown);
    // Any label defined in some page ([RFC 9068], [oidc-provider]…) must be defined here too,
    // or GitHub shows the brackets as plain text.
    const known = new Set(FILES.flatMap((f) => [...definitions(text.get(f)!)]));
    const missing: string[] = [];
    for (const { number, text: line } of proseLines(markdown)) {
      if (/^\s{0,3}\[[^\]]+\]:/.test(line)) continue;
      for (const m of line.matchAll(/(?<![\]\\!])\[([^\]]+)\](?![(:])(?:\[([^\]]*)\])?/g)) {
        const label = (m[2] || m[1]!).toLowerCase();
        const explicit = m[2] !== undefined;
        if ((explicit || known.has(label)) && !defined.has(label)) {
          missing.push(`${file}:${number}: [${label}]`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(FILES)(`%s: no table row is wider than ${PAGE_WIDTH} characters`, (file) => {
    const wide = proseLines(readFileSync(join(ROOT, file), 'utf8'))
      .filter(({ text: line }) => line.trimStart().startsWith('|'))
      .map(({ number }) => ({
        number,
        width: [...text.get(file)!.split('\n')[number - 1]!].length,
      }))
      .filter(({ width }) => width > PAGE_WIDTH)
      .map(({ number, width }) => `${file}:${number}: ${width} characters`);
    expect(wide).toEqual([]);
  });

  it(`README.md stays a front page (at most ${README_MAX_LINES} lines)`, () => {
    expect(text.get('README.md')!.trimEnd().split('\n').length).toBeLessThanOrEqual(
      README_MAX_LINES,
    );
  });

  it('computes GitHub heading ids the way GitHub does', () => {
    const ids = anchors(
      [
        '# Several replicas: a shared cache in Redis',
        '## `cache.ttl` and `userInfo.ttl`',
        '### With `@nestjs/config` (`forRootAsync`)',
        '## Notes',
        '## Notes',
        '```sh',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...ids]).toEqual([
      'several-replicas-a-shared-cache-in-redis',
      'cachettl-and-userinfottl',
      'with-nestjsconfig-forrootasync',
      'notes',
      'notes-1',
    ]);
  });
});
