/**
 * OpenTelemetry, when the application has it: `@opentelemetry/api` is an optional peer, loaded
 * on demand so that the package works without it. The few members used are typed here, so that
 * no declaration file of this package names the API package either.
 */

/** Attribute values as OpenTelemetry takes them. */
type Attributes = Readonly<Record<string, string | number | boolean>>;

interface Counter {
  add(value: number, attributes?: Attributes): void;
}
interface Histogram {
  record(value: number, attributes?: Attributes): void;
}
interface Span {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  isRecording(): boolean;
  end(): void;
}
interface Meter {
  createCounter(name: string, options?: { description?: string; unit?: string }): Counter;
  createHistogram(
    name: string,
    options?: {
      description?: string;
      unit?: string;
      advice?: { explicitBucketBoundaries?: number[] };
    },
  ): Histogram;
}
interface Tracer {
  startSpan(name: string, options?: { kind?: number; attributes?: Attributes }): Span;
}
/** The part of `@opentelemetry/api` used here. */
export interface OpenTelemetryApi {
  metrics: { getMeter(name: string, version?: string): Meter };
  trace: { getTracer(name: string, version?: string): Tracer; getActiveSpan(): Span | undefined };
  createNoopMeter(): Meter;
  SpanKind: { CLIENT: number };
  SpanStatusCode: { ERROR: number };
}

const SCOPE = 'nestjs-oidc-resource';

/** What is live. Every field stays undefined without the API or an SDK: then nothing is done. */
export const telemetry: {
  api?: OpenTelemetryApi;
  validations?: Counter;
  duration?: Histogram;
  tracer?: Tracer;
} = {};

let loading: Promise<OpenTelemetryApi | undefined> | undefined;

/** Loads `@opentelemetry/api` once; `undefined` when it is not installed. */
function loadApi(): Promise<OpenTelemetryApi | undefined> {
  loading ??= import('@opentelemetry/api').then(
    (api) => api as unknown as OpenTelemetryApi,
    () => undefined,
  );
  return loading;
}

/**
 * Creates the instruments from whatever meter and tracer providers are registered now. With
 * no SDK the API hands out its no-op meter: then the counter is left unset, so that a cache hit
 * does not even build its attributes.
 */
export async function activateTelemetry(): Promise<void> {
  const api = await loadApi();
  if (!api) return;
  telemetry.api = api;
  telemetry.tracer = api.trace.getTracer(SCOPE);
  const meter = api.metrics.getMeter(SCOPE);
  if (meter === api.createNoopMeter()) return;
  telemetry.validations = meter.createCounter('oidc_resource.token.validations', {
    description:
      'Access tokens validated, by outcome (ok or the error code), source and cache tier',
  });
  telemetry.duration = meter.createHistogram('oidc_resource.authorization_server.duration', {
    description: 'Duration of calls to the authorization server, by endpoint and outcome',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
}

/** For tests: forget the instruments (a new SDK is registered between test files). */
export function resetTelemetry(): void {
  delete telemetry.validations;
  delete telemetry.duration;
  delete telemetry.tracer;
}
