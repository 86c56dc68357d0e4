/**
 * Turns the benchmark's rows into the console table, the Markdown report (the generated section
 * of `docs/benchmarks.md`) and the goal verdicts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as prettier from 'prettier';
import type { LoadResult, TargetName } from './protocol.js';

/** Scenario numbers follow issue #8. */
export type ScenarioId =
  | 'baseline'
  | 'noop-guard'
  | 'jwt-hit'
  | 'opaque-hit'
  | 'jwt-distinct'
  | 'opaque-distinct'
  | 'passport-hit'
  | 'passport-distinct';

export interface Row {
  /** Scenario number: 1–5 for our guard on Nest, 6 for the plain-Express peer, 7 for the passport-jwt recipe on Nest. */
  number: string;
  target: TargetName;
  scenario: ScenarioId;
  label: string;
  /** Distinct tokens sent during the measured run (1 for the repeated-token runs). */
  tokens: number;
  load: LoadResult;
  /** The same target's baseline, measured in slices alternating with this scenario's. */
  pairedBaseline: LoadResult;
  /** Median over the slices of (slice rate / rate of the baseline slice just before it). */
  ratio: number;
  /** Calls that reached the authorization server (`POST /token/introspection`, `GET /jwks`). */
  authorizationServer: {
    warmup: { introspections: number; jwks: number };
    measured: { introspections: number; jwks: number };
  };
  /** The server process after the run. */
  server: { rss: number; heapUsed: number };
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  loadAverage: number[];
  date: string;
  versions: Record<string, string>;
}

export interface Settings {
  mode: 'full' | 'ci';
  duration: number;
  warmup: number;
  distinctTokens: number;
  warmupTokens: number;
  connections: number;
  slices: number;
  layout: string;
}

export interface Goal {
  name: string;
  met: boolean;
  detail: string;
}

export const TARGET_LABEL: Record<TargetName, string> = {
  'nest-express': 'Nest 12 + Express',
  'nest-fastify': 'Nest 12 + Fastify',
  'express-peer': 'Express 5',
};

const fmt = {
  rps: (n: number) => Math.round(n).toLocaleString('en-US'),
  ms: (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1)),
  ratio: (n: number) => n.toFixed(2),
  mib: (n: number) => (n / 1048576).toFixed(1),
};

export function notes(row: Row): string {
  const parts: string[] = [];
  if (row.scenario === 'opaque-hit') {
    const total =
      row.authorizationServer.warmup.introspections +
      row.authorizationServer.measured.introspections;
    parts.push(`${total} introspection${total === 1 ? '' : 's'} in all`);
  }
  if (row.scenario === 'opaque-distinct') {
    parts.push(
      `${row.authorizationServer.measured.introspections} introspections for ${row.tokens} tokens`,
    );
  }
  const bad = row.load.responses - row.load.ok;
  if (bad > 0) parts.push(`${bad} non-2xx (${JSON.stringify(row.load.statuses)})`);
  if (row.load.errors > 0) parts.push(`${row.load.errors} socket errors`);
  return parts.join('; ');
}

/** The in-process cost of a new RS256 JWT (µs) from `bench/results/cache-memory.json`, if there. */
export function inProcessJwtMiss(cacheMemory: unknown): number | undefined {
  const rows = (cacheMemory as { throughput?: unknown } | undefined)?.throughput;
  if (!Array.isArray(rows)) return undefined;
  const row = (rows as { case?: unknown; usPerOp?: unknown }[]).find(
    (r) => typeof r.case === 'string' && r.case.includes('RS256'),
  );
  return typeof row?.usPerOp === 'number' ? row.usPerOp : undefined;
}

const us = (n: number) => `${Math.round(n)} µs`;

