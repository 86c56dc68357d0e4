/**
 * Package smoke test: the packed tarball, installed like a user installs it, in two apps, and
 * the tarball a clean clone packs.
 *
 * - `cjs-nest11`: a CommonJS NestJS 11 app as `nest new` (schematics 11) makes it, its jest
 *   config untouched. Its own tsc proves our `.d.ts` under `nodenext` (the `require` types) and
 *   `node` (node10) resolution; running it proves `require()` loads the package; its own jest +
 *   ts-jest (the package.json block and test/jest-e2e.json as generated) runs a unit spec and an
 *   e2e spec against real tokens, on Node.js 20 (this process's) and on Node.js 22 (fetched from
 *   the npm registry as `node-<platform>-<arch>`), and docs/testing.md's end-to-end spec with
 *   the testing kit, verbatim (compared byte for byte with the docs).
 * - `esm-nest12`: an ESM NestJS 12 app (`module: nodenext`) that `import`s it, served by
 *   `node dist/main.js` and tested under vitest (unplugin-swc) and under jest in native ESM
 *   (`--experimental-vm-modules`, @swc/jest, the config docs/testing.md shows) on Node.js 20
 *   and 22; both run the docs spec with the ESM changes the docs name (`.js` on the app's own
 *   import and on `supertest/types`).
 * - A clean clone of HEAD (no dist/), `npm ci`, `npm pack`: `prepack` must build, and the
 *   tarball must hold both builds.
 *
 * Each app is copied to a work folder outside this repository, so that module resolution
 * cannot fall back to the repository's own node_modules and hide a missing dependency. Its
 * install is reused while the tarball, the app's package.json and Node.js are unchanged.
 *
 * Run with `npm run test:package` (separate jest config: installs take minutes, not seconds).
 * `PACKAGE_TEST_SKIP_BUILD=1` packs the existing dist/ without rebuilding it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  API,
  CLIENTS,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APPS_SRC = fileURLToPath(new URL('.', import.meta.url));
// One work folder per checkout, so that two checkouts testing at once do not share installs.
const WORK = join(
  tmpdir(),
  'nestjs-oidc-resource-package-test',
  createHash('sha256').update(ROOT).digest('hex').slice(0, 12),
);
const APPS = ['cjs-nest11', 'esm-nest12'] as const;
type AppName = (typeof APPS)[number];

/** What is copied of each app besides package.json, the tsconfig that builds it, and those
 * that type-check it with its specs. */
const APP_LAYOUT: Record<AppName, { files: string[]; build: string; typeCheck: string[] }> = {
  'cjs-nest11': {
    files: ['src', 'test', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.node10.json'],
    build: 'tsconfig.build.json',
    typeCheck: ['tsconfig.json', 'tsconfig.node10.json'],
  },
  'esm-nest12': {
    files: ['src', 'test', 'tsconfig.json', 'tsconfig.spec.json', 'vitest.config.ts'],
    build: 'tsconfig.json',
    typeCheck: ['tsconfig.spec.json'],
  },
};

/** The second Node.js line the apps' own test runners are run on (ours is the first). */
const OTHER_NODE = { major: '22', range: '^22.12.0' };
/** Packages that a CommonJS Nest 11 user of this library must not need installed. */
const UNWANTED = [
  'graphql',
  '@nestjs/graphql',
  '@nestjs/websockets',
  '@nestjs/terminus',
  '@opentelemetry/api',
  'jose',
];

const MINUTE = 60_000;

/** The tests of docs/testing.md's end-to-end spec (`test/app.e2e-spec.ts` in both apps). */
const DOCS_SPEC_TITLES = [
  'Notes (e2e) lists notes for a token with notes:read (200)',
  'Notes (e2e) refuses a token without notes:read (403)',
  'Notes (e2e) refuses an expired token (401)',
  'Notes (e2e) answers 503 while the issuer is down',
];

/** The jest configs of `nest new` in @nestjs/schematics 11.1.0 (application/files/ts). */
const NEST_NEW_11_JEST = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: 'src',
  testRegex: '.*\\.spec\\.ts$',
  transform: { '^.+\\.(t|j)s$': 'ts-jest' },
  collectCoverageFrom: ['**/*.(t|j)s'],
  coverageDirectory: '../coverage',
  testEnvironment: 'node',
};
const NEST_NEW_11_JEST_E2E = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  testEnvironment: 'node',
  testRegex: '.e2e-spec.ts$',
  transform: { '^.+\\.(t|j)s$': 'ts-jest' },
};

