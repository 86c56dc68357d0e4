/**
 * Runs the sample the way a newcomer does: `npm start`, wait for the ready line,
 * then run the curl commands it printed and check the answers. Then `npm run dev-as`
 * alone, with the API pointed at it through the variables it prints plus the optional
 * OIDC_* token-check variables.
 *
 * The commands are read from the child's output, not rebuilt here, so the test
 * fails when the printed instructions are wrong (a port, a secret, a scope). Each
 * curl command is translated to `fetch` (the token-extracting `node -pe` snippet
 * runs for real); when bash and curl are installed, the whole block also runs
 * verbatim in bash.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_LINE = 'Ready. Press Ctrl+C to stop.';
const START_TIMEOUT_MS = 180_000; // `npm start` compiles lib/ and sample/ with tsc first

interface CurlResult {
  command: string;
  status: number;
  headers: Headers;
  body: string;
}

let child: ChildProcess | undefined;
let exited: Promise<unknown> | undefined;
let output = '';
let commandLines: string[] = [];
const vars: Record<string, string> = {};
const results: CurlResult[] = [];

function startSample(): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    DEV_AS_PORT: '0',
    HOST: '127.0.0.1',
    NO_COLOR: '1',
  };
  for (const name of Object.keys(env)) if (name.startsWith('OIDC_')) delete env[name];
  // Under `npm test`, npm_execpath is npm's own CLI script: run `npm start` with it.
  const npmCli = process.env['npm_execpath'];
  const [command, args] = npmCli ? [process.execPath, [npmCli, 'start']] : ['npm', ['start']];
  child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32', // its own process group, so that afterAll can stop npm, tsc and node together
  });
  exited = once(child, 'exit');
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes(READY_LINE)) resolve();
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', onData);
    child!.once('exit', (code, signal) =>
      reject(
        new Error(
          `npm start exited (code ${code}, signal ${signal}) before it was ready:\n${output}`,
        ),
      ),
    );
    child!.once('error', reject);
  });
}

function killSample(signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Splits a shell command line into words: quotes and `$VAR` expansion, as bash would for these commands. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  const expand = (from: number): number => {
    const name = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(line.slice(from))?.[1];
    if (!name) throw new Error(`cannot expand $ in: ${line}`);
    const value = vars[name];
    if (value === undefined) throw new Error(`$${name} is used before it is set: ${line}`);
    word += value;
    return from + 1 + name.length;
  };
  for (let i = 0; i < line.length;) {
    const c = line[i]!;
    if (c === ' ') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unbalanced ' in: ${line}`);
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`unbalanced " in: ${line}`);
        if (line[i] === '$') i = expand(i);
        else word += line[i++];
      }
      i++;
    } else if (c === '$') {
      i = expand(i);
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Performs a curl command (the options the sample prints) with fetch. */
async function curl(command: string): Promise<CurlResult> {
  const words = shellWords(command);
  if (words.shift() !== 'curl') throw new Error(`not a curl command: ${command}`);
  const headers = new Headers();
  const data: string[] = [];
  let url: string | undefined;
  let method: string | undefined;
  while (words.length > 0) {
    const word = words.shift()!;
    const value = (): string => {
      const next = words.shift();
      if (next === undefined) throw new Error(`${word} needs a value: ${command}`);
      return next;
    };
    if (word === '-s' || word === '-i' || word === '-si') continue;
    else if (word === '-w')
      value(); // output format only
    else if (word === '-X') method = value();
    else if (word === '-u')
      headers.set('authorization', `Basic ${Buffer.from(value()).toString('base64')}`);
    else if (word === '-H') {
      const header = value();
      const colon = header.indexOf(':');
      headers.set(header.slice(0, colon).trim(), header.slice(colon + 1).trim());
    } else if (word === '-d') data.push(value());
    else if (word === '--data-urlencode') {
      const [name, ...rest] = value().split('=');
      data.push(`${name}=${encodeURIComponent(rest.join('='))}`);
    } else if (word.startsWith('-'))
      throw new Error(`curl option ${word} is not understood by this test: ${command}`);
    else url = word;
  }
  if (!url) throw new Error(`no URL in: ${command}`);
  if (data.length > 0 && !headers.has('content-type'))
    headers.set('content-type', 'application/x-www-form-urlencoded');
  const response = await fetch(url, {
    method: method ?? (data.length > 0 ? 'POST' : 'GET'),
    headers,
    ...(data.length > 0 ? { body: data.join('&') } : {}),
  });
  return {
    command,
    status: response.status,
    headers: response.headers,
    body: await response.text(),
  };
}

