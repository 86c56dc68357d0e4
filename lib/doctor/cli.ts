#!/usr/bin/env node
// Decorator metadata must exist before any Nest class is evaluated.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { OidcResourceModuleOptions } from '../interfaces/oidc-resource-options.interface.js';
import { diagnose } from './diagnose.js';
import { renderText } from './render.js';

const USAGE = `Usage: nestjs-oidc-resource doctor --issuer <url> [--audience <aud>]...
         [--token <token> | --token-file <file|->] [--client-id <id> [--client-secret <secret>]]
         [--jwks-uri <url>] [--introspection-endpoint <url>] [--options <file.json>] [--json]

Checks discovery, the JWKS, introspection credentials and, given a token, runs the library's
own validation on it; explains each problem with the option to change, and prints a working
OidcResourceModule.forRoot({...}) block. Exit code 0 when every check passes, 1 otherwise.
The token is never printed. Prefer --token-file (or - for stdin) to keep it out of the shell
history; the client secret may come from OIDC_CLIENT_SECRET.
`;

function fail(message: string): never {
  process.stderr.write(`nestjs-oidc-resource doctor: ${message}\n\n${USAGE}`);
  process.exit(1);
}

function readOptionsFile(path: string): OidcResourceModuleOptions {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as OidcResourceModuleOptions;
  } catch (error) {
    return fail(
      `cannot read the options file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function readToken(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8').trim();
  } catch (error) {
    return fail(
      `cannot read the token file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'doctor') fail(`unknown command ${JSON.stringify(command)}`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        issuer: { type: 'string' },
        audience: { type: 'string', multiple: true },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'jwks-uri': { type: 'string' },
        'introspection-endpoint': { type: 'string' },
        options: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const args = parsed.values;
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options: OidcResourceModuleOptions = args.options
    ? readOptionsFile(args.options)
    : ({} as OidcResourceModuleOptions);
  if (args.issuer) options.issuer = args.issuer;
  if (args.audience)
    options.audience = args.audience.length === 1 ? args.audience[0]! : args.audience;
  if (args['jwks-uri']) options.jwksUri = args['jwks-uri'];
  const clientId = args['client-id'];
  if (clientId) {
    const clientSecret = args['client-secret'] ?? process.env['OIDC_CLIENT_SECRET'];
    options.introspection = {
      ...options.introspection,
      clientId,
      ...(clientSecret ? { clientSecret } : {}),
    };
  }
  if (args['introspection-endpoint']) {
    if (!options.introspection) fail('--introspection-endpoint needs --client-id');
    options.introspection = { ...options.introspection, endpoint: args['introspection-endpoint'] };
  }
  if (!options.issuer) fail('--issuer (or "issuer" in --options) is required');
  if (args.token !== undefined && args['token-file'] !== undefined)
    fail('give --token or --token-file, not both');
  const token = args['token-file'] !== undefined ? readToken(args['token-file']) : args.token;

  const diagnosis = await diagnose(options, token, { quiet: true });
  process.stdout.write(
    args.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : renderText(diagnosis),
  );
  return diagnosis.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Never the token: only the error's own message, which the library keeps free of it.
    process.stderr.write(
      `nestjs-oidc-resource doctor failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