/** The environment for child processes, less npm's own variables (from `npm run`), which
 * would point a nested npm at this repository's config and prefix, and less jest's, which
 * would confuse a nested jest. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|jest_)/i.test(key)) env[key] = value;
  }
  delete env.NODE_ENV;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeout: number,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        env: childEnv(env),
        timeout,
        maxBuffer: 64 * 1024 * 1024,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${command} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`,
            ),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Copies one app to its work folder, installs it with the tarball (or reuses that install)
 * and compiles it with the app's own TypeScript. */
async function prepareApp(app: AppName, tarball: string, tarballHash: string): Promise<string> {
  const src = join(APPS_SRC, app);
  const dir = join(WORK, app);
  const manifest = await readFile(join(src, 'package.json'), 'utf8');
  const key = createHash('sha256')
    .update(tarballHash)
    .update(manifest)
    .update(process.version)
    .digest('hex');
  const keyFile = join(dir, '.install-key');
  const cached =
    existsSync(join(dir, 'node_modules')) &&
    (await readFile(keyFile, 'utf8').catch(() => '')) === key;

  if (!cached) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), manifest);
    await cp(tarball, join(dir, 'nestjs-oidc-resource.tgz'));
    const started = Date.now();
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', './nestjs-oidc-resource.tgz'],
      dir,
      8 * MINUTE,
    );
    await writeFile(keyFile, key);
    console.info(`${app}: npm install took ${seconds(started)}`);
  } else {
    console.info(`${app}: reusing the install in ${dir} (tarball and package.json unchanged)`);
  }

  // Sources are always copied afresh; only node_modules is reused.
  const { files, build } = APP_LAYOUT[app];
  for (const entry of ['dist', 'tsconfig.tsbuildinfo', ...files]) {
    await rm(join(dir, entry), { recursive: true, force: true });
  }
  for (const entry of files) await cp(join(src, entry), join(dir, entry), { recursive: true });
  await tsc(dir, ['-p', build]);
  // The specs too, as the app's editor sees them (nothing is emitted).
  for (const config of APP_LAYOUT[app].typeCheck) await tsc(dir, ['-p', config, '--noEmit']);
  return dir;
}

function tsc(dir: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['node_modules/typescript/bin/tsc', ...args], dir, 2 * MINUTE);
}