const ASSIGNMENT = /^([A-Z_][A-Z0-9_]*)=\$\((curl .*) \| node -pe '([^']*)'\)$/;

/** Runs the printed commands in order; `VAR=$(curl … | node -pe '…')` runs the node snippet for real. */
async function runPrintedCommands(): Promise<void> {
  for (const line of commandLines) {
    const assignment = ASSIGNMENT.exec(line);
    if (assignment) {
      const [, name, curlCommand, script] = assignment as unknown as [
        string,
        string,
        string,
        string,
      ];
      const result = await curl(curlCommand);
      // 200 for a token, 201 for a created note.
      expect({ command: curlCommand, ok: result.status === 200 || result.status === 201 }).toEqual({
        command: curlCommand,
        ok: true,
      });
      const extracted = spawnSync(process.execPath, ['-pe', script], {
        input: result.body,
        encoding: 'utf8',
      });
      expect(extracted.status).toBe(0);
      vars[name] = extracted.stdout.trim();
      continue;
    }
    if (line.startsWith('node dist-sample/')) {
      // The DPoP client script (curl cannot sign proofs): run as printed, from the repository.
      const [, ...args] = shellWords(line);
      const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
      results.push({
        command: line,
        status: run.status ?? -1,
        headers: new Headers(),
        body: run.stdout,
      });
      continue;
    }
    if (!line.startsWith('curl ')) throw new Error(`unexpected printed command: ${line}`);
    results.push(await curl(line));
  }
}

