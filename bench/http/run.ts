/**
 * `npm run bench` / `npm run bench:ci`: issue #8's scenarios, one after another, in one run.
 *
 * Layout (three processes):
 * - this process: the in-process oidc-provider fixture (test/fixtures/authorization-server.ts),
 *   the token minting, the report;
 * - one server child per target (`server.ts`): Nest 12 on Express, Nest 12 on Fastify, plain
 *   Express 5 with `express-oauth2-jwt-bearer`;
 * - one load child (`load.ts`) running autocannon.
 *
 * Environment:
 * - `BENCH_DURATION` seconds per baseline / repeated-token run [8; `--ci` 1];
 * - `BENCH_WARMUP` seconds of warm-up before each of those [2; `--ci` 0.5];
 * - `BENCH_TOKENS` distinct tokens in scenarios 4 and 5 [2000; `--ci` 200];
 * - `BENCH_WARMUP_TOKENS` other distinct tokens of the same kind sent first, as warm-up
 *   [1500; `--ci` 50];
 * - `BENCH_CONNECTIONS` autocannon connections [10];
 * - `BENCH_SLICES` slices each measurement is cut into, alternating with baseline slices [8; `--ci` 2];
 *   a distinct-token run is cut into slices of at least 1 000 tokens (2 000 tokens: 2 slices);
 * - `BENCH_ONLY` comma-separated targets (`nest-express,nest-fastify,express-peer`);
 * - `BENCH_SCENARIOS` comma-separated scenarios besides the baseline (`noop-guard,jwt-hit,opaque-hit,
 *   jwt-distinct,opaque-distinct,passport-hit,passport-distinct`), e.g. to profile one;
 * - `BENCH_CPU_PROF=1` runs the server children with `--cpu-prof` (profiles in bench/results/profiles/;
 *   summarise one with `node dist-bench/bench/http/profile-summary.js <file>`).
 *
 * Noise: the machine is shared, so a scenario and its baseline are measured in alternating slices
 * (baseline, scenario, baseline, scenario, …), and each ratio is the median over the slices of
 * the slice's rate divided by the rate of the baseline slice just before it; a burst of background
 * load then hits both sides of one pair alike, and moves one pair of many. The baseline row shows
 * all of a target's baseline slices merged.
 *
 * A full run writes its raw figures to bench/results/http.json (one file, overwritten: git keeps
 * the history) and the table into the generated section of docs/benchmarks.md, never README.md
 * (`npm run bench:report` redraws that section from http.json alone).
 * `--ci` writes bench/results/ci.tmp.json only, a filtered or profiled run
 * bench/results/partial.tmp.json. The exit code is non-zero on functional failures only (non-2xx
 * answers, socket errors, an introspection count that is not one per token), never on a time figure.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../../test/fixtures/authorization-server.js';
import type {
  FromLoad,
  FromServer,
  LoadJob,
  LoadResult,
  ServerConfig,
  SliceResult,
  TargetName,
  ToLoad,
  ToServer,
} from './protocol.js';
import {
  TARGET_LABEL,
  consoleTable,
  evaluateGoals,
  failures,
  inProcessJwtMiss,
  markdownReport,
  writeGeneratedSection,
  type Machine,
  type Row,
  type ScenarioId,
  type Settings,
} from './report.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist-bench/bench/http
const root = resolve(here, '../../..');
const resultsDir = join(root, 'bench/results');

const ci = process.argv.includes('--ci');
const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
};
const settings: Settings = {
  mode: ci ? 'ci' : 'full',
  duration: num('BENCH_DURATION', ci ? 1 : 8),
  warmup: num('BENCH_WARMUP', ci ? 0.5 : 2),
  distinctTokens: Math.round(num('BENCH_TOKENS', ci ? 200 : 2000)),
  warmupTokens: Math.round(num('BENCH_WARMUP_TOKENS', ci ? 50 : 1500)),
  connections: Math.round(num('BENCH_CONNECTIONS', 10)),
  slices: Math.round(num('BENCH_SLICES', ci ? 2 : 8)),
  layout:
    'Server under test, load generator (autocannon) and authorization server (oidc-provider) run in three separate processes on the same machine;',
};
/** The members of `all` named in the comma-separated variable `name`; all of them when it is unset. */
function selected<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (!raw) return [...all];
  const wanted = raw.split(',').map((s) => s.trim());
  const picked = all.filter((item) => wanted.includes(item));
  if (picked.length === 0) throw new Error(`${name} names none of ${all.join(', ')}`);
  return picked;
}
const ALL_TARGETS: readonly TargetName[] = ['nest-express', 'nest-fastify', 'express-peer'];
const SCENARIO_IDS: readonly ScenarioId[] = [
  'noop-guard',
  'jwt-hit',
  'opaque-hit',
  'jwt-distinct',
  'opaque-distinct',
  'passport-hit',
  'passport-distinct',
];
const targets = selected('BENCH_ONLY', ALL_TARGETS);
const onlyScenarios = selected('BENCH_SCENARIOS', SCENARIO_IDS);
const cpuProf = process.env.BENCH_CPU_PROF === '1';
const partial =
  cpuProf || targets.length < ALL_TARGETS.length || onlyScenarios.length < SCENARIO_IDS.length;

