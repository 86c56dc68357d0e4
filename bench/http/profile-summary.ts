/**
 * Summarises a V8 `.cpuprofile` written by `BENCH_CPU_PROF=1 npm run bench`:
 *
 *   node dist-bench/bench/http/profile-summary.js bench/results/profiles/<target>-<time>.cpuprofile [top]
 *
 * Prints where the server's busy time went: self time by package (our lib/, each dependency,
 * Node internals, GC), the top functions by self time, and every lib/ function by inclusive time
 * (its own time plus what it calls), with shares of the busy (non-idle) time. Positions in lib/
 * are mapped back to the TypeScript sources through the emitted source maps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    try {
      const file = url.startsWith('file:') ? fileURLToPath(url) : url;
      if (existsSync(`${file}.map`))
        map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload);
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

/** `lib/services/x.ts:123` for our code, `pkg/file.js:12` for dependencies, `node:…` otherwise. */
function where(frame: CallFrame): string {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return '';
  const lib = url.indexOf('/dist-bench/');
  if (lib >= 0) {
    const map = sourceMapFor(url);
    const entry = map?.findEntry(lineNumber, columnNumber) as
      { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      const source = entry.originalSource.replace(/^.*?\/(lib|bench|test)\//, '$1/');
      return `${source}:${entry.originalLine + 1}`;
    }
    return `${url.slice(lib + '/dist-bench/'.length)}:${lineNumber + 1}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return `${url.slice(nm + '/node_modules/'.length)}:${lineNumber + 1}`;
  return `${url}:${lineNumber + 1}`;
}

function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (
      functionName === '(garbage collector)' ||
      functionName === '(idle)' ||
      functionName === '(program)'
    )
      return functionName;
    return '(native)';
  }
  if (url.includes('/dist-bench/lib/')) return 'lib/ (nestjs-oidc-resource)';
  if (url.includes('/dist-bench/')) return 'bench/';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node: internals';
  return url;
}

function pct(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1).padStart(5)} %`;
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write(
      'usage: node dist-bench/bench/http/profile-summary.js <file.cpuprofile> [top=25]\n',
    );
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // V8 records the time since the previous sample; DevTools charges sample i with delta i+1.
  const duration = (i: number) => profile.timeDeltas[i + 1] ?? 0;
  const self = new Map<number, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const d = duration(i);
    total += d;
    if (byId.get(id)?.callFrame.functionName === '(idle)') idle += d;
    self.set(id, (self.get(id) ?? 0) + d);
  });
  const busy = total - idle;

  const key = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${where(f)}`;
  const selfByFunction = new Map<string, number>();
  const selfByCategory = new Map<string, number>();
  for (const [id, t] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    selfByFunction.set(key(frame), (selfByFunction.get(key(frame)) ?? 0) + t);
    selfByCategory.set(category(frame), (selfByCategory.get(category(frame)) ?? 0) + t);
  }

  // Inclusive time: each sample counts once per function on its stack.
  const inclusive = new Map<string, number>();
  const inclusiveLib = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const d = duration(i);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const frame = byId.get(n)!.callFrame;
      if (!frame.url) continue;
      const k = key(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + d);
      if (frame.url.includes('/dist-bench/lib/'))
        inclusiveLib.set(k, (inclusiveLib.get(k) ?? 0) + d);
    }
  });

  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  const out: string[] = [];
  out.push(`${file}`);
  out.push(
    `profiled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (idle ${pct(idle, total).trim()}); shares below are of the busy time`,
  );
  out.push('', 'self time by package:');
  for (const [name, t] of sorted(selfByCategory)) out.push(`  ${pct(t, busy)}  ${name}`);
  out.push('', `top ${top} functions by self time:`);
  for (const [name, t] of sorted(selfByFunction).slice(0, top))
    out.push(`  ${pct(t, busy)}  ${name}`);
  out.push(
    '',
    `top ${top} functions by inclusive time (self + callees; async continuations count where they resume):`,
  );
  for (const [name, t] of sorted(inclusive).slice(0, top)) out.push(`  ${pct(t, busy)}  ${name}`);
  out.push('', 'lib/ functions by inclusive time:');
  for (const [name, t] of sorted(inclusiveLib).slice(0, top))
    out.push(`  ${pct(t, busy)}  ${name}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