function find(predicate: (command: string) => boolean, nth = 0): CurlResult {
  const found = results.filter((r) => predicate(r.command))[nth];
  if (!found)
    throw new Error(`no printed command matched; commands were:\n${commandLines.join('\n')}`);
  return found;
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

beforeAll(async () => {
  try {
    await startSample();
  } catch (error) {
    killSample('SIGKILL');
    throw error;
  }
  const lines = output.split(/\r?\n/);
  const first = lines.findIndex((line) => line.startsWith('# 1.'));
  const last = lines.indexOf(READY_LINE);
  commandLines = lines
    .slice(first, last)
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
}, START_TIMEOUT_MS);

afterAll(async () => {
  killSample('SIGKILL');
  await exited;
});

describe('the sample (npm start)', () => {
  it('prints a development-only banner for its embedded authorization server', () => {
    expect(output).toContain('DEVELOPMENT ONLY');
    expect(output).toMatch(/issuer http:\/\/127\.0\.0\.1:\d+ /);
  });

  it("explains oidc-provider's runtime support instead of its warning", () => {
    expect(output).not.toContain('WARNING: Unsupported runtime');
    if (Number(process.versions.node.split('.')[0]) < 22) {
      expect(output).toContain('supports Node.js 22+');
      expect(output).toContain('nestjs-oidc-resource itself supports Node.js ^20.19');
    }
  });

  it('prints the token checks in force (the defaults, with no OIDC_* variable set)', () => {
    expect(output).toContain(
      'Token checks: tokenFormat default (OIDC_TOKEN_FORMAT unset), algorithms default ' +
        '(OIDC_ALGORITHMS unset), requireJwtAccessTokenType default ' +
        '(OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE unset), introspection as notes-api.',
    );
  });

  it('answers the printed curl commands as the comments say', async () => {
    expect(commandLines.length).toBeGreaterThanOrEqual(12);
    await runPrintedCommands();

    const health = find((c) => c.endsWith('/health'));
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });

    const noToken = find((c) => c.endsWith('/notes') && !c.includes('Authorization'));
    expect(noToken.status).toBe(401);
    // DPoP is allowed with the dev authorization server: both schemes are offered.
    expect(noToken.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="([^"]+)", DPoP realm="\1", algs="ES256 EdDSA PS256 RS256"$/,
    );

    // A JWT access token (RFC 9068), verified locally.
    const [header] = vars['TOKEN']!.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({
      typ: 'at+jwt',
    });
    const list = find((c) => c.includes('$TOKEN') && c.endsWith('/notes') && !c.includes(' -d '));
    expect(list.status).toBe(200);
    expect(Array.isArray(JSON.parse(list.body))).toBe(true);
    const created = find((c) => c.includes('$TOKEN') && c.includes(' -d '));
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ text: 'Buy milk', author: 'demo-jwt-client' });

    // A read-only token on a write route.
    const forbidden = find((c) => c.includes('$READ_TOKEN') && c.includes(' -d '));
    expect(forbidden.status).toBe(403);
    const challenge = forbidden.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer realm="/);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="notes:write"');

    // An opaque token, introspected once, then served from the cache.
    expect(vars['OPAQUE_TOKEN']).not.toContain('.');
    expect(find((c) => c.includes('$OPAQUE_TOKEN'), 0).status).toBe(200);
    expect(find((c) => c.includes('$OPAQUE_TOKEN'), 1).status).toBe(200);

    // The demo user's token: the principal, then UserInfo.
    const me = find((c) => c.includes('$USER_TOKEN') && c.endsWith('/me'));
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({
      sub: 'alice',
      scopes: ['openid', 'profile', 'email'],
    });
    const profile = find((c) => c.includes('$USER_TOKEN') && c.endsWith('/me/profile'));
    expect(profile.status).toBe(200);
    expect(JSON.parse(profile.body)).toMatchObject({ sub: 'alice', email: 'alice@example.com' });

    // Roles: the JWT client's tokens carry notes-admin, the opaque client's do not.
    const stats = find((c) => c.includes('$TOKEN') && c.endsWith('/notes/stats'));
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body)).toMatchObject({ 'demo-jwt-client': 1, sample: 1 });
    const noRole = find((c) => c.includes('$OPAQUE_TOKEN') && c.endsWith('/notes/stats'));
    expect(noRole.status).toBe(403);
    expect(noRole.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="[^"]+", error="insufficient_scope", error_description="[^"]*notes-admin[^"]*"$/,
    );

    // Ownership: the opaque client may not delete the JWT client's note; its author may.
    expect(vars['NOTE_ID']).toMatch(/^\d+$/);
    const notOwner = find((c) => c.includes('DELETE') && c.includes('$OPAQUE_TOKEN'));
    expect(notOwner.status).toBe(403);
    expect(notOwner.headers.get('www-authenticate')).not.toContain('scope=');
    const owner = find((c) => c.includes('DELETE') && c.includes('$TOKEN'));
    expect(owner.status).toBe(204);

    // GraphQL: the same token and scopes on resolvers; a refusal is a GraphQL error whose
    // extensions carry the RFC 6750 error, and the answer carries the REST challenge.
    const graphqlList = find((c) => c.includes('$TOKEN') && c.endsWith('/graphql'));
    expect(graphqlList.status).toBe(200);
    const listed = JSON.parse(graphqlList.body) as { data: { notes: { text: string }[] } };
    expect(listed.data.notes.map((note) => note.text)).toContain('Buy milk');
    const graphqlRefused = find((c) => c.includes('$READ_TOKEN') && c.endsWith('/graphql'));
    const refused = JSON.parse(graphqlRefused.body) as {
      data: unknown;
      errors: { extensions: unknown }[];
    };
    expect(refused.data).toBeNull();
    expect(refused.errors[0]!.extensions).toEqual({
      code: 'FORBIDDEN',
      oauth: {
        error: 'insufficient_scope',
        error_description: 'The access token lacks a required scope',
        scope: 'notes:write',
      },
    });
    expect(graphqlRefused.headers.get('www-authenticate')).toContain(
      'error="insufficient_scope", error_description="The access token lacks a required scope", scope="notes:write"',
    );

    // DPoP: the script got a bound token, its call was answered 200 and its replay 401.
    const dpop = find((c) => c.startsWith('node dist-sample/sample/dpop-call.js '));
    expect(dpop.status).toBe(0);
    expect(dpop.body).toContain('token_type DPoP');
    expect(dpop.body).toMatch(/with a DPoP proof: 200 /);
    expect(dpop.body).toMatch(
      /the same proof again: 401 DPoP realm="[^"]+", error="invalid_dpop_proof"/,
    );

    // What the comments promise about calls to the authorization server: the JWKS
    // is fetched once for all JWT calls, and each opaque token is introspected once.
    // The AS logs after answering: wait for the last expected line itself, not a fixed delay.
    while (count(output, '[dev-as] POST /token/introspection ') < 2)
      await new Promise<void>((resolve) => setImmediate(resolve));
    expect(count(output, '[dev-as] GET /jwks ')).toBe(1);
    expect(count(output, '[dev-as] POST /token/introspection ')).toBe(2);
  }, 60_000);

  const hasBashAndCurl =
    process.platform !== 'win32' &&
    spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).status === 0;

  (hasBashAndCurl ? it : it.skip)(
    'runs verbatim in bash with curl',
    async () => {
      // Asynchronously: a blocking spawnSync would stop this process from draining the sample's output.
      const bash = spawn('bash', ['-c', ['set -eu', ...commandLines].join('\n')], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const run = { stdout: '', stderr: '' };
      bash.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString('utf8')));
      bash.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString('utf8')));
      const [code] = (await once(bash, 'exit')) as [number | null];
      expect({ code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toContain('{"status":"ok"}');
      expect(run.stdout).toMatch(/HTTP\/1\.1 401/);
      expect(run.stdout).toMatch(/HTTP\/1\.1 403/);
      expect(run.stdout).toContain('error="insufficient_scope"');
      expect(run.stdout).toContain('"text":"Buy milk"');
      expect(run.stdout).toContain('"email":"alice@example.com"');
      expect(run.stdout).not.toContain('"statusCode":401,"message":"The access token');
    },
    60_000,
  );

  it('stops both servers on SIGTERM', async () => {
    killSample('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`still running 10 s after SIGTERM:\n${output}`)),
        10_000,
      );
    });
    try {
      await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    expect(output).toMatch(/SIGTERM: stopping the API and the dev authorization server/);
  }, 15_000);
});