/** Evaluates the performance goals on CPU per request, added over each app's own baseline. */
export function evaluateGoals(rows: Row[], jwtMissInProcess?: number): Goal[] {
  const goals: Goal[] = [];
  const find = (target: TargetName, scenario: ScenarioId) =>
    rows.find((r) => r.target === target && r.scenario === scenario);
  /** CPU µs per request above the same app's unauthenticated route. */
  const added = (r: Row) =>
    r.load.cpuPerRequest - (find(r.target, 'baseline')?.load.cpuPerRequest ?? 0);
  const nestTargets = (['nest-express', 'nest-fastify'] as const).filter((t) =>
    find(t, 'baseline'),
  );

  const opaque = nestTargets.map((t) => find(t, 'opaque-distinct')).filter((r) => r !== undefined);
  if (opaque.length > 0) {
    goals.push({
      name: 'new opaque token (5): at most 400 µs of API CPU each, over the baseline',
      met: opaque.every((r) => added(r) <= 400),
      detail: opaque.map((r) => `${TARGET_LABEL[r.target]} +${us(added(r))}`).join(', '),
    });
    goals.push({
      name: 'new opaque tokens (5): exactly one introspection per token',
      met: opaque.every(
        (r) => r.authorizationServer.measured.introspections === r.tokens && r.load.ok === r.tokens,
      ),
      detail: opaque
        .map(
          (r) =>
            `${TARGET_LABEL[r.target]} ${r.authorizationServer.measured.introspections} / ${r.tokens}`,
        )
        .join(', '),
    });
  }

  const jwts = nestTargets.map((t) => find(t, 'jwt-distinct')).filter((r) => r !== undefined);
  if (jwts.length > 0 && jwtMissInProcess !== undefined) {
    goals.push({
      name: `new JWT (4): over HTTP at most 2× its in-process cost (${us(jwtMissInProcess)}, \`bench:cache\`)`,
      met: jwts.every((r) => added(r) <= 2 * jwtMissInProcess),
      detail: jwts.map((r) => `${TARGET_LABEL[r.target]} +${us(added(r))}`).join(', '),
    });
  }
  const peerPairs: [Row, Row][] = [];
  for (const t of nestTargets) {
    const ours = find(t, 'jwt-distinct');
    const passport = find(t, 'passport-distinct');
    if (ours && passport) peerPairs.push([ours, passport]);
  }
  const auth0 = find('express-peer', 'jwt-distinct');
  const oursExpress = find('nest-express', 'jwt-distinct');
  if (auth0 && oursExpress) peerPairs.push([oursExpress, auth0]);
  if (peerPairs.length > 0) {
    goals.push({
      name: 'new JWTs (4 vs 6, 7): at least 1.5× less added API CPU than each peer on the same tokens',
      met: peerPairs.every(([ours, peer]) => 1.5 * added(ours) <= added(peer)),
      detail: peerPairs
        .map(
          ([ours, peer]) =>
            `${TARGET_LABEL[ours.target]} +${us(added(ours))} vs ${peer.label.split(',')[0]} on ${TARGET_LABEL[peer.target]} +${us(added(peer))} (${(added(peer) / Math.max(1, added(ours))).toFixed(1)}×)`,
        )
        .join('; '),
    });
  }

  const hits = nestTargets
    .flatMap((t) => [find(t, 'jwt-hit'), find(t, 'opaque-hit')])
    .filter((r) => r !== undefined);
  if (hits.length > 0) {
    const over = (r: Row) =>
      r.load.cpuPerRequest - (find(r.target, 'noop-guard')?.load.cpuPerRequest ?? 0);
    goals.push({
      name: 'memory hits (2, 3): at most 10 µs of CPU over the guard that does nothing',
      met: hits.every((r) => over(r) <= 10),
      detail: hits.map((r) => `${TARGET_LABEL[r.target]} #${r.number} +${us(over(r))}`).join(', '),
    });
  }
  return goals;
}

const isDistinct = (s: ScenarioId): boolean =>
  s === 'jwt-distinct' || s === 'opaque-distinct' || s === 'passport-distinct';