/** The Node.js `OTHER_NODE` binary from the npm registry, installed once into the work folder. */
async function provisionOtherNode(): Promise<string> {
  const dir = join(WORK, `node${OTHER_NODE.major}`);
  const pkg = `node-${process.platform}-${process.arch}`;
  const bin = join(dir, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(bin)) {
    const started = Date.now();
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), '{ "private": true }\n');
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${OTHER_NODE.range}`],
      dir,
      5 * MINUTE,
    ).catch((error: Error) => {
      throw new Error(
        `Node.js ${OTHER_NODE.major} is needed from the npm registry (${pkg}@${OTHER_NODE.range}) and could not be installed: ${error.message}`,
      );
    });
    console.info(`Node.js ${OTHER_NODE.major} (${pkg}) installed in ${seconds(started)}`);
  }
  return bin;
}

interface RunningApp {
  url: string;
  child: ChildProcess;
  output: () => string;
}

function startApp(dir: string, env: Record<string, string>): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    const output = () => out;
    const timer = setTimeout(() => {
      reject(new Error(`app in ${dir} did not print LISTENING within 60 s:\n${out}`));
    }, MINUTE);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (out += chunk));
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /^LISTENING (\S+)$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!.replace(/\/$/, ''), child, output });
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`app in ${dir} exited (code ${code}, signal ${signal}):\n${out}`));
    });
  });
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (no keep-alive agent to leave open handles behind). */
function http(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: 20_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The summary a jest (`--json`) or vitest (`--reporter=json`) run writes. */
interface TestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

/**
 * Runs an app's own test runner (`npx jest …` / `npx vitest run`) with `node` (the given binary)
 * first on PATH, fresh tokens in its environment, and returns its JSON report.
 */
async function runAppTests(
  app: AppName,
  nodeBinary: string,
  args: string[],
  label: string,
  extraEnv: Record<string, string> = {},
): Promise<TestReport> {
  const dir = appDirs.get(app);
  if (!dir) throw new Error(`${app} was not prepared`);
  const report = join(dir, `report-${label}.json`);
  await rm(report, { force: true });
  const major = process.versions.node.split('.')[0]!;
  const { stdout: version } = await run(nodeBinary, ['--version'], dir, MINUTE);
  const wanted = nodeBinary === process.execPath ? major : OTHER_NODE.major;
  expect(version.trim()).toMatch(new RegExp(`^v${wanted}\\.`));
  const started = Date.now();
  const result = await run('npx', [...args, `--outputFile=${report}`], dir, 5 * MINUTE, {
    ...appEnv(),
    ...(await mintTokens()),
    EXPECT_NODE_MAJOR: wanted,
    PATH: `${dirname(nodeBinary)}${delimiter}${process.env.PATH ?? ''}`,
    CI: 'true',
    ...extraEnv,
  }).catch((error: Error) => ({ failure: error }));
  console.info(`${app}: ${args.join(' ')} on Node.js ${version.trim()} took ${seconds(started)}`);
  const parsed = JSON.parse(
    await readFile(report, 'utf8').catch(() => 'null'),
  ) as TestReport | null;
  if ('failure' in result || !parsed) {
    throw new Error(
      `${app}: ${args.join(' ')} failed on Node.js ${version.trim()}:\n${'failure' in result ? result.failure.message : 'no report'}`,
    );
  }
  return parsed;
}

function passedTitles(report: TestReport): string[] {
  return report.testResults
    .flatMap((file) => file.assertionResults)
    .filter((test) => test.status === 'passed')
    .map((test) => test.fullName);
}

function expectAllPassed(report: TestReport, atLeast: number): void {
  expect(report.numFailedTests).toBe(0);
  expect(report.numPendingTests).toBe(0);
  expect(report.numPassedTests).toBe(report.numTotalTests);
  expect(report.numPassedTests).toBeGreaterThanOrEqual(atLeast);
}

const children = new Set<ChildProcess>();
function killChildren(signal: NodeJS.Signals): void {
  for (const child of children) child.kill(signal);
}
// Last resort if jest dies without running afterAll.
process.once('exit', () => killChildren('SIGKILL'));

let as: AuthorizationServer | undefined;
let packDir: string | undefined;
let packedFiles: string[] = [];
const appDirs = new Map<AppName, string>();
const running = new Map<AppName, RunningApp>();
// Real client-credentials tokens from the fixture's token endpoint (5-minute lifetime).
let writeToken: string;
let readToken: string;
let opaqueToken: string;
// Started in beforeAll, awaited by their own tests: they overlap the app installs.
let otherNode: Promise<string>;
let cleanClonePack: Promise<{ files: string[]; took: string }>;

function appEnv(): Record<string, string> {
  return {
    OIDC_ISSUER: as!.issuer,
    OIDC_AUDIENCE: API,
    OIDC_CLIENT_ID: RS_CLIENT.id,
    OIDC_CLIENT_SECRET: RS_CLIENT.secret,
  };
}

interface Tokens extends Record<string, string> {
  TOKEN_WRITE: string;
  TOKEN_READ: string;
  TOKEN_OPAQUE: string;
  TOKEN_SUB: string;
}

async function mintTokens(): Promise<Tokens> {
  if (!as) throw new Error('the authorization server is not running');
  return {
    TOKEN_WRITE: await as.clientCredentials({ scope: 'api:read api:write' }),
    TOKEN_READ: await as.clientCredentials({ scope: 'api:read' }),
    TOKEN_OPAQUE: await as.clientCredentials({
      clientId: CLIENTS.ccOpaque.id,
      scope: 'api:read',
    }),
    TOKEN_SUB: CLIENTS.ccJwt.id,
  };
}

/** `npm ci` and `npm pack` in a clone of HEAD: what `npm publish` from a fresh checkout ships. */
async function packFromCleanClone(destination: string): Promise<{ files: string[]; took: string }> {
  const started = Date.now();
  const dir = join(WORK, 'clean-clone');
  await rm(dir, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  await run('git', ['clone', '--quiet', '--no-hardlinks', ROOT, dir], WORK, 2 * MINUTE);
  if (existsSync(join(dir, 'dist'))) throw new Error('the clone already has dist/');
  // Offline first: the packages are in npm's cache after any earlier install on this machine.
  await run(
    'npm',
    ['ci', '--ignore-scripts=false', '--prefer-offline', '--no-audit', '--no-fund'],
    dir,
    8 * MINUTE,
  );
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts=false', '--json', '--pack-destination', destination],
    dir,
    5 * MINUTE,
  );
  const [{ files }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [
    { files: { path: string }[] },
  ];
  await rm(dir, { recursive: true, force: true });
  return { files: files.map((f) => f.path).sort(), took: seconds(started) };
}

beforeAll(async () => {
  let started = Date.now();
  await mkdir(WORK, { recursive: true });
  otherNode = provisionOtherNode();
  otherNode.catch(() => undefined); // reported by the tests that need it
  if (process.env.PACKAGE_TEST_SKIP_BUILD !== '1') {
    await run('npm', ['run', 'build'], ROOT, 5 * MINUTE);
    console.info(`npm run build took ${seconds(started)}`);
  }
  packDir = await mkdtemp(join(tmpdir(), 'nestjs-oidc-resource-pack-'));
  const cloneDir = await mkdtemp(join(tmpdir(), 'nestjs-oidc-resource-clone-pack-'));
  cleanClonePack = packFromCleanClone(cloneDir).finally(() =>
    rm(cloneDir, { recursive: true, force: true }),
  );
  cleanClonePack.catch(() => undefined); // reported by its own test
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir],
    ROOT,
    2 * MINUTE,
  );
  const [{ filename, files }] = JSON.parse(stdout) as [
    { filename: string; files: { path: string }[] },
  ];
  packedFiles = files.map((f) => f.path).sort();
  const tarball = join(packDir, filename);
  const tarballHash = await sha256(tarball);

  started = Date.now();
  const dirs = await Promise.all(APPS.map((app) => prepareApp(app, tarball, tarballHash)));
  APPS.forEach((app, i) => appDirs.set(app, dirs[i]!));
  console.info(`apps installed and compiled in ${seconds(started)}`);

  as = await startAuthorizationServer();
  const env = { ...appEnv(), PORT: '0' };
  await Promise.all(APPS.map(async (app, i) => running.set(app, await startApp(dirs[i]!, env))));
}, 15 * MINUTE);

afterAll(async () => {
  const exits = [...children].map(
    (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
  );
  killChildren('SIGTERM');
  const timer = setTimeout(() => killChildren('SIGKILL'), 5_000);
  await Promise.all(exits);
  clearTimeout(timer);
  await as?.close();
  if (packDir) await rm(packDir, { recursive: true, force: true });
  // Let a clean-clone pack still under way (its test failed) finish before the folder goes.
  await cleanClonePack?.catch(() => undefined);
}, 10 * MINUTE);

describe.each(APPS)('packed tarball in %s', (app) => {
  beforeAll(async () => {
    ({
      TOKEN_WRITE: writeToken,
      TOKEN_READ: readToken,
      TOKEN_OPAQUE: opaqueToken,
    } = await mintTokens());
  });

  const base = () => {
    const running_ = running.get(app);
    if (!running_) throw new Error(`${app} is not running`);
    return running_.url;
  };

  it('has .d.ts files that type-check with skipLibCheck off', async () => {
    // `nest new` sets skipLibCheck, which hides an error in our .d.ts (a type that does not
    // resolve here silently becomes `any`). Check them fully; other packages' declarations are
    // not ours to judge, so only errors inside nestjs-oidc-resource count.
    const dir = appDirs.get(app)!;
    for (const config of APP_LAYOUT[app].typeCheck) {
      const result = await tsc(dir, [
        ...['-p', config, '--noEmit', '--incremental', 'false', '--skipLibCheck', 'false'],
      ]).catch((error: Error) => ({ stdout: error.message, stderr: '' }));
      const ours = `${result.stdout}\n${result.stderr}`
        .split('\n')
        .filter((line) => line.includes('node_modules/nestjs-oidc-resource/'));
      expect({ config, ours }).toEqual({ config, ours: [] });
    }
  });

  it('serves a @Public() route without a token', async () => {
    const res = await http('GET', `${base()}/health`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok', runtime: app });
  });

  it('answers 401 with a bare Bearer challenge when no token is sent', async () => {
    const res = await http('GET', `${base()}/me`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+"$/);
  });

  it('accepts a client-credentials JWT and returns the principal', async () => {
    const res = await http('GET', `${base()}/me`, { authorization: `Bearer ${writeToken}` });
    expect(res.status).toBe(200);
    const principal = JSON.parse(res.body) as Record<string, unknown>;
    expect(principal).toMatchObject({
      sub: CLIENTS.ccJwt.id,
      clientId: CLIENTS.ccJwt.id,
      issuer: as!.issuer,
      source: 'jwt',
    });
    expect(principal.scopes).toEqual(expect.arrayContaining(['api:read', 'api:write']));
    expect(res.body).not.toContain(writeToken);
  });

  it('refuses a read-only token on the @Scopes("api:write") route with 403', async () => {
    const res = await http('POST', `${base()}/notes`, { authorization: `Bearer ${readToken}` });
    expect(res.status).toBe(403);
    const challenge = res.headers['www-authenticate'];
    expect(challenge).toMatch(/^Bearer realm="[^"]+"/);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="api:write"');
  });

  it('lets a token with api:write through the scoped route', async () => {
    const res = await http('POST', `${base()}/notes`, { authorization: `Bearer ${writeToken}` });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toEqual({ createdBy: CLIENTS.ccJwt.id });
  });

  it('accepts an opaque token through introspection', async () => {
    const res = await http('GET', `${base()}/me`, { authorization: `Bearer ${opaqueToken}` });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      clientId: CLIENTS.ccOpaque.id,
      source: 'introspection',
    });
  });
});

describe('cjs-nest11: the nest new project’s own jest + ts-jest, config unmodified', () => {
  const versions = () => [
    {
      name: `Node.js ${process.versions.node.split('.')[0]}`,
      binary: () => Promise.resolve(process.execPath),
    },
    { name: `Node.js ${OTHER_NODE.major}`, binary: () => otherNode },
  ];

  it('keeps the jest config `nest new` (schematics 11.1) generates, unmodified', async () => {
    const dir = join(APPS_SRC, 'cjs-nest11');
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      jest: unknown;
      type?: string;
    };
    const e2e = JSON.parse(await readFile(join(dir, 'test', 'jest-e2e.json'), 'utf8')) as unknown;
    expect(manifest.type).toBeUndefined(); // CommonJS
    expect(manifest.jest).toEqual(NEST_NEW_11_JEST);
    expect(e2e).toEqual(NEST_NEW_11_JEST_E2E);
  });

  it('has none of the packages the library does not need (GraphQL, WebSockets, OpenTelemetry, terminus, jose)', () => {
    const dir = appDirs.get('cjs-nest11')!;
    expect(UNWANTED.filter((name) => existsSync(join(dir, 'node_modules', name)))).toEqual([]);
    // the check looks where it should: packages that are there are seen
    expect(existsSync(join(dir, 'node_modules', '@nestjs', 'passport'))).toBe(true);
  });

  it('runs `npx nestjs-oidc-resource doctor` (the bin, from the tarball) without OpenTelemetry or terminus', async () => {
    const dir = appDirs.get('cjs-nest11')!;
    const token = await as!.clientCredentials({ scope: 'api:read' });
    // In a file, as docs/doctor.md advises: run() echoes its command line when it fails.
    await writeFile(join(dir, 'token.txt'), token);
    const args = [
      '--no',
      'nestjs-oidc-resource',
      'doctor',
      '--issuer',
      as!.issuer,
      '--token-file',
      'token.txt',
    ];
    const { stdout } = await run('npx', [...args, '--audience', API, '--json'], dir, MINUTE);
    expect(stdout).not.toContain(token);
    const diagnosis = JSON.parse(stdout) as {
      ok: boolean;
      findings: { check: string; status: string }[];
    };
    expect(diagnosis.findings.map((f) => `${f.check}:${f.status}`)).toEqual([
      'discovery:pass',
      'jwks:pass',
      'token:pass',
      'scopes:pass',
    ]);
    expect(diagnosis.ok).toBe(true);
    // A refused token: exit code 1 (run() rejects, with the output) and the option to change.
    const failed = await run(
      'npx',
      [...args, '--audience', 'https://not-this-api.example'],
      dir,
      MINUTE,
    )
      .then(() => 'exit 0')
      .catch((error: Error) => error.message);
    expect(failed).toContain('Command failed');
    expect(failed).toContain('option: audience');
    expect(failed).not.toContain(token);
    const { stdout: kinds } = await run(
      process.execPath,
      [
        '-e',
        "console.log(typeof require('nestjs-oidc-resource/doctor').diagnose, typeof require('nestjs-oidc-resource').OidcHealthIndicator)",
      ],
      dir,
      MINUTE,
    );
    expect(kinds.trim()).toBe('function function');
  });

  it('require() gets the CJS build, import() the ESM one; they agree on every token; no top-level await', async () => {
    // A process that loads both builds (a dependency imports what the app requires) gets two
    // module instances: injection tokens and metadata keys must still be the same values.
    const script = `
      const cjs = require('nestjs-oidc-resource');
      import('nestjs-oidc-resource').then((esm) => {
        const names = Object.keys(cjs).filter((k) => typeof cjs[k] === 'symbol' || typeof cjs[k] === 'string');
        // require(esm) of the ESM builds themselves: it throws ERR_REQUIRE_ASYNC_MODULE if any
        // module in their graphs used top-level await.
        const path = require('node:path');
        const esmDir = path.join(path.dirname(require.resolve('nestjs-oidc-resource')), '..', 'esm');
        const viaRequire = [path.join(esmDir, 'index.js'), path.join(esmDir, 'testing', 'index.js')]
          .map((file) => Object.keys(require(file)).length);
        console.log(JSON.stringify({
          two: cjs.OidcResourceModule !== esm.OidcResourceModule,
          viaRequire,
          cjsPath: require.resolve('nestjs-oidc-resource'),
          names,
          differ: names.filter((k) => cjs[k] !== esm[k]),
        }));
      });`;
    const { stdout } = await run(
      process.execPath,
      ['-e', script],
      appDirs.get('cjs-nest11')!,
      MINUTE,
    );
    const result = JSON.parse(stdout) as {
      two: boolean;
      viaRequire: number[];
      cjsPath: string;
      names: string[];
      differ: string[];
    };
    expect(result.two).toBe(true);
    expect(result.viaRequire).toEqual([expect.any(Number), expect.any(Number)]);
    expect(Math.min(...result.viaRequire)).toBeGreaterThan(0);
    expect(result.cjsPath).toMatch(/[\\/]dist[\\/]cjs[\\/]index\.js$/);
    expect(result.names).toEqual(
      expect.arrayContaining([
        'OIDC_RESOURCE_OPTIONS',
        'SCOPES_METADATA_KEY',
        'OIDC_BEARER_STRATEGY',
      ]),
    );
    expect(result.differ).toEqual([]);
  });

  it.each(versions())(
    '$name: `npx jest` (the package.json block) runs the unit spec that imports the decorated controller',
    async ({ name, binary }) => {
      const report = await runAppTests(
        'cjs-nest11',
        await binary(),
        ['jest', '--json'],
        `jest-unit-${name.replace(/\D/g, '')}`,
      );
      expectAllPassed(report, 2);
    },
    10 * MINUTE,
  );

  it.each(versions())(
    '$name: `npx jest --config ./test/jest-e2e.json` calls guarded routes with real tokens',
    async ({ name, binary }) => {
      const report = await runAppTests(
        'cjs-nest11',
        await binary(),
        ['jest', '--config', './test/jest-e2e.json', '--json'],
        `jest-e2e-${name.replace(/\D/g, '')}`,
      );
      expectAllPassed(report, 18);
      expect(passedTitles(report)).toEqual(
        expect.arrayContaining([
          'the package in a nest new NestJS 11 app runs on the Node.js major the runner asked for',
          'the package in a nest new NestJS 11 app is loaded from the CommonJS build',
          'OidcAuthGuard with @UseGuards() and global: false (e2e) 200 with the scope',
          'OidcAuthGuard with @UseGuards() and global: false (e2e) 403 without the scope',
          'OidcAuthGuard with @UseGuards() and global: false (e2e) 401 without a token',
          'AppModule: forRoot() with the global guard (e2e) /notes (POST) with api:write is 201',
          'the package in a nest new NestJS 11 app loads nestjs-oidc-resource/testing from the CommonJS build too',
          ...DOCS_SPEC_TITLES,
        ]),
      );
    },
    10 * MINUTE,
  );
});

describe('esm-nest12: vitest (unplugin-swc) and jest (native ESM, @swc/jest)', () => {
  const versions = () => [
    {
      name: `Node.js ${process.versions.node.split('.')[0]}`,
      binary: () => Promise.resolve(process.execPath),
    },
    { name: `Node.js ${OTHER_NODE.major}`, binary: () => otherNode },
  ];

  it.each(versions())(
    '$name: `npx vitest run` calls guarded routes with real tokens and runs the docs spec',
    async ({ name, binary }) => {
      const report = await runAppTests(
        'esm-nest12',
        await binary(),
        ['vitest', 'run', '--reporter=json'],
        `vitest-${name.replace(/\D/g, '')}`,
      );
      expectAllPassed(report, 8);
      expect(passedTitles(report)).toEqual(
        expect.arrayContaining([
          'the package in an ESM NestJS 12 app under vitest runs on the Node.js major the runner asked for',
          ...DOCS_SPEC_TITLES,
        ]),
      );
    },
    10 * MINUTE,
  );

  it.each(versions())(
    '$name: jest in native ESM (`--experimental-vm-modules`) runs the docs spec',
    async ({ name, binary }) => {
      // Only the docs spec: package.e2e-spec.ts imports its globals from vitest. That jest runs at all
      // shows it is in ESM mode: NestJS 12 is ESM-only, which jest's CommonJS runtime cannot load.
      const report = await runAppTests(
        'esm-nest12',
        await binary(),
        ['jest', 'test/app.e2e', '--json'],
        `jest-esm-${name.replace(/\D/g, '')}`,
        { NODE_OPTIONS: '--experimental-vm-modules' },
      );
      expectAllPassed(report, 4);
      expect(passedTitles(report)).toEqual(DOCS_SPEC_TITLES);
    },
    10 * MINUTE,
  );
});

describe('docs/testing.md', () => {
  it('its end-to-end spec is, byte for byte, the one both apps run', async () => {
    const docs = await readFile(join(ROOT, 'docs', 'testing.md'), 'utf8');
    const blocks = [...docs.matchAll(/```ts\n(\/\/ test\/app\.e2e-spec\.ts\n[\s\S]*?)```\n/g)];
    expect(blocks).toHaveLength(1);
    const block = blocks[0]![1]!;
    const spec = (app: AppName) => readFile(join(APPS_SRC, app, 'test', 'app.e2e-spec.ts'), 'utf8');
    expect(await spec('cjs-nest11')).toBe(block);
    // The changes the docs name for an ESM project: `.js` on the app's own import and on
    // supertest's types.
    const esm: [string, string][] = [
      ["from './../src/app.module';", "from './../src/app.module.js';"],
      ["from 'supertest/types';", "from 'supertest/types.js';"],
    ];
    let esmBlock = block;
    for (const [from, to] of esm) {
      expect(esmBlock.split(from)).toHaveLength(2);
      esmBlock = esmBlock.replace(from, to);
    }
    expect(await spec('esm-nest12')).toBe(esmBlock);
    // The jest config the docs give for ESM is the one the app runs.
    const jsonBlocks = [...docs.matchAll(/```json\n([\s\S]*?)```\n/g)];
    expect(jsonBlocks).toHaveLength(1);
    const manifest = JSON.parse(
      await readFile(join(APPS_SRC, 'esm-nest12', 'package.json'), 'utf8'),
    ) as { jest: unknown };
    expect(JSON.parse(jsonBlocks[0]![1]!)).toEqual(manifest.jest);
    // The titles the runners are expected to report are the block's.
    for (const title of DOCS_SPEC_TITLES) {
      expect(block).toContain(`'${title.replace(/^Notes \(e2e\) /, '')}'`);
    }
  });
});

describe('the tarball', () => {
  it('holds both builds with their types, and no tests', () => {
    for (const build of ['esm', 'cjs']) {
      expect(packedFiles).toContain(`dist/${build}/index.js`);
      expect(packedFiles).toContain(`dist/${build}/index.d.ts`);
    }
    expect(packedFiles).toContain('dist/cjs/package.json');
    expect(packedFiles.filter((f) => /\.spec\.|^lib\/|^test\//.test(f))).toEqual([]);
  });

  it(
    'is the same when packed from a clean clone of HEAD (prepack builds; no dist/ before)',
    async () => {
      const { files, took } = await cleanClonePack;
      console.info(`clean clone: npm ci + npm pack took ${took}`);
      expect(files).toContain('dist/esm/index.js');
      expect(files).toContain('dist/cjs/index.js');
      expect(files).toContain('dist/cjs/package.json');
      expect(files).toEqual(packedFiles);
    },
    15 * MINUTE,
  );
});