/** A child started with `npm run <script>` (or node), in its own process group. */
interface Child {
  process: ChildProcess;
  exited: Promise<unknown>;
  output: () => string;
  /** Resolves once the output contains `text` (a log line may trail the answer it logs). */
  printed: (text: string) => Promise<void>;
}

function npmArgs(script: string): [string, string[]] {
  const npmCli = process.env['npm_execpath'];
  return npmCli ? [process.execPath, [npmCli, 'run', script]] : ['npm', ['run', script]];
}

/** Starts a child and resolves once it printed `until` (or rejects when it exits first). */
function startChild(
  [command, args]: [string, string[]],
  env: Record<string, string>,
  until: string,
): Promise<Child> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  for (const name of Object.keys(childEnv)) {
    if (name.startsWith('OIDC_') && !(name in env)) delete childEnv[name];
  }
  const started = spawn(command, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  const exited = once(started, 'exit');
  let text = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const printed = (wanted: string): Promise<void> =>
    text.includes(wanted)
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ text: wanted, resolve }));
  const child: Child = { process: started, exited, output: () => text, printed };
  return new Promise<Child>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (text.includes(waiters[i]!.text)) waiters.splice(i, 1)[0]!.resolve();
      }
      if (text.includes(until)) resolve(child);
    };
    started.stdout!.on('data', onData);
    started.stderr!.on('data', onData);
    started.once('exit', (code) => reject(Object.assign(new Error(`exited ${code}`), { child })));
    started.once('error', reject);
  });
}