/** Functional failures (not time figures): non-2xx answers, socket errors, tokens not all sent. */
export function failures(rows: Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const what = `${TARGET_LABEL[r.target]} #${r.number} (${r.label})`;
    if (r.load.ok === 0) out.push(`${what}: no 2xx response`);
    if (r.load.responses !== r.load.ok)
      out.push(
        `${what}: ${r.load.responses - r.load.ok} non-2xx responses ${JSON.stringify(r.load.statuses)}`,
      );
    if (r.load.errors > 0) out.push(`${what}: ${r.load.errors} socket errors / timeouts`);
    if (isDistinct(r.scenario) && r.load.ok !== r.tokens) {
      out.push(`${what}: ${r.load.ok} 2xx for ${r.tokens} distinct tokens`);
    }
    if (isDistinct(r.scenario) && r.load.tokensUsed !== r.tokens) {
      out.push(
        `${what}: ${r.load.tokensUsed} tokens handed to the load generator for ${r.tokens} (some sent twice?)`,
      );
    }
    if (
      r.scenario === 'opaque-distinct' &&
      r.authorizationServer.measured.introspections !== r.tokens
    ) {
      out.push(
        `${what}: ${r.authorizationServer.measured.introspections} introspections for ${r.tokens} distinct tokens`,
      );
    }
  }
  return out;
}

/** Console and Markdown share the columns; Markdown moves the notes under the table, so that no
 * row of docs/benchmarks.md is wider than the page (a test checks 120 characters). */
const HEADER = [
  '#',
  'app',
  'scenario',
  'req/s',
  'p50 ms',
  'p99 ms',
  'ratio',
  'CPU µs/req',
  'notes',
] as const;
const NUMERIC = new Set([3, 4, 5, 6, 7]);
const MARKDOWN_HEADER = ['#', 'app', 'scenario', 'req/s', 'p50', 'p99', 'ratio', 'CPU µs'];

function cells(r: Row): string[] {
  return [
    r.number,
    TARGET_LABEL[r.target],
    r.label,
    fmt.rps(r.load.rps),
    fmt.ms(r.load.p50),
    fmt.ms(r.load.p99),
    r.scenario === 'baseline' ? '1.00' : fmt.ratio(r.ratio),
    Math.round(r.load.cpuPerRequest).toString(),
    notes(r),
  ];
}

