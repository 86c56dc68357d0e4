/**
 * Starts the notes API. Without OIDC_ISSUER it first starts the embedded
 * development authorization server and points the API at it, so that
 * `npm start` works with no setup at all.
 *
 * Environment (a .env file works too):
 *   OIDC_* variables                  the token checks; listed in oidc-env.ts and docs/sample.md
 *                                     (without OIDC_ISSUER, the dev authorization server starts)
 *   PORT [3000], HOST [127.0.0.1]     where the API listens
 *   DEV_AS_PORT [4000]                where the dev authorization server listens (127.0.0.1 only)
 *   OTEL_TRACES_EXPORTER=console,     print the library's spans and metrics (sample/telemetry.ts)
 *   OTEL_METRICS_EXPORTER=console
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import {
  DEV_AUDIENCE,
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from './dev-authorization-server.js';
import { oidcOptionsFromEnv } from './oidc-env.js';
import { portFromEnv } from './ports.js';
import { startTelemetryFromEnv } from './telemetry.js';
import { devBanner, devTryItCommands, READY_LINE, tokenChecks, tryItCommands } from './try-it.js';

let app: INestApplication | undefined;
let devAuthorizationServer: DevAuthorizationServer | undefined;
let stopping = false;

async function main(): Promise<void> {
  const port = portFromEnv('PORT', 3000);
  const host = process.env['HOST'] || '127.0.0.1';

  if (!process.env['OIDC_ISSUER']) {
    devAuthorizationServer = await startDevAuthorizationServer({
      port: portFromEnv('DEV_AS_PORT', 4000),
      audience: DEV_AUDIENCE,
    });
    console.log(devBanner(devAuthorizationServer));
    // The API reads the same variables that would point it at a real provider.
    process.env['OIDC_ISSUER'] = devAuthorizationServer.issuer;
    process.env['OIDC_AUDIENCE'] = devAuthorizationServer.audience;
    process.env['OIDC_INTROSPECTION_CLIENT_ID'] = devAuthorizationServer.introspectionClient.id;
    process.env['OIDC_INTROSPECTION_CLIENT_SECRET'] =
      devAuthorizationServer.introspectionClient.secret;
    // DPoP-bound tokens too (Bearer tokens still work): the last printed command uses one.
    process.env['OIDC_DPOP'] = 'allowed';
  }

  if (await startTelemetryFromEnv()) console.log('OpenTelemetry: exporting to the console.');
  app = await NestFactory.create(AppModule);
  await app.listen(port, host);

  const api = baseUrl(app.getHttpServer().address() as AddressInfo);
  console.log('');
  // process.env holds the .env file's variables too by now (ConfigModule assigns them).
  console.log(tokenChecks(oidcOptionsFromEnv((name) => process.env[name])));
  console.log('');
  console.log(
    devAuthorizationServer
      ? devTryItCommands(api, devAuthorizationServer)
      : tryItCommands(api, process.env['OIDC_ISSUER'] ?? '', process.env['OIDC_AUDIENCE'] ?? ''),
  );
  console.log('');
  console.log(READY_LINE);
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  // npm and the shell may both pass the same Ctrl+C on: act on the first one.
  if (stopping) return;
  stopping = true;
  console.log(
    `\n${signal}: stopping the API${devAuthorizationServer ? ' and the dev authorization server' : ''}.`,
  );
  setTimeout(() => process.exit(1), 5000).unref();
  await app?.close().catch((error: unknown) => console.error(error));
  await devAuthorizationServer?.close().catch((error: unknown) => console.error(error));
  process.exit(0);
}

function baseUrl({ address, port }: AddressInfo): string {
  const host = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

process.on('SIGINT', (signal) => void stop(signal));
process.on('SIGTERM', (signal) => void stop(signal));

main().catch(async (error: unknown) => {
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE') {
    console.error(
      `A port is already in use (${(error as Error).message}). Set PORT or DEV_AS_PORT to another port.`,
    );
  } else {
    console.error('The sample failed to start:', error);
  }
  await app?.close().catch(() => undefined);
  await devAuthorizationServer?.close().catch(() => undefined);
  process.exit(1);
});
