/**
 * `npm run dev-as`: the embedded development authorization server alone, for pointing the
 * sample API (or your own) at it as at a real provider, from another terminal. It prints every
 * client id and secret, the API's introspection client included.
 *
 * Environment: DEV_AS_PORT [4000] (it listens on 127.0.0.1 only). NODE_ENV=production refuses.
 */
import {
  DEV_AUDIENCE,
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from './dev-authorization-server.js';
import { portFromEnv } from './ports.js';
import { devAsDetails, devBanner, READY_LINE } from './try-it.js';

let server: DevAuthorizationServer | undefined;
let stopping = false;

async function main(): Promise<void> {
  server = await startDevAuthorizationServer({
    port: portFromEnv('DEV_AS_PORT', 4000),
    audience: DEV_AUDIENCE,
  });
  console.log(devBanner(server));
  console.log('');
  console.log(devAsDetails(server));
  console.log('');
  console.log(READY_LINE);
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the dev authorization server.`);
  setTimeout(() => process.exit(1), 5000).unref();
  await server?.close().catch((error: unknown) => console.error(error));
  process.exit(0);
}

process.on('SIGINT', (signal) => void stop(signal));
process.on('SIGTERM', (signal) => void stop(signal));

main().catch(async (error: unknown) => {
  if ((error as { code?: unknown }).code === 'EADDRINUSE') {
    console.error(`The port is already in use (${(error as Error).message}). Set DEV_AS_PORT.`);
  } else {
    console.error('The dev authorization server failed to start:', error);
  }
  await server?.close().catch(() => undefined);
  process.exit(1);
});