/** The table as aligned plain text, for the terminal. */
export function consoleTable(rows: Row[]): string {
  const header = [...HEADER];
  const body = rows.map(cells);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const numeric = NUMERIC;
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function markdownTable(header: string[], body: string[][], right: Set<number> = new Set()): string {
  const sep = header.map((_, i) => (right.has(i) ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(sep), ...body.map(line)].join('\n');
}

/** Shorter headers for `bench/cache-memory.mjs`'s keys, to keep its tables within the page. */
const CACHE_MEMORY_HEADER: Record<string, string> = {
  rssGrowthMB: 'RSS +MB',
  heapGrowthMB: 'heap +MB',
  heapTotalGrowthMB: 'heap total +MB',
  externalGrowthMB: 'external +MB',
  missOpsPerSec: 'miss ops/s',
  opsPerSec: 'ops/s',
  usPerOp: 'µs/op',
};

/** Renders `bench/results/cache-memory.json` (written by `bench/cache-memory.*`) whatever its shape. */
export function cacheMemoryMarkdown(data: unknown): string {
  const rowsOf = (value: unknown): Record<string, unknown>[] | undefined => {
    if (
      Array.isArray(value) &&
      value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))
    ) {
      return value as Record<string, unknown>[];
    }
    return undefined;
  };
  const cell = (v: unknown) =>
    typeof v === 'number'
      ? Number.isInteger(v)
        ? v.toLocaleString('en-US')
        : v.toFixed(2)
      : typeof v === 'string'
        ? v
        : JSON.stringify(v);
  const table = (rows: Record<string, unknown>[]) => {
    const shown = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) =>
      rows.some((r) => r[k] === null || typeof r[k] !== 'object'),
    );
    // A column that is 0 in every row says nothing, and costs page width: named under the table.
    const zero = shown.filter((k) => rows.every((r) => r[k] === 0));
    // Free-text notes go under the table, keyed by the first column, to keep rows within the page.
    const noted = shown[0] !== 'note' && rows.some((r) => typeof r.note === 'string');
    const keys = shown.filter((k) => !zero.includes(k) && !(noted && k === 'note'));
    const right = new Set(
      keys.map((k, i) =>
        rows.every((r) => typeof r[k] === 'number' || r[k] === undefined) ? i : -1,
      ),
    );
    const text = markdownTable(
      keys.map((k) => CACHE_MEMORY_HEADER[k] ?? k),
      rows.map((r) => keys.map((k) => (r[k] === undefined ? '' : cell(r[k])))),
      right,
    );
    const left = zero.map((k) => `${CACHE_MEMORY_HEADER[k] ?? k}`).join(', ');
    const notes = noted
      ? `\n\n${rows
          .filter((r) => typeof r.note === 'string')
          .map((r) => `- ${cell(r[keys[0]!])}: ${r.note as string}.`)
          .join('\n')}`
      : '';
    return (zero.length > 0 ? `${text}\n\n0 in every row, left out: ${left}.` : text) + notes;
  };
  if (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { markdown?: unknown }).markdown === 'string'
  ) {
    return (data as { markdown: string }).markdown;
  }
  const direct = rowsOf(data);
  if (direct) return table(direct);
  if (typeof data === 'object' && data !== null) {
    const parts: string[] = [];
    const scalars: string[] = [];
    for (const [key, value] of Object.entries(data)) {
      const rows = rowsOf(value);
      if (rows && rows.length > 0) parts.push(`${key}:\n\n${table(rows)}`);
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
        scalars.push(`- ${key}:\n${value.map((v) => `  - ${v}`).join('\n')}`);
      } else if (Array.isArray(value) && value.every((v) => typeof v === 'number')) {
        scalars.push(`- ${key}: ${value.map(cell).join(' / ')}`);
      } else if (value === null || typeof value !== 'object')
        scalars.push(`- ${key}: ${cell(value)}`);
      else scalars.push(`- ${key}: \`${JSON.stringify(value)}\``);
    }
    return [scalars.join('\n'), ...parts].filter((p) => p.length > 0).join('\n\n');
  }
  return `\`${JSON.stringify(data)}\``;
}

