/**
 * The load generator: a child process (forked by `run.ts`) that runs autocannon, so that the
 * load it generates is not measured as part of the server under test (the server is another
 * child; the authorization server lives in the orchestrator).
 *
 * The figures come from autocannon's per-response events rather than from its summary: the
 * summary samples requests per second once a second and records latencies in whole
 * milliseconds, too coarse for slices of a second or two and sub-millisecond medians. The raw
 * latencies go back to the orchestrator, which merges a scenario's slices.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { FromLoad, LoadJob, SliceResult, ToLoad } from './protocol.js';

function runJob(job: LoadJob): Promise<SliceResult> {
  return new Promise((resolve, reject) => {
    const { tokens, distinct } = job;
    if (tokens.length === 0) {
      reject(new Error('a load job needs at least one token'));
      return;
    }
    const connections = distinct ? Math.min(job.connections, tokens.length) : job.connections;
    let handedOut = 0;
    const fixed = { authorization: `Bearer ${tokens[0]}` };
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let responses = 0;
    let last = 0;
    const start = performance.now();
    const instance = autocannon(
      {
        url: job.url,
        connections,
        pipelining: 1,
        timeout: 30,
        ...(distinct ? { amount: tokens.length } : { duration: job.duration }),
        requests: [
          distinct
            ? {
                method: 'GET',
                // Each request carries the next token: every token is seen once.
                setupRequest: (request) => {
                  const token = tokens[handedOut % tokens.length]!;
                  handedOut += 1;
                  return {
                    ...request,
                    headers: { ...request.headers, authorization: `Bearer ${token}` },
                  };
                },
              }
            : { method: 'GET', headers: fixed },
        ],
      },
      (error, summary) => {
        if (error) {
          reject(error);
          return;
        }
        resolve({
          responses,
          statuses,
          errors: summary.errors,
          timeouts: summary.timeouts,
          elapsed: (last - start) / 1000,
          latencies,
          tokensUsed: distinct ? handedOut : 1,
        });
      },
    );
    instance.on(
      'response',
      (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
        responses += 1;
        last = performance.now();
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
        if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      },
    );
  });
}

function send(message: FromLoad): void {
  process.send!(message);
}

process.on('message', (message: ToLoad) => {
  if (message.type === 'exit') {
    process.disconnect();
    return;
  }
  const { job } = message;
  runJob(job).then(
    (result) => send({ type: 'result', id: job.id, result }),
    (error: unknown) =>
      send({
        type: 'error',
        id: job.id,
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
