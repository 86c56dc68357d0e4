/**
 * The real `doctor` CLI, compiled as it ships, run in a child process against the in-process
 * authorization server: one run per misconfiguration, each explained with the option to change.
 * Every run also checks that neither the token nor the client secret reaches the output.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../fixtures/authorization-server.js';
import { faults, startFaultServer, type FaultServer } from '../fixtures/fault-server.js';
import {
  expiredToken,
  forgeAccessToken,
  idToken,
  wrongAudienceToken,
  wrongIssuerToken,
} from '../fixtures/tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'dist-doctor-test');
const CLI = join(OUT, 'doctor', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let as: AuthorizationServer;
let fault: FaultServer;
let secretsSeen: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'doctor-'));

function doctor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'doctor', ...args],
      { env: { PATH: process.env['PATH'], ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        for (const secret of secretsSeen) {
          expect(stdout).not.toContain(secret);
          expect(stderr).not.toContain(secret);
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Writes the token to a file (the recommended way) and remembers it as a secret. */
function tokenFile(token: string): string {
  secretsSeen.push(token, token.split('.')[2] ?? token);
  const path = join(scratch, `token-${secretsSeen.length}`);
  writeFileSync(path, token);
  return path;
}

function optionsFile(options: object): string {
  const path = join(scratch, `options-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(options));
  return path;
}

/** The printed `forRoot({...})` block, evaluated as the app would (secret from the environment). */
function printedOptions(stdout: string, secret?: string): Record<string, unknown> {
  const start = stdout.indexOf('OidcResourceModule.forRoot(');
  expect(start).toBeGreaterThanOrEqual(0);
  const body = stdout
    .slice(start + 'OidcResourceModule.forRoot('.length)
    .trimEnd()
    .replace(/\)$/, '');
  return new Function('process', `return (${body});`)({
    env: { OIDC_CLIENT_SECRET: secret },
  }) as Record<string, unknown>;
}

beforeAll(async () => {
  // The CLI as it ships: the ESM build of lib/, with its shebang line.
  const tsc = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      OUT,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  as = await startAuthorizationServer();
  fault = await startFaultServer();
  secretsSeen = [RS_CLIENT.secret];
}, 120_000);

afterAll(async () => {
  await as?.close();
  await fault?.close();
});

describe('doctor CLI: a working setup', () => {
  it('passes, exits 0, and prints a block that is the configuration', async () => {
    const token = await as.clientCredentials({ scope: 'api:read' });
    const run = await doctor(
      [
        '--issuer',
        as.issuer,
        '--audience',
        API,
        '--token-file',
        tokenFile(token),
        '--client-id',
        RS_CLIENT.id,
      ],
      { OIDC_CLIENT_SECRET: RS_CLIENT.secret },
    );
    expect(run.stdout).toContain('All checks passed');
    expect(run.stdout).toMatch(/\[ok {2}\] discovery: .*issuer matches exactly/);
    expect(run.stdout).toMatch(/\[ok {2}\] jwks: /);
    expect(run.stdout).toMatch(/\[ok {2}\] introspection: .*accepts the client "rs-introspector"/);
    expect(run.stdout).toMatch(/\[ok {2}\] token: The token is accepted \(a JWT/);
    expect(run.stdout).toMatch(/\[ok {2}\] scopes: .*api:read/);
    expect(run.code).toBe(0);
    expect(printedOptions(run.stdout, RS_CLIENT.secret)).toEqual({
      issuer: as.issuer,
      audience: API,
      introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
    });
  });

  it('--json gives the same findings as data, without the token', async () => {
    const token = await as.clientCredentials();
    const run = await doctor([
      '--issuer',
      as.issuer,
      '--audience',
      API,
      '--token',
      token,
      '--json',
    ]);
    secretsSeen.push(token);
    expect(run.code).toBe(0);
    const diagnosis = JSON.parse(run.stdout) as {
      ok: boolean;
      findings: { check: string; status: string }[];
    };
    expect(diagnosis.ok).toBe(true);
    expect(diagnosis.findings.map((f) => `${f.check}:${f.status}`)).toEqual([
      'discovery:pass',
      'jwks:pass',
      'token:pass',
      'scopes:pass',
    ]);
  });

  it('refuses bad usage with exit 1', async () => {
    const run = await doctor(['--audience', API]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--issuer');
  });
});

describe('doctor CLI: discovery', () => {
  it('explains a trailing slash', async () => {
    const run = await doctor(['--issuer', `${as.issuer}/`, '--audience', API]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('differ only by a trailing slash');
    expect(run.stdout).toContain(`option: issuer → ${JSON.stringify(as.issuer)}`);
  });

  it('explains https against a server that speaks http', async () => {
    const run = await doctor(['--issuer', as.issuer.replace('http:', 'https:'), '--audience', API]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('The server speaks http, not https');
    expect(printedOptions(run.stdout).issuer).toBe(as.issuer);
  });

  it("a misspelt issuer does not hide the token's own problem: both in one run", async () => {
    const token = await wrongAudienceToken(as);
    const run = await doctor([
      '--issuer',
      `${as.issuer}/`,
      '--audience',
      API,
      '--token-file',
      tokenFile(token),
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`option: issuer → ${JSON.stringify(as.issuer)}`);
    expect(run.stdout).toContain('option: audience → "https://other-api.example.test/"');
    expect(printedOptions(run.stdout)).toMatchObject({
      issuer: as.issuer,
      audience: 'https://other-api.example.test/',
    });
  });

  it('explains a wrong realm path', async () => {
    const run = await doctor(['--issuer', `${as.issuer}/realms/acme`, '--audience', API]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `No metadata document for ${as.issuer}/realms/acme, but this host has an issuer at ${as.issuer}`,
    );
    expect(printedOptions(run.stdout).issuer).toBe(as.issuer);
  });

  it('with no discovery at the issuer (Glewlwyd-style), names jwksUri and finds the key set', async () => {
    const provider = as.provider.callback();
    as.setHandler((req, res) => {
      if ((req.url ?? '').startsWith('/.well-known/')) faults.status(404)(req, res);
      else void provider(req, res);
    });
    try {
      const token = await as.clientCredentials();
      const file = tokenFile(token);
      const bare = await doctor(['--issuer', as.issuer, '--audience', API, '--token-file', file]);
      expect(bare.code).toBe(1);
      expect(bare.stdout).toContain(`No metadata document for ${as.issuer}: set jwksUri`);
      expect(bare.stdout).toContain(`A key set answers at ${as.issuer}/jwks`);
      expect(printedOptions(bare.stdout).jwksUri).toBe(`${as.issuer}/jwks`);

      const fixed = await doctor([
        '--issuer',
        as.issuer,
        '--audience',
        API,
        '--token-file',
        file,
        '--jwks-uri',
        `${as.issuer}/jwks`,
      ]);
      expect(fixed.stdout).toContain('the configured endpoints are used instead');
      expect(fixed.stdout).toContain('userInfo.endpoint is not set');
      expect(fixed.stdout).toMatch(/\[ok {2}\] token: The token is accepted/);
      expect(fixed.code).toBe(0);
    } finally {
      as.restoreHandler();
    }
  });
});

describe('doctor CLI: the JWKS', () => {
  it('explains keys that the algorithms option leaves out', async () => {
    const run = await doctor([
      '--issuer',
      as.issuer,
      '--audience',
      API,
      '--options',
      optionsFile({ algorithms: ['ES384'] }),
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /No key at .* fits the allowed algorithms \[ES384\]; the keys are for .*RS256.*ES256/,
    );
    expect(printedOptions(run.stdout).algorithms).toEqual(
      expect.arrayContaining(['ES384', 'RS256', 'ES256']),
    );
  });

  it('explains an RSA key that is too short', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'jwk',
    });
    fault.serveDiscovery();
    fault.route(
      '/jwks',
      faults.json({ keys: [{ ...short, kid: 'short', alg: 'RS256', use: 'sig' }] }),
    );
    const run = await doctor(['--issuer', fault.origin, '--audience', API]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'Key kid "short", RSA, 1024 bits, RS256, use sig is too short: RSA keys need at least 2048 bits',
    );
  });
});

describe('doctor CLI: introspection credentials', () => {
  it('tells refused credentials', async () => {
    const run = await doctor([
      '--issuer',
      as.issuer,
      '--audience',
      API,
      '--client-id',
      RS_CLIENT.id,
      '--client-secret',
      'not-the-secret',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/refuses the client credentials \(HTTP 401/);
    expect(run.stdout).not.toContain('not-the-secret');
  });

  it('from a missing endpoint', async () => {
    const run = await doctor(
      [
        '--issuer',
        as.issuer,
        '--audience',
        API,
        '--client-id',
        RS_CLIENT.id,
        '--introspection-endpoint',
        `${as.issuer}/no-such-endpoint`,
      ],
      { OIDC_CLIENT_SECRET: RS_CLIENT.secret },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `Nothing answers at the introspection endpoint ${as.issuer}/no-such-endpoint (HTTP 404)`,
    );
  });
});

describe("doctor CLI: a token, through the library's own validation", () => {
  const check = async (token: string, extra: string[] = []) =>
    doctor(['--issuer', as.issuer, '--audience', API, '--token-file', tokenFile(token), ...extra]);

  it('typ "JWT" → requireJwtAccessTokenType', async () => {
    const run = await check(await forgeAccessToken(as, { header: { typ: 'JWT' } }));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('The token\'s "typ" header is "JWT"');
    expect(run.stdout).toContain('option: requireJwtAccessTokenType → false');
    expect(run.stdout).toContain('The token is accepted once the options above are changed');
    expect(printedOptions(run.stdout).requireJwtAccessTokenType).toBe(false);
  });

  it('aud → audience', async () => {
    const run = await check(await wrongAudienceToken(as));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'The token\'s "aud" is "https://other-api.example.test/", but audience is ["https://api.example.test/"]',
    );
    expect(run.stdout).toContain('option: audience → "https://other-api.example.test/"');
  });

  it('expired, and by how long', async () => {
    const run = await check(await expiredToken(as, 3600));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/The token expired 1 h 0 min ago/);
    expect(run.stdout).toContain('clockTolerance 30 s');
    expect(run.stdout).not.toContain('option: clockTolerance');
  });

  it('wrong issuer', async () => {
    const run = await check(await wrongIssuerToken(as, 'https://sso.example.com/realms/other'));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `The token was issued by "https://sso.example.com/realms/other", not by the configured issuer "${as.issuer}"`,
    );
  });

  it('no scope claim → scopeClaims', async () => {
    const run = await check(
      await forgeAccessToken(as, { claims: { scope: undefined, permissions: ['notes:read'] } }),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'The token grants no scope through scopeClaims [scope, scp], but it has a "permissions" claim',
    );
    expect(printedOptions(run.stdout).scopeClaims).toEqual(['permissions']);
  });

  it('an ID token sent instead of the access token', async () => {
    const run = await check(await idToken(as, { claims: { aud: API } }));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('This is an ID token, not an access token');
    expect(run.stdout).not.toContain('requireJwtAccessTokenType →');
  });

  it('explains every problem of one token in one run, and the printed block accepts it', async () => {
    const token = await forgeAccessToken(as, {
      header: { typ: 'JWT' },
      claims: { aud: 'notes-api', scope: undefined, permissions: ['notes:read'] },
    });
    const run = await check(token);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('option: requireJwtAccessTokenType → false');
    expect(run.stdout).toContain('option: audience → "notes-api"');
    expect(run.stdout).toContain('scopeClaims');
    const fixed = printedOptions(run.stdout);
    expect(fixed).toEqual({
      issuer: as.issuer,
      audience: 'notes-api',
      requireJwtAccessTokenType: false,
      scopeClaims: ['permissions'],
    });
    const again = await doctor(['--options', optionsFile(fixed), '--token-file', tokenFile(token)]);
    expect(again.stdout).toContain('All checks passed');
    expect(again.code).toBe(0);
  });
});
