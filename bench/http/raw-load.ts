/**
 * `node dist-bench/bench/http/raw-load.js [nest-express|nest-fastify] [tokens]`: what a new JWT
 * costs the server over HTTP, measured with a load generator that builds nothing per request.
 *
 * Every request is a Buffer written before the run starts (`GET /protected HTTP/1.1`, Host,
 * Authorization), sent over 10 raw keep-alive sockets, one request in flight per socket; a
 * response is recognised by its Content-Length, nothing else is parsed. This rules the load
 * generator out: autocannon rebuilds a request in JavaScript for each distinct token
 * (`setupRequest`), on the same two cores. Figures are the server process's CPU time (user +
 * system) per response, for: the unauthenticated route, our guard on 1 repeated JWT, our guard
 * on N distinct JWTs, and the passport-jwt recipe on the same N tokens; then the same distinct
 * runs through autocannon (bench/http/load.ts), on fresh tokens, for comparison.
 */
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  API,
  RS_CLIENT,
  startAuthorizationServer,
} from '../../test/fixtures/authorization-server.js';
import type { FromLoad, FromServer, TargetName, ToLoad } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const target = (process.argv[2] ?? 'nest-express') as TargetName;
const count = Number(process.argv[3] ?? 2000);
const CONNECTIONS = 10;

/** Sends each buffer once over `CONNECTIONS` sockets; resolves with the status codes seen. */
async function blast(port: number, requests: Buffer[]): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let pending: Buffer = Buffer.alloc(0);
      const send = () => {
        if (next >= requests.length) {
          socket.end();
          resolve();
          return;
        }
        socket.write(requests[next++]!);
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        for (;;) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = pending.subarray(0, end).toString('latin1');
          const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (pending.length < end + 4 + length) return;
          const status = Number(head.slice(9, 12));
          statuses[status] = (statuses[status] ?? 0) + 1;
          pending = pending.subarray(end + 4 + length);
          send();
        }
      });
    });
  await Promise.all(Array.from({ length: CONNECTIONS }, one));
  return statuses;
}

const request = (path: string, token: string) =>
  Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    'latin1',
  );

async function main(): Promise<void> {
  const as = await startAuthorizationServer();
  const mint = () => as.mintAccessToken({ clientId: 'cc-jwt', scope: 'api:read', expiresIn: 3600 });
  const tokens: string[] = [];
  while (tokens.length < 4 * count + 400)
    tokens.push(...(await Promise.all(Array.from({ length: 50 }, mint))));
  const server = fork(join(here, 'server.js'), [], {
    env: {
      ...process.env,
      BENCH_SERVER_CONFIG: JSON.stringify({
        target,
        issuer: as.issuer,
        audience: API,
        introspection: { clientId: RS_CLIENT.id, clientSecret: RS_CLIENT.secret },
      }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // RAW_PROF=<dir>: a CPU profile of the server (then use RAW_ONLY=distinct to keep it focused).
    execArgv: process.env.RAW_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RAW_PROF}`] : [],
  });
  const ask = <T extends FromServer['type']>(type: T) =>
    new Promise<Extract<FromServer, { type: T }>>((resolve) => {
      const on = (m: FromServer) => {
        if (m.type === type) {
          server.off('message', on);
          resolve(m as Extract<FromServer, { type: T }>);
        }
      };
      server.on('message', on);
    });
  const { port } = await ask('ready');
  const cpu = async () => {
    const answer = ask('cpu');
    server.send({ type: 'cpu' });
    const { usage } = await answer;
    return usage.user + usage.system;
  };
  const rows: { case: string; requests: number; cpuUsPerRequest: number; statuses: string }[] = [];
  const measure = async (name: string, requests: Buffer[]) => {
    const before = await cpu();
    const statuses = await blast(port, requests);
    const used = (await cpu()) - before;
    rows.push({
      case: name,
      requests: requests.length,
      cpuUsPerRequest: Math.round(used / requests.length),
      statuses: JSON.stringify(statuses),
    });
  };
  let at = 0;
  const take = (n: number) => tokens.slice(at, (at += n));
  // Warm-up: the routes, the JWKS, the JIT.
  await blast(
    port,
    take(400).flatMap((t) => [request('/protected', t), request('/passport', t)]),
  );
  if (process.env.RAW_ONLY === 'distinct') {
    const list = take(3 * count);
    await measure(
      `raw: guard, ${list.length} distinct JWTs`,
      list.map((t) => request('/protected', t)),
    );
    server.send({ type: 'stop' });
    await new Promise((resolve) => server.once('exit', resolve));
    await as.close();
    console.table(rows);
    return;
  }
  const hot = tokens[0]!;
  const base = Array.from({ length: count * 4 }, () => request('/baseline', hot));
  const hit = Array.from({ length: count * 4 }, () => request('/protected', hot));
  await measure('raw: no auth (baseline)', base);
  await measure('raw: guard, 1 repeated JWT', hit);
  const distinct = take(count);
  await measure(
    `raw: guard, ${count} distinct JWTs`,
    distinct.map((t) => request('/protected', t)),
  );
  await measure(
    `raw: passport-jwt, same ${count} JWTs`,
    distinct.map((t) => request('/passport', t)),
  );
  await measure('raw: no auth (baseline), again', base);

  // The same through autocannon, on fresh tokens.
  const load = fork(join(here, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let id = 0;
  const autocannon = async (name: string, path: string, list: string[]) => {
    const before = await cpu();
    const job: ToLoad = {
      type: 'run',
      job: {
        id: ++id,
        url: `http://127.0.0.1:${port}${path}`,
        connections: CONNECTIONS,
        duration: 0,
        tokens: list,
        distinct: true,
      },
    };
    const done = new Promise<FromLoad>((resolve) => load.once('message', resolve));
    load.send(job);
    const m = await done;
    const used = (await cpu()) - before;
    if (m.type !== 'result') throw new Error(m.message);
    rows.push({
      case: name,
      requests: m.result.responses,
      cpuUsPerRequest: Math.round(used / m.result.responses),
      statuses: JSON.stringify(m.result.statuses),
    });
  };
  await autocannon(`autocannon: guard, ${count} distinct JWTs`, '/protected', take(count));
  await autocannon(`autocannon: passport-jwt, ${count} distinct JWTs`, '/passport', take(count));
  load.send({ type: 'exit' } satisfies ToLoad);

  server.send({ type: 'stop' });
  await as.close();
  process.stdout.write(`${target}\n`);
  console.table(rows);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});
