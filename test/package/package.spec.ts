/**
 * Package smoke test: the packed tarball, installed like a user installs it, in two apps.
 *
 * - `cjs-nest11`: CommonJS NestJS 11 as `nest new` makes it (`module: commonjs`,
 *   `moduleResolution: node`). Its own tsc proves our `.d.ts` check under node10 resolution;
 *   running it proves Node's require(esm) loads the package (no top-level await anywhere).
 * - `esm-nest12`: ESM NestJS 12 (`module: nodenext`), loaded with `import`.
 *
 * Each app is copied to a work folder outside this repository, so that module resolution
 * cannot fall back to the repository's own node_modules and hide a missing dependency. Its
 * install is reused while the tarball and the app's package.json are unchanged.
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
import { join } from 'node:path';
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

const MINUTE = 60_000;

/** The environment for child processes, less npm's own variables (from `npm run`), which
 * would point a nested npm at this repository's config and prefix. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  delete env.NODE_ENV;
  return { ...env, ...extra };
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeout: number,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), timeout, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
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
    console.info(`${app}: npm install took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else {
    console.info(`${app}: reusing the install in ${dir} (tarball and package.json unchanged)`);
  }

  // Sources are always copied afresh; only node_modules is reused.
  for (const entry of ['src', 'dist', 'tsconfig.json', 'tsconfig.tsbuildinfo']) {
    await rm(join(dir, entry), { recursive: true, force: true });
  }
  await cp(join(src, 'src'), join(dir, 'src'), { recursive: true });
  await cp(join(src, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  await run(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'],
    dir,
    2 * MINUTE,
  );
  return dir;
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

const children = new Set<ChildProcess>();
function killChildren(signal: NodeJS.Signals): void {
  for (const child of children) child.kill(signal);
}
// Last resort if jest dies without running afterAll.
process.once('exit', () => killChildren('SIGKILL'));

let as: AuthorizationServer | undefined;
let packDir: string | undefined;
const appDirs = new Map<AppName, string>();
const running = new Map<AppName, RunningApp>();
// Real client-credentials tokens from the fixture's token endpoint.
let writeToken: string;
let readToken: string;
let opaqueToken: string;

beforeAll(async () => {
  let started = Date.now();
  if (process.env.PACKAGE_TEST_SKIP_BUILD !== '1') {
    await run('npm', ['run', 'build'], ROOT, 5 * MINUTE);
    console.info(`npm run build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  packDir = await mkdtemp(join(tmpdir(), 'nestjs-oidc-resource-pack-'));
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir],
    ROOT,
    2 * MINUTE,
  );
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  const tarball = join(packDir, filename);
  const tarballHash = await sha256(tarball);

  started = Date.now();
  const dirs = await Promise.all(APPS.map((app) => prepareApp(app, tarball, tarballHash)));
  APPS.forEach((app, i) => appDirs.set(app, dirs[i]!));
  console.info(`apps installed and compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  as = await startAuthorizationServer();
  const env = {
    OIDC_ISSUER: as.issuer,
    OIDC_AUDIENCE: API,
    OIDC_CLIENT_ID: RS_CLIENT.id,
    OIDC_CLIENT_SECRET: RS_CLIENT.secret,
    PORT: '0',
  };
  await Promise.all(APPS.map(async (app, i) => running.set(app, await startApp(dirs[i]!, env))));
  writeToken = await as.clientCredentials({ scope: 'api:read api:write' });
  readToken = await as.clientCredentials({ scope: 'api:read' });
  opaqueToken = await as.clientCredentials({ clientId: CLIENTS.ccOpaque.id, scope: 'api:read' });
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
}, MINUTE);

describe.each(APPS)('packed tarball in %s', (app) => {
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
    const result = await run(
      process.execPath,
      [
        'node_modules/typescript/bin/tsc',
        ...['-p', 'tsconfig.json', '--noEmit', '--incremental', 'false', '--skipLibCheck', 'false'],
      ],
      dir,
      2 * MINUTE,
    ).catch((error: Error) => ({ stdout: error.message, stderr: '' }));
    const ours = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((line) => line.includes('node_modules/nestjs-oidc-resource/'));
    expect(ours).toEqual([]);
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