async function stopChild(child: Child | undefined): Promise<void> {
  const pid = child?.process.pid;
  if (!child || !pid || child.process.exitCode !== null || child.process.signalCode !== null)
    return;
  try {
    if (process.platform === 'win32') child.process.kill('SIGKILL');
    else process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await child.exited;
}

describe('npm run dev-as, and the API pointed at it through OIDC_* variables', () => {
  let devAs: Child | undefined;
  let api: Child | undefined;
  /** The variables that dev-as prints for the API, from its "OIDC_ISSUER=… npm start" line. */
  const printed: Record<string, string> = {};

  beforeAll(async () => {
    devAs = await startChild(npmArgs('dev-as'), { DEV_AS_PORT: '0' }, READY_LINE);
    const line = devAs
      .output()
      .split(/\r?\n/)
      .find((l) => l.startsWith('OIDC_ISSUER=') && l.endsWith(' npm start'));
    if (!line)
      throw new Error(`dev-as printed no "OIDC_ISSUER=… npm start" line:\n${devAs.output()}`);
    for (const pair of line.slice(0, -' npm start'.length).split(' ')) {
      const at = pair.indexOf('=');
      printed[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await stopChild(api);
    await stopChild(devAs);
  });

  it("prints every client id and secret, the API's introspection client included", () => {
    const out = devAs!.output();
    expect(out).toContain('DEVELOPMENT ONLY');
    expect(out).not.toContain('WARNING: Unsupported runtime');
    for (const credentials of [
      'demo-jwt-client / demo-jwt-client-secret',
      'demo-opaque-client / demo-opaque-client-secret',
      'notes-api / notes-api-introspection-secret',
    ]) {
      expect(out).toContain(credentials);
    }
    expect(out).toMatch(/demo-web-app \/ [A-Za-z0-9_-]{20,}/);
    expect(printed).toEqual({
      OIDC_ISSUER: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      OIDC_AUDIENCE: 'urn:notes-api',
      OIDC_INTROSPECTION_CLIENT_ID: 'notes-api',
      OIDC_INTROSPECTION_CLIENT_SECRET: 'notes-api-introspection-secret',
    });
  });

  it(
    'serves an API started with the printed variables, and applies the OIDC_* checks',
    async () => {
      api = await startChild(
        npmArgs('start'),
        {
          ...printed,
          PORT: '0',
          HOST: '127.0.0.1',
          OIDC_ALGORITHMS: 'ES256, PS256',
          OIDC_REQUIRE_JWT_ACCESS_TOKEN_TYPE: 'false',
          OIDC_TOKEN_FORMAT: 'auto',
        },
        READY_LINE,
      );
      const out = api.output();
      expect(out).not.toContain('DEVELOPMENT ONLY'); // no second, embedded server
      expect(out).toContain(
        'Token checks: tokenFormat auto, algorithms ES256,PS256, requireJwtAccessTokenType false, ' +
          'introspection as notes-api.',
      );
      const base = /Notes API \(sample\) listening on (http:\/\/\S+)/.exec(out)?.[1];
      expect(base).toBeDefined();

      // The JWT command that dev-as prints: its RS256 token is outside OIDC_ALGORITHMS.
      const lines = devAs!.output().split(/\r?\n/);
      const jwtCommand = lines[lines.indexOf('# Get a JWT access token:') + 1]!;
      const issued = await curl(jwtCommand);
      expect(issued.status).toBe(200);
      const jwt = (JSON.parse(issued.body) as { access_token: string }).access_token;
      const refused = await fetch(`${base}/notes`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('algorithm that is not allowed');

      // An opaque token is introspected with the printed client and secret.
      const opaque = await curl(
        `curl -s -u demo-opaque-client:demo-opaque-client-secret -d grant_type=client_credentials ` +
          `--data-urlencode 'scope=notes:read' ${printed['OIDC_ISSUER']}/token`,
      );
      const token = (JSON.parse(opaque.body) as { access_token: string }).access_token;
      const accepted = await fetch(`${base}/notes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(accepted.status).toBe(200);
      // The jest timeout bounds this wait: the line is missing if introspection never happened.
      await devAs!.printed('[dev-as] POST /token/introspection -> 200');
      expect(devAs!.output()).toContain('[dev-as] POST /token/introspection -> 200');
    },
    START_TIMEOUT_MS,
  );

  it('stops at start on a malformed OIDC_* variable, naming it', async () => {
    // Compiled by the `npm start` above; node directly, to spare a second compile.
    const failure = await startChild(
      [process.execPath, ['dist-sample/sample/main.js']],
      { ...printed, PORT: '0', OIDC_TOKEN_FORMAT: 'jwts' },
      READY_LINE,
    ).then(
      async (started) => {
        await stopChild(started);
        return undefined; // it started: the variable was not checked
      },
      (error: { child?: Child }) => error,
    );
    expect(failure?.child?.process.exitCode).toBe(1);
    expect(failure?.child?.output()).toContain(
      'OIDC_TOKEN_FORMAT must be one of auto, jwt, opaque, not "jwts"',
    );
  }, 60_000);
});
