/**
 * `npm run bench:report`: redraws the generated section of docs/benchmarks.md from the last full
 * run (bench/results/http.json) and the last `npm run bench:cache` (cache-memory.json), without
 * measuring anything. For a change to the report's layout; new figures need `npm run bench`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  evaluateGoals,
  inProcessJwtMiss,
  markdownReport,
  writeGeneratedSection,
  type Goal,
  type Machine,
  type Row,
  type Settings,
} from './report.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..'); // from dist-bench/bench/http
const resultsDir = join(root, 'bench/results');

interface Results {
  machine: Machine;
  settings: Settings;
  rows: Row[];
  goals: Goal[];
  cacheMemory?: unknown;
}

const results = JSON.parse(readFileSync(join(resultsDir, 'http.json'), 'utf8')) as Results;
const cacheMemoryFile = join(resultsDir, 'cache-memory.json');
const cacheMemory: unknown = existsSync(cacheMemoryFile)
  ? JSON.parse(readFileSync(cacheMemoryFile, 'utf8'))
  : results.cacheMemory;

const block = markdownReport({
  rows: results.rows,
  machine: results.machine,
  settings: results.settings,
  goals: evaluateGoals(results.rows, inProcessJwtMiss(cacheMemory)),
  cacheMemory,
  resultsFile: 'bench/results/http.json',
});
await writeGeneratedSection(join(root, 'docs/benchmarks.md'), block);
process.stdout.write(
  'docs/benchmarks.md: generated section redrawn from bench/results/http.json\n',
);
