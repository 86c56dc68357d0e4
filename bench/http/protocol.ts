/**
 * Messages between the benchmark's three roles, all over Node's `fork()` IPC channel:
 *
 * - the orchestrator (`run.ts`): the authorization-server fixture, token minting, the report;
 * - the server under test (`server.ts`, one child per target);
 * - the load generator (`load.ts`, one child running autocannon).
 */

/** The apps under test. */
export type TargetName = 'nest-express' | 'nest-fastify' | 'express-peer';

/** What a server child needs to know about the authorization server. */
export interface ServerConfig {
  target: TargetName;
  issuer: string;
  audience: string;
  introspection: { clientId: string; clientSecret: string };
}

/** Orchestrator → server child. */
export type ToServer = { type: 'memory' } | { type: 'cpu' } | { type: 'stop' };

/** Server child → orchestrator. */
export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'memory'; usage: NodeJS.MemoryUsage }
  | { type: 'cpu'; usage: NodeJS.CpuUsage }
  | { type: 'failed'; message: string };

/** One load run: a fixed duration, or exactly one request per token (`amount` = tokens). */
export interface LoadJob {
  id: number;
  url: string;
  connections: number;
  /** Seconds; used when `distinct` is false. */
  duration: number;
  /** The bearer tokens; with `distinct`, each is sent exactly once, otherwise `tokens[0]` always. */
  tokens: string[];
  distinct: boolean;
}

/** One load run (a slice of a scenario) as measured in the load child, from autocannon's per-response events. */
export interface SliceResult {
  /** Responses counted (any status). */
  responses: number;
  /** Responses per status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** From the first request to the last response, seconds. */
  elapsed: number;
  /** Latencies of the 2xx responses, milliseconds, in arrival order. */
  latencies: number[];
  /** CPU time (user + system, every thread) the server process spent during the slice, µs; set by the orchestrator. */
  serverCpu?: number;
  /** Tokens handed out by `setupRequest` (distinct runs; more than `tokens.length` means some were sent twice). 1 otherwise. */
  tokensUsed: number;
}

/** A scenario's figures: its slices merged. */
export interface LoadResult {
  responses: number;
  /** 2xx responses. */
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Sum of the slices' elapsed times, seconds. */
  elapsed: number;
  /** 2xx responses per second over `elapsed`. */
  rps: number;
  /** Latency percentiles and mean of the 2xx responses, milliseconds. */
  p50: number;
  p99: number;
  mean: number;
  tokensUsed: number;
  slices: number;
  /** Server process CPU time per 2xx response, µs: the cost of a request, little affected by other load. */
  cpuPerRequest: number;
}

/** Orchestrator → load child. */
export type ToLoad = { type: 'run'; job: LoadJob } | { type: 'exit' };

/** Load child → orchestrator. */
export type FromLoad =
  | { type: 'result'; id: number; result: SliceResult }
  | { type: 'error'; id: number; message: string };