/** Fewest fresh tokens per distinct-token slice (see runTarget). */
const MIN_DISTINCT_CHUNK = 1000;

/** Children started by this run, stopped on the way out whatever happens. */
const children = new Set<ChildProcess>();
function killChildren(): void {
  for (const child of children)
    if (child.exitCode === null && child.pid !== undefined) child.kill();
}
process.on('exit', killChildren);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const t0 = Date.now();
function log(message: string): void {
  process.stderr.write(
    `[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${message}\n`,
  );
}

// ---------------------------------------------------------------- children

interface ServerHandle {
  url: string;
  memory(): Promise<NodeJS.MemoryUsage>;
  /** The server process's CPU time so far (user + system), µs. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

function waitFor<T>(
  child: ChildProcess,
  accept: (message: T) => boolean,
  what: string,
  timeout = 60_000,
): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => done(new Error(`${what}: no answer within ${timeout} ms`)),
      timeout,
    );
    const onMessage = (message: T) => {
      if (accept(message)) done(undefined, message);
    };
    const onExit = (code: number | null) =>
      done(new Error(`${what}: the child exited (code ${code})`));
    function done(error: Error | undefined, message?: T): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolvePromise(message as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function startServer(config: ServerConfig): Promise<ServerHandle> {
  const execArgv = ['--enable-source-maps'];
  if (cpuProf) {
    const dir = join(resultsDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${config.target}-${Date.now()}.cpuprofile`,
    );
  }
  const child = fork(join(here, 'server.js'), [], {
    env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(config) },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const ready = await waitFor<FromServer>(
    child,
    (m) => m.type === 'ready' || m.type === 'failed',
    `${config.target} server`,
  );
  if (ready.type === 'failed')
    throw new Error(`${config.target} server failed to start:\n${ready.message}`);
  if (ready.type !== 'ready') throw new Error('unreachable');
  const port = ready.port;
  const send = (message: ToServer) => child.send(message);
  return {
    url: `http://127.0.0.1:${port}`,
    async memory() {
      const answer = waitFor<FromServer>(
        child,
        (m) => m.type === 'memory',
        `${config.target} memory`,
      );
      send({ type: 'memory' });
      const m = await answer;
      return m.type === 'memory' ? m.usage : process.memoryUsage();
    },
    async cpu() {
      const answer = waitFor<FromServer>(child, (m) => m.type === 'cpu', `${config.target} cpu`);
      send({ type: 'cpu' });
      const m = await answer;
      return m.type === 'cpu' ? m.usage.user + m.usage.system : 0;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      send({ type: 'stop' });
      await exited;
    },
  };
}

class LoadGenerator {
  private readonly child: ChildProcess;
  private nextId = 1;

  constructor() {
    this.child = fork(join(here, 'load.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(this.child);
    this.child.on('exit', () => children.delete(this.child));
  }

  async run(job: Omit<LoadJob, 'id' | 'connections'>): Promise<SliceResult> {
    const id = this.nextId++;
    const timeout = (job.distinct ? 300 : job.duration + 60) * 1000;
    const answer = waitFor<FromLoad>(this.child, (m) => m.id === id, 'load generator', timeout);
    const message: ToLoad = { type: 'run', job: { ...job, id, connections: settings.connections } };
    this.child.send(message);
    const m = await answer;
    if (m.type === 'error') throw new Error(`load generator: ${m.message}`);
    return m.result;
  }

  close(): void {
    if (this.child.connected) this.child.send({ type: 'exit' } satisfies ToLoad);
  }
}

// ---------------------------------------------------------------- tokens

interface Tokens {
  jwt: string;
  opaque: string;
  distinctJwts: string[];
  distinctOpaque: string[];
  warmupJwts: string[];
  warmupOpaque: string[];
}

async function mintMany(count: number, mint: () => Promise<string>): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const batch = Math.min(64, count - out.length);
    out.push(...(await Promise.all(Array.from({ length: batch }, mint))));
  }
  if (new Set(out).size !== out.length) throw new Error('minted tokens are not all distinct');
  return out;
}

/**
 * Opaque warm-up tokens: as many as the JWT ones. In process, a server's first thousand or so
 * new tokens of either kind cost two to three times the steady figure (measured 2026-12-01), and
 * a server that runs for hours is past that.
 */
const opaqueWarmup = () => Math.max(1, settings.warmupTokens);

async function mintTokens(as: AuthorizationServer): Promise<Tokens> {
  // Tokens live an hour, whatever BENCH_DURATION says; the AS signs its JWTs with RS256.
  const jwt = () => as.mintAccessToken({ clientId: 'cc-jwt', scope: 'api:read', expiresIn: 3600 });
  const opaque = () =>
    as.mintAccessToken({
      clientId: 'cc-opaque',
      scope: 'api:read',
      format: 'opaque',
      expiresIn: 3600,
    });
  return {
    jwt: await jwt(),
    opaque: await opaque(),
    distinctJwts: await mintMany(settings.distinctTokens, jwt),
    distinctOpaque: await mintMany(settings.distinctTokens, opaque),
    warmupJwts: await mintMany(settings.warmupTokens, jwt),
    warmupOpaque: await mintMany(opaqueWarmup(), opaque),
  };
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  number: string;
  id: ScenarioId;
  label: string;
  path: '/baseline' | '/noop-guard' | '/protected' | '/passport';
  tokens: string[];
  warmupTokens: string[];
  distinct: boolean;
}

function scenariosFor(target: TargetName, t: Tokens): Scenario[] {
  const n = settings.distinctTokens;
  const base = (number: string): Scenario => ({
    number,
    id: 'baseline',
    label: 'no auth (baseline)',
    path: '/baseline',
    // The same Authorization header as scenario 2, ignored: the requests differ only by path.
    tokens: [t.jwt],
    warmupTokens: [t.jwt],
    distinct: false,
  });
  if (target === 'express-peer') {
    return [
      base('6'),
      {
        number: '6',
        id: 'jwt-hit',
        label: 'express-oauth2-jwt-bearer, 1 repeated JWT',
        path: '/protected',
        tokens: [t.jwt],
        warmupTokens: [t.jwt],
        distinct: false,
      },
      {
        number: '6',
        id: 'jwt-distinct',
        label: `express-oauth2-jwt-bearer, ${n} distinct JWTs`,
        path: '/protected',
        tokens: t.distinctJwts,
        warmupTokens: t.warmupJwts,
        distinct: true,
      },
    ];
  }
  return [
    base('1'),
    {
      // Not one of issue #8's scenarios: the framework's own cost of running any guard, the
      // ceiling for every guarded scenario's ratio.
      number: '1',
      id: 'noop-guard',
      label: 'a guard that does nothing (reference)',
      path: '/noop-guard',
      tokens: [t.jwt],
      warmupTokens: [t.jwt],
      distinct: false,
    },
    {
      number: '2',
      id: 'jwt-hit',
      label: 'guard, 1 repeated JWT',
      path: '/protected',
      tokens: [t.jwt],
      warmupTokens: [t.jwt],
      distinct: false,
    },
    {
      number: '3',
      id: 'opaque-hit',
      label: 'guard, 1 repeated opaque token',
      path: '/protected',
      tokens: [t.opaque],
      warmupTokens: [t.opaque],
      distinct: false,
    },
    {
      number: '4',
      id: 'jwt-distinct',
      label: `guard, ${n} distinct JWTs`,
      path: '/protected',
      tokens: t.distinctJwts,
      warmupTokens: t.warmupJwts,
      distinct: true,
    },
    {
      number: '5',
      id: 'opaque-distinct',
      label: `guard, ${n} distinct opaque tokens`,
      path: '/protected',
      tokens: t.distinctOpaque,
      warmupTokens: t.warmupOpaque,
      distinct: true,
    },
    {
      // The NestJS-typical peer, in the same app: @nestjs/passport + passport-jwt + jwks-rsa.
      number: '7',
      id: 'passport-hit',
      label: 'passport-jwt, 1 repeated JWT',
      path: '/passport',
      tokens: [t.jwt],
      warmupTokens: [t.jwt],
      distinct: false,
    },
    {
      number: '7',
      id: 'passport-distinct',
      label: `passport-jwt, ${n} distinct JWTs`,
      path: '/passport',
      tokens: t.distinctJwts,
      warmupTokens: t.warmupJwts,
      distinct: true,
    },
  ];
}

function asCalls(as: AuthorizationServer): { introspections: number; jwks: number } {
  return {
    introspections: as.hits.get('POST /token/introspection'),
    jwks: as.hits.get('GET /jwks'),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** Merges slices: requests/s over the summed elapsed time, percentiles over every latency. */
/** 2xx responses per second of one slice. */
function sliceRate(slice: SliceResult): number {
  return slice.elapsed > 0 ? slice.latencies.length / slice.elapsed : 0;
}

/**
 * The median, over the slices, of each slice's rate divided by the rate of the baseline slice
 * run just before it: a burst of background load that hits one pair moves one ratio of many,
 * not the whole figure (a ratio of summed rates would take the burst in whole).
 */
function pairedRatio(measured: SliceResult[], paired: SliceResult[]): number {
  const ratios = measured
    .map((slice, k) => {
      const base = paired[k] === undefined ? 0 : sliceRate(paired[k]);
      return base > 0 ? sliceRate(slice) / base : Number.NaN;
    })
    .filter((r) => Number.isFinite(r))
    .sort((a, b) => a - b);
  if (ratios.length === 0) return 0;
  const mid = ratios.length >> 1;
  return ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

function summarize(slices: SliceResult[]): LoadResult {
  const statuses: Record<string, number> = {};
  let responses = 0;
  let errors = 0;
  let timeouts = 0;
  let elapsed = 0;
  let tokensUsed = 0;
  let count = 0;
  let cpu = 0;
  for (const s of slices) {
    cpu += s.serverCpu ?? 0;
    responses += s.responses;
    errors += s.errors;
    timeouts += s.timeouts;
    elapsed += s.elapsed;
    tokensUsed += s.tokensUsed;
    count += s.latencies.length;
    for (const [code, n] of Object.entries(s.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  }
  const sorted = new Float64Array(count);
  let at = 0;
  for (const s of slices) {
    sorted.set(s.latencies, at);
    at += s.latencies.length;
  }
  sorted.sort();
  return {
    responses,
    ok: count,
    statuses,
    errors,
    timeouts,
    elapsed,
    rps: elapsed > 0 ? count / elapsed : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: count > 0 ? sorted.reduce((a, b) => a + b, 0) / count : 0,
    tokensUsed,
    slices: slices.length,
    cpuPerRequest: count > 0 ? cpu / count : 0,
  };
}

/** `tokens` cut into `n` consecutive chunks of (nearly) equal size. */
function chunks<T>(items: T[], n: number): T[][] {
  const count = Math.max(1, Math.min(n, items.length));
  return Array.from({ length: count }, (_, k) =>
    items.slice(
      Math.floor((k * items.length) / count),
      Math.floor(((k + 1) * items.length) / count),
    ),
  );
}

async function runTarget(
  target: TargetName,
  as: AuthorizationServer,
  load: LoadGenerator,
  tokens: Tokens,
): Promise<Row[]> {
  const server = await startServer({
    target,
    issuer: as.issuer,
    audience: API,
    introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
  });
  const rows: Row[] = [];
  const allBaselineSlices: SliceResult[] = [];
  let baselineMemory = { rss: 0, heapUsed: 0 };
  try {
    const [baseline, ...listed] = scenariosFor(target, tokens);
    const scenarios = listed.filter((s) => onlyScenarios.includes(s.id));
    if (!baseline || baseline.id !== 'baseline')
      throw new Error('the first scenario must be the baseline');
    const baselineUrl = `${server.url}${baseline.path}`;
    /** A load run with the server's CPU time measured around it. */
    const measure = async (job: Parameters<LoadGenerator['run']>[0]): Promise<SliceResult> => {
      const before = await server.cpu();
      const result = await load.run(job);
      return { ...result, serverCpu: (await server.cpu()) - before };
    };
    const baselineSlice = (seconds: number) =>
      measure({ url: baselineUrl, duration: seconds, tokens: baseline.tokens, distinct: false });

    log(`${TARGET_LABEL[target]}: #${baseline.number} ${baseline.label}, warm-up`);
    await baselineSlice(settings.warmup);
    const memory = await server.memory();
    baselineMemory = { rss: memory.rss, heapUsed: memory.heapUsed };

    for (const s of scenarios) {
      log(`${TARGET_LABEL[target]}: #${s.number} ${s.label}`);
      const url = `${server.url}${s.path}`;
      as.resetHits();
      await load.run({
        url,
        duration: settings.warmup,
        tokens: s.warmupTokens,
        distinct: s.distinct,
      });
      const warmup = asCalls(as);
      as.resetHits();
      const measured: SliceResult[] = [];
      const paired: SliceResult[] = [];
      if (s.distinct) {
        // Each chunk of fresh tokens is sent once; a short baseline slice precedes each chunk.
        // A chunk holds at least MIN_DISTINCT_CHUNK tokens: smaller ones last a fraction of a
        // second, and their figure is mostly connection set-up and load-generator start.
        const count = Math.max(
          1,
          Math.min(settings.slices, Math.floor(s.tokens.length / MIN_DISTINCT_CHUNK)),
        );
        const baseSeconds = Math.max(0.5, settings.duration / (2 * count));
        for (const chunk of chunks(s.tokens, count)) {
          paired.push(await baselineSlice(baseSeconds));
          measured.push(await measure({ url, duration: 0, tokens: chunk, distinct: true }));
        }
      } else {
        const seconds = settings.duration / settings.slices;
        for (let k = 0; k < settings.slices; k++) {
          paired.push(await baselineSlice(seconds));
          measured.push(
            await measure({ url, duration: seconds, tokens: s.tokens, distinct: false }),
          );
        }
      }
      const calls = asCalls(as);
      const mem = await server.memory();
      const result = summarize(measured);
      const pairedBaseline = summarize(paired);
      allBaselineSlices.push(...paired);
      rows.push({
        number: s.number,
        target,
        scenario: s.id,
        label: s.label,
        tokens: s.distinct ? s.tokens.length : 1,
        load: result,
        pairedBaseline,
        ratio: pairedRatio(measured, paired),
        authorizationServer: { warmup, measured: calls },
        server: { rss: mem.rss, heapUsed: mem.heapUsed },
      });
    }
    const all = summarize(allBaselineSlices);
    rows.unshift({
      number: baseline.number,
      target,
      scenario: 'baseline',
      label: baseline.label,
      tokens: 1,
      load: all,
      pairedBaseline: all,
      ratio: 1,
      authorizationServer: {
        warmup: { introspections: 0, jwks: 0 },
        measured: { introspections: 0, jwks: 0 },
      },
      server: baselineMemory,
    });
  } finally {
    await server.stop();
  }
  return rows;
}

// ---------------------------------------------------------------- machine & output

function version(name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  const names = [
    '@nestjs/core',
    'express',
    'fastify',
    'express-oauth2-jwt-bearer',
    'jose',
    'oidc-provider',
    'autocannon',
  ];
  return {
    cpus: availableParallelism(),
    cpuModel,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg(),
    date: new Date().toISOString(),
    versions: Object.fromEntries(names.map((n) => [n, version(n)])),
  };
}

function readCacheMemory(): unknown {
  const file = join(resultsDir, 'cache-memory.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    log(`bench/results/cache-memory.json is not readable JSON (${String(error)}); left out`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const info = machine();
  log(
    `${settings.mode} mode: ${info.cpus} × ${info.cpuModel}, Node.js ${info.node}, targets ${targets.join(', ')}`,
  );
  const as = await startAuthorizationServer();
  const load = new LoadGenerator();
  const rows: Row[] = [];
  try {
    log(
      `minting ${2 * settings.distinctTokens + settings.warmupTokens + opaqueWarmup() + 2} tokens`,
    );
    const tokens = await mintTokens(as);
    for (const target of targets) rows.push(...(await runTarget(target, as, load, tokens)));
  } finally {
    load.close();
    await as.close();
  }

  const cacheMemory = readCacheMemory();
  const goals = evaluateGoals(rows, inProcessJwtMiss(cacheMemory));
  const broken = failures(rows);
  const seconds = Math.round((Date.now() - started) / 1000);

  process.stdout.write(`\n${consoleTable(rows)}\n\n`);
  for (const g of goals)
    process.stdout.write(`${g.met ? 'met   ' : 'MISSED'}  ${g.name}: ${g.detail}\n`);
  process.stdout.write(
    `\n${info.cpus} × ${info.cpuModel}, Node.js ${info.node}, ${info.date}; ${settings.connections} connections; ${seconds} s in all\n`,
  );

  mkdirSync(resultsDir, { recursive: true });
  const results = { machine: info, settings, rows, goals, failures: broken, cacheMemory, seconds };
  if (ci || partial) {
    // Short, filtered or profiled runs never replace the published figures.
    const file = join(resultsDir, ci ? 'ci.tmp.json' : 'partial.tmp.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(
      `results: ${relative(root, file)} (${ci ? 'ci mode' : 'filtered or profiled run'}: docs/benchmarks.md and bench/results/http.json untouched)`,
    );
  } else {
    const raw = join(resultsDir, 'http.json');
    writeFileSync(raw, `${JSON.stringify(results, null, 2)}\n`);
    const block = markdownReport({
      rows,
      machine: info,
      settings,
      goals,
      cacheMemory,
      resultsFile: relative(root, raw),
    });
    await writeGeneratedSection(join(root, 'docs/benchmarks.md'), block);
    log(`results: ${relative(root, raw)}, docs/benchmarks.md`);
  }
  if (broken.length > 0) {
    process.stderr.write(`\nFunctional failures:\n${broken.map((b) => `  - ${b}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
  killChildren();
});