/** The Markdown block: machine, settings, the table, the goals and the cache memory figures. */
export function markdownReport(input: {
  rows: Row[];
  machine: Machine;
  settings: Settings;
  goals: Goal[];
  cacheMemory?: unknown;
  resultsFile: string;
}): string {
  const { rows, machine, settings, goals } = input;
  const v = machine.versions;
  const out: string[] = [];
  out.push(
    `Measured by \`npm run bench\` on ${machine.date.slice(0, 10)}: ${machine.cpus} × ${machine.cpuModel}, Node.js ${machine.node} (${machine.platform}), ` +
      `load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' / ')} at start. ` +
      `NestJS ${v['@nestjs/core'] ?? '?'}, Express ${v.express ?? '?'}, Fastify ${v.fastify ?? '?'}, ` +
      `express-oauth2-jwt-bearer ${v['express-oauth2-jwt-bearer'] ?? '?'}, jose ${v.jose ?? '?'}, oidc-provider ${v['oidc-provider'] ?? '?'}, autocannon ${v.autocannon ?? '?'}.`,
  );
  out.push(
    `${settings.layout} ${settings.connections} connections. ` +
      `Repeated-token runs last ${settings.duration} s after a ${settings.warmup} s warm-up; ` +
      `distinct-token runs send each of ${settings.distinctTokens} fresh tokens exactly once, after ${settings.warmupTokens} other fresh tokens as warm-up (a server's first thousand or so new tokens cost two to three times the steady figure). ` +
      `Each run is cut into ${settings.slices} slices (a distinct-token run into slices of at least 1,000 tokens) that alternate with slices of the same app's unauthenticated route, ` +
      `and the ratio is the median, over the slices, of each slice's rate divided by the rate of the baseline slice just before it, so that a burst of background load on the shared machine weighs on both sides of one pair and moves one pair of many; ` +
      `the baseline row merges all of an app's baseline slices. ` +
      `The row "a guard that does nothing" is a reference: it is what NestJS itself spends on running any guard (execution context, call, result check), so no guarded row can keep a higher ratio. ` +
      `Rows 7 are the recipe most NestJS apps copy, in the same app as ours and on the same tokens: \`@nestjs/passport\`'s \`AuthGuard('jwt')\` over \`passport-jwt\` with keys from \`jwks-rsa\` (cached), then a guard checking the \`scope\` claim; row 6 is Auth0's \`express-oauth2-jwt-bearer\` on plain Express. ` +
      `CPU µs is the server process's CPU time (user + system, all threads) per 2xx response, the figure least disturbed by other load. Raw figures: \`${input.resultsFile}\`.`,
  );
  out.push(
    markdownTable(
      MARKDOWN_HEADER,
      rows.map((r) => cells(r).slice(0, MARKDOWN_HEADER.length)),
      NUMERIC,
    ),
  );
  const noted = rows
    .map((r) => ({ r, text: notes(r) }))
    .filter(({ text }) => text.length > 0)
    .map(({ r, text }) => `- ${TARGET_LABEL[r.target]} #${r.number} (${r.label}): ${text}.`);
  out.push(
    [
      'Latencies (p50, p99) in ms; CPU in µs per 2xx response.' +
        (noted.length > 0 ? ' Notes:' : ''),
      ...(noted.length > 0 ? ['', ...noted] : []),
    ].join('\n'),
  );
  if (goals.length > 0) {
    out.push(
      ['Goals:', '', ...goals.map((g) => `- ${g.met ? '✅' : '❌'} ${g.name}: ${g.detail}.`)].join(
        '\n',
      ),
    );
  }
  if (input.cacheMemory !== undefined) {
    out.push(
      `Token cache memory (\`bench/results/cache-memory.json\`):\n\n${cacheMemoryMarkdown(input.cacheMemory)}`,
    );
  }
  return out.join('\n\n');
}

async function formatMarkdown(text: string, file: string): Promise<string> {
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...config, parser: 'markdown', filepath: file });
}

const START = '<!-- bench:start (generated by `npm run bench`; edits here are overwritten) -->';
const START_PREFIX = '<!-- bench:start';
const END = '<!-- bench:end -->';

/**
 * Writes the block between the bench markers of `file` (docs/benchmarks.md), keeping the hand-
 * written text around them. A file without markers gets them under its `## Results` heading,
 * else at its end; a missing file is created with just a title and the block.
 */
export async function writeGeneratedSection(file: string, block: string): Promise<void> {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n## Results\n';
  const formatted = (await formatMarkdown(block, file)).trimEnd();
  const generated = `${START}\n\n${formatted}\n\n${END}`;
  const start = text.indexOf(START_PREFIX);
  const end = text.indexOf(END);
  let next: string;
  if (start >= 0 && end > start) {
    next = text.slice(0, start) + generated + text.slice(end + END.length);
  } else {
    const heading = /^## Results[ \t]*$/m.exec(text);
    const at = heading ? heading.index + heading[0].length : text.length;
    next = `${text.slice(0, at).trimEnd()}\n\n${generated}\n${text.slice(at).replace(/^\n*/, '\n')}`;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, await formatMarkdown(next, file));
}
